"""A sender that POSTs each message as JSON to a webhook, signed with an HMAC of a shared secret.

The receiver checks three headers: ``X-Servflow-Timestamp`` (Unix seconds),
``X-Servflow-Signature`` (``sha256=`` and the hex HMAC-SHA-256, under the shared secret, of the
timestamp, a dot and the raw body) and ``Idempotency-Key`` (the message's ``key``). A request
whose signature does not match, or whose timestamp is more than five minutes away from the
receiver's clock, is refused (:func:`verify_signature` does both); one whose key was seen
before is acknowledged and dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from servflow.desk.outbox import OutboundMessage
from servflow.errors import ConfigurationError, DeliveryError, shown

if TYPE_CHECKING:
    import httpx

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookSender",
    "sign",
    "verify_signature",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Servflow-Timestamp"
SIGNATURE_HEADER = "X-Servflow-Signature"
#: The headers the sender writes itself; ``headers=`` may not set them.
_OWN_HEADERS = frozenset(
    h.lower() for h in (IDEMPOTENCY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER, "Content-Type")
)
#: Answers after which another attempt may succeed: timeout, too early, too many, server errors.
_RETRYABLE_STATUSES = frozenset({408, 425, 429})
_HTTP_OK = range(200, 300)
_SERVER_ERRORS = range(500, 600)


def _secret_bytes(secret: object, where: str) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or not secret:
        # The value itself is never shown: it may be the secret, mistyped.
        msg = f"{where}: secret must be non-empty bytes or text, not a {type(secret).__name__}"
        raise ConfigurationError(msg)
    return secret


def sign(secret: bytes | str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Servflow-Signature`` value of a body sent at ``timestamp``: ``sha256=<hex>``."""
    key = _secret_bytes(secret, "sign")
    digest = hmac.new(key, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: bytes | str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = 300,
) -> bool:
    """Whether a webhook request is genuine and fresh: for a receiver of ``WebhookSender``.

    ``timestamp`` and ``signature`` are the ``X-Servflow-Timestamp`` and
    ``X-Servflow-Signature`` headers, ``body`` the raw bytes of the request as received (not
    re-encoded JSON). True when the signature is the HMAC-SHA-256 of ``"<timestamp>.<body>"``
    under ``secret`` (compared in constant time) and the timestamp lies within ``tolerance``
    seconds (five minutes) of ``now`` (the receiver's clock): a captured request replayed later
    is refused. Malformed headers give False, never an exception.
    """
    key = _secret_bytes(secret, "verify_signature")
    stamp = str(timestamp).strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:  # noqa: PLR2004 - digits
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    expected = sign(key, stamp, body).encode("ascii")
    given = signature.strip().encode("utf-8", "replace") if isinstance(signature, str) else b""
    return hmac.compare_digest(expected, given)


