"""``servflow queue``, ``servflow sla ...`` and ``servflow projections ...`` through Typer's runner.

Every ``--json`` answer is checked against the desk's own answer on the same store; refused
commands print one line ``error[<code>]: ...`` on stderr, exit non-zero and append nothing. The
follower runs in a process of its own and must exit 0 on SIGTERM and SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cli_output import refused
from conftest import POSTGRES_DSN, drop_schema, require_postgres
from servflow import ServiceDesk, Status
from servflow.cli import app
from servflow.projections.__main__ import main as projections_main

Run = Callable[..., Result]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: Monday 12:30 UTC: SR-1's first response is breached and its resolution at risk.
NOON = START + timedelta(hours=3, minutes=30)
AT = NOON.isoformat()
ENV_NAMES = ("SERVFLOW_DB", "SERVFLOW_ACTOR", "SERVFLOW_TZ", "SERVFLOW_SCHEMA")


def work(desk: ServiceDesk, now: list[datetime]) -> None:
    """Five requests on Monday 2 March 2026 under the standard policy (24x7 UTC).

    SR-1 urgent, never contacted (first response due 10:00, resolution 13:00); SR-2 high,
    probed; SR-3 normal, waiting on the customer; SR-4 low, completed at 10:00 (deemed
    accepted 40 h later); SR-5 still in triage.
    """

    def at(minutes: int) -> None:
        now[0] = START + timedelta(minutes=minutes)

    def opened(customer: str, tier: str = "standard") -> str:
        return desk.open(
            customer={"id": customer, "tier": tier},
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom=f"Problem of {customer}",
            actor="agent:ana",
        ).ticket_code

    at(0)
    one = opened("acme", "vip")
    desk.classify(one, priority="urgent", actor="agent:ana")
    desk.assign(one, team="field", agent="diego", actor="agent:ana")
    at(10)
    two = opened("bolt")
    desk.classify(two, priority="high", actor="agent:ana")
    desk.assign(two, team="billing", agent="ana", actor="agent:ana")
    at(20)
    three = opened("acme", "vip")
    desk.classify(three, priority="normal", actor="agent:ana")
    desk.assign(three, team="field", actor="agent:ana")
    at(30)
    desk.probe(two, questions=["Which invoice?"], findings="Charged twice", actor="agent:ana")
    four = opened("cara")
    desk.classify(four, priority="low", actor="agent:ana")
    desk.assign(four, team="billing", agent="ana", actor="agent:ana")
    at(40)
    desk.wait_on_customer(three, reason="Which afternoon suits you?", actor="agent:ana")
    at(50)
    opened("dan")
    at(60)
    desk.complete(four, outcome="resolved", resolution="Refunded", actor="agent:ana")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ops.db"
    now = [START]
    with ServiceDesk.sqlite(str(path), clock=lambda: now[0]) as desk:
        work(desk, now)
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run(db: Path, clean_env: None) -> Run:
    """Run ``servflow --db <db> --tz UTC <args>`` with a wide terminal."""
    del clean_env
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", str(db), "--tz", "UTC", *args], env={"COLUMNS": "200"})

    return invoke


@pytest.fixture
def desk(db: Path) -> Iterator[ServiceDesk]:
    """The desk's own answers, on the same file (it leaves the projections to the CLI)."""
    with ServiceDesk.sqlite(str(db), projections="external") as opened:
        yield opened


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def data(result: Result) -> Any:
    return json.loads(ok(result))


def head(db: Path) -> int:
    """How many events the store holds (its newest log position)."""
    with ServiceDesk.sqlite(str(db), projections="external") as desk:
        return desk.projection_status()[0].head


def test_help_lists_the_operations_commands(run: Run) -> None:
    out = ok(run("--help"))
    for name in ("queue", "sla", "projections"):
        assert f" {name} " in out
    out = ok(run("sla", "--help"))
    for name in ("show", "breaches", "at-risk", "run-due"):
        assert f" {name} " in out
    out = ok(run("projections", "--help"))
    for name in ("status", "rebuild", "follow"):
        assert f" {name} " in out


# -- queue ---------------------------------------------------------------------------------


def test_queue_json_is_the_desks_own_page(run: Run, desk: ServiceDesk) -> None:
    page = data(run("queue", "--at", AT, "--json"))
    expected = desk.queue(at=NOON)
    assert page["rows"] == expected.model_dump(mode="json")["rows"]
    assert (page["total"], page["offset"], page["limit"]) == (5, 0, 50)
    assert page["next_offset"] is None
    assert page["at"] == AT
    assert [row["ticket_code"] for row in page["rows"]][:3] == [
        "SR-000001",
        "SR-000002",
        "SR-000005",
    ]


