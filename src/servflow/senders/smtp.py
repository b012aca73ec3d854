"""A sender that mails each message through an SMTP server (the standard library's smtplib).

The mail's ``Message-ID`` is derived from the message's key, so the copies of one message that
at-least-once delivery may send carry the same id, and a mail server or reader that drops
duplicate ids shows one. ``smtplib`` and ``ssl`` are imported when a mail is sent:
``import servflow`` stays quick.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from datetime import UTC, datetime
from email import policy
from email.errors import NonASCIILocalPartDefect
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING

from servflow.desk.outbox import OutboundMessage
from servflow.errors import ConfigurationError, DeliveryError, shown

if TYPE_CHECKING:
    import smtplib
    import ssl as tls

__all__ = ["SmtpSender", "message_id", "one_line"]

_log = logging.getLogger("servflow")
_MAX_PORT = 65_535
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
# What may not stand in a one-line header: line breaks of any kind and other control characters.
_NOT_IN_A_HEADER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_TEMPORARY = range(400, 500)


def one_line(text: str) -> str:
    """A text as a mail header carries it: line breaks and control characters become one blank.

    Blanks at either end are dropped, and runs of blanks become one (mail headers fold long lines
    at blanks and unfold them as one).
    """
    return " ".join(_NOT_IN_A_HEADER.sub(" ", text).split())


def message_id(key: str, domain: str) -> str:
    """The ``Message-ID`` of a message's mail: the same for every copy of one key."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"<servflow.{digest}@{domain if _DOMAIN.match(domain) else 'servflow.invalid'}>"


def _body(text: str) -> str:
    """The body as mail carries it: every line ends with a line feed, the last one too."""
    lines = _LINE_BREAKS.split(text)
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\n" for line in lines)


def _address(contact: str) -> Address | None:
    """A contact as one e-mail address (``ana@x.example``, ``Ana <ana@x.example>``), or None.

    A contact such as ``a@b, c@d`` or ``@x`` is None: mailed as it is, it would go to others
    than the customer, or nowhere.
    """
    try:
        header = policy.default.header_factory("To", contact)
        addresses = header.addresses
    except (ValueError, TypeError, IndexError):  # the email package's parser on odd input
        return None
    # A non-ASCII local part is an address all the same (a server with SMTPUTF8 takes it).
    if any(not isinstance(d, NonASCIILocalPartDefect) for d in header.defects):
        return None
    if len(addresses) != 1:
        return None
    [address] = addresses
    if not address.username or not address.domain or "@" in address.domain:
        return None
    return address if parseaddr(address.addr_spec)[1] == address.addr_spec else None


def _set_text(mail: EmailMessage, name: str, text: str) -> None:
    """Set a header of free text so that a mail reader reads back ``text`` exactly."""
    if "=?" in text or not text.isascii():
        # The email package writes text that looks like an RFC 2047 encoded word
        # ("=?utf-8?q?...?=") as it is, and readers decode it; and, folding a long non-ASCII
        # text, it may drop a blank between two encoded words. Encoded whole by email.header,
        # the text reads back unchanged (a property test draws such texts).
        mail.set_raw(name, Header(text, "utf-8", header_name=name).encode(linesep="\n"))
    else:
        mail[name] = text


