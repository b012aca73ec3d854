"""The KPI view answers what the exact fold of the log answers, and a rebuild gives its rows.

For random histories spread over days (cut into stretches, the questions asked after each),
``desk.kpis`` from the KPI view (buckets of settled requests, rows of part days, the requests
still moving folded) equals ``desk.kpis(exact=True)``, which folds every request of the period
from the raw events: every figure equal, medians and percentiles within their bins' 0.5%. For
periods aligned on days and not, every grouping the view serves, with and without filters;
then the view's rows (buckets included) equal a rebuild. On memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import POSTGRES_DSN, FakeClock, drop_schema, require_postgres, view_rows
from kpi_compare import assert_same_groups
from servflow import ServflowError, ServiceDesk
from strategies import START, TEAMS, Step, histories, run_history, send

#: Groupings the view serves (and two it leaves to the fold), with the filters asked with them.
QUESTIONS: tuple[tuple[list[str], dict[str, str]], ...] = (
    ([], {}),
    (["team"], {}),
    (["week", "kind"], {}),
    (["month"], {}),
    (["agent", "week"], {}),
    (["priority"], {}),
    (["tier"], {}),
    (["stage"], {}),
    (["channel"], {}),
    ([], {"team": TEAMS[1]}),
    (["team", "month"], {"team": TEAMS[0]}),
    (["kind"], {"kind": "complaint"}),
    (["team", "kind"], {}),  # two groupings: the fold answers
    (["customer"], {}),  # not kept in buckets: the fold answers
)
_DAY = timedelta(days=1)


@contextlib.contextmanager
def opened(where: str, clock: FakeClock) -> Iterator[ServiceDesk]:
    if where == "memory":
        with ServiceDesk(clock=clock) as desk:
            yield desk
        return
    if where == "sqlite":
        with (
            TemporaryDirectory() as scratch,
            ServiceDesk.sqlite(str(Path(scratch) / "kpis.db"), clock=clock) as desk,
        ):
            yield desk
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with ServiceDesk.postgres(POSTGRES_DSN, schema=schema, clock=clock) as desk:
            yield desk
    finally:
        drop_schema(schema)


def periods(data: st.DataObject, now: datetime) -> list[tuple[datetime, datetime]]:
    """Periods to ask about: all of it, whole days, and part days drawn at random."""
    midnight = datetime.combine(START.date(), datetime.min.time(), tzinfo=UTC)
    days = max(1, (now - midnight).days + 1)
    start = data.draw(st.integers(0, days * 24 - 1), label="from hour")
    length = data.draw(st.integers(1, days * 24), label="hours")
    drawn = midnight + timedelta(hours=start)
    return [
        (START - _DAY, now + _DAY),
        (midnight, midnight + days * _DAY),
        (drawn, drawn + timedelta(hours=length)),
    ]


def check(desk: ServiceDesk, data: st.DataObject, now: datetime) -> None:
    for since, until in periods(data, now):
        for group_by, filters in QUESTIONS:
            view = desk.kpis(since=since, until=until, group_by=group_by, **filters)  # type: ignore[call-overload]
            exact = desk.kpis(since=since, until=until, group_by=group_by, exact=True, **filters)  # type: ignore[call-overload]
            assert_same_groups(view, exact)
            dims = [name for name in group_by if name not in {"week", "month"}]
            served = "customer" not in dims and len(dims) <= 1
            assert view.total.exact_quantiles is not served, (group_by, filters)


#: How a request is taken to its end (after a random history): each step a command's story.
ENDINGS = (
    ("classify", "assign", "act", "resolve", "accept"),
    ("classify", "assign", "hold", "resume", "act", "resolve", "close"),
    ("classify", "assign", "wait", "respond", "resolve", "accept", "reopen", "resolve", "close"),
    ("classify", "assign", "resolve", "close", "nonconformity", "correct"),
    ("cancel", "nonconformity"),
)


#: When the questions are asked, after the last event.
ASKED_AFTER = (timedelta(0), timedelta(hours=5), timedelta(days=3))


def finish(desk: ServiceDesk, clock: FakeClock, data: st.DataObject, tickets: list[str]) -> None:
    """Take some requests to their end, the customer accepting as the owner."""
    for ticket in tickets:
        if not data.draw(st.integers(0, 9), label="finish it") < 7:
            continue
        ending = data.draw(st.sampled_from(ENDINGS), label="ending")
        owner = f"customer:{desk.get(ticket).customer.id}"
        for story in ending:
            clock.now += timedelta(minutes=data.draw(st.integers(0, 600), label="minutes"))
            score = data.draw(st.integers(1, 5), label="score")
            with contextlib.suppress(ServflowError):
                if story == "accept":
                    desk.accept(ticket, satisfaction=score, actor=owner)
                elif story == "reopen":
                    desk.reopen(ticket, reason="again", actor=owner)
                else:
                    send(desk, story, ticket, score % 4, clock.now)


def run(where: str, stretches: list[list[Step]], data: st.DataObject) -> None:
    clock = FakeClock(START)
    with opened(where, clock) as desk:
        tickets: list[str] = []
        for stretch in stretches:
            # Up to 12 hours a step: histories span days, requests stay open over midnights.
            run_history(desk, clock, stretch, tickets, minutes=(30, 220))
            finish(desk, clock, data, tickets)
            closed = desk.kpis(since=START - _DAY, until=clock.now + _DAY, exact=True).closed
            event(f"closed requests: {min(closed, 5)}{'+' if closed >= 5 else ''}")
            # Asked at the last event, or hours or days later (holds and clocks counting).
            clock.now += data.draw(st.sampled_from(ASKED_AFTER), label="asked after")
            check(desk, data, clock.now)
        followed = view_rows(desk)
        desk.rebuild_projections()
        assert view_rows(desk) == followed
        check(desk, data, clock.now)  # and so does the rebuilt view


_STRETCHES = st.lists(histories(min_size=1, max_size=30), min_size=1, max_size=3)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_STRETCHES, st.data())
def test_the_kpi_view_answers_what_the_log_says_in_memory(
    stretches: list[list[Step]], data: st.DataObject
) -> None:
    run("memory", stretches, data)


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_STRETCHES, st.data())
def test_the_kpi_view_answers_what_the_log_says_on_sqlite(
    stretches: list[list[Step]], data: st.DataObject
) -> None:
    run("sqlite", stretches, data)


@pytest.mark.postgres
@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_STRETCHES, st.data())
def test_the_kpi_view_answers_what_the_log_says_on_postgres(
    stretches: list[list[Step]], data: st.DataObject
) -> None:
    require_postgres()
    run("postgres", stretches, data)
