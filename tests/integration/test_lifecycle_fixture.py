"""A log with holds, closures and unassignments, as stored when they shipped, loads the same.

``tests/fixtures/stored-lifecycle.jsonl`` holds the stored events (topic, bytes) of a policy
book whose policy has a hold catalogue and a reopening window, and of two requests: one held on
a vendor (pausing under that catalogue), switched to the customer, resumed, returned to a
queue, completed straight from a change-window hold, closed by ``system``, reopened after the
closure, completed and closed again; one completed, reassigned and unassigned while completed,
then closed by an agent. It was written once by ``write_fixture`` below
(``python tests/integration/test_lifecycle_fixture.py``); never rewrite it to make a test
pass: a change that cannot read it breaks every store that recorded these events.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent

from conftest import DeskFactory, FakeClock
from servflow import ClockState, ConfigurationError, ServiceDesk, SlaPolicy, Status
from stored_schema import read_log, write_log

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored-lifecycle.jsonl"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stored_events() -> list[StoredEvent]:
    return read_log(FIXTURE)


def load(desk: ServiceDesk) -> None:
    desk._stores.store.recorder.insert_events(stored_events())
    desk.catch_up()


def policy() -> SlaPolicy:
    """The policy the fixture was written under: vendor holds pause, reopen within 30 days."""
    return SlaPolicy.standard().model_copy(
        update={
            "name": "fixture",
            "holds": SlaPolicy.model_validate(
                {
                    "calendar": {"timezone": "UTC", "hours": {}},
                    "holds": {"vendor": True, "change_window": False},
                }
            ).holds,
            "reopen_window": timedelta(days=30),
        }
    )


def test_the_fixture_holds_every_event_class_added_with_holds_and_closures() -> None:
    topics = {event.topic for event in stored_events()}
    for name in ("Held", "Resumed", "Unassigned", "Closed"):
        assert f"servflow.domain.request:ServiceRequest.{name}" in topics


def test_a_stored_lifecycle_log_replays_to_the_same_requests_and_clocks(
    make_desk: DeskFactory, clock: FakeClock, store: str
) -> None:
    clock.advance(days=40)
    desk = make_desk()
    load(desk)
    adopted = desk.policies()[-1].policy
    assert (adopted.holds["vendor"], adopted.holds["change_window"]) == (True, False)
    assert adopted.reopen_window == timedelta(days=30)
    held = desk.get("SR-000001")
    assert held.status is Status.CLOSED
    assert (held.reopen_count, held.reopened_after_closure, held.transfer_count) == (1, 1, 1)
    assert (held.close_reason, held.satisfaction, held.deemed_acceptance) == (
        "Auto-closed 5 days after resolution",
        None,
        False,
    )
    assert [e.event_type for e in desk.history(held)][3:10] == [
        "Held",
        "WaitingOnCustomer",
        "Resumed",
        "Unassigned",
        "Assigned",
        "Held",
        "Completed",
    ]
    # The vendor hold (2 h) paused the clocks; the change-window hold (1 h) did not.
    resolution = desk.sla(held, at=START + timedelta(hours=10)).resolution
    assert resolution.state is ClockState.MET
    assert resolution.paused == timedelta(hours=3)  # 2 h on the vendor, then 1 h the customer
    other = desk.get("SR-000002")
    assert (other.status, other.team, other.agent) == (Status.CLOSED, "field", None)
    assert other.close_reason == "Confirmed by phone"
    assert desk.queue(status="closed").total == 2
    if store != "memory":
        assert desk.verify().intact


def test_a_stored_lifecycle_log_takes_new_commands_and_its_views_rebuild_the_same(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    clock.advance(days=40)
    desk = make_desk()
    load(desk)
    desk.reopen("SR-000002", reason="It came back", actor="customer:acme")
    desk.hold("SR-000002", reason="vendor", actor="agent:ana")
    before = desk.queue(status=list(Status)).rows
    desk.rebuild_projections()
    assert desk.queue(status=list(Status)).rows == before
    assert desk.get("SR-000002").status is Status.ON_HOLD
    assert desk.queue(special="on_hold").total == 1


def test_a_stored_policy_given_again_in_code_is_the_same_policy(
    make_desk: DeskFactory, clock: FakeClock, store: str
) -> None:
    # The fixture's policy was adopted before breach_is_final existed: it reads False. The same
    # definition in code leaves the option unset, so it is the same policy: nothing is adopted,
    # and the answers stay as reported. Saying True under the adopted version is refused.
    clock.advance(days=40)
    desk = make_desk()
    load(desk)
    adopted = desk.policies()
    assert [a.policy.breach_is_final for a in adopted] == [False]
    answer = desk.sla("SR-000001")
    assert desk.adopt_policy(policy(), actor="agent:admin") == adopted[-1]
    with pytest.raises(ConfigurationError, match="already adopted with different content"):
        desk.adopt_policy(
            policy().model_copy(update={"breach_is_final": True}), actor="agent:admin"
        )
    if store != "memory":
        again = make_desk(sla=policy())
        assert again.policies() == adopted
        assert again.sla("SR-000001") == answer
    assert desk.policies() == adopted


def write_fixture(path: Path) -> None:
    """Write the fixture from a SQLite store (run once; see the module's docstring)."""
    now = [START]

    def at(hours: float) -> datetime:
        now[0] = START + timedelta(hours=hours)
        return now[0]

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "lifecycle.db"
        with ServiceDesk.sqlite(str(db), clock=lambda: now[0], sla=policy()) as desk:
            a = desk.open(
                customer={"id": "acme", "tier": "premium"},
                channel="phone",
                kind="complaint",
                stage="post_sale",
                symptom="The line drops",
                actor="agent:ana",
            )
            desk.classify(a, priority="high", actor="agent:ana")
            desk.assign(a, team="network", agent="ana", actor="agent:ana")
            at(1)
            desk.hold(a, reason="vendor", note="Waiting for the modem maker", actor="agent:ana")
            at(3)
            desk.hold(a, reason="customer", note="Need the serial", actor="agent:ana")
            at(4)
            desk.resume(a, note="Serial read on the phone", actor="agent:ana")
            at(5)
            desk.unassign(a, team="field", actor="agent:ana")
            desk.assign(a, team="field", agent="bob", actor="agent:bob")
            at(6)
            desk.hold(a, reason="change_window", note="Friday night", actor="agent:bob")
            at(7)
            desk.complete(a, outcome="resolved", resolution="Modem replaced", actor="agent:bob")
            at(7 + 5 * 24)
            desk.close(a, reason="Auto-closed 5 days after resolution", actor="system")
            at(8 + 6 * 24)
            desk.reopen(a, reason="It dropped again", actor="customer:acme")
            at(9 + 6 * 24)
            desk.complete(a, outcome="resolved", resolution="Line card", actor="agent:bob")
            at(9 + 11 * 24)
            desk.close(a, reason="Auto-closed 5 days after resolution", actor="system")
            b = desk.open(
                customer="acme",
                channel="web",
                kind="information",
                stage="pre_sale",
                symptom="Do you sell fibre?",
                actor="customer:acme",
            )
            desk.classify(b, priority="low", actor="agent:ana")
            desk.assign(b, team="sales", agent="sol", actor="agent:sol")
            desk.complete(b, outcome="resolved", resolution="Yes we do", actor="agent:sol")
            desk.assign(b, team="sales", agent="ana", actor="agent:ana")
            desk.unassign(b, team="field", actor="agent:ana")
            desk.close(b, reason="Confirmed by phone", actor="agent:ana")
            write_log(desk._stores.store.recorder, path)


if __name__ == "__main__":
    write_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