def _positive(value: object, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        msg = f"SmtpSender: {name} must be a positive number of seconds, not {shown(value)}"
        raise ConfigurationError(msg)
    return float(value)


class SmtpSender:
    """Mails each message to the customer's e-mail addresses through an SMTP server.

    The mail is plain text, ``From`` ``sender``, ``To`` every contact of ``message.to`` that is an
    e-mail address (holds an ``@``; numbers and other contacts are left out), with the message's
    subject (on one line) and body, ``Content-Language``, ``Auto-Submitted: auto-generated`` (so
    auto-responders stay quiet), ``X-Servflow-Key`` (the idempotency key) and a ``Message-ID``
    derived from the key: a resent copy has the same id, and readers that drop duplicate ids
    show it once.

    ``ssl=True`` speaks TLS from the start (port 465); ``starttls=True`` upgrades a plain
    connection (port 587); both check the server's certificate against ``tls_context`` (by
    default the system's trusted authorities). ``username`` and ``password`` log in; the
    password is never shown, in errors or in ``repr``.

    Failures raise ``DeliveryError``: retryable when the server cannot be reached or does not
    answer within ``timeout`` seconds, or answers 4xx (try later); not retryable when the
    message has no e-mail address, or a contact with an ``@`` that is not one address
    (``a@b, c@d``), or when the server answers 5xx (a refused recipient or sender, a failed
    login) or lacks what the settings ask (STARTTLS, SMTPUTF8). A mail refused for some
    recipients but accepted for others counts as delivered (a retry would mail the others
    twice); the refusal is logged on the ``servflow`` logger.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        starttls: bool = False,
        ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: tls.SSLContext | None = None,
    ) -> None:
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
            msg = f"SmtpSender: host must be a host name or address, not {shown(host)}"
            raise ConfigurationError(msg)
        try:
            host.encode("idna")  # how the socket will name it: labels of 1 to 63 characters
        except UnicodeError:
            msg = f"SmtpSender: host {shown(host)} is not a valid host name"
            raise ConfigurationError(msg) from None
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= _MAX_PORT:
            msg = f"SmtpSender: port must be a number from 1 to {_MAX_PORT}, not {shown(port)}"
            raise ConfigurationError(msg)
        _, address = parseaddr(sender) if isinstance(sender, str) else ("", "")
        if "@" not in address or _NOT_IN_A_HEADER.search(sender):
            msg = f"SmtpSender: sender must be an e-mail address, not {shown(sender)}"
            raise ConfigurationError(msg)
        if starttls and ssl:
            msg = "SmtpSender: choose ssl (TLS from the start) or starttls (upgrade), not both"
            raise ConfigurationError(msg)
        if (username is None) != (password is None):
            msg = "SmtpSender: give both username and password to log in, or neither"
            raise ConfigurationError(msg)
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = bool(starttls)
        self.ssl = bool(ssl)
        self.username = username
        self.timeout = _positive(timeout, "timeout")
        self._password = password
        self._envelope_sender = address
        self._tls_context = tls_context
        self._domain = address.rpartition("@")[2].strip().lower()

    def __repr__(self) -> str:
        return f"SmtpSender({self.host!r}, {self.port}, sender={self.sender!r})"

    def compose(self, message: OutboundMessage) -> EmailMessage:
        """The mail ``send`` sends for ``message`` (a ``DeliveryError`` if it cannot be one)."""
        recipients = [contact.strip() for contact in message.to if "@" in contact]
        if not recipients:
            msg = (
                f"no e-mail address for customer {shown(message.customer_id)} "
                f"(message {shown(message.key)} of {message.ticket_code}): nothing to mail"
            )
            raise DeliveryError(msg, retryable=False)
        found = [_address(contact) for contact in recipients]
        to = [address for address in found if address is not None]
        if len(to) != len(found):
            msg = (
                f"customer {shown(message.customer_id)} has a contact with '@' that is not one "
                f"e-mail address (message {shown(message.key)} of {message.ticket_code})"
            )
            raise DeliveryError(msg, retryable=False)
        mail = EmailMessage()
        try:
            mail["From"] = self.sender
            mail["To"] = ", ".join(address.addr_spec for address in to)
            _set_text(mail, "Subject", one_line(message.subject))
            mail["Date"] = format_datetime(datetime.now(UTC))
            mail["Message-ID"] = message_id(message.key, self._domain)
            mail["Auto-Submitted"] = "auto-generated"
            _set_text(mail, "X-Servflow-Key", one_line(message.key))
            mail.set_content(_body(message.body))  # drops Content-* headers: they come after
            if one_line(message.language):
                mail["Content-Language"] = one_line(message.language)
        except (ValueError, TypeError, IndexError) as error:
            msg = (
                f"message {shown(message.key)} of {message.ticket_code} cannot be written as a "
                f"mail: {shown(str(error))}"
            )
            raise DeliveryError(msg, retryable=False) from None
        return mail

    def send(self, message: OutboundMessage) -> None:
        """Mail ``message``; return once the server accepted it, raise ``DeliveryError`` if not."""
        import smtplib  # noqa: PLC0415 - it imports ssl: only when a mail goes out

        mail = self.compose(message)
        recipients = [address.addr_spec for address in mail["To"].addresses]
        what = f"message {shown(message.key)} of {message.ticket_code}"
        try:
            with self._connect() as client:
                refused = client.send_message(
                    mail, from_addr=self._envelope_sender, to_addrs=recipients
                )
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            msg = f"the mail server refused every recipient of {what}: {_replies(error.recipients)}"
            raise DeliveryError(msg, retryable=any(c in _TEMPORARY for c in codes)) from None
        except smtplib.SMTPResponseException as error:
            code = error.smtp_code
            reply = error.smtp_error
            text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            msg = f"the mail server answered {code} to {what}: {shown(text.strip())}"
            raise DeliveryError(msg, retryable=code in _TEMPORARY) from None
        except smtplib.SMTPNotSupportedError as error:
            msg = f"the mail server cannot take {what}: {shown(str(error))}"
            raise DeliveryError(msg, retryable=False) from None
        except OSError as error:  # smtplib's other errors, refused connections, TLS failures
            # smtplib reports a read that timed out as a lost connection, caused by the timeout.
            if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
                reason = f"the server did not answer within {self.timeout:g} s"
            else:
                reason = type(error).__name__ + (f": {shown(str(error))}" if str(error) else "")
            msg = f"could not mail {what} through {self.host}:{self.port}: {reason}"
            raise DeliveryError(msg, retryable=True) from None
        if refused:
            _log.warning(
                "the mail server refused %d of %d recipients of %s (%s); delivered to the others",
                len(refused),
                len(recipients),
                what,
                _replies(refused),
            )

    def _connect(self) -> smtplib.SMTP:
        """A connection to the server, secured and logged in as the settings say."""
        import smtplib  # noqa: PLC0415
        import ssl as tls  # noqa: PLC0415

        context = self._tls_context or tls.create_default_context()
        client: smtplib.SMTP
        if self.ssl:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                client.starttls(context=context)
            if self.username is not None and self._password is not None:
                client.login(self.username, self._password)
        except BaseException:
            client.close()
            raise
        return client


def _replies(refused: dict[str, tuple[int, bytes]]) -> str:
    """The server's answers to refused recipients, one per code (not the addresses themselves)."""
    codes: dict[int, str] = {}
    for code, reply in refused.values():
        codes.setdefault(code, reply.decode("utf-8", "replace").strip())
    return "; ".join(f"{code} {shown(reply)}" for code, reply in sorted(codes.items()))
