"""The SMTP sender against a real aiosmtpd server on 127.0.0.1: the mail, and its failures."""

from __future__ import annotations

import logging
import ssl
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from local_servers import Recorder, free_port, outbound, silent_server, smtp_server

from servflow import ConfigurationError, DeliveryError, Sender, SmtpSender

SENDER = "Acme Support <support@acme.example>"


def parsed(content: bytes) -> EmailMessage:
    """A mail as a reader sees it (SMTP's CRLF line ends read as the platform's)."""
    mail = message_from_bytes(content.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def test_a_mail_goes_to_the_customers_e_mail_addresses_with_its_subject_and_body() -> None:
    recorder = Recorder()
    message = outbound(
        to=("ana@acme.example", "+34 600 000 000", " luis@acme.example "),
        subject="Su solicitud SR-000001 está en curso: técnico asignado, visita el lunes 9:00",
        body="Hola Ana:\n\nSu solicitud está en curso — 进展 — le avisaremos.\n",
    )
    with smtp_server(recorder) as server:
        sender = SmtpSender(server.hostname, server.port, sender=SENDER)
        assert isinstance(sender, Sender)
        sender.send(message)
    [mail] = recorder.mails
    assert mail.mail_from == "support@acme.example"
    assert mail.rcpt_tos == ("ana@acme.example", "luis@acme.example")
    got = parsed(mail.content)
    assert got["From"] == SENDER
    assert got["To"] == "ana@acme.example, luis@acme.example"
    assert got["Subject"] == message.subject
    assert got["Auto-Submitted"] == "auto-generated"
    assert got["X-Servflow-Key"] == message.key
    assert got["Content-Language"] == "es"
    assert got["Message-ID"].endswith("@acme.example>")
    assert got["Date"] is not None
    assert got.get_content_type() == "text/plain"
    assert got.get_content() == message.body


def test_every_copy_of_one_message_has_the_same_message_id_and_others_differ() -> None:
    recorder = Recorder()
    first = outbound()
    with smtp_server(recorder) as server:
        sender = SmtpSender(server.hostname, server.port, sender=SENDER)
        sender.send(first)
        sender.send(first.model_copy(update={"attempt": 2}))
        sender.send(outbound(key="another:progress:9", kind="progress"))
    ids = [parsed(mail.content)["Message-ID"] for mail in recorder.mails]
    assert ids[0] == ids[1]
    assert ids[2] != ids[0]
    again = SmtpSender("mail.example", sender="support@acme.example").compose(first)
    assert again["Message-ID"] == ids[0]


def test_a_message_with_no_e_mail_address_is_not_retryable() -> None:
    recorder = Recorder()
    with smtp_server(recorder) as server:
        sender = SmtpSender(server.hostname, server.port, sender=SENDER)
        with pytest.raises(DeliveryError, match="no e-mail address for customer 'acme'") as raised:
            sender.send(outbound(to=("+34 600 000 000",)))
        with pytest.raises(DeliveryError, match="no e-mail address"):
            sender.send(outbound(to=()))
    assert not raised.value.retryable
    assert recorder.mails == []


def test_a_contact_that_is_not_one_address_is_refused_not_split() -> None:
    sender = SmtpSender("mail.example", sender=SENDER)
    with pytest.raises(DeliveryError, match="not one e-mail address") as raised:
        sender.compose(outbound(to=("ana@acme.example, eve@evil.example",)))
    assert not raised.value.retryable


def test_recipients_refused_for_good_are_not_retryable() -> None:
    recorder = Recorder(refuse="550 5.1.1 No such user here")
    with smtp_server(recorder) as server:
        sender = SmtpSender(server.hostname, server.port, sender=SENDER)
        with pytest.raises(DeliveryError, match="refused every recipient") as raised:
            sender.send(outbound())
    assert not raised.value.retryable
    assert "550" in str(raised.value)
    assert "ana@acme.example" not in str(raised.value)
    assert recorder.mails == []


def test_recipients_refused_for_now_are_retryable() -> None:
    recorder = Recorder(refuse="450 4.2.1 Mailbox busy, try later")
    with smtp_server(recorder) as server:
        sender = SmtpSender(server.hostname, server.port, sender=SENDER)
        with pytest.raises(DeliveryError, match="450") as raised:
            sender.send(outbound())
    assert raised.value.retryable


def test_a_mail_refused_for_some_recipients_counts_as_delivered_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder(refused_addresses=frozenset({"gone@acme.example"}))
    with smtp_server(recorder) as server, caplog.at_level(logging.WARNING, logger="servflow"):
        sender = SmtpSender(server.hostname, server.port, sender=SENDER)
        sender.send(outbound(to=("ana@acme.example", "gone@acme.example")))
    assert [mail.rcpt_tos for mail in recorder.mails] == [("ana@acme.example",)]
    assert "refused 1 of 2 recipients" in caplog.text


def test_a_server_that_is_down_is_retryable() -> None:
    sender = SmtpSender("127.0.0.1", free_port(), sender=SENDER, timeout=2)
    with pytest.raises(DeliveryError, match="ConnectionRefusedError") as raised:
        sender.send(outbound())
    assert raised.value.retryable


def test_a_server_that_does_not_answer_in_time_is_retryable() -> None:
    with silent_server() as port:
        sender = SmtpSender("127.0.0.1", port, sender=SENDER, timeout=0.3)
        with pytest.raises(DeliveryError, match=r"did not answer within 0.3 s") as raised:
            sender.send(outbound())
    assert raised.value.retryable


def test_a_login_is_made_and_a_refused_one_never_shows_the_password() -> None:
    good_password, bad_password = "c0rrect-h0rse", "wr0ng-pa55"
    accounts = {"desk": good_password}

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        del server, session, envelope, mechanism
        ok = (
            isinstance(data, LoginPassword)
            and accounts.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False)

    recorder = Recorder()
    with smtp_server(recorder, authenticator=authenticator, auth_require_tls=False) as server:
        good = SmtpSender(
            server.hostname, server.port, sender=SENDER, username="desk", password=good_password
        )
        good.send(outbound())
        bad = SmtpSender(
            server.hostname, server.port, sender=SENDER, username="desk", password=bad_password
        )
        with pytest.raises(DeliveryError, match="535") as raised:
            bad.send(outbound())
    assert len(recorder.mails) == 1
    assert not raised.value.retryable
    assert "wr0ng-pa55" not in str(raised.value)
    assert "pa55" not in repr(bad)
    assert "h0rse" not in repr(good)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the key and the certificate, PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "servflow test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    key_file, cert_file = folder / "key.pem", folder / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


@pytest.fixture
def contexts(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The server's TLS context and a client's that trusts the server's certificate."""
    key_file, cert_file = certificate
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_starttls_upgrades_the_connection_before_the_mail(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = contexts
    recorder = Recorder()
    with smtp_server(recorder, tls_context=server_context, require_starttls=True) as server:
        plain = SmtpSender(server.hostname, server.port, sender=SENDER)
        with pytest.raises(DeliveryError, match="530") as refused:
            plain.send(outbound())
        SmtpSender(
            server.hostname,
            server.port,
            sender=SENDER,
            starttls=True,
            tls_context=client_context,
        ).send(outbound())
        untrusting = SmtpSender(server.hostname, server.port, sender=SENDER, starttls=True)
        with pytest.raises(DeliveryError, match="SSLCertVerificationError") as unverified:
            untrusting.send(outbound())
    assert len(recorder.mails) == 1
    assert not refused.value.retryable  # 530: the server wants STARTTLS; settings must change
    assert unverified.value.retryable


def test_starttls_against_a_server_without_it_is_not_retryable() -> None:
    with smtp_server(Recorder()) as server:
        sender = SmtpSender(server.hostname, server.port, sender=SENDER, starttls=True)
        with pytest.raises(DeliveryError, match="STARTTLS") as raised:
            sender.send(outbound())
    assert not raised.value.retryable


def test_ssl_speaks_tls_from_the_start(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_context, client_context = contexts
    recorder = Recorder()
    with smtp_server(recorder, ssl_context=server_context) as server:
        SmtpSender(
            server.hostname, server.port, sender=SENDER, ssl=True, tls_context=client_context
        ).send(outbound())
    assert len(recorder.mails) == 1


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"host": ""}, "host must be"),
        ({"host": "mail example"}, "host must be"),
        ({"host": "mail..example"}, "not a valid host name"),
        ({"host": "x" * 64 + ".example"}, "not a valid host name"),
        ({"port": 0}, "port must be"),
        ({"port": 70_000}, "port must be"),
        ({"port": True}, "port must be"),
        ({"sender": "support"}, "sender must be an e-mail address"),
        ({"sender": "a@b.example\r\nBcc: eve@evil.example"}, "sender must be"),
        ({"starttls": True, "ssl": True}, "not both"),
        ({"username": "desk"}, "both username and password"),
        ({"password": "s3cret-pw"}, "both username and password"),
        ({"timeout": 0}, "timeout must be"),
        ({"timeout": float("inf")}, "timeout must be"),
    ],
)
def test_bad_settings_are_refused_when_made(arguments: dict[str, object], problem: str) -> None:
    settings: dict[str, object] = {"host": "mail.example", "sender": SENDER, **arguments}
    with pytest.raises(ConfigurationError, match=problem) as raised:
        SmtpSender(**settings)  # type: ignore[arg-type]
    assert "s3cret-pw" not in str(raised.value)