def _where(url: str) -> str:
    """The URL as errors show it: scheme, host and path (a query or user part may hold a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}" + (
        parts.path or "/"
    )


def _retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds, or an HTTP date), if valid."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class WebhookSender:
    """POSTs each message as JSON to ``url``, signed, with its key as the ``Idempotency-Key``.

    The body is the message's JSON (every field; ``OutboundMessage.model_validate_json`` reads
    it back). The headers ``X-Servflow-Timestamp`` and ``X-Servflow-Signature`` let the
    receiver check it came from a holder of ``secret`` within the last five minutes
    (:func:`verify_signature`); ``Idempotency-Key`` lets it drop a message delivered twice (the
    outbox delivers at least once). ``headers`` adds headers of your own (an API key...).

    Any 2xx answer means delivered. A timeout (``timeout`` seconds, for connecting and for each
    read), a failed connection, or an answer 408, 425, 429 or 5xx raise a retryable
    ``DeliveryError`` (with the receiver's ``Retry-After`` as ``retry_after`` seconds); any other
    answer (4xx: refused, or a redirect, which is not followed) raises one that is not.

    It needs httpx (``pip install 'servflow[webhooks]'``). Pass ``client`` to share an
    ``httpx.Client`` (proxies, certificates); otherwise the sender makes one, which ``close()``
    (or leaving a ``with`` block) closes.
    """

    def __init__(
        self,
        url: str,
        *,
        secret: bytes | str,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        try:
            import httpx  # noqa: PLC0415 - an optional extra, and slow to import
        except ImportError:
            msg = "WebhookSender needs httpx: pip install 'servflow[webhooks]'"
            raise ConfigurationError(msg) from None
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
        except ValueError:  # an unclosed [ of an IPv6 address
            parts = None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            # Not the URL itself: its query or user part may hold a token.
            if not isinstance(url, str):
                what = f", not a value of type {type(url).__name__}"
            elif parts is not None and parts.scheme and parts.scheme not in {"http", "https"}:
                what = f", not {shown(parts.scheme + ':')}"
            else:
                what = ""
            msg = f"WebhookSender: url must be an http:// or https:// URL with a host{what}"
            raise ConfigurationError(msg)
        try:
            parts.port  # noqa: B018 - urllib checks the port when it is read
            httpx.URL(url)
        except (ValueError, httpx.InvalidURL) as error:
            # Only the reason: the URL may hold a token.
            msg = f"WebhookSender: url is not a valid URL ({type(error).__name__})"
            raise ConfigurationError(msg) from None
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            msg = f"WebhookSender: timeout must be a positive number, not {shown(timeout)}"
            raise ConfigurationError(msg)
        extra = dict(headers or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
            msg = "WebhookSender: headers must map header names to text values"
            raise ConfigurationError(msg)
        taken = sorted(k for k in extra if k.lower() in _OWN_HEADERS)
        if taken:
            msg = f"WebhookSender: headers may not set {', '.join(taken)} (the sender writes it)"
            raise ConfigurationError(msg)
        self.url = url
        self.timeout = float(timeout)
        self._secret = _secret_bytes(secret, "WebhookSender")
        self._headers = extra
        self._owns_client = client is None
        self._client = httpx.Client(follow_redirects=False) if client is None else client

    def __repr__(self) -> str:
        return f"WebhookSender({_where(self.url)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client, if the sender made it (one passed in stays open)."""
        if self._owns_client:
            self._client.close()

    def send(self, message: OutboundMessage) -> None:
        """POST ``message``; return on a 2xx answer, raise ``DeliveryError`` otherwise."""
        import httpx  # noqa: PLC0415 - imported by the constructor already: a lookup

        body = message.model_dump_json().encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: message.key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        what = f"message {shown(message.key)} to the webhook {_where(self.url)}"
        try:
            response = self._client.post(
                self.url, content=body, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException:
            msg = f"could not deliver {what}: no answer within {self.timeout:g} s"
            raise DeliveryError(msg, retryable=True) from None
        except httpx.HTTPError as error:
            reason = type(error).__name__ + (f": {shown(str(error))}" if str(error) else "")
            msg = f"could not deliver {what}: {reason}"
            raise DeliveryError(msg, retryable=True) from None
        except RuntimeError:
            if not self._client.is_closed:
                raise
            msg = f"could not deliver {what}: the sender's HTTP client is closed"
            raise DeliveryError(msg, retryable=False) from None
        status = response.status_code
        if status in _HTTP_OK:
            return
        retryable = status in _RETRYABLE_STATUSES or status in _SERVER_ERRORS
        reply = response.text.strip()
        msg = f"could not deliver {what}: it answered {status} {response.reason_phrase}" + (
            f" ({shown(reply)})" if reply else ""
        )
        if 300 <= status < 400:  # noqa: PLR2004 - the redirection class
            msg += "; redirects are not followed: configure the URL it points to"
        retry_after = (
            _retry_after(response.headers.get("Retry-After"), now=time.time())
            if retryable
            else None
        )
        raise DeliveryError(msg, retryable=retryable, retry_after=retry_after)
