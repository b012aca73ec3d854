"""The demo: a deterministic simulated service desk, and the ``servflow demo`` command."""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from servflow import Channel, ClockState, Kind, Request, ServiceDesk, Stage, Status
from servflow.cli import app
from servflow.demo import DEFAULT_START, DemoSummary, SimClock, demo_policy, simulate

REQUESTS = 60
MADRID = ZoneInfo("Europe/Madrid")


def simulated(
    seed: int = 7, requests: int = REQUESTS
) -> tuple[DemoSummary, list[Request], ServiceDesk]:
    clock = SimClock()
    desk = ServiceDesk(clock=clock, projections="external", sla=demo_policy())
    summary = simulate(desk, clock=clock, requests=requests, seed=seed)
    views = [desk.get(request_id) for request_id in desk.request_ids()]
    return summary, views, desk


@pytest.fixture(scope="module")
def demo() -> tuple[DemoSummary, list[Request], ServiceDesk]:
    return simulated()


@pytest.fixture(scope="module")
def full_demo() -> tuple[DemoSummary, list[Request], ServiceDesk]:
    """The default demo's size: 300 requests."""
    return simulated(requests=300)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "SERVFLOW_TZ": "UTC"})


def test_the_same_seed_gives_the_same_requests_and_summary(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, views, _ = demo
    again, views_again, _ = simulated()
    assert again == summary
    assert [v.model_dump() for v in views_again] == [v.model_dump() for v in views]


def test_another_seed_gives_another_desk(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, views, _ = demo
    other, other_views, _ = simulated(seed=8)
    assert [v.symptom for v in other_views] != [v.symptom for v in views]
    assert other.requests == summary.requests == REQUESTS


def test_every_kind_stage_and_channel_shows_up(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, views, _ = demo
    assert {v.kind for v in views} == set(Kind)
    assert {v.stage for v in views} == set(Stage)
    assert {v.channel for v in views} == set(Channel)
    assert all(summary.by_kind[k.value] > 0 for k in Kind)
    assert len({v.customer.tier for v in views}) == 3


def test_the_final_state_mixes_every_stage_of_the_lifecycle(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, views, _ = demo
    statuses = {v.status for v in views}
    for status in (
        Status.CLOSED,
        Status.CANCELLED,
        Status.COMPLETED,
        Status.WAITING_ON_CUSTOMER,
        Status.NEW,
    ):
        assert status in statuses, status
        assert summary.by_status[status.value] > 0
    assert sum(summary.by_status.values()) == REQUESTS


def test_the_summary_counts_what_the_store_holds(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, views, _ = demo
    assert summary.events == sum(v.version for v in views)
    assert summary.transfers == sum(v.transfer_count for v in views) > 0
    assert summary.reopenings == sum(v.reopen_count for v in views) > 0
    scores = [v.satisfaction for v in views if v.satisfaction is not None]
    assert summary.rated == len(scores)
    assert summary.mean_satisfaction == round(sum(scores) / len(scores), 2)
    ncs = [nc for v in views for nc in v.nonconformities]
    assert summary.nonconformities_corrected == sum(nc.is_corrected for nc in ncs) > 0
    assert summary.nonconformities_open == len(ncs) - summary.nonconformities_corrected
    assert all(nc.logged_by.startswith("auditor:") for nc in ncs)


def test_the_featured_request_was_transferred_reopened_and_closed(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, _, desk = demo
    assert summary.featured is not None
    featured = desk.get(summary.featured)
    assert featured.transfer_count >= 1
    assert featured.reopen_count >= 1
    assert featured.status is Status.CLOSED
    events = {entry.event_type for entry in desk.history(featured)}
    assert {"Probed", "ActionTaken", "WaitingOnCustomer", "CustomerResponded"} <= events
    assert {"ProgressReported", "Reopened", "NonConformityLogged"} <= events


def test_requests_are_opened_in_time_order_during_business_hours(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, views, desk = demo
    opened = [v.opened_at for v in views]
    assert opened == sorted(opened)
    assert opened[0] >= DEFAULT_START
    for view in views:
        for entry in desk.history(view):
            local = entry.occurred_at.astimezone(MADRID)
            assert local.weekday() < 5, entry
            assert time(8) <= local.time() <= time(19), entry
            assert entry.occurred_at <= summary.ended_at
            if entry.actor == "system":
                # Deemed acceptances: recorded by run_due at the end, dated when they came due.
                assert entry.event_type == "CustomerAccepted", entry
                assert entry.recorded_at == summary.ended_at
                assert time(9) <= local.time() <= time(18), entry
            else:
                assert entry.recorded_at == entry.occurred_at


def test_the_sla_summary_counts_each_requests_clocks_at_the_end(
    demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, views, desk = demo
    assert summary.sla_policy == "demo-business-hours v1"
    counted: dict[str, Counter[str]] = {"first_response": Counter(), "resolution": Counter()}
    for view in views:
        for clock in desk.sla(view, at=summary.ended_at).clocks:
            counted[clock.name][clock.state.value] += 1
    assert {name: +counts for name, counts in counted.items()} == {
        name: +Counter(counts) for name, counts in summary.sla.items()
    }
    assert all(list(counts) == [s.value for s in ClockState] for counts in summary.sla.values())
    assert summary.breached == len(desk.breaches(at=summary.ended_at))
    assert summary.at_risk == len(desk.at_risk(at=summary.ended_at))
    system = [entry for view in views for entry in desk.history(view) if entry.actor == "system"]
    assert len(system) == summary.deemed_acceptances + summary.follow_ups_due > 0
    assert desk.run_due(at=summary.ended_at) == []  # already recorded


def test_the_default_demo_mixes_met_missed_breached_and_at_risk_clocks(
    full_demo: tuple[DemoSummary, list[Request], ServiceDesk],
) -> None:
    summary, _, desk = full_demo
    assert summary.requests == 300
    for clock in ("first_response", "resolution"):
        counts = summary.sla[clock]
        finished = counts["met"] + counts["missed"]
        # Most clocks are met, but not all: a realistic desk.
        assert 0.7 < counts["met"] / finished < 0.95, (clock, counts)
        assert counts["breached"] > 0, (clock, counts)
        assert counts["cancelled"] > 0, (clock, counts)
    assert summary.sla["resolution"]["warning"] > 0
    assert summary.sla["resolution"]["paused"] > 0
    assert 5 <= summary.breached <= 40
    assert 5 <= summary.at_risk <= 40
    assert summary.deemed_acceptances > 0
    states = {a.state for a in desk.breaches(at=summary.ended_at)}
    assert states == {ClockState.BREACHED}


def test_the_demo_command_fills_a_fresh_file_and_reports_on_it(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = run("demo", "--db", str(db), "--requests", str(REQUESTS))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        f"Simulated {REQUESTS} requests",
        "Open work by team",
        "awaiting acceptance",
        "Oldest open work",
        "By status",
        "By kind",
        "mean satisfaction",
        "non-conformities corrected",
        "transferred, then reopened",
        "History of SR-",
        (
            "SLA policy: demo-business-hours v1: business time Mon-Fri 09:00-14:00, "
            "15:00-18:00 (Europe/Madrid), closed on 24 holidays from 01 Jan 2026 to 25 Dec 2027"
        ),
        "SLA clocks at the end (2026-10-02 14:30 UTC)",
        "At risk as of 2026-10-02 14:30 UTC: ",
        "SLA clocks at the end (demo-business-hours v1)",
        "SLA targets (business time)",
        "vip-urgent",
        "SLA breached at the end",
        "Try next",
    ):
        assert text in out, text
    with ServiceDesk.sqlite(str(db)) as desk:
        assert len(list(desk.request_ids())) == REQUESTS
        assert [p.label for p in desk.policies()] == ["demo-business-hours v1"]
        status = desk.projection_status()
        assert all(s.lag == 0 for s in status)
    tail = out.split("Try next", 1)[1]
    end = "--at 2026-10-02T16:30:00+02:00"
    for command in (f"queue {end}", f"sla breaches {end}", "audit verify"):
        assert f"servflow --db {db} {command}" in tail, command
    example = rf"servflow --db {re.escape(str(db))} sla SR-\d{{6}} {re.escape(end)} --timeline"
    assert re.search(example, tail)


def test_the_demo_lists_at_most_15_breached_and_at_risk_clocks_with_their_totals(
    tmp_path: Path,
) -> None:
    db = tmp_path / "demo.db"
    result = run("demo", "--db", str(db))
    assert result.exit_code == 0, result.output
    out = result.stdout
    end = datetime(2026, 10, 2, 14, 30, tzinfo=UTC)
    with ServiceDesk.sqlite(str(db)) as desk:
        totals = {"Breached": len(desk.breaches(at=end)), "At risk": len(desk.at_risk(at=end))}
    for title, total in totals.items():
        heading = f"{title} as of 2026-10-02 14:30 UTC: {total}"
        assert heading + (" (the first 15 shown)" if total > 15 else "") in out
    section = out.split("SLA clocks at the end (2026-10-02", 1)[1].split("Summary", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("│ SR-")]
    assert len(rows) == sum(min(total, 15) for total in totals.values())
    assert all(total > 0 for total in totals.values())


def test_the_demo_refuses_to_overwrite_a_file_without_force(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    db.write_text("precious")
    result = run("demo", "--db", str(db), "--requests", "12")
    assert result.exit_code == 1
    assert result.stderr.startswith("error[configuration_error]: ")
    assert "already exists" in result.stderr
    assert "--force" in result.stderr
    assert db.read_text() == "precious"


def test_the_demo_replaces_a_file_with_force(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    first = run("demo", "--db", str(db), "--requests", "12", "--json")
    assert first.exit_code == 0, first.output
    again = run("demo", "--db", str(db), "--requests", "12", "--force", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads(first.stdout)
    with ServiceDesk.sqlite(str(db)) as desk:
        assert len(list(desk.request_ids())) == 12


def test_the_demo_takes_the_global_db_option_and_prints_json(tmp_path: Path) -> None:
    db = tmp_path / "global.db"
    result = run("--db", str(db), "demo", "--requests", str(REQUESTS), "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["db"] == str(db)
    assert data["seed"] == 3
    assert data["requests"] == REQUESTS
    assert db.exists()


def test_the_demo_refuses_a_postgresql_dsn() -> None:
    result = run("demo", "--db", "postgresql://localhost/x")
    assert result.exit_code == 1
    assert "fresh SQLite file" in result.stderr


def test_every_try_next_command_works(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = run("demo", "--db", str(db), "--requests", str(REQUESTS))
    assert result.exit_code == 0, result.output
    tail = result.stdout.split("Try next", 1)[1]
    commands = [line.strip() for line in tail.splitlines() if line.strip().startswith("servflow")]
    assert len(commands) >= 5
    for command in commands:
        args = shlex.split(command)[1:]
        outcome = run(*args)
        assert outcome.exit_code == 0, (command, outcome.output)


def test_a_sim_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(DEFAULT_START.replace(tzinfo=None))
    assert SimClock()() == DEFAULT_START.astimezone(UTC)


def test_a_start_at_a_fixed_offset_works_the_hours_of_a_zone_at_that_offset() -> None:
    # In September Madrid is two hours ahead of UTC: the same seed gives the same instants.
    fixed = DEFAULT_START.astimezone(timezone(timedelta(hours=2)))
    runs: list[tuple[list[datetime], datetime]] = []
    for start in (DEFAULT_START, fixed):
        clock = SimClock(start)
        desk = ServiceDesk(clock=clock, projections="external", sla=demo_policy())
        summary = simulate(desk, clock=clock, requests=12, start=start, weeks=1)
        runs.append(([desk.get(i).opened_at for i in desk.request_ids()], summary.ended_at))
    assert runs[0] == runs[1]
    assert runs[1][1].tzinfo is fixed.tzinfo  # reported in the caller's zone


def test_the_simulation_refuses_a_start_whose_zone_a_calendar_cannot_name() -> None:
    start = datetime(2026, 9, 7, 8, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    clock = SimClock(start)
    desk = ServiceDesk(clock=clock, projections="external")
    with pytest.raises(ValueError, match="IANA time zone"):
        simulate(desk, clock=clock, requests=12, start=start)
