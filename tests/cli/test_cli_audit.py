"""``servflow audit``: the auditors' commands through Typer's test runner, on an SQLite file.

Exit codes are a contract with scripts: 0 success (verify: intact), 1 tampered or refused
(one line ``error[<code>]: ...`` on stderr), 2 usage errors.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli_output import refused
from servflow import AUDIT_EXPORT_FIELDS, HISTORY_EXPORT_FIELDS, AuditRow, ServiceDesk
from servflow.cli import app
from servflow.desk.export import read_export

Run = Callable[..., Result]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store with three requests worked on Monday morning 2 March 2026 (times in UTC)."""
    path = tmp_path / "audit.db"
    now = [START]
    with ServiceDesk.sqlite(str(path), clock=lambda: now[0]) as desk:
        for number, customer in enumerate(("acme", "bolt", "acme")):
            now[0] = START + timedelta(minutes=10 * number)
            desk.open(
                customer=customer,
                channel="phone",
                kind="claim",
                stage="post_sale",
                symptom=f"Problem {number}",
                actor="agent:ana",
            )
        now[0] = START + timedelta(minutes=30)
        desk.classify("SR-000001", priority="high", actor="agent:ana")
        desk.assign("SR-000001", team="billing", agent="ana", actor="agent:bob")
        now[0] = START + timedelta(minutes=40)
        desk.classify("SR-000002", priority="low", actor="agent:bob")
        desk.assign("SR-000002", team="field", actor="agent:bob")
        now[0] = START + timedelta(minutes=90)
        desk.complete("SR-000001", outcome="resolved", resolution="Refunded", actor="agent:ana")
    return path