@pytest.mark.parametrize(
    ("args", "query"),
    [
        (("--team", "field"), {"team": "field"}),
        (("--agent", "ana"), {"agent": "ana"}),
        (("--priority", "urgent", "--priority", "high"), {"priority": ["urgent", "high"]}),
        (("--kind", "complaint", "--tier", "vip"), {"kind": ["complaint"], "tier": ["vip"]}),
        (("--customer", "acme"), {"customer": "acme"}),
        (("--status", "completed"), {"status": ["completed"]}),
        (("triage",), {"special": "triage"}),
        (("waiting_on_customer",), {"special": "waiting_on_customer"}),
        (("awaiting_acceptance", "--team", "billing"), {"special": "awaiting_acceptance"}),
        (("--limit", "2", "--offset", "2"), {"limit": 2, "offset": 2}),
    ],
)
def test_queue_filters_and_pages_like_the_desk(
    run: Run, desk: ServiceDesk, args: tuple[str, ...], query: dict[str, Any]
) -> None:
    special = query.pop("special", None)
    if "awaiting_acceptance" in args:
        query["team"] = "billing"
    page = data(run("queue", *args, "--at", AT, "--json"))
    expected = desk.queue(special, at=NOON, **query)
    assert page["rows"] == expected.model_dump(mode="json")["rows"]
    assert page["total"] == expected.total
    assert page["next_offset"] == expected.next_offset
    assert page["rows"], "each case should select something"


def test_queue_table_shows_due_times_relative_to_the_instant_and_the_page(run: Run) -> None:
    out = ok(run("queue", "--at", AT, "--limit", "4"))
    assert "Queue: open requests as of 2026-03-02 12:30 UTC" in out
    lines = {line.split()[1]: line for line in out.splitlines() if "SR-00000" in line}
    assert "in 30m" in lines["SR-000001"]  # resolution due 13:00
    assert "in 20h 40m" in lines["SR-000002"]  # due 09:10 the next day
    assert "in 1d 13h" in lines["SR-000005"]  # unclassified: 40 h from 09:50
    assert "acme · vip" in lines["SR-000001"]
    assert "Showing 1 to 4 of 5 · next page: --offset 4." in out
    out = ok(run("queue", "--at", "2026-03-02T15:00:00Z", "--team", "field"))
    lines = {line.split()[1]: line for line in out.splitlines() if "SR-00000" in line}
    assert "overdue 2h" in lines["SR-000001"]
    assert "paused" in lines["SR-000003"]
    out = ok(run("queue", "--status", "completed", "--at", AT))
    assert "stopped" in out
    assert "No requests match." in ok(run("queue", "--team", "nobody"))


# -- sla -----------------------------------------------------------------------------------


def test_sla_json_is_the_desks_own_status_and_timeline(run: Run, desk: ServiceDesk) -> None:
    status = data(run("sla", "SR-1", "--at", AT, "--json"))
    assert status == desk.sla("SR-000001", at=NOON).model_dump(mode="json")
    assert status["first_response"]["state"] == "breached"
    assert status["resolution"]["state"] == "warning"
    assert data(run("sla", "show", "SR-000001", "--at", AT, "--json")) == status
    assert data(run("sla", "--at", AT, "SR-1", "--json")) == status
    with_timeline = data(run("sla", "SR-1", "--at", AT, "--timeline", "--json"))
    timeline = with_timeline.pop("timeline")
    assert with_timeline == status
    expected = desk.sla_timeline("SR-000001", until=NOON)
    assert timeline == [entry.model_dump(mode="json") for entry in expected]
    assert {entry["kind"] for entry in timeline} >= {"started", "breached", "warned"}


def test_sla_table_shows_both_clocks_coloured_with_their_policy(run: Run) -> None:
    out = ok(run("sla", "SR-1", "--at", AT))
    assert "SLA of SR-000001 as of 2026-03-02 12:30 UTC" in out
    first = next(line for line in out.splitlines() if "first response" in line)
    assert "breached" in first
    assert "1h" in first
    assert "2026-03-02 10:00" in first
    assert "overdue 2h 30m" in first
    resolution = next(line for line in out.splitlines() if line.startswith("│ resolution"))
    assert "warning" in resolution
    assert "in 30m" in resolution
    assert "policy standard v1 (calendar v1), rule urgent" in out
    paused = ok(run("sla", "SR-3", "--at", AT))
    assert "paused" in paused
    met = ok(run("sla", "SR-4", "--at", AT))
    assert "met 2026-03-02 10:00" in met
    timeline = ok(run("sla", "SR-1", "--at", AT, "--timeline"))
    assert "SLA timeline of SR-000001" in timeline
    assert "Opened v1" in timeline
    assert "time" in timeline


