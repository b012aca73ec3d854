"""A log with external references and directories, stored by this version, loads and replays.

``tests/fixtures/stored-directories.jsonl`` holds the stored events (topic, bytes) of a store
where customers, teams and agents were registered, updated and deactivated, and requests were
opened with external references (``Opened`` at ``class_version`` 2): every event class those
features added. It was written once by ``write_fixture`` below (``python
tests/integration/test_directories_fixture.py``); never rewrite it to make a test pass: a change
that cannot read it breaks every store in the field that holds these events.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from conftest import DeskFactory, FakeClock
from servflow import ServiceDesk, Tier
from stored_schema import read_log, stored_event_classes, write_log

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored-directories.jsonl"
#: The event classes external references and directories added (all in the fixture).
ADDED = frozenset(
    topic
    for topic in (get_topic(cls) for cls in stored_event_classes())
    if topic.startswith(("servflow.domain.directory:", "servflow.domain.external:"))
)


def stored_events() -> list[StoredEvent]:
    return read_log(FIXTURE)


def load(desk: ServiceDesk) -> None:
    desk._stores.store.recorder.insert_events(stored_events())
    desk.catch_up()


def test_the_fixture_holds_every_event_class_of_directories_and_external_refs() -> None:
    stored = {event.topic for event in stored_events()}
    assert ADDED
    assert stored >= ADDED
    opened = [e for e in stored_events() if e.topic.endswith("ServiceRequest.Opened")]
    assert all(orjson.loads(e.state)["class_version"] == 2 for e in opened)


def test_a_stored_log_of_directories_replays_to_the_same_entries(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    clock.advance(days=2)
    desk = make_desk()
    load(desk)
    assert [(c.id, c.name, c.tier, c.active) for c in desk.customers(include_inactive=True)] == [
        ("acme", "Acme Corp", Tier.PREMIUM, True),
        ("globex", "Globex", Tier.STANDARD, False),
    ]
    assert desk.customer("acme").contacts == ("ops@acme.example", "+34 600 000 000")
    assert [(t.id, t.name, t.members, t.active) for t in desk.teams(include_inactive=True)] == [
        ("billing", "Billing", ("ana", "luis"), True),
        ("legacy", "Legacy", (), False),
    ]
    assert [(a.id, a.name, a.teams, a.active) for a in desk.agents(include_inactive=True)] == [
        ("ana", "Ana Pérez", ("billing",), True),
        ("luis", "Luis Gil", ("billing",), False),
    ]
    request = desk.get("ext:servicenow:INC0012345")
    assert (request.ticket_code, request.team, request.agent) == ("SR-000001", "billing", "ana")
    assert request.customer.tier is Tier.VIP
    assert desk.get("ext:INC7").ticket_code == "SR-000002"
    assert {r.external_ref for r in desk.queue().rows} == {"INC0012345", "INC7"}


def write_fixture() -> None:  # pragma: no cover - run by hand, once
    """Write the fixture from a fresh in-memory store (``python <this file>``)."""
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ticks = iter(range(1000))

    def clock() -> datetime:
        return now + timedelta(minutes=next(ticks))

    desk = ServiceDesk(clock=clock)
    lead = "supervisor:eva"
    desk.register_customer(
        "acme",
        name="Acme Corp",
        tier="vip",
        language="es",
        contacts=["ops@acme.example", "+34 600 000 000"],
        actor=lead,
    )
    desk.register_customer("globex", name="Globex", actor=lead)
    desk.register_team("Billing", members=["Ana", "Luis"], actor=lead)
    desk.register_team("Legacy", actor=lead)
    desk.update_team("legacy", name="Legacy", members=[], actor=lead)
    desk.deactivate_team("legacy", actor=lead)
    desk.register_agent("ana", name="Ana Pérez", teams=["billing"], actor=lead)
    desk.register_agent("luis", name="Luis Gil", teams=["billing"], actor=lead)
    desk.update_agent("luis", name="Luis Gil", actor=lead)
    desk.deactivate_agent("luis", actor=lead)
    request = desk.open(
        customer="acme",
        channel="email",
        kind="complaint",
        stage="post_sale",
        symptom="The March invoice is wrong",
        actor="integration:servicenow",
        external_ref="INC0012345",
        external_source="servicenow",
    )
    desk.classify(request, priority="high", actor="agent:ana")
    desk.assign(request, team="Billing ", agent="Ana", actor="agent:ana")
    desk.open(
        customer="globex",
        channel="web",
        kind="information",
        stage="pre_sale",
        symptom="Prices?",
        actor="agent:ana",
        external_ref="INC7",
    )
    desk.update_customer("acme", tier="premium", actor=lead)
    desk.deactivate_customer("globex", reason="contract ended", actor=lead)
    write_log(desk._stores.store.recorder, FIXTURE)
    desk.close()


if __name__ == "__main__":  # pragma: no cover
    write_fixture()
    sys.exit(0)