@pytest.mark.parametrize(
    "contact",
    ["ana@", "@acme.example", "a@b@acme.example", "ana@acme.example\r\nBcc: eve@evil.example"],
)
def test_a_contact_with_an_at_that_is_not_an_address_is_not_retryable(contact: str) -> None:
    sender = SmtpSender("mail.example", sender=SENDER)
    with pytest.raises(DeliveryError, match="not one e-mail address") as raised:
        sender.compose(outbound(to=("ana@acme.example", contact)))
    assert not raised.value.retryable


def test_international_addresses_go_to_a_server_that_takes_them_and_not_elsewhere() -> None:
    message = outbound(to=("ñandú@mirador.example", "Ana Pérez <ana@acme.example>"))
    recorder = Recorder()
    with smtp_server(recorder, enable_SMTPUTF8=True) as server:
        SmtpSender(server.hostname, server.port, sender=SENDER).send(message)
    assert recorder.mails[0].rcpt_tos == ("ñandú@mirador.example", "ana@acme.example")
    with smtp_server(Recorder(), enable_SMTPUTF8=False) as server:
        sender = SmtpSender(server.hostname, server.port, sender=SENDER)
        with pytest.raises(DeliveryError, match="SMTPUTF8") as raised:
            sender.send(message)
    assert not raised.value.retryable
