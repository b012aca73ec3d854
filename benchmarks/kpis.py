"""11. KPIs over a year: the KPI view against reading the rows, the fold against the events.

A year of requests (1,000,000 in full mode) opened at an even pace from ``T0``, built with the
domain API, stored by ``save`` (100 aggregates per call) and projected by a rebuild, cached
like the logs (``kpi-year-<n>``): eight teams, six kinds and channels, four priorities; each
classified, assigned, probed, acted on and completed within two days, then accepted by its
customer (a score from 1 to 5) or, one in ten, closed by ``system``; one in 97 is left at work
(about 1% still moving, as a desk's backlog). Questions are asked as of 30 days after the year.

- ``kpis(group_by=["team"])`` over the whole year from the KPI view (the default), against
  merely reading the year's queue rows (``SELECT`` of request, team, status, opening and
  completion of every row opened in the year, with ``sqlite3``): the view adds up 365 days x
  8 teams of stored tallies, the rows of the year's last part day, and folds the requests
  still moving.
- ``kpis(group_by=["team"], exact=True)`` over the first ``kpi_fold`` requests of the year
  (100,000 in full mode): every request folded from the log, against reading the same
  requests' stored events (500 requests per query, as the fold reads them).

Each question and its baseline are timed alternately (5 pairs; 3 for the fold); the ratio is
the median of the per-pair ratios, with their spread. Goal (issue 19): the view's answer over a
million requests in well under a second; reported, the ratios to the raw reads.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Run, Spread, open_desk, pair_order, paired_ratios
from benchmarks.logs import cached_sqlite, working_copy
from benchmarks.workload import T0, adopt_standard_policy, before_t0, save_batches, team
from servflow.domain.request import Moment, ServiceRequest

SECTION = "11 kpis"
_YEAR = timedelta(days=365)
_KINDS = ("complaint", "information", "claim", "service_request", "warranty", "quote")
_CHANNELS = ("phone", "web", "email", "chat", "mobile_app", "face_to_face")
_PRIORITIES = ("urgent", "high", "normal", "low")
_AGENT = "agent:ana"
#: One request in this many is left at work: the year's backlog.
_LEFT_OPEN = 97
#: When the questions are asked: a month after the year.
_ASKED_AT = T0 + _YEAR + timedelta(days=30)


def _at(moment: datetime) -> Moment:
    return Moment(recorded_at=moment, occurred_at=moment)


def year_request(number: int, count: int) -> ServiceRequest:
    """Request ``number`` of a year of ``count``: opened at an even pace, worked, closed."""
    opened = T0 + _YEAR * number / count
    customer = f"cust-{number % 20_000:05d}"
    request = ServiceRequest.open(
        ticket_code=f"KY-{number:07d}",
        customer={"id": customer, "tier": "vip" if number % 10 == 0 else "standard"},
        channel=_CHANNELS[number % len(_CHANNELS)],
        kind=_KINDS[(number // 7) % len(_KINDS)],
        stage="post_sale",
        symptom="The router drops the line every evening",
        synthesis=None,
        actor=_AGENT,
        at=_at(opened),
    )
    minutes = timedelta(minutes=1)
    request.classify(
        priority=_PRIORITIES[number % len(_PRIORITIES)],
        kind=None,
        category=None,
        actor=_AGENT,
        at=_at(opened + 5 * minutes),
    )
    request.assign(
        team=team(number), agent=f"agent-{number % 40}", actor=_AGENT, at=_at(opened + 10 * minutes)
    )
    if number % _LEFT_OPEN == 0:
        return request
    request.probe(
        questions=["When?"], findings="Evenings", diagnosis=None, actor=_AGENT,
        at=_at(opened + 60 * minutes),
    )  # fmt: skip
    request.act(
        action="Updated the firmware", effort_minutes=10 + number % 50, cost=None, actor=_AGENT,
        at=_at(opened + 120 * minutes),
    )  # fmt: skip
    done = opened + timedelta(hours=3 + number % 45, minutes=number % 60)
    request.complete(
        outcome="resolved", resolution="Fixed", follow_up_at=None, to_team=None, actor=_AGENT,
        at=_at(done),
    )  # fmt: skip
    if number % 10 == 0:
        request.close(reason="no answer", actor="system", at=_at(done + timedelta(days=3)))
    else:
        request.accept(
            satisfaction=1 + number % 5, comment=None, actor=f"customer:{customer}",
            at=_at(done + timedelta(hours=20)),
        )  # fmt: skip
    return request


def _year(count: int) -> Iterator[ServiceRequest]:
    for number in range(count):
        yield year_request(number, count)


def year_cache(run: Run, count: int) -> Path:
    """The cached SQLite store of a year of ``count`` requests, its views rebuilt."""

    def build(path: Path) -> str:
        with open_desk("sqlite", path=path, projections="external", clock=before_t0) as desk:
            adopt_standard_policy(desk)
            stored = save_batches(desk, _year(count))
            started = time.perf_counter()
            desk.rebuild_projections(workers=run.sizes.rebuild_workers)
            rebuilt = time.perf_counter() - started
        return (
            f"{stored:,} events ({count:,} requests over a year) built with the domain API, "
            f"views rebuilt in {rebuilt:.0f}s"
        )

    return cached_sqlite(run, f"kpi-year-{count}", build)


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _alternate(
    pairs: int, question: Callable[[], Any], baseline: Callable[[], Any]
) -> tuple[list[float], list[float]]:
    asked: list[float] = []
    read: list[float] = []
    for index in range(pairs):
        for which in pair_order(index, "question", "baseline"):
            if which == "question":
                asked.append(_timed(question))
            else:
                read.append(_timed(baseline))
    return asked, read


def bench_kpis(run: Run) -> None:
    """KPIs grouped by team over a year (view) and over its first requests (exact fold)."""
    year = run.sizes.kpi_year
    folded = min(run.sizes.kpi_fold, year)
    path = working_copy(run, year_cache(run, year), f"kpi-year-{year}")
    since, until = T0, T0 + _YEAR
    fold_until = T0 + _YEAR * folded / year
    connection = sqlite3.connect(path)
    desk = open_desk("sqlite", path=path, projections="external", clock=lambda: _ASKED_AT)
    try:
        desk.catch_up()
        rows_read = _rows_reader(connection, since, until)
        answer = desk.kpis(since=since, until=until, group_by=["team"])
        if answer.total.requests != year or answer.total.exact_quantiles:
            msg = f"the view answered {answer.total.requests:,} requests of {year:,}"
            raise RuntimeError(msg)
        asked, read = _alternate(
            5, lambda: desk.kpis(since=since, until=until, group_by=["team"]), rows_read
        )
        _add(
            run,
            f"kpis(group_by=team), a year of {year:,} requests, KPI view",
            asked,
            f"SELECT of the year's {year:,} queue rows",
            read,
        )
        ids = [
            str(row[0])
            for row in connection.execute(
                "SELECT request_id FROM sf_queue WHERE opened_at >= ? AND opened_at < ?",
                (_us(since), _us(fold_until)),
            )
        ]
        exact = desk.kpis(since=since, until=fold_until, group_by=["team"], exact=True)
        if exact.total.requests != len(ids):
            msg = f"the fold answered {exact.total.requests:,} requests of {len(ids):,}"
            raise RuntimeError(msg)
        asked, read = _alternate(
            3 if not run.quick else 2,
            lambda: desk.kpis(since=since, until=fold_until, group_by=["team"], exact=True),
            _events_reader(connection, ids),
        )
        _add(
            run,
            f"kpis(group_by=team, exact=True), {len(ids):,} requests, folded from the log",
            asked,
            f"SELECT of the {len(ids):,} requests' events",
            read,
        )
    finally:
        desk.close()
        connection.close()


def _us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _rows_reader(
    connection: sqlite3.Connection, since: datetime, until: datetime
) -> Callable[[], int]:
    def read() -> int:
        return len(
            connection.execute(
                "SELECT request_id, team, status, opened_at, completed_at FROM sf_queue "
                "WHERE opened_at >= ? AND opened_at < ?",
                (_us(since), _us(until)),
            ).fetchall()
        )

    return read


def _events_reader(connection: sqlite3.Connection, ids: list[str]) -> Callable[[], int]:
    keys = [i.replace("-", "") for i in ids]

    def read() -> int:
        found = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found += len(
                connection.execute(
                    "SELECT originator_id, originator_version, topic, state FROM stored_events "
                    f"WHERE originator_id IN ({', '.join('?' * len(chunk))}) "
                    "ORDER BY originator_id, originator_version",
                    chunk,
                ).fetchall()
            )
        return found

    return read


def _add(run: Run, name: str, asked: list[float], baseline: str, read: list[float]) -> None:
    spread = Spread.of(paired_ratios(list(zip(asked, read, strict=True))), "pair")
    value = sorted(asked)[len(asked) // 2]
    base = sorted(read)[len(read) // 2]
    print(f"  {name}: {value:.3f}s, {baseline}: {base:.3f}s, ratio {spread.median:.2f}")
    run.add(
        SECTION,
        name,
        "sqlite",
        value,
        "s",
        baseline=baseline,
        baseline_value=base,
        spread=spread,
    )
