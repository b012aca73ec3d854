"""The ``servflow`` command line, driven through Typer's test runner on a temporary SQLite file.

Each refused command must say why in one line on stderr, exit non-zero and append nothing;
the last point is checked with a desk of our own on the same file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cli_output import refused
from conftest import require_postgres
from servflow import ServiceDesk, Status
from servflow.cli import app

Run = Callable[..., Result]

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "desk.db"


@pytest.fixture
def run(db: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``servflow --db <db> --tz UTC <args>`` with a wide terminal and a clean environment."""
    for name in ("SERVFLOW_DB", "SERVFLOW_ACTOR", "SERVFLOW_TZ"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str, actor: str | None = None) -> Result:
        prefix = ["--db", str(db), "--tz", "UTC"]
        if actor:
            prefix += ["--actor", actor]
        return runner.invoke(app, [*prefix, *args], env={"COLUMNS": "200"})

    return invoke


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def events(db: Path, ticket: str) -> int:
    """How many events the request has, read by a desk of our own on the same file."""
    with ServiceDesk.sqlite(str(db)) as desk:
        return len(desk.history(ticket))


OPEN = (
    "request",
    "open",
    "--customer",
    "acme",
    "--channel",
    "phone",
    "--kind",
    "complaint",
    "--stage",
    "post_sale",
    "--symptom",
    "The technician did not come",
)


def open_and_assign(run: Run) -> str:
    ok(run(*OPEN))
    ok(run("request", "classify", "SR-000001", "--priority", "high"))
    ok(run("request", "assign", "SR-000001", "--team", "field-service", "--agent", "diego"))
    return "SR-000001"


def complete(run: Run, ticket: str) -> None:
    ok(run("request", "complete", ticket, "--outcome", "resolved", "--resolution", "Rebooked"))


# -- the happy paths -----------------------------------------------------------------------


def test_help_lists_every_request_command(run: Run) -> None:
    out = ok(run("request", "--help"))
    for name in (
        "open",
        "classify",
        "assign",
        "probe",
        "act",
        "wait",
        "respond",
        "hold",
        "resume",
        "unassign",
        "progress",
        "complete",
        "accept",
        "reopen",
        "close",
        "cancel",
        "nonconformity",
        "correct",
        "note",
        "message",
        "show",
        "history",
    ):
        assert f" {name} " in out


def test_the_version_flag_prints_the_version(run: Run) -> None:
    assert ok(run("--version")).startswith("servflow ")


def test_a_request_goes_from_opening_to_acceptance_through_the_command_line(
    run: Run, db: Path
) -> None:
    out = ok(run(*OPEN, "--customer-name", "Acme S.L.", "--tier", "vip", "--language", "es"))
    assert out.strip() == (
        "Opened SR-000001 for acme (complaint, post_sale, via phone) · status new"
    )
    assert "priority high" in ok(
        run("request", "classify", "SR-1", "--priority", "high", "--category", "visits")
    )
    assert "assigned to field-service/diego" in ok(
        run("request", "assign", "SR-000001", "--team", "field-service", "--agent", "diego")
    )
    ok(
        run(
            "request",
            "probe",
            "SR-000001",
            "-q",
            "Which slot was booked?",
            "--question",
            "Did you get the SMS?",
            "--findings",
            "Route overbooked",
            "--diagnosis",
            "Planning failure",
        )
    )
    assert "waiting on the customer" in ok(
        run("request", "wait", "SR-000001", "--reason", "Which afternoon suits you?")
    )
    assert "status assigned" in ok(run("request", "respond", "SR-000001", "--note", "Thursday"))
    assert "progress report #1" in ok(
        run("request", "progress", "SR-000001", "--message", "Visit booked for Thursday")
    )
    assert "action #1 recorded (45 min)" in ok(
        run(
            "request",
            "act",
            "SR-000001",
            "--action",
            "Visit done",
            "--effort",
            "45",
            "--cost",
            "30",
        )
    )
    assert "transferred to billing" in ok(
        run(
            "request",
            "complete",
            "SR-000001",
            "--outcome",
            "transferred",
            "--to-team",
            "billing",
            "--resolution",
            "Goodwill credit needs billing",
        )
    )
    ok(run("request", "assign", "SR-000001", "--team", "billing", "--agent", "lucia"))
    assert "awaiting the customer's acceptance" in ok(
        run("request", "complete", "SR-000001", "--outcome", "resolved", "--resolution", "Credit")
    )
    out = ok(
        run(
            "request",
            "accept",
            "SR-000001",
            "--satisfaction",
            "4",
            "--comment",
            "Fine",
            actor="customer:acme",
        )
    )
    assert "satisfaction 4/5" in out
    with ServiceDesk.sqlite(str(db)) as desk:
        request = desk.get("SR-000001")
        history = desk.history("SR-000001")
    assert request.status is Status.CLOSED
    assert request.customer.tier == "vip"
    assert request.customer.name == "Acme S.L."
    assert request.probes[0].questions == ("Which slot was booked?", "Did you get the SMS?")
    assert request.actions[0].cost == 30
    assert request.transfer_count == 1
    assert [e.actor for e in history][-1] == "customer:acme"
    assert {e.actor for e in history[:-1]} == {"agent:cli"}


