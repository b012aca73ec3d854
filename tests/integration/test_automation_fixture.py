"""A log written by automation rules, as stored when they shipped: loads the same, fires no more.

``tests/fixtures/stored-automation.jsonl`` holds the stored events (topic, bytes) of one request
escalated by a rule (``AutomationFired``, then its ``Assigned``, ``Classified`` and
``NonConformityLogged`` by ``system``). It was written once by ``write_fixture`` (``python
tests/integration/test_automation_fixture.py``); never rewrite it to make a test pass: the
condition keys it holds are what keeps a rule from firing twice after an upgrade.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from conftest import DeskFactory
from servflow import AutomationRules, ServiceDesk
from stored_schema import read_log, write_log

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored-automation.jsonl"
OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FIRED = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
RULES = AutomationRules.of(
    [
        {
            "name": "escalate-breaches",
            "when": {"sla": "breached", "clock": "resolution"},
            "then": {
                "reassign": "l2",
                "raise_priority": "urgent",
                "notify": "supervisors",
                "nonconformity": {"severity": "major", "category": "sla"},
            },
        }
    ]
)


def stored_events() -> list[StoredEvent]:
    return read_log(FIXTURE)


def test_the_fixture_holds_a_rule_s_firing() -> None:
    topics = [event.topic for event in stored_events()]
    assert "servflow.domain.request:ServiceRequest.AutomationFired" in topics


def test_a_stored_firing_loads_the_same_and_the_rule_fires_no_more(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk(clock=lambda: FIRED + timedelta(days=1))
    desk._stores.store.recorder.insert_events(stored_events())
    desk.catch_up()
    request = desk.get("SR-000001")
    assert (request.team, request.agent, request.priority) == ("l2", None, "urgent")
    assert [nc.logged_by for nc in request.nonconformities] == ["system"]
    tail = desk.history(request)[-4:]
    assert [(e.event_type, e.actor) for e in tail] == [
        ("AutomationFired", "system"),
        ("Assigned", "system"),
        ("Classified", "system"),
        ("NonConformityLogged", "system"),
    ]
    assert tail[0].data["key"] == "sla:breached:resolution:0"
    assert desk.automate(RULES).fired == ()


def write_fixture(path: Path) -> None:
    """Write the fixture from a SQLite store (run once; see the module's docstring)."""
    now = [OPENED]
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "automation.db"
        with ServiceDesk.sqlite(str(db), clock=lambda: now[0]) as desk:
            request = desk.open(
                customer="acme",
                channel="email",
                kind="claim",
                stage="post_sale",
                symptom="The invoice charges a visit twice",
                actor="agent:ana",
            )
            desk.classify(request, priority="normal", actor="agent:ana")
            desk.assign(request, team="l1", agent="ana", actor="agent:ana")
            now[0] = FIRED
            [firing] = desk.automate(RULES).fired
            assert firing.key == "sla:breached:resolution:0", firing
            write_log(desk._stores.store.recorder, path)


if __name__ == "__main__":
    write_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
