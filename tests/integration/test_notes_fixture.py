"""A log with notes and customer messages, as stored when they shipped, loads the same.

``tests/fixtures/stored-notes.jsonl`` holds the stored events (topic, bytes) of one request: an
internal note, a reply the customer sees (its first response), a message the customer wrote, one
the desk recorded on their behalf after the completion (ending their silence), the customer's
acceptance and a note on the closed request. It was written once by ``write_fixture`` below
(``python tests/integration/test_notes_fixture.py``); never rewrite it to make a test pass: a
change that cannot read it breaks every store that recorded these events.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from conftest import DeskFactory, FakeClock
from servflow import ClockState, ServiceDesk, Status, Visibility
from stored_schema import read_log, write_log

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored-notes.jsonl"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stored_events() -> list[StoredEvent]:
    return read_log(FIXTURE)


def test_the_fixture_holds_every_event_class_added_with_notes() -> None:
    topics = {event.topic for event in stored_events()}
    for name in ("NoteAdded", "CustomerMessaged"):
        assert f"servflow.domain.request:ServiceRequest.{name}" in topics


def test_a_stored_log_with_notes_replays_to_the_same_request_and_clocks(
    make_desk: DeskFactory, clock: FakeClock, store: str
) -> None:
    clock.advance(days=10)
    desk = make_desk()
    desk._stores.store.recorder.insert_events(stored_events())
    desk.catch_up()
    request = desk.get("SR-000001")
    assert request.status is Status.CLOSED
    assert [(n.visibility, n.by_customer, n.actor) for n in request.notes] == [
        (Visibility.INTERNAL, False, "agent:ana"),
        (Visibility.CUSTOMER, False, "agent:ana"),
        (Visibility.CUSTOMER, True, "customer:acme"),
        (Visibility.CUSTOMER, True, "agent:ana"),
        (Visibility.INTERNAL, False, "agent:ana"),
    ]
    # The reply at 09:40 met the first response; the internal note at 09:20 did not.
    first = desk.sla(request).first_response
    assert (first.state, first.met_at) == (ClockState.MET, START + timedelta(minutes=40))
    events = [e.event_type for e in desk.history(request)]
    assert events.count("NoteAdded") == 3
    assert events.count("CustomerMessaged") == 2
    before = desk.queue(status=list(Status)).rows
    desk.note(request, text="Read again", actor="agent:ana")
    desk.rebuild_projections()
    assert desk.queue(status=list(Status)).rows[0].ticket_code == before[0].ticket_code
    if store != "memory":
        assert desk.verify().intact


def write_fixture(path: Path) -> None:
    """Write the fixture from a SQLite store (run once; see the module's docstring)."""
    now = [START]

    def at(minutes: float) -> None:
        now[0] = START + timedelta(minutes=minutes)

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "notes.db"
        with ServiceDesk.sqlite(str(db), clock=lambda: now[0]) as desk:
            a = desk.open(
                customer="acme",
                channel="email",
                kind="claim",
                stage="post_sale",
                symptom="The invoice is wrong",
                actor="customer:acme",
            )
            desk.classify(a, priority="normal", actor="agent:ana")
            desk.assign(a, team="billing", agent="ana", actor="agent:ana")
            at(20)
            desk.note(a, text="VAT rounding?", actor="agent:ana")
            at(40)
            desk.note(a, text="We are checking it", visibility="customer", actor="agent:ana")
            at(60)
            desk.customer_message(a, text="It is invoice F-118", actor="customer:acme")
            at(90)
            desk.complete(a, outcome="resolved", resolution="Credit note", actor="agent:ana")
            at(24 * 60)
            desk.customer_message(a, text="Called: checking it", actor="agent:ana")
            at(25 * 60)
            desk.accept(a, satisfaction=5, actor="customer:acme")
            desk.note(a, text="Happy customer", actor="agent:ana")
            write_log(desk._stores.store.recorder, path)


if __name__ == "__main__":
    write_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