def test_a_completed_request_can_be_reopened_then_followed_up(run: Run, db: Path) -> None:
    ticket = open_and_assign(run)
    complete(run, ticket)
    assert "reopened (time 1)" in ok(
        run("request", "reopen", ticket, "--reason", "Nobody came", actor="customer:acme")
    )
    ok(
        run(
            "request",
            "complete",
            ticket,
            "--outcome",
            "follow_up",
            "--resolution",
            "We will call",
            "--follow-up-at",
            "2030-01-07T10:00:00+01:00",
        )
    )
    with ServiceDesk.sqlite(str(db)) as desk:
        request = desk.get(ticket)
    assert request.reopen_count == 1
    assert request.follow_up_at == datetime(2030, 1, 7, 9, tzinfo=UTC)


def test_cancel_closes_an_open_request_with_its_reason(run: Run, db: Path) -> None:
    ok(run(*OPEN))
    assert "cancelled: Duplicate" in ok(
        run("request", "cancel", "SR-000001", "--reason", "Duplicate of SR-000009")
    )
    with ServiceDesk.sqlite(str(db)) as desk:
        assert desk.get("SR-000001").status is Status.CANCELLED


def test_nonconformities_are_logged_and_then_corrected_by_number(run: Run, db: Path) -> None:
    ticket = open_and_assign(run)
    out = ok(
        run(
            "request",
            "nonconformity",
            ticket,
            "--description",
            "No call-back",
            "--severity",
            "major",
            "--root-cause",
            "Paper notes",
            actor="auditor:eva",
        )
    )
    assert out.strip() == "SR-000001: non-conformity #1 logged (major)"
    assert "#1 corrected" in ok(run("request", "correct", ticket, "1", "--correction", "Trained"))
    with ServiceDesk.sqlite(str(db)) as desk:
        nc = desk.get(ticket).nonconformities[0]
    assert nc.logged_by == "auditor:eva"
    assert nc.correction == "Trained"


def test_show_prints_the_request_with_its_star_steps_and_controls(run: Run) -> None:
    ticket = open_and_assign(run)
    ok(run("request", "probe", ticket, "--findings", "Route overbooked", "--diagnosis", "Planning"))
    ok(run("request", "act", ticket, "--action", "Rebooked the visit", "--effort", "15"))
    ok(run("request", "nonconformity", ticket, "--description", "Late", "--severity", "minor"))
    out = ok(run("request", "show", ticket))
    for text in (
        "SR-000001",
        "assigned",
        "high",
        "complaint · post_sale · via phone",
        "field-service / diego",
        "The technician did not come",
        "STAR probing",
        "Route overbooked",
        "Actions",
        "Rebooked the visit",
        "15 min",
        "Non-conformities",
        "open",
    ):
        assert text in out, text


def test_show_as_of_a_version_or_an_instant_gives_the_earlier_state(run: Run) -> None:
    ticket = open_and_assign(run)
    first = json.loads(ok(run("request", "show", ticket, "--version", "1", "--json")))
    assert first["status"] == "new"
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    now = json.loads(ok(run("request", "show", ticket, "--as-of", later, "--json")))
    assert now["status"] == "assigned"


def test_history_lists_every_event_with_its_actor_and_changes(run: Run) -> None:
    ticket = open_and_assign(run)
    out = ok(run("request", "history", ticket))
    for text in ("Opened", "Classified", "Assigned", "agent:cli", "priority: — → high"):
        assert text in out, text
    entries = json.loads(ok(run("request", "history", ticket, "--json")))
    assert [e["event_type"] for e in entries] == ["Opened", "Classified", "Assigned"]
    assert [e["version"] for e in entries] == [1, 2, 3]


def test_requests_lists_and_filters_by_status_and_team(run: Run) -> None:
    open_and_assign(run)
    ok(run(*OPEN))
    out = ok(run("requests"))
    assert "2 requests" in out
    assert "SR-000001" in out
    assert "SR-000002" in out
    rows = json.loads(ok(run("requests", "--status", "new", "--json")))
    assert [r["ticket_code"] for r in rows] == ["SR-000002"]
    rows = json.loads(ok(run("requests", "--team", "field-service", "--json")))
    assert [(r["ticket_code"], r["agent"]) for r in rows] == [("SR-000001", "diego")]
    assert json.loads(ok(run("requests", "--open", "-s", "closed", "--json"))) == []