def test_breaches_and_at_risk_are_the_desks_own_lists(run: Run, desk: ServiceDesk) -> None:
    breaches = data(run("sla", "breaches", "--at", AT, "--json"))
    assert breaches == [a.model_dump(mode="json") for a in desk.breaches(at=NOON, limit=50)]
    assert [(a["ticket_code"], a["clock"]) for a in breaches] == [("SR-000001", "first_response")]
    at_risk = data(run("sla", "at-risk", "--at", AT, "--json"))
    assert at_risk == [a.model_dump(mode="json") for a in desk.at_risk(at=NOON, limit=50)]
    assert [(a["ticket_code"], a["clock"]) for a in at_risk] == [("SR-000001", "resolution")]
    later = "2026-03-05T12:00:00Z"
    when = datetime(2026, 3, 5, 12, tzinfo=UTC)
    many = data(run("sla", "breaches", "--at", later, "--limit", "2", "--json"))
    assert many == [a.model_dump(mode="json") for a in desk.breaches(at=when, limit=2)]
    assert len(many) == 2


def test_breaches_and_at_risk_tables(run: Run) -> None:
    out = ok(run("sla", "breaches", "--at", AT))
    assert "Breached SLA clocks as of 2026-03-02 12:30 UTC: 1" in out
    row = next(line for line in out.splitlines() if "SR-000001" in line)
    for text in ("first response", "2026-03-02 10:00", "overdue 2h 30m", "urgent", "field / diego"):
        assert text in row, text
    assert "policy standard v1" in out
    out = ok(run("sla", "at-risk", "--at", AT))
    assert "SLA clocks at risk as of 2026-03-02 12:30 UTC: 1" in out
    assert "in 30m" in out
    out = ok(run("sla", "breaches", "--at", "2026-03-05T12:00:00Z", "--limit", "2"))
    assert "raise --limit for more" in out


def test_run_due_records_the_deemed_acceptance_once(run: Run, db: Path) -> None:
    before = head(db)
    actions = data(run("sla", "run-due", "--at", "2026-03-04T12:00:00Z", "--json"))
    assert [(a["ticket_code"], a["action"]) for a in actions] == [
        ("SR-000004", "deemed_acceptance")
    ]
    assert actions[0]["occurred_at"] == "2026-03-04T02:00:00Z"  # 40 h after completion
    assert head(db) == before + 1
    with ServiceDesk.sqlite(str(db)) as desk:
        request = desk.get("SR-000004")
        assert request.status is Status.CLOSED
        assert desk.history("SR-000004")[-1].actor == "system"
    again = ok(run("sla", "run-due", "--at", "2026-03-04T12:00:00Z"))
    assert "Nothing was due as of 2026-03-04 12:00 UTC." in again
    assert head(db) == before + 1
    closed = data(run("queue", "--status", "closed", "--json"))
    assert [row["ticket_code"] for row in closed["rows"]] == ["SR-000004"]


def test_run_due_lists_what_it_recorded(run: Run) -> None:
    out = ok(run("sla", "run-due", "--at", "2026-03-04T12:00:00Z"))
    assert "Recorded 1 time-based event as of 2026-03-04 12:00 UTC" in out
    assert "SR-000004" in out
    assert "deemed acceptance" in out
    assert "2026-03-04 02:00" in out


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("sla", "SR-000999"),
        ("sla", "show", "SR-000999", "--timeline"),
        ("sla", "SR-000999", "--json"),
    ],
)
def test_an_unknown_ticket_is_one_line_and_appends_nothing(
    run: Run, db: Path, args: tuple[str, ...]
) -> None:
    before = head(db)
    line = refused(run(*args), "request_not_found")
    assert "SR-000999" in line
    assert head(db) == before


@pytest.mark.parametrize(
    "command",
    [
        ("queue",),
        ("sla", "SR-1"),
        ("sla", "breaches"),
        ("sla", "at-risk"),
        ("sla", "run-due"),
    ],
)
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("yesterday", "is not an ISO-8601 date-time"),
        ("2026-13-45T10:00:00+01:00", "is not an ISO-8601 date-time"),
    ],
)
def test_a_bad_at_is_refused_and_appends_nothing(
    run: Run, db: Path, command: tuple[str, ...], value: str, problem: str
) -> None:
    before = head(db)
    line = refused(run(*command, "--at", value), "validation_failed")
    assert f"--at {value!r} {problem}" in line
    assert head(db) == before


