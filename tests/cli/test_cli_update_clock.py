"""``servflow sla`` shows the update clock where the rule sets an update target.

One request on Monday 2 March 2026 (24x7 UTC), urgent under a policy whose urgent rule wants an
update every 2h: probed at 09:30 (cycle 1, due 11:30), a progress report at 12:00 (cycle 1 ended
30m late, breached; cycle 2 due 14:00). As of 14:30 cycle 2 is breached too: two breached
cycles. A second request, low (no update target), shows no update row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from servflow import Calendar, ServiceDesk, SlaPolicy, SlaRule
from servflow.cli import app

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = START + timedelta(hours=5, minutes=30)
AT = LATER.isoformat()
POLICY = SlaPolicy(
    name="keep-in-touch",
    calendar=Calendar.always_open(),
    rules=(
        SlaRule(
            name="urgent", priority="urgent", first_response="1h", resolution="8h", update="2h"
        ),
        SlaRule(name="low", priority="low", first_response="8h", resolution="40h"),
    ),
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "updates.db"
    now = [START]
    with ServiceDesk.sqlite(str(path), clock=lambda: now[0], sla=POLICY) as desk:
        for priority in ("urgent", "low"):
            request = desk.open(
                customer="acme",
                channel="phone",
                kind="complaint",
                stage="post_sale",
                symptom="No signal",
                actor="agent:ana",
            )
            desk.classify(request, priority=priority, actor="agent:ana")
            desk.assign(request, team="field", agent="ana", actor="agent:ana")
        now[0] = START + timedelta(minutes=30)
        desk.probe("SR-000001", questions=["Since when?"], findings="Friday", actor="agent:ana")
        now[0] = START + timedelta(hours=3)
        desk.report_progress("SR-000001", message="Engineer booked", actor="agent:ana")
    return path


def run(db: Path, *args: str) -> Result:
    runner = CliRunner()
    return runner.invoke(app, ["--db", str(db), "--tz", "UTC", *args], env={"COLUMNS": "200"})


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def data(result: Result) -> Any:
    return json.loads(ok(result))


def test_sla_json_carries_the_update_clock_as_the_desk_answers(db: Path) -> None:
    status = data(run(db, "sla", "SR-1", "--at", AT, "--json"))
    with ServiceDesk.sqlite(str(db), projections="external") as desk:
        assert status == desk.sla("SR-000001", at=LATER).model_dump(mode="json")
    update = status["update"]
    assert (update["state"], update["cycle"], update["breached_cycles"]) == ("breached", 2, 2)
    assert update["due"] == "2026-03-02T14:00:00Z"
    assert data(run(db, "sla", "SR-2", "--at", AT, "--json"))["update"] is None


def test_sla_table_shows_the_update_row_with_its_cycle_and_breaches(db: Path) -> None:
    out = ok(run(db, "sla", "SR-1", "--at", AT))
    row = next(line for line in out.splitlines() if line.startswith("│ update"))
    assert "breached" in row
    assert "2h" in row
    assert "2026-03-02 14:00" in row
    assert "overdue 30m (cycle 2; 2 breached)" in row
    assert "│ update" not in ok(run(db, "sla", "SR-2", "--at", AT))
    timeline = ok(run(db, "sla", "SR-1", "--at", AT, "--timeline"))
    assert "restarted" in timeline
    assert "ProgressReported v5" in timeline


def test_breaches_list_the_update_clock(db: Path) -> None:
    breaches = data(run(db, "sla", "breaches", "--at", AT, "--json"))
    assert [(a["ticket_code"], a["clock"]) for a in breaches] == [("SR-000001", "update")]
    out = ok(run(db, "sla", "breaches", "--at", AT))
    assert "update" in out