def test_every_command_prints_machine_readable_json_when_asked(run: Run) -> None:
    def data(*args: str, actor: str | None = None) -> Any:
        return json.loads(ok(run(*args, "--json", actor=actor)))

    assert data(*OPEN)["ticket_code"] == "SR-000001"
    assert data("request", "classify", "SR-1", "--priority", "low")["priority"] == "low"
    assert data("request", "assign", "SR-1", "--team", "t")["team"] == "t"
    assert len(data("request", "probe", "SR-1", "--findings", "f")["probes"]) == 1
    assert (
        data("request", "act", "SR-1", "--action", "a", "--cost", "2.5")["actions"][0]["cost"]
        == "2.5"
    )
    assert data("request", "wait", "SR-1", "--reason", "r")["status"] == "waiting_on_customer"
    assert data("request", "respond", "SR-1", "--note", "n")["status"] == "assigned"
    held = data("request", "hold", "SR-1", "--reason", "vendor", "--note", "patch")
    assert (held["status"], held["hold_reason"], held["hold_note"]) == (
        "on_hold",
        "vendor",
        "patch",
    )
    page = data("queue", "on_hold", "--hold-reason", "vendor")
    assert [(r["ticket_code"], r["hold_reason"]) for r in page["rows"]] == [("SR-000001", "vendor")]
    assert data("request", "resume", "SR-1")["status"] == "assigned"
    queued = data("request", "unassign", "SR-1", "--team", "u")
    assert (queued["status"], queued["team"], queued["agent"]) == ("classified", "u", None)
    assert data("request", "assign", "SR-1", "--team", "t")["status"] == "assigned"
    assert data("request", "progress", "SR-1", "--message", "m")["progress_reports"] == 1
    completed = data("request", "complete", "SR-1", "--outcome", "resolved", "--resolution", "r")
    assert completed["status"] == "completed"
    assert data("request", "reopen", "SR-1", "--reason", "r")["reopen_count"] == 1
    complete(run, "SR-1")
    accepted = data("request", "accept", "SR-1", "--satisfaction", "5", actor="customer:acme")
    assert accepted["satisfaction"] == 5
    nc = data("request", "nonconformity", "SR-1", "--description", "d", "--severity", "minor")
    assert (nc["ticket_code"], nc["number"], nc["correction"]) == ("SR-000001", 1, None)
    nc = data("request", "correct", "SR-1", "1", "--correction", "c")
    assert nc["correction"] == "c"
    assert data("request", "show", "SR-1")["status"] == "closed"
    assert len(data("request", "history", "SR-1")) == 18
    assert data("requests")[0]["status"] == "closed"
    ok(run(*OPEN))
    assert data("request", "cancel", "SR-2", "--reason", "r")["status"] == "cancelled"
    ok(run(*OPEN))
    data("request", "classify", "SR-3", "--priority", "low")
    data("request", "assign", "SR-3", "--team", "t")
    complete(run, "SR-3")
    closed = data("request", "close", "SR-3", "--reason", "auto", actor="system")
    assert (closed["status"], closed["close_reason"], closed["satisfaction"]) == (
        "closed",
        "auto",
        None,
    )
    reopened = data("request", "reopen", "SR-3", "--reason", "r", actor="customer:acme")
    assert (reopened["status"], reopened["reopened_after_closure"]) == ("assigned", 1)


def test_occurred_at_imports_history_with_the_time_it_happened(run: Run, db: Path) -> None:
    ok(run(*OPEN, "--occurred-at", "2026-03-02T09:00:00+01:00"))
    ok(
        run(
            "request",
            "classify",
            "SR-1",
            "--priority",
            "high",
            "--occurred-at",
            "2026-03-02T08:30Z",
        )
    )
    with ServiceDesk.sqlite(str(db)) as desk:
        opened, classified = desk.history("SR-1")
    assert opened.occurred_at == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert classified.occurred_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert opened.recorded_at > opened.occurred_at


