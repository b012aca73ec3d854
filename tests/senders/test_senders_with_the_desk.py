"""The shipped senders behind ``desk.dispatch``: a request's messages reach the real servers."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from local_servers import Answer, Recorder, http_receiver, smtp_server

from servflow import (
    JsonlSender,
    OutboundMessage,
    ServiceDesk,
    SmtpSender,
    WebhookSender,
    verify_signature,
)

AGENT = "agent:ana"
SECRET = b"whsec-desk"


def desk_with_a_request(clock: list[datetime] | None = None) -> ServiceDesk:
    now = clock if clock is not None else [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    desk = ServiceDesk(clock=lambda: now[0])
    desk.register_customer(
        "acme", name="Ferretería Acme", language="es-ES", contacts=["it@acme.es"], actor=AGENT
    )
    desk.open(
        customer="acme",
        channel="email",
        kind="claim",
        stage="post_sale",
        symptom="The invoice charges a visit twice",
        actor=AGENT,
    )
    return desk


def test_dispatch_to_a_jsonl_file_writes_the_receipt(tmp_path: Path) -> None:
    desk = desk_with_a_request()
    path = tmp_path / "outbox.jsonl"
    report = desk.dispatch(JsonlSender(path))
    assert report.delivered == 1
    [line] = path.read_text(encoding="utf-8").splitlines()
    message = OutboundMessage.model_validate_json(line)
    assert message.kind == "receipt"
    assert message.to == ("it@acme.es",)


def test_dispatch_to_a_webhook_retries_a_5xx_and_buries_a_4xx() -> None:
    with http_receiver() as receiver, WebhookSender(receiver.url, secret=SECRET) as webhook:
        clock = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
        desk = desk_with_a_request(clock)
        receiver.answer(Answer(503))
        assert desk.dispatch(webhook).retried == 1
        receiver.answer(Answer(410))
        clock[0] = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # past the pause before a retry
        assert desk.dispatch(webhook).dead == 1
        assert desk.retry_dead() == 1
        assert desk.dispatch(webhook).delivered == 1
    keys = {request.headers["idempotency-key"] for request in receiver.received}
    assert len(receiver.received) == 3
    assert len(keys) == 1  # one message, three attempts, one key
    last = receiver.received[-1]
    stamp, signature = last.headers["x-servflow-timestamp"], last.headers["x-servflow-signature"]
    assert verify_signature(SECRET, stamp, last.body, signature)


def test_dispatch_by_smtp_mails_the_customer() -> None:
    recorder = Recorder()
    with smtp_server(recorder) as server:
        desk = desk_with_a_request()
        sender = SmtpSender(server.hostname, server.port, sender="desk@servflow.example")
        assert desk.dispatch(sender).delivered == 1
    [mail] = recorder.mails
    assert mail.rcpt_tos == ("it@acme.es",)
    read = message_from_bytes(mail.content.replace(b"\r\n", b"\n"), policy=policy.default)
    assert read["X-Servflow-Key"]
    assert read["Subject"]
    assert read["Content-Language"] == "es"
