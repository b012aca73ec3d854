"""The webhook sender against a real HTTP server on 127.0.0.1: signed, keyed, classified."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from local_servers import Answer, free_port, http_receiver, outbound

from servflow import (
    ConfigurationError,
    DeliveryError,
    OutboundMessage,
    Sender,
    WebhookSender,
    verify_signature,
)
from servflow.senders.webhook import sign

SECRET = b"whsec-0123456789abcdef"


def test_a_delivered_message_is_posted_as_json_with_a_valid_signature_and_its_key() -> None:
    message = outbound()
    with (
        http_receiver() as receiver,
        WebhookSender(receiver.url, secret=SECRET, headers={"X-Api-Key": "k1"}) as sender,
    ):
        assert isinstance(sender, Sender)
        before = time.time()
        sender.send(message)
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request.method == "POST"
    assert request.path == "/hooks/servflow"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == message.key
    assert request.headers["x-api-key"] == "k1"
    assert OutboundMessage.model_validate_json(request.body) == message
    timestamp = request.headers["x-servflow-timestamp"]
    assert abs(int(timestamp) - before) <= 2
    signature = request.headers["x-servflow-signature"]
    assert signature.startswith("sha256=")
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert verify_signature(SECRET.decode(), int(timestamp), request.body, signature)
    assert not verify_signature(b"another secret", timestamp, request.body, signature)
    assert not verify_signature(SECRET, timestamp, request.body + b" ", signature)
    assert not verify_signature(SECRET, str(int(timestamp) + 1), request.body, signature)


def test_a_resent_message_carries_the_same_key_so_the_receiver_can_drop_it() -> None:
    message = outbound()
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as sender:
        sender.send(message)
        sender.send(message.model_copy(update={"attempt": 2}))
        sender.send(outbound(key="other:progress:7", kind="progress"))
    keys = [r.headers["idempotency-key"] for r in receiver.received]
    assert keys == [message.key, message.key, "other:progress:7"]
    kept: dict[str, OutboundMessage] = {}  # a receiver keeps the first of each key
    for request in receiver.received:
        body = OutboundMessage.model_validate_json(request.body)
        kept.setdefault(request.headers["idempotency-key"], body)
    assert list(kept) == [message.key, "other:progress:7"]
    assert kept[message.key].attempt == 1


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_answer_means_delivered(status: int) -> None:
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as sender:
        receiver.answer(Answer(status))
        sender.send(outbound())
    assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_a_timeout_too_early_too_many_or_server_error_answer_may_pass(status: int) -> None:
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as sender:
        receiver.answer(Answer(status, body=b"busy, try later"))
        with pytest.raises(DeliveryError) as raised:
            sender.send(outbound())
    assert raised.value.retryable
    assert raised.value.retry_after is None
    assert f"answered {status}" in str(raised.value)
    assert "busy, try later" in str(raised.value)
    assert raised.value.code == "delivery_failed"


@pytest.mark.parametrize("status", [301, 302, 307, 400, 401, 403, 404, 405, 409, 410, 422])
def test_any_other_answer_will_not_pass_by_trying_again(status: int) -> None:
    location = (("Location", "http://127.0.0.1:1/elsewhere"),) if status < 400 else ()
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as sender:
        receiver.answer(Answer(status, headers=location))
        with pytest.raises(DeliveryError) as raised:
            sender.send(outbound())
    assert not raised.value.retryable
    assert len(receiver.received) == 1  # a redirect is not followed
    if status < 400:
        assert "redirects are not followed" in str(raised.value)


def test_retry_after_in_seconds_is_passed_on() -> None:
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as sender:
        receiver.answer(Answer(429, headers=(("Retry-After", "120"),)))
        with pytest.raises(DeliveryError) as raised:
            sender.send(outbound())
    assert raised.value.retryable
    assert raised.value.retry_after == 120.0


def test_retry_after_as_a_date_is_passed_on_as_seconds_from_now() -> None:
    later = datetime.now(UTC) + timedelta(seconds=90)
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as sender:
        receiver.answer(
            Answer(503, headers=(("Retry-After", format_datetime(later, usegmt=True)),))
        )
        with pytest.raises(DeliveryError) as raised:
            sender.send(outbound())
    assert raised.value.retry_after is not None
    assert 80 <= raised.value.retry_after <= 91


def test_an_unreadable_retry_after_is_left_out() -> None:
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as sender:
        receiver.answer(Answer(503, headers=(("Retry-After", "soon"),)))
        with pytest.raises(DeliveryError) as raised:
            sender.send(outbound())
    assert raised.value.retryable
    assert raised.value.retry_after is None


def test_a_receiver_slower_than_the_timeout_fails_retryably_in_time() -> None:
    with (
        http_receiver() as receiver,
        WebhookSender(receiver.url, secret=SECRET, timeout=0.3) as sender,
    ):
        receiver.answer(Answer(200, delay=5))
        started = time.monotonic()
        with pytest.raises(DeliveryError) as raised:
            sender.send(outbound())
        took = time.monotonic() - started
    assert raised.value.retryable
    assert "no answer within 0.3 s" in str(raised.value)
    assert took < 2


def test_a_receiver_that_is_down_fails_retryably() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with (
        WebhookSender(url, secret=SECRET, timeout=2) as sender,
        pytest.raises(DeliveryError) as raised,
    ):
        sender.send(outbound())
    assert raised.value.retryable
    assert "ConnectError" in str(raised.value)


def test_errors_show_neither_the_secret_nor_the_url_query_or_user() -> None:
    with http_receiver() as receiver:
        url = receiver.url.replace("http://", "http://user:pa55@") + "?token=t0ps3cret"
        with WebhookSender(url, secret=SECRET) as sender:
            receiver.answer(Answer(500))
            with pytest.raises(DeliveryError) as raised:
                sender.send(outbound())
            shown = str(raised.value) + repr(sender)
    assert receiver.received[0].path == "/hooks/servflow?token=t0ps3cret"
    for secret in (SECRET.decode(), "pa55", "t0ps3cret", "user"):
        assert secret not in shown
    assert "/hooks/servflow" in shown


def test_a_closed_sender_refuses_to_send_with_a_delivery_error() -> None:
    with http_receiver() as receiver:
        sender = WebhookSender(receiver.url, secret=SECRET)
        sender.close()
        with pytest.raises(DeliveryError, match="client is closed") as raised:
            sender.send(outbound())
    assert not raised.value.retryable
    assert receiver.received == []


def test_a_shared_client_is_used_and_left_open() -> None:
    with http_receiver() as receiver, httpx.Client() as client:
        sender = WebhookSender(receiver.url, secret=SECRET, client=client)
        sender.send(outbound())
        sender.close()
        assert not client.is_closed
        sender.send(outbound(key="k:2"))
    assert [r.headers["idempotency-key"] for r in receiver.received] == [
        f"{outbound().key}",
        "k:2",
    ]


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "file:///etc/passwd", "example.com/hook", "http://", "", 42],
)
def test_a_url_that_is_not_http_is_refused_when_made(url: object) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https:// URL") as raised:
        WebhookSender(url, secret=SECRET)  # type: ignore[arg-type]
    assert "example.com" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["http://example.com:port/hook", "http://example.com:99999/hook", "http://[::1/hook"]
)
def test_a_url_that_is_not_valid_is_refused_when_made(url: str) -> None:
    with pytest.raises(ConfigurationError, match="URL"):
        WebhookSender(url, secret=SECRET)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"secret": b""}, "secret must be non-empty"),
        ({"secret": ""}, "secret must be non-empty"),
        ({"secret": 12345}, "secret must be non-empty"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": float("nan")}, "timeout must be a positive number"),
        ({"timeout": True}, "timeout must be a positive number"),
        ({"headers": {"Idempotency-Key": "x"}}, "may not set Idempotency-Key"),
        ({"headers": {"x-servflow-signature": "x"}}, "may not set x-servflow-signature"),
        ({"headers": {"X-Api-Key": 1}}, "headers must map"),
    ],
)
def test_bad_settings_are_refused_when_made(settings: dict[str, object], problem: str) -> None:
    arguments: dict[str, object] = {"secret": SECRET, **settings}
    with pytest.raises(ConfigurationError, match=problem) as raised:
        WebhookSender("https://example.com/hook", **arguments)  # type: ignore[arg-type]
    assert "12345" not in str(raised.value)


def test_without_httpx_the_sender_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ConfigurationError, match=r"servflow\[webhooks\]"):
        WebhookSender("https://example.com/hook", secret=SECRET)


def test_a_signature_is_refused_outside_the_window_of_five_minutes() -> None:
    body = b'{"key": "k"}'
    signature = sign(SECRET, 1_000_000, body)
    assert verify_signature(SECRET, "1000000", body, signature, now=1_000_000)
    assert verify_signature(SECRET, "1000000", body, signature, now=1_000_300)
    assert not verify_signature(SECRET, "1000000", body, signature, now=1_000_301)
    assert verify_signature(SECRET, "1000000", body, signature, now=999_700)
    assert not verify_signature(SECRET, "1000000", body, signature, now=999_699)
    assert verify_signature(SECRET, "1000000", body, signature, now=1_003_000, tolerance=3_000)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("", None),
        ("abc", None),
        ("-5", None),
        ("1e6", None),
        ("\uff11\uff10\uff10", None),  # fullwidth digits: isdigit, not ASCII
        ("99999999999999999999", None),
        ("1000000", ""),
        ("1000000", "sha256="),
        ("1000000", "sha1=00"),
        ("1000000", "sha256=ü"),
    ],
)
def test_a_malformed_timestamp_or_signature_is_false_never_an_error(
    timestamp: str, signature: str | None
) -> None:
    body = b"{}"
    good = sign(SECRET, 1_000_000, body)
    assert not verify_signature(
        SECRET, timestamp, body, good if signature is None else signature, now=1_000_000
    )


def test_verify_signature_refuses_a_missing_secret() -> None:
    with pytest.raises(ConfigurationError, match="secret"):
        verify_signature(b"", "1", b"", "sha256=00")
