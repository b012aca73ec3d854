"""Reads of the log narrowed by the views give what reading every request gives.

``desk.kpis`` picks its cohort from the SLA view, ``desk.queue_as_of`` its requests from the
queue view (opened by then, not closed by then), each adding every request the log changed past
the view's position; then they read 500 requests per query and fold each event once.

The references read every request: for KPIs, the public API request by request
(``get(id, as_of=at)`` and ``sla(id, at=at)``, exactly what ``kpis`` promises to add up); for
past queues, the same fold over every request ever opened. For random histories, instants,
periods and filters, on a desk whose views are current and on one whose views lag behind the
log, both must agree.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FakeClock
from servflow import HistoryEntry, Kpis, QueuePage, RequestNotFoundError, ServiceDesk, SlaStatus
from servflow.desk.kpis import compute_kpis
from strategies import START, Step, histories, run_history

#: Random histories, as ``test_history_properties`` runs them (mostly accepted commands).
steps = histories(min_size=8, max_size=60)

#: (offset of since, length of the period, offset of at), in minutes from the history's start
#: (a history lasts up to 9 hours, 4 hours or so usually); then the team and kind filters.
Question = tuple[int, int, int, str | None, str | None]
questions = st.lists(
    st.tuples(
        st.integers(0, 240),
        st.integers(1, 600),
        st.integers(0, 600),
        st.sampled_from([None, "billing", "frontline"]),
        st.sampled_from([None, "complaint", "claim"]),
    ),
    min_size=1,
    max_size=4,
)


def reference(desk: ServiceDesk, question: Question) -> Kpis:
    """The KPIs added up from each request of the store, read one by one (the old way)."""
    since, until, at, team, kind = _instants(question)

    def cohort(
        start: datetime, end: datetime
    ) -> Iterator[tuple[Any, Callable[[], SlaStatus], dict[str, timedelta]]]:
        del start, end  # every request is read; ``compute_kpis`` keeps the period's
        for request_id in desk.request_ids():
            try:
                request = desk.get(request_id, as_of=at)
            except RequestNotFoundError:
                continue  # opened after ``at``
            holds = hold_times(desk.history(request_id), at)
            yield request, functools.partial(desk.sla, request_id, at=at), holds

    return compute_kpis(cohort, since=since, until=until, at=at, team=team, kind=kind)


def hold_times(history: list[HistoryEntry], at: datetime) -> dict[str, timedelta]:
    """Time on hold by ``at`` per reason, from the history's status changes (the reference)."""
    holds: dict[str, timedelta] = {}
    current: tuple[str, datetime] | None = None
    for entry in history:
        if entry.occurred_at > at:
            break
        status = next((c.after for c in entry.changes if c.field == "status"), None)
        starts = entry.event_type in {"Held", "WaitingOnCustomer"}
        if current is not None and (
            starts or status not in {None, "on_hold", "waiting_on_customer"}
        ):
            reason, since = current
            holds[reason] = holds.get(reason, timedelta(0)) + entry.occurred_at - since
            current = None
        if starts:
            reason = "customer" if entry.event_type == "WaitingOnCustomer" else entry.data["reason"]
            current = (str(reason), entry.occurred_at)
    if current is not None:
        reason, since = current
        holds[reason] = holds.get(reason, timedelta(0)) + at - since
    return holds


def _instants(question: Question) -> tuple[datetime, datetime, datetime, str | None, str | None]:
    since, length, at, team, kind = question
    start = START + timedelta(minutes=since)
    return start, start + timedelta(minutes=length), START + timedelta(minutes=at), team, kind


def check(desk: ServiceDesk, asked: list[Question]) -> None:
    for question in asked:
        since, until, at, team, kind = _instants(question)
        got = desk.kpis(since=since, until=until, at=at, team=team, kind=kind)
        assert got == reference(desk, question)


def in_memory(history: list[Step], checked: Callable[[ServiceDesk], None]) -> None:
    """Run the history on an in-memory desk (views current), then check it."""
    clock = FakeClock(START)
    with ServiceDesk(clock=clock) as desk:
        run_history(desk, clock, history)
        checked(desk)


def with_lagging_views(
    history: list[Step], caught_up_after: int, checked: Callable[[ServiceDesk], None]
) -> None:
    """Run the history on an SQLite desk whose views catch up part way, then check it.

    Requests opened since come from the log only; later commands on requests opened before
    leave the view's rows of them stale.
    """
    clock = FakeClock(START)
    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / "desk.db")
        with ServiceDesk.sqlite(path, clock=clock, projections="external") as desk:
            tickets = run_history(desk, clock, history[:caught_up_after])
            desk.catch_up()
            run_history(desk, clock, history[caught_up_after:], tickets)
            checked(desk)


@settings(max_examples=25, deadline=None)
@given(steps, questions)
def test_kpis_equal_a_request_by_request_reading_in_memory(
    history: list[Step], asked: list[Question]
) -> None:
    in_memory(history, lambda desk: check(desk, asked))


@settings(max_examples=15, deadline=None)
@given(steps, questions, st.integers(0, 60))
def test_kpis_equal_a_request_by_request_reading_while_the_views_lag(
    history: list[Step], asked: list[Question], caught_up_after: int
) -> None:
    with_lagging_views(history, caught_up_after, lambda desk: check(desk, asked))


#: (offset of at in minutes, the queue asked for, team, whether closed requests are asked for).
PastQueue = tuple[int, str | None, str | None, bool]
past_queues = st.lists(
    st.tuples(
        st.integers(0, 600),
        st.sampled_from([None, "triage", "unassigned", "awaiting_acceptance", "follow_ups_due"]),
        st.sampled_from([None, "billing", "frontline"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


def past_queue(desk: ServiceDesk, asked: PastQueue) -> QueuePage:
    offset, special, team, closed = asked
    at = START + timedelta(minutes=offset)
    status = ("closed", "cancelled", "new", "assigned") if closed else ()
    return desk.queue_as_of(at, special, team=team, status=status, limit=500)


def check_past_queues(desk: ServiceDesk, asked: list[PastQueue]) -> None:
    for question in asked:
        narrowed = past_queue(desk, question)
        # The reference: every request ever opened, whatever the views say.
        with mock.patch.object(
            desk._reads, "as_of_candidates", return_value=list(desk.request_ids())
        ):
            assert narrowed == past_queue(desk, question)


@settings(max_examples=25, deadline=None)
@given(steps, past_queues)
def test_past_queues_equal_a_reading_of_every_request_in_memory(
    history: list[Step], asked: list[PastQueue]
) -> None:
    in_memory(history, lambda desk: check_past_queues(desk, asked))


@settings(max_examples=15, deadline=None)
@given(steps, past_queues, st.integers(0, 60))
def test_past_queues_equal_a_reading_of_every_request_while_the_views_lag(
    history: list[Step], asked: list[PastQueue], caught_up_after: int
) -> None:
    with_lagging_views(history, caught_up_after, lambda desk: check_past_queues(desk, asked))