def test_an_instant_before_the_opening_is_refused(run: Run) -> None:
    line = refused(run("sla", "SR-1", "--at", "2026-03-01T00:00:00Z"), "request_not_found")
    assert "opened after" in line


def test_run_due_in_the_future_is_refused_and_appends_nothing(run: Run, db: Path) -> None:
    before = head(db)
    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    refused(run("sla", "run-due", "--at", future), "occurrence_out_of_order")
    assert head(db) == before


def test_a_mistyped_sla_command_is_a_usage_error(run: Run) -> None:
    result = run("sla", "breach")
    assert result.exit_code == 2
    assert "No such command 'breach'" in result.stderr
    assert "breaches" in result.stderr


def test_an_unknown_queue_or_choice_is_a_usage_error(run: Run) -> None:
    assert run("queue", "someday").exit_code == 2
    assert run("queue", "--priority", "asap").exit_code == 2


def test_reading_a_missing_database_does_not_create_it(tmp_path: Path, clean_env: None) -> None:
    del clean_env
    missing = tmp_path / "missing.db"
    runner = CliRunner()
    for args in (
        ("queue",),
        ("sla", "SR-1"),
        ("sla", "breaches"),
        ("projections", "status"),
        ("projections", "rebuild"),
    ):
        result = runner.invoke(app, ["--db", str(missing), *args])
        refused(result, "store_error")
    assert not missing.exists()


# -- projections ---------------------------------------------------------------------------


def written_behind(db: Path) -> None:
    """Three more requests recorded by a desk that leaves its projections to a follower."""
    with ServiceDesk.sqlite(str(db), projections="external") as writer:
        for number in range(3):
            writer.open(
                customer="late",
                channel="web",
                kind="claim",
                stage="sale",
                symptom=f"Late {number}",
                actor="customer:late",
            )


def test_projections_status_is_the_desks_own_and_shows_the_lag(
    run: Run, db: Path, desk: ServiceDesk
) -> None:
    written_behind(db)
    rows = data(run("projections", "status", "--json"))
    expected = desk.projection_status()
    assert rows == [
        {
            "name": s.name,
            "version": s.version,
            "position": s.position,
            "head": s.head,
            "lag": s.lag,
            "skipped": s.skipped,
            "rebuilding": s.rebuilding,
        }
        for s in expected
    ]
    assert not any(row["rebuilding"] for row in rows)
    assert {row["name"] for row in rows} == {"queues", "sla", "audit"}
    assert all(row["lag"] == 3 for row in rows)
    out = ok(run("projections", "status"))
    assert "queues" in out
    assert "lag" in out
    only = data(run("projections", "status", "--name", "sla", "--json"))
    assert [row["name"] for row in only] == ["sla"]


def test_rebuild_then_status_shows_no_lag_and_the_same_answers(
    run: Run, db: Path, desk: ServiceDesk
) -> None:
    before = data(run("queue", "--at", AT, "--json"))  # opening an inline desk catches up
    written_behind(db)
    assert all(row["lag"] == 3 for row in data(run("projections", "status", "--json")))
    events = head(db)
    result = data(run("projections", "rebuild", "--json"))
    assert result["projections"] == ["queues", "sla", "audit"]
    assert result["events"] == events
    rows = data(run("projections", "status", "--json"))
    assert all(row["lag"] == 0 and row["position"] == events for row in rows)
    assert head(db) == events  # a rebuild records nothing
    after = data(run("queue", "--at", AT, "--json"))
    assert after["total"] == before["total"] + 3
    assert after["rows"] == desk.queue(at=NOON).model_dump(mode="json")["rows"]


def test_rebuild_of_one_projection_reports_it(run: Run, db: Path) -> None:
    written_behind(db)
    out = ok(run("projections", "rebuild", "--name", "sla"))
    assert f"Rebuilt sla from {head(db)} events in" in out
    rows = {row["name"]: row for row in data(run("projections", "status", "--json"))}
    assert rows["sla"]["lag"] == 0
    assert rows["queues"]["lag"] == 3


def test_an_unknown_projection_name_is_refused(run: Run, db: Path) -> None:
    before = head(db)
    line = refused(run("projections", "rebuild", "--name", "kpis"), "validation_failed")
    assert "unknown projection: kpis" in line
    assert "queues, sla, audit" in line
    refused(run("projections", "status", "--name", "kpis", "--name", "x"), "validation_failed")
    assert head(db) == before


