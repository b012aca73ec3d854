"""A log stored sealed by an erasable store loads and reads back: the stored form is a contract.

``tests/fixtures/stored-sealed.jsonl`` holds what an erasable SQLite store held after two
customers opened requests (acme replied, reopened and accepted; globex cancelled) and acme was
forgotten: every stored event (topic, bytes with their sealed envelopes) and every row of the
key table (acme's key destroyed, globex's live). It was written once by ``write_fixture``
below (``python tests/integration/test_sealed_fixture.py``); never rewrite it to make a test
pass: a change that cannot read it breaks every erasable store in the field.
"""

from __future__ import annotations

import base64
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from conftest import DeskFactory, FakeClock
from servflow import ERASED, ServiceDesk, Status

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored-sealed.jsonl"
NAME = "Ana Pérez Quintana"
GLOBEX = "Globex Corporation"


def records() -> list[dict[str, object]]:
    return [orjson.loads(line) for line in FIXTURE.read_bytes().splitlines() if line]


def load(desk: ServiceDesk) -> None:
    """Put the fixture's keys and events into a fresh erasable store, then project them."""
    keys = [r for r in records() if r["kind"] == "key"]
    keyring = desk._stores.keyring
    assert keyring is not None
    if keyring._read is None:  # in memory: the key ring holds the rows
        for key in keys:
            material = key["key_material"]
            keyring._rows[str(key["key_id"])] = (
                str(key["customer_id"]),
                None if material is None else base64.b64decode(str(material)),
            )
    else:
        with desk._stores.views.transaction() as tx:
            tx.executemany(
                f"INSERT INTO {tx.dialect.table('sf_keys')} (key_id, customer_id, "  # noqa: S608
                "key_material, created_at, forgotten_at) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        k["key_id"],
                        k["customer_id"],
                        k["key_material"],
                        k["created_at"],
                        k["forgotten_at"],
                    )
                    for k in keys
                ],
            )
    events = [
        StoredEvent(
            originator_id=UUID(str(r["originator_id"])),
            originator_version=int(str(r["originator_version"])),
            topic=str(r["topic"]),
            state=base64.b64decode(str(r["state"])),
        )
        for r in records()
        if r["kind"] == "event"
    ]
    desk._stores.store.recorder.insert_events(events)
    desk.catch_up()


def test_the_fixture_holds_sealed_personal_data_and_no_clear_text() -> None:
    states = [base64.b64decode(str(r["state"])) for r in records() if r["kind"] == "event"]
    joined = b"\n".join(states)
    assert b'"sealed"' in joined
    assert NAME.encode() not in joined
    assert GLOBEX.encode() not in joined
    assert b"servflow.domain.erasure:ErasureLedger.CustomerForgotten" in b"".join(
        str(r.get("topic", "")).encode() for r in records()
    )


def test_a_sealed_log_reads_back_erased_and_in_clear_as_its_keys_say(
    make_desk: DeskFactory, clock: FakeClock, store: str
) -> None:
    clock.advance(days=2)
    desk = make_desk(erasable=True)
    load(desk)
    acme = desk.get("SR-000001")
    assert acme.status is Status.CLOSED
    assert (acme.customer.name, acme.symptom, acme.acceptance_comment) == (ERASED,) * 3
    assert acme.satisfaction == 4
    globex = desk.get("SR-000002")
    assert globex.status is Status.CANCELLED
    assert (globex.customer.name, globex.cancel_reason) == (GLOBEX, "We solved it ourselves")
    notes = [e.data["note"] for e in desk.history(acme) if e.event_type == "CustomerResponded"]
    assert notes == [ERASED]
    rows = desk.audit_log(customer="globex").rows
    assert rows[0].data["customer"]["name"] == GLOBEX
    if store != "memory":  # inserted raw, an in-memory log has no chain links to check
        assert desk.verify().intact
    assert desk.forget_customer("globex", actor="supervisor:eva").keys_destroyed == 1
    assert desk.get(globex).cancel_reason == ERASED


def write_fixture(path: Path) -> None:
    """Write the fixture from an erasable SQLite store (run once; see the module's docstring)."""
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "sealed.db"
        with ServiceDesk.sqlite(str(db), erasable=True, clock=lambda: moment) as desk:
            acme = desk.open(
                customer={"id": "acme", "name": NAME, "tier": "premium"},
                channel="phone",
                kind="complaint",
                stage="post_sale",
                symptom="My router at Calle Mayor 5 drops every evening",
                synthesis="Line drops nightly",
                actor="customer:acme",
            )
            desk.classify(acme, priority="high", actor="agent:ana")
            desk.assign(acme, team="network", agent="ana", actor="agent:ana")
            desk.wait_on_customer(acme, reason="Need the serial", actor="agent:ana")
            desk.customer_responded(acme, note="Serial XK-99812", actor="customer:acme")
            desk.complete(acme, outcome="resolved", resolution="Reset", actor="agent:ana")
            desk.reopen(acme, reason="It dropped again", actor="customer:acme")
            desk.complete(acme, outcome="resolved", resolution="Firmware", actor="agent:ana")
            desk.accept(acme, satisfaction=4, comment="Thanks", actor="customer:acme")
            globex = desk.open(
                customer={"id": "globex", "name": GLOBEX},
                channel="web",
                kind="information",
                stage="pre_sale",
                symptom="Do you sell fibre?",
                actor="customer:globex",
            )
            desk.cancel(globex, reason="We solved it ourselves", actor="customer:globex")
            desk.forget_customer("acme", actor="supervisor:eva")
            recorder = desk._stores.store.recorder
            lines = [
                {
                    "kind": "event",
                    "originator_id": str(n.originator_id),
                    "originator_version": n.originator_version,
                    "topic": n.topic,
                    "state": base64.b64encode(bytes(n.state)).decode(),
                }
                for n in recorder.select_notifications(start=1, limit=1000)
            ]
            with desk._stores.views.transaction(commit=False) as tx:
                lines += [
                    {"kind": "key", **row}
                    for row in tx.query('SELECT * FROM "sf_keys" ORDER BY created_at, key_id')
                ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


if __name__ == "__main__":
    write_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
