"""The JSON Lines sender: one line per message, on disk, whole under threads."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
from local_servers import outbound

from servflow import ConfigurationError, DeliveryError, JsonlSender, OutboundMessage, Sender


def test_each_message_is_one_line_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    sender = JsonlSender(path)
    assert isinstance(sender, Sender)
    first, second = outbound(), outbound(key="k:2", subject="Ñandú — 进展", personal=True)
    sender.send(first)
    sender.send(second)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert set(record) == set(OutboundMessage.model_fields)
    assert record["owed_at"] in {"2026-03-02T09:00:00Z", "2026-03-02T09:00:00+00:00"}
    assert record["request_id"] == str(first.request_id)
    assert record["to"] == list(first.to)
    assert [OutboundMessage.model_validate_json(line) for line in lines] == [first, second]
    assert "Ñandú — 进展" in lines[1]  # written as UTF-8, readable as it is


def test_the_file_is_made_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    JsonlSender(str(path)).send(outbound())
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_a_message_sent_twice_is_written_twice_and_readers_drop_it_by_key(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    sender = JsonlSender(path)
    message = outbound()
    sender.send(message)
    sender.send(message.model_copy(update={"attempt": 2}))
    kept: dict[str, OutboundMessage] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            read = OutboundMessage.model_validate_json(line)
            kept.setdefault(read.key, read)
    assert list(kept.values()) == [message]


def test_threads_sharing_a_sender_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    sender = JsonlSender(path)
    big = "x" * 20_000  # past a pipe's atomic write size, so only the lock keeps lines whole

    def send_many(thread: int) -> None:
        for number in range(25):
            sender.send(outbound(key=f"t{thread}:{number}", body=big))

    threads = [threading.Thread(target=send_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    keys = [OutboundMessage.model_validate_json(line).key for line in lines]
    assert sorted(keys) == sorted(f"t{t}:{n}" for t in range(8) for n in range(25))


def test_a_path_that_cannot_be_written_is_a_retryable_delivery_error(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing" / "outbox.jsonl"):
        with pytest.raises(DeliveryError, match="could not write message") as raised:
            JsonlSender(path).send(outbound())
        assert raised.value.retryable
        assert raised.value.code == "delivery_failed"


@pytest.mark.parametrize("path", ["", None, 7])
def test_a_path_that_is_not_one_is_refused_when_made(path: object) -> None:
    with pytest.raises(ConfigurationError, match="path must be a file path"):
        JsonlSender(path)  # type: ignore[arg-type]