def test_global_options_come_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    env = {"SERVFLOW_DB": str(db), "SERVFLOW_ACTOR": "agent:ana", "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(OPEN), env=env)
    assert result.exit_code == 0, result.output
    with ServiceDesk.sqlite(str(db)) as desk:
        assert desk.get("SR-1").opened_by == "agent:ana"


# -- refusals ------------------------------------------------------------------------------


def test_an_unknown_ticket_is_a_one_line_request_not_found(run: Run) -> None:
    ok(run(*OPEN))
    line = refused(run("request", "show", "SR-000999"), "request_not_found")
    assert "SR-000999" in line
    refused(run("request", "classify", "SR-000999", "--priority", "high"), "request_not_found")
    refused(run("request", "history", "nonsense"), "request_not_found")


def test_an_invalid_transition_is_refused_in_one_line_and_appends_nothing(
    run: Run, db: Path
) -> None:
    ok(run(*OPEN))
    line = refused(
        run("request", "complete", "SR-1", "--outcome", "resolved", "--resolution", "r"),
        "invalid_transition",
    )
    assert "is new: refused command 'complete'" in line
    assert events(db, "SR-1") == 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("yesterday", "is not an ISO-8601 date-time"),
        ("2026-13-45T10:00:00+01:00", "is not an ISO-8601 date-time"),
    ],
)
def test_a_bad_date_is_refused_with_a_clear_message_and_appends_nothing(
    run: Run, db: Path, value: str, problem: str
) -> None:
    ok(run(*OPEN))
    line = refused(
        run("request", "classify", "SR-1", "--priority", "high", "--occurred-at", value),
        "validation_failed",
    )
    assert f"--occurred-at {value!r} {problem}" in line
    assert events(db, "SR-1") == 1


def test_a_date_that_goes_backwards_is_refused_and_appends_nothing(run: Run, db: Path) -> None:
    ok(run(*OPEN))
    result = run(
        "request", "classify", "SR-1", "--priority", "high", "--occurred-at", "2001-01-01T00:00Z"
    )
    refused(result, "occurrence_out_of_order")
    assert events(db, "SR-1") == 1


def test_a_satisfaction_of_9_is_refused_and_appends_nothing(run: Run, db: Path) -> None:
    ticket = open_and_assign(run)
    complete(run, ticket)
    line = refused(run("request", "accept", ticket, "--satisfaction", "9"), "validation_failed")
    assert "satisfaction" in line
    assert events(db, ticket) == 4


def test_an_actor_without_a_kind_is_refused(run: Run, db: Path) -> None:
    ok(run(*OPEN))
    line = refused(
        run("request", "cancel", "SR-1", "--reason", "r", actor="bob"), "validation_failed"
    )
    assert "actor 'bob'" in line
    assert events(db, "SR-1") == 1


def test_an_unknown_nonconformity_number_is_refused(run: Run, db: Path) -> None:
    ok(run(*OPEN))
    refused(run("request", "correct", "SR-1", "3", "--correction", "c"), "nonconformity_not_found")
    assert events(db, "SR-1") == 1


def test_an_unknown_choice_is_a_usage_error_with_exit_code_2(run: Run, db: Path) -> None:
    result = run(*OPEN[:-2], "--channel", "fax", "--symptom", "x")
    assert result.exit_code == 2
    assert "fax" in result.stderr
    assert not db.exists()


def test_an_unknown_time_zone_is_a_usage_error(db: Path) -> None:
    result = CliRunner().invoke(app, ["--db", str(db), "--tz", "Mars/Olympus", "requests"])
    assert result.exit_code == 2
    assert "Mars/Olympus" in result.stderr


def test_reading_a_database_that_does_not_exist_does_not_create_it(run: Run, db: Path) -> None:
    line = refused(run("requests"), "store_error")
    assert f"no servflow database at {db}" in line
    refused(run("request", "show", "SR-1"), "store_error")
    assert not db.exists()


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A throwaway database on the local server, dropped afterwards."""
    require_postgres()
    import psycopg  # noqa: PLC0415 - optional extra

    name = f"servflow_cli_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=3)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{POSTGRES_SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_a_postgresql_dsn_selects_the_shared_store(postgres_database: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--db", postgres_database, *OPEN])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--db", postgres_database, "request", "show", "SR-1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "new"


def test_notes_and_messages_from_the_command_line(run: Run, db: Path) -> None:
    ticket = open_and_assign(run)
    said = ok(run("request", "note", ticket, "--text", "Rang the depot"))
    assert f"{ticket}: internal note recorded (1 in all)" in said
    reply = ok(
        run("request", "note", ticket, "--text", "New visit Tuesday", "--visibility", "customer")
    )
    assert "customer note recorded (2 in all)" in reply
    message = run(
        "request", "message", ticket, "--text", "Tuesday is fine", "--json", actor="customer:acme"
    )
    written = json.loads(ok(message))
    assert (written["ticket_code"], written["text"], written["actor"]) == (
        ticket,
        "Tuesday is fine",
        "customer:acme",
    )
    shown = ok(run("request", "show", ticket))
    assert "Notes and messages" in shown
    assert "Rang the depot" in shown
    refused = run("request", "note", ticket, "--text", "x", "--visibility", "public")
    assert refused.exit_code != 0
    assert "Traceback" not in refused.output
    assert events(db, ticket) == 6
