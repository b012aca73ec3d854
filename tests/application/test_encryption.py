"""Encrypted and compressed event stores: what is stored, what reads it back, what refuses.

``ServiceDesk.sqlite``/``postgres`` take ``cipher_key`` (AES-GCM through the library's cipher)
and ``compress``. The stored payloads must not show what the events say; a desk with the key
reads, replays, verifies and rebuilds them; a desk without it, or with another, refuses with
a ``StoreError`` before recording anything, and no message ever shows a key.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from conftest import DeskFactory
from servflow import ConfigurationError, ServiceDesk, StoreError, new_cipher_key
from servflow.cli import app

SYMPTOM = "The router drops the line every evening at nine"
STORES = pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)


def work(desk: ServiceDesk) -> str:
    request = desk.open(
        customer="acme",
        channel="web",
        kind="complaint",
        stage="post_sale",
        symptom=SYMPTOM,
        actor="customer:acme",
    )
    desk.classify(request, priority="high", actor="agent:ana")
    desk.assign(request, team="network", agent="ana", actor="agent:ana")
    return request.ticket_code


def stored_payloads(desk: ServiceDesk) -> list[bytes]:
    recorder = desk._stores.store.recorder
    return [bytes(n.state) for n in recorder.select_notifications(start=1, limit=1000)]


@STORES
@pytest.mark.parametrize("compress", [False, True], ids=["cipher", "cipher+zlib"])
def test_an_encrypted_store_keeps_no_payload_in_clear_and_reads_it_all_back(
    make_desk: DeskFactory,
    compress: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    key = new_cipher_key()
    desk = make_desk(cipher_key=key, compress=compress)
    ticket = work(desk)
    payloads = stored_payloads(desk)
    assert len(payloads) >= 3
    for payload in payloads:
        assert b"router" not in payload
        assert b"acme" not in payload
        # Not JSON (a ciphertext may begin with "{" once in 256 payloads, so that is no test).
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(payload)
    view = desk.get(ticket)
    assert (view.symptom, view.team, view.version) == (SYMPTOM, "network", 3)
    assert [e.event_type for e in desk.history(ticket)] == ["Opened", "Classified", "Assigned"]
    report = desk.verify()
    assert (report.intact, report.events_checked) == (True, len(payloads))
    assert desk.rebuild_projections() == len(payloads)
    assert [row.ticket_code for row in desk.queue().rows] == [ticket]

    # Another desk with the same key on the same store reads the same.
    again = make_desk(cipher_key=key, compress=compress)
    assert again.get(ticket) == view


@STORES
def test_without_the_key_or_with_another_the_store_refuses_and_records_nothing(
    make_desk: DeskFactory,
) -> None:
    key = new_cipher_key()
    desk = make_desk(cipher_key=key)
    ticket = work(desk)
    count = len(stored_payloads(desk))

    def classify_without(wrong: dict[str, str]) -> None:
        make_desk(**wrong).classify(ticket, priority="low", actor="agent:bob")

    for wrong in ({}, {"cipher_key": new_cipher_key()}, {"cipher_key": new_cipher_key(16)}):
        with pytest.raises(StoreError, match="cipher key") as refused:
            classify_without(wrong)
        assert key not in str(refused.value)
    assert len(stored_payloads(desk)) == count
    assert desk.get(ticket).priority == "high"


def test_keys_are_checked_before_anything_opens_and_never_shown(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    for bad in ("not base64!", "c2hvcnQ=", new_cipher_key()[:-4]):
        with pytest.raises(ConfigurationError, match="16, 24 or 32-byte") as refused:
            ServiceDesk.sqlite(str(db), cipher_key=bad)
        assert bad not in str(refused.value)
    assert not db.exists()
    assert {len(new_cipher_key(n)) for n in (16, 24, 32)} == {24, 32, 44}
    with pytest.raises(ConfigurationError, match="16, 24 or 32 bytes"):
        new_cipher_key(20)


def test_the_command_line_takes_the_key_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    key = new_cipher_key()
    env = {"SERVFLOW_CIPHER_KEY": key, "SERVFLOW_COMPRESS": "1", "COLUMNS": "200"}
    opened = CliRunner().invoke(
        app,
        [
            "--db",
            str(db),
            "--actor",
            "agent:ana",
            "request",
            "open",
            "--customer",
            "acme",
            "--channel",
            "web",
            "--kind",
            "complaint",
            "--stage",
            "post_sale",
            "--symptom",
            SYMPTOM,
        ],
        env=env,
    )
    assert opened.exit_code == 0, opened.output
    with sqlite3.connect(db) as connection:
        states = [bytes(r[0]) for r in connection.execute("SELECT state FROM stored_events")]
    assert states
    assert all(b"router" not in state for state in states)
    shown = CliRunner().invoke(app, ["--db", str(db), "request", "show", "SR-1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "router" in shown.stdout

    refused = CliRunner().invoke(
        app,
        ["--db", str(db), "request", "show", "SR-1"],
        env={"SERVFLOW_CIPHER_KEY": "", "COLUMNS": "200"},
    )
    assert refused.exit_code != 0
    assert refused.stderr.startswith("error[store_error]: "), refused.stderr
    assert "Traceback" not in refused.output
    assert key not in refused.output
