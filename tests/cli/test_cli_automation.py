"""``servflow automation check|run`` and ``sla run-due --rules``: rules from the shell."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli_output import Run, ok, refused, runner_on

RULES = """
[[rules]]
name = "escalate-breaches"
when = { sla = "breached", clock = "resolution" }
where = { priorities = ["normal", "high"] }
then = { reassign = "l2", raise_priority = "urgent", notify = "supervisors" }

[[rules]]
name = "stalled"
when = { held_for = "2d" }
then = { nonconformity = { severity = "minor", category = "holds" } }
"""


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner_on(tmp_path / "desk.db", monkeypatch)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    return path


def breached(run: Run) -> None:
    """Open and classify a normal request three days ago: its resolution clock is breached."""
    then = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    ok(
        run(
            "request", "open", "--customer", "acme", "--channel", "web", "--kind", "complaint",
            "--stage", "post_sale", "--symptom", "The invoice is wrong", "--occurred-at", then,
        )
    )  # fmt: skip
    ok(run("request", "classify", "SR-000001", "--priority", "normal", "--occurred-at", then))


def test_check_says_what_each_rule_does(run: Run, rules: Path) -> None:
    out = ok(run("automation", "check", str(rules)))
    assert "2 rules, all valid" in out
    assert "escalate-breaches" in out
    assert "resolution clock breached" in out
    assert "reassign to l2, raise priority to urgent" in out
    assert "held longer than 2d" in out
    data = json.loads(ok(run("automation", "check", str(rules), "--json")))
    assert [r["name"] for r in data["rules"]] == ["escalate-breaches", "stalled"]


def test_run_fires_once_and_reports(run: Run, rules: Path) -> None:
    breached(run)
    out = ok(run("automation", "run", str(rules)))
    assert "1 rule firing recorded" in out
    assert "SR-000001" in out
    assert "notify:supervisors, reassign:l2, raise_priority:urgent" in out
    assert "No rule fired" in ok(run("automation", "run", str(rules)))
    shown = json.loads(ok(run("request", "show", "SR-000001", "--json")))
    assert (shown["team"], shown["priority"]) == ("l2", "urgent")
    log = json.loads(ok(run("audit", "log", "--type", "AutomationFired", "--json")))
    [entry] = log["rows"] if isinstance(log, dict) else log
    assert entry["actor"] == "system"


def test_run_due_runs_the_rules_too(run: Run, rules: Path) -> None:
    breached(run)
    data = json.loads(ok(run("sla", "run-due", "--rules", str(rules), "--json")))
    assert data["due"] == []
    [firing] = data["rules"]["fired"]
    assert firing["rule"] == "escalate-breaches"
    assert firing["key"] == "sla:breached:resolution:0"
    again = json.loads(ok(run("sla", "run-due", "--rules", str(rules), "--json")))
    assert again["rules"]["fired"] == []


def test_a_refused_action_is_a_line_and_exit_1(run: Run, rules: Path) -> None:
    ok(run("team", "add", "l1", "--name", "First line"))
    breached(run)
    result = run("automation", "run", str(rules))
    assert result.exit_code == 1, result.output
    assert "refused: rule escalate-breaches on SR-000001" in result.stdout
    assert "[unknown_team]" in result.stdout
    assert "Traceback" not in result.output


def test_a_bad_rules_file_is_one_line(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nname = "Bad Name"\nwhen = { sla = "late" }\n', encoding="utf-8")
    line = refused(run("automation", "check", str(bad)), "configuration_error")
    assert "rules[0].name" in line
    assert "rules[0].when.sla" in line
    assert "rules[0].then" in line
    refused(run("automation", "run", str(tmp_path / "missing.toml")), "configuration_error")
    refused(run("sla", "run-due", "--rules", str(bad)), "configuration_error")
