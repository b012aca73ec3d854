"""KPIs read from the log in batches equal KPIs read request by request through the public API.

``desk.kpis`` picks its cohort from the SLA view (and from the log past the view's position),
reads 500 requests per query and folds each event once. The reference below asks the public
API for every request in the store: ``get(id, as_of=at)`` and ``sla(id, at=at)``, exactly what
``kpis`` promises to add up. For random histories, random periods, instants and filters, on a
desk whose views are current and on one whose views lag behind the log, both must agree.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_history_properties import START, Clock, Step, run_history, steps

from servflow import Kpis, RequestNotFoundError, ServiceDesk, SlaStatus
from servflow.kpis import compute_kpis

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

    def cohort(start: datetime, end: datetime) -> Iterator[tuple[Any, Callable[[], SlaStatus]]]:
        del start, end  # every request is read; ``compute_kpis`` keeps the period's
        for request_id in desk.request_ids():
            try:
                request = desk.get(request_id, as_of=at)
            except RequestNotFoundError:
                continue  # opened after ``at``
            yield request, functools.partial(desk.sla, request_id, at=at)

    return compute_kpis(cohort, since=since, until=until, at=at, team=team, kind=kind)


def _instants(question: Question) -> tuple[datetime, datetime, datetime, str | None, str | None]:
    since, length, at, team, kind = question
    start = START + timedelta(minutes=since)
    return start, start + timedelta(minutes=length), START + timedelta(minutes=at), team, kind


def check(desk: ServiceDesk, asked: list[Question]) -> None:
    for question in asked:
        since, until, at, team, kind = _instants(question)
        got = desk.kpis(since=since, until=until, at=at, team=team, kind=kind)
        assert got == reference(desk, question)


@settings(max_examples=25, deadline=None)
@given(steps, questions)
def test_kpis_equal_a_request_by_request_reading_in_memory(
    history: list[Step], asked: list[Question]
) -> None:
    clock = Clock()
    with ServiceDesk(clock=clock) as desk:
        run_history(desk, clock, history)
        check(desk, asked)


@settings(max_examples=15, deadline=None)
@given(steps, questions, st.integers(0, 60))
def test_kpis_equal_a_request_by_request_reading_while_the_views_lag(
    history: list[Step], asked: list[Question], caught_up_after: int
) -> None:
    """Views brought up to date part way: the requests opened since come from the log."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as scratch:
        path = str(Path(scratch) / "desk.db")
        with ServiceDesk.sqlite(path, clock=clock, projections="external") as desk:
            run_history(desk, clock, history[:caught_up_after])
            desk.catch_up()
            run_history(desk, clock, history[caught_up_after:])
            check(desk, asked)