@pytest.fixture
def run(db: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``servflow --db <db> --tz UTC <args>`` with a wide terminal and a clean environment."""
    for name in ("SERVFLOW_DB", "SERVFLOW_ACTOR", "SERVFLOW_TZ"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", str(db), "--tz", "UTC", *args], env={"COLUMNS": "200"})

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def tamper(db: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute(sql, params)


def stored_id(ticket: str, db: Path) -> str:
    with ServiceDesk.sqlite(str(db)) as desk:
        return desk.resolve(ticket).hex


# -- history, log, as-of, queue --------------------------------------------------------------


def test_history_shows_each_event_with_its_log_position(run: Run) -> None:
    out = ok(run("audit", "history", "SR-000001"))
    assert "History of SR-000001" in out
    for event in ("Opened", "Classified", "Assigned", "Completed"):
        assert event in out
    entries = json.loads(ok(run("audit", "history", "SR-000001", "--json")))
    assert [e["position"] for e in entries] == [1, 4, 5, 8]
    assert [e["version"] for e in entries] == [1, 2, 3, 4]
    assert entries[2]["actor"] == "agent:bob"


def test_the_log_filters_and_pages(run: Run) -> None:
    page = json.loads(ok(run("audit", "log", "--actor", "agent:bob", "--json")))
    assert [(r["ticket_code"], r["event_type"]) for r in page["rows"]] == [
        ("SR-000001", "Assigned"),
        ("SR-000002", "Classified"),
        ("SR-000002", "Assigned"),
    ]
    assert page["next_after_position"] is None
    window = json.loads(
        ok(
            run(
                "audit",
                "log",
                "--since",
                "2026-03-02T10:30+01:00",
                "--until",
                "2026-03-02T09:40Z",
                "--type",
                "Classified",
                "--type",
                "Assigned",
                "--json",
            )
        )
    )
    assert [r["position"] for r in window["rows"]] == [4, 5]
    first = json.loads(ok(run("audit", "log", "--limit", "3", "--json")))
    assert first["next_after_position"] == 3
    rest = json.loads(ok(run("audit", "log", "--after", "3", "--json")))
    assert [r["position"] for r in first["rows"] + rest["rows"]] == list(range(1, 9))
    table = ok(run("audit", "log", "--limit", "3"))
    assert "--after 3" in table
    assert "SR-000003" in table


def test_as_of_replays_a_request_to_a_past_instant_or_version(run: Run) -> None:
    before = json.loads(
        ok(run("audit", "as-of", "SR-000001", "--at", "2026-03-02T10:29+01:00", "--json"))
    )
    assert before["status"] == "new"
    later = json.loads(
        ok(run("audit", "as-of", "SR-000001", "--at", "2026-03-02T09:30Z", "--json"))
    )
    assert (later["status"], later["team"]) == ("assigned", "billing")
    version = json.loads(ok(run("audit", "as-of", "SR-000001", "--version", "2", "--json")))
    assert (version["status"], version["priority"]) == ("classified", "high")
    assert "assigned" in ok(run("audit", "as-of", "SR-000001", "--at", "2026-03-02T09:30Z"))
    line = refused(
        run("audit", "as-of", "SR-000003", "--at", "2026-03-02T09:00Z"), "request_not_found"
    )
    assert "opened after" in line
    assert run("audit", "as-of", "SR-000001").exit_code == 2


def test_queue_shows_a_team_queue_as_it_stood(run: Run) -> None:
    at_nine_forty = json.loads(
        ok(run("audit", "queue", "--at", "2026-03-02T09:45Z", "--team", "billing", "--json"))
    )
    assert [r["ticket_code"] for r in at_nine_forty["rows"]] == ["SR-000001"]
    assert at_nine_forty["rows"][0]["status"] == "assigned"
    triage = json.loads(
        ok(run("audit", "queue", "--at", "2026-03-02T09:25Z", "--special", "triage", "--json"))
    )
    assert [r["ticket_code"] for r in triage["rows"]] == ["SR-000001", "SR-000002", "SR-000003"]
    table = ok(run("audit", "queue", "--at", "2026-03-02T09:45Z", "--team", "field"))
    assert "SR-000002" in table
    assert "SR-000001" not in table


# -- verify ------------------------------------------------------------------------------------


def test_verify_exits_0_on_an_intact_log_and_saves_its_head(run: Run, tmp_path: Path) -> None:
    head = tmp_path / "head.json"
    out = ok(run("audit", "verify", "--save-head", str(head)))
    assert "intact" in out
    assert "8 events checked" in out
    saved = json.loads(head.read_text(encoding="utf-8"))
    assert saved["position"] == 8
    assert saved["events"] == 8
    assert "intact" in ok(run("audit", "verify", "--head", str(head)))
    report = json.loads(ok(run("audit", "verify", "--json")))
    assert report["intact"] is True
    assert report["head"]["log_digest"] == saved["log_digest"]


def test_verify_exits_1_and_names_an_altered_row(run: Run, db: Path) -> None:
    tamper(
        db,
        "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = 2",
        b'{"priority":"low","kind":"claim","category":null,"actor":"agent:ana",'
        b'"occurred_at":"2026-03-02T09:30:00Z","timestamp":"2026-03-02T09:30:00Z"}',
        stored_id("SR-000001", db),
    )
    result = run("audit", "verify")
    assert result.exit_code == 1, result.output
    assert "TAMPERED" in result.stdout
    assert "altered" in result.stdout
    assert "SR-000001" in result.stdout
    assert "Version: 2" in result.stdout
    report = json.loads(run("audit", "verify", "--json").stdout)
    assert report["intact"] is False
    assert report["version"] == 2


def test_verify_exits_1_when_a_deleted_row_is_found(run: Run, db: Path) -> None:
    tamper(
        db,
        "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 2",
        stored_id("SR-000001", db),
    )
    result = run("audit", "verify")
    assert result.exit_code == 1, result.output
    assert "SR-000001" in result.stdout
    assert "Version: 2" in result.stdout


def test_verify_names_the_request_whose_newest_event_was_deleted(run: Run, db: Path) -> None:
    tamper(
        db,
        "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 3",
        stored_id("SR-000002", db),
    )
    result = run("audit", "verify")
    assert result.exit_code == 1, result.output
    assert "SR-000002" in result.stdout


def test_a_saved_head_catches_the_newest_events_removed_with_their_links(
    run: Run, db: Path, tmp_path: Path
) -> None:
    head = tmp_path / "head.json"
    ok(run("audit", "verify", "--save-head", str(head)))
    tamper(db, "DELETE FROM stored_events WHERE rowid = 8")
    tamper(db, "DELETE FROM sf_chain WHERE position = 8")
    assert "intact" in ok(run("audit", "verify"))
    result = run("audit", "verify", "--head", str(head))
    assert result.exit_code == 1, result.output
    assert "exported head" in result.stdout


def test_verify_refuses_a_head_file_it_cannot_read(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "head.json"
    bad.write_text("not json", encoding="utf-8")
    result = run("audit", "verify", "--head", str(bad))
    assert result.exit_code == 2
    assert "not a head saved by servflow" in result.output
    assert run("audit", "verify", "--head", str(tmp_path / "missing.json")).exit_code == 2


# -- export ------------------------------------------------------------------------------------


def test_export_writes_the_log_as_csv_to_a_file(run: Run, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "log.csv"
    result = run("audit", "export", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Exported 8 rows as csv" in result.stderr
    with out.open(newline="", encoding="utf-8") as fp:
        rows = list(csv.reader(fp))
    assert rows[0] == list(AUDIT_EXPORT_FIELDS)
    assert len(rows) == 9
    with out.open("rb") as fp:
        read = list(read_export(fp, format="csv"))
    with ServiceDesk.sqlite(str(db)) as desk:
        assert read == list(desk.audit_log().rows)


def test_export_writes_json_lines_to_standard_output_with_filters(run: Run, db: Path) -> None:
    result = run("audit", "export", "--actor", "agent:bob")
    assert result.exit_code == 0, result.output
    rows = list(read_export(io.BytesIO(result.stdout_bytes)))
    assert all(isinstance(row, AuditRow) for row in rows)
    with ServiceDesk.sqlite(str(db)) as desk:
        assert rows == list(desk.audit_log(actor="agent:bob").rows)


def test_export_of_one_request_carries_what_changed(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "sr1.jsonl"
    summary = json.loads(
        ok(run("audit", "export", "--request", "SR-000001", "-o", str(out), "--json"))
    )
    assert summary == {"rows": 4, "format": "jsonl", "output": str(out)}
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert list(records[0]) == list(HISTORY_EXPORT_FIELDS)
    assert records[1]["changes"] == [
        {"field": "status", "before": "new", "after": "classified"},
        {"field": "priority", "before": None, "after": "high"},
    ]


def test_export_writes_xes_to_a_file_from_the_top_level_command(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "desk.xes"
    result = run("export", "--format", "xes", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Exported 8 events as xes" in result.stderr
    root = ET.parse(out).getroot()  # noqa: S314 - our own output
    traces = root.findall("{http://www.xes-standard.org/}trace")
    assert len(traces) == 3
    assert len(root.findall(".//{http://www.xes-standard.org/}event")) == 8


def test_export_writes_ocel_to_standard_output_with_filters(run: Run, db: Path) -> None:
    result = run("audit", "export", "--format", "ocel", "--customer", "acme")
    assert result.exit_code == 0, result.output
    log = json.loads(result.stdout_bytes)
    with ServiceDesk.sqlite(str(db)) as desk:
        rows = desk.audit_log(customer="acme").rows
    assert sorted(e["id"] for e in log["events"]) == sorted(f"event:{r.position}" for r in rows)
    assert {o["id"] for o in log["objects"] if o["type"] == "customer"} == {"customer:acme"}


# -- errors ------------------------------------------------------------------------------------


def test_refusals_are_one_line_with_a_code(run: Run) -> None:
    refused(run("audit", "history", "SR-000404"), "request_not_found")
    refused(run("audit", "log", "--since", "yesterday"), "validation_failed")
    refused(run("audit", "log", "--type", "opened"), "validation_failed")
    refused(run("audit", "export", "--request", "SR-000404"), "request_not_found")
    assert run("audit", "export", "--format", "xml").exit_code == 2
    assert "jsonl, csv, xes or ocel" in run("export", "--format", "xml").output
    assert run("audit", "log", "--by", "whenever").exit_code == 2


def test_auditing_a_missing_database_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "nothing.db"), "audit", "verify"], env={"COLUMNS": "200"}
    )
    refused(result, "store_error")
    assert not (tmp_path / "nothing.db").exists()


def test_verify_shows_a_progress_bar_on_long_logs(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("servflow.cli.audit._PROGRESS_FROM", 1)
    result = run("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout


def test_the_audit_commands_also_run_on_their_own(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servflow.cli.audit import audit_app  # noqa: PLC0415

    monkeypatch.setenv("SERVFLOW_DB", str(db))
    result = CliRunner().invoke(audit_app, ["history", "SR-000002", "--json"])
    assert result.exit_code == 0, result.output
    assert [entry["position"] for entry in json.loads(result.stdout)] == [2, 6, 7]