def test_python_m_servflow_projections_runs_the_same_commands(
    db: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    del clean_env
    written_behind(db)
    assert projections_main(["status", "--db", str(db), "--json"]) == 0
    assert all(row["lag"] == 3 for row in json.loads(capsys.readouterr().out))
    assert projections_main(["rebuild", "--db", str(db), "--quiet"]) == 0
    assert "Rebuilt queues, sla, audit" in capsys.readouterr().out
    os.environ["SERVFLOW_DB"] = str(db)  # removed again by clean_env's monkeypatch
    try:
        assert projections_main(["status", "--json"]) == 0
    finally:
        del os.environ["SERVFLOW_DB"]
    assert all(row["lag"] == 0 for row in json.loads(capsys.readouterr().out))
    assert projections_main(["rebuild", "--db", str(db), "--name", "nope"]) == 1
    assert "error[validation_failed]: unknown projection: nope" in capsys.readouterr().err
    assert projections_main(["sideways"]) == 2


def _wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("the follower did not catch up in time")


def _lag(db: Path) -> int:
    with ServiceDesk.sqlite(str(db), projections="external") as desk:
        return max(status.lag for status in desk.projection_status())


FOLLOWERS = {
    "servflow projections follow": lambda db: [
        sys.executable,
        "-m",
        "servflow.cli",
        "--db",
        db,
        "projections",
        "follow",
        "--poll",
        "0.1",
    ],
    "python -m servflow.projections follow": lambda db: [
        sys.executable,
        "-m",
        "servflow.projections",
        "follow",
        "--db",
        db,
        "--poll",
        "0.1",
    ],
}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("entry", list(FOLLOWERS))
def test_a_follower_process_catches_up_and_exits_0_on_a_signal(
    db: Path, clean_env: None, entry: str, stop: signal.Signals
) -> None:
    del clean_env
    written_behind(db)
    assert _lag(db) == 3
    command = FOLLOWERS[entry](str(db))
    with subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as follower:
        try:
            _wait_until(lambda: _lag(db) == 0)
            written_behind(db)  # while it follows
            _wait_until(lambda: _lag(db) == 0)
        finally:
            follower.send_signal(stop)
            out, errors = follower.communicate(timeout=20)
    assert follower.returncode == 0, errors
    assert "Traceback" not in errors
    assert "following the log" in errors
    assert f"stopped at position {head(db)}" in errors
    assert out == ""


# -- PostgreSQL and --schema ---------------------------------------------------------------


def test_the_schema_option_is_ignored_for_an_sqlite_file(run: Run, desk: ServiceDesk) -> None:
    page = data(run("--schema", "elsewhere", "queue", "--at", AT, "--json"))
    assert page["rows"] == desk.queue(at=NOON).model_dump(mode="json")["rows"]


@pytest.fixture
def postgres_schema(clean_env: None) -> Iterator[str]:
    del clean_env
    require_postgres()
    schema = f"t_cli_{uuid.uuid4().hex[:10]}"
    yield schema
    drop_schema(schema)


@pytest.mark.postgres
def test_the_schema_option_selects_a_postgresql_schema_in_both_entry_points(
    postgres_schema: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = CliRunner()
    base = ["--db", POSTGRES_DSN, "--schema", postgres_schema]
    opened = runner.invoke(
        app,
        [
            *base,
            "request",
            "open",
            "--customer",
            "acme",
            "--channel",
            "phone",
            "--kind",
            "claim",
            "--stage",
            "sale",
            "--symptom",
            "Charged twice",
        ],
    )
    assert opened.exit_code == 0, opened.output
    with ServiceDesk.postgres(POSTGRES_DSN, schema=postgres_schema) as desk:
        assert desk.get("SR-1").symptom == "Charged twice"
        expected = desk.sla("SR-1", at=datetime.now(UTC) + timedelta(hours=1))
    when = expected.at.isoformat()
    shown = runner.invoke(app, [*base, "sla", "SR-1", "--at", when, "--json"])
    assert json.loads(shown.stdout) == expected.model_dump(mode="json")
    from_env = runner.invoke(
        app,
        ["--db", POSTGRES_DSN, "queue", "--json"],
        env={"SERVFLOW_SCHEMA": postgres_schema},
    )
    assert [row["ticket_code"] for row in json.loads(from_env.stdout)["rows"]] == ["SR-000001"]
    status = runner.invoke(app, [*base, "projections", "status", "--json"])
    assert all(row["head"] == 1 and row["lag"] == 0 for row in json.loads(status.stdout))
    code = projections_main(
        ["rebuild", "--db", POSTGRES_DSN, "--schema", postgres_schema, "--json"]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["events"] == 1
