"""``servflow kpis`` and ``servflow nonconformities``: figures from the shell."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli_output import Run, ok, refused, runner_on


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner_on(tmp_path / "desk.db", monkeypatch)


def seed(run: Run) -> tuple[str, str]:
    """Two requests opened an hour ago, one for billing, one for network; a non-conformity."""
    then = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for number, (symptom, team) in enumerate((("Invoice", "billing"), ("Line", "network")), 1):
        ok(run("request", "open", "--customer", "acme", "--channel", "web", "--kind", "claim",
               "--stage", "sale", "--symptom", symptom, "--occurred-at", then))  # fmt: skip
        ok(run("request", "classify", f"SR-{number:06d}", "--priority", "normal"))
        ok(run("request", "assign", f"SR-{number:06d}", "--team", team))
    ok(run("request", "nonconformity", "SR-000001", "--description", "Late", "--severity", "minor"))
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return since, until


def test_kpis_grouped_by_team(run: Run) -> None:
    since, until = seed(run)
    data = json.loads(ok(run("kpis", "--since", since, "--until", until, "--group-by", "team",
                             "--json")))  # fmt: skip
    assert [g["key"] for g in data["groups"]] == [{"team": "billing"}, {"team": "network"}]
    assert data["total"]["requests"] == 2
    assert data["total"]["backlog"] == 2
    table = ok(run("kpis", "--since", since, "--until", until, "--group-by", "team"))
    for label in ("billing", "network", "total"):
        assert label in table
    total = json.loads(ok(run("kpis", "--since", since, "--until", until, "--json")))
    assert total["requests"] == 2
    line = refused(run("kpis", "--since", since), "validation_failed")
    assert "--until" in line


def test_the_register_from_the_shell(run: Run) -> None:
    seed(run)
    data = json.loads(ok(run("nonconformities", "--json")))
    [entry] = data["entries"]
    assert (entry["ticket_code"], entry["severity"], entry["status"]) == (
        "SR-000001",
        "minor",
        "open",
    )
    out = ok(run("nonconformities"))
    assert "1 non-conformities (1 minor, 0 major, 0 critical); 1 open, 0 corrected" in out
    assert (
        json.loads(ok(run("nonconformities", "--status", "corrected", "--json")))["entries"] == []
    )
