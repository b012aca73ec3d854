"""``servflow sla --known-at`` answers what the desk had recorded by then (issue 16 item 4).

One urgent request opened on Monday 2 March 2026 09:00 (24x7 UTC) under v1 (resolution 4h: due
13:00). At 14:00 a correction v2 (resolution 8h) is adopted effective from 09:00: the clock, still
running, is re-timed under v2 (due 17:00, running). Known at 13:30, the desk answered breached
under v1, and still does.
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
AT = (START + timedelta(hours=5, minutes=30)).isoformat()
KNOWN = (START + timedelta(hours=4, minutes=30)).isoformat()


def policy(version: int, resolution: str) -> SlaPolicy:
    return SlaPolicy(
        name="fix",
        version=version,
        calendar=Calendar.always_open(),
        rules=(
            SlaRule(name="urgent", priority="urgent", first_response="1h", resolution=resolution),
        ),
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "corrections.db"
    now = [START]
    with ServiceDesk.sqlite(str(path), clock=lambda: now[0], sla=policy(1, "4h")) as desk:
        request = desk.open(
            customer="acme",
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom="No signal",
            actor="agent:ana",
        )
        desk.classify(request, priority="urgent", actor="agent:ana")
        now[0] = START + timedelta(hours=5)
        desk.adopt_policy(policy(2, "8h"), actor="agent:admin", effective_from=START)
    return path


def run(db: Path, *args: str) -> Result:
    runner = CliRunner()
    return runner.invoke(app, ["--db", str(db), "--tz", "UTC", *args], env={"COLUMNS": "200"})


def data(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_known_at_shows_what_was_reported_before_the_correction(db: Path) -> None:
    now = data(run(db, "sla", "SR-1", "--at", AT, "--json"))["resolution"]
    assert (now["state"], now["due"], now["policy_version"]) == (
        "running",
        "2026-03-02T17:00:00Z",
        2,
    )
    old = data(run(db, "sla", "SR-1", "--at", AT, "--known-at", KNOWN, "--json"))
    assert (old["resolution"]["state"], old["resolution"]["policy_version"]) == ("breached", 1)
    with ServiceDesk.sqlite(str(db), projections="external") as desk:
        answer = desk.sla(
            "SR-000001", at=datetime.fromisoformat(AT), known_at=datetime.fromisoformat(KNOWN)
        )
        assert old == answer.model_dump(mode="json")
    table = run(db, "sla", "SR-1", "--at", AT, "--known-at", KNOWN, "--timeline")
    assert table.exit_code == 0, table.output
    assert "breached" in table.stdout


def test_a_known_at_without_an_offset_is_read_in_the_tz_zone(db: Path) -> None:
    naive = KNOWN.removesuffix("+00:00")
    old = data(run(db, "sla", "SR-1", "--at", AT, "--known-at", naive, "--json"))
    assert old == data(run(db, "sla", "SR-1", "--at", AT, "--known-at", KNOWN, "--json"))
    madrid = ["--tz", "Europe/Madrid", "sla", "SR-1", "--at", AT, "--json"]
    # 14:30 in Madrid (UTC+1 in March) is KNOWN, 13:30 UTC.
    assert data(run(db, *madrid, "--known-at", "2026-03-02T14:30")) == old
