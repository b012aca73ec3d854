"""3. Queries: latency of the desk's reads against the raw indexed SELECT for the same rows.

The data set: N open requests (every 8th classified and assigned to one of 8 teams, the rest
in triage) plus one request with 50 events. Built with the domain API, stored 100 aggregates
per ``save`` and projected with ``desk.catch_up()``; SQLite sets are cached by size, grown
from the largest smaller cached set. PostgreSQL gets the same stored events by ``COPY`` and
projects them itself.

Each desk call is timed alternately with its raw baseline (same database, plain driver), so
both see the same noise. Each query has two figures, its p50 and its p99 against the raw
read's, both with the goal (a sub-millisecond p99 is mostly noise; the p50 is what a user
feels most of the time). The spread of a ratio is the lowest and highest of the same ratio
over ``_BLOCKS`` consecutive blocks of the samples.
Besides the brief's queries: a page of the global audit log (one actor's events, through
its index), and ``kpis()`` over a period of 600 requests against reading those requests'
stored events (no goal: a report folds and measures every request of its period).
"""

from __future__ import annotations

import inspect
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CACHE_DIR,
    REALISTIC,
    Goal,
    Run,
    Spread,
    StoreKind,
    block_ratios,
    copy_sqlite,
    events_table,
    median,
    open_desk,
    percentile,
    pg_connect,
    qualified,
)
from benchmarks.logs import cache_path, cached_sqlite, copy_to_postgres, working_copy
from benchmarks.workload import (
    LONG_CODE,
    LONG_EVENTS,
    T0,
    adopt_standard_policy,
    before_t0,
    long_as_of,
    long_request,
    open_requests,
    save_batches,
    team,
)
from servflow.domain.request import request_id_for

SECTION = "3 queries"
GOAL_P99 = Goal("<=", 5.0)
#: The same goal on the median.
GOAL_P50 = Goal("<=", 5.0)
#: Consecutive blocks of samples a ratio's spread is measured over.
_BLOCKS = 5
_WARM_UP = 3
_PAGE = 50
_ORDER = "ORDER BY due_sort, priority_rank, opened_at"
_AUDIT_PAGE = 100
#: ``kpis`` reads this period: requests ``SR-001000`` to ``SR-001599`` (one opens a second).
_KPI_FIRST, _KPI_REQUESTS = 1000, 600
_KPI_BATCH = 500
#: ``kpis`` takes tens of milliseconds: fewer samples than the other queries.
_KPI_SAMPLES = 20


@dataclass(frozen=True)
class Timing:
    """Latency samples of a desk query and of its raw baseline, in milliseconds."""

    name: str
    desk_ms: tuple[float, ...]
    raw_ms: tuple[float, ...]

    def summary(self) -> dict[str, float]:
        """Median and p99 of both."""
        return {
            "desk_median_ms": median(self.desk_ms),
            "desk_p99_ms": percentile(self.desk_ms, 99),
            "raw_median_ms": median(self.raw_ms),
            "raw_p99_ms": percentile(self.raw_ms, 99),
        }

    def spread(self, q: float) -> Spread | None:
        """The ratio of percentile ``q`` over ``_BLOCKS`` blocks (None without a baseline)."""
        if not any(self.raw_ms):
            return None
        blocks = min(_BLOCKS, len(self.desk_ms))
        size = len(self.desk_ms) // blocks
        return Spread.of(
            block_ratios(self.desk_ms, self.raw_ms, blocks, q), f"block of {size} samples"
        )


# -- data sets ---------------------------------------------------------------------------------


def _known_sizes(run: Run) -> list[int]:
    return sorted({run.sizes.query_requests, *run.sizes.growth_requests})


def query_cache(run: Run, requests: int) -> Path:
    """The cached SQLite data set with ``requests`` open requests (plus the long one)."""

    def build(path: Path) -> str:
        smaller = [
            n
            for n in _known_sizes(run)
            if n < requests and cache_path(run, f"queries-{n}").exists()
        ]
        first = 1
        if smaller:
            copy_sqlite(cache_path(run, f"queries-{smaller[-1]}"), path)
            first = smaller[-1] + 1
        policy = ""
        with open_desk("sqlite", path=path, projections="external", clock=before_t0) as desk:
            stored = 0
            if first == 1:
                policy = "; " + adopt_standard_policy(desk)
                stored += save_batches(desk, [long_request()])
            stored += save_batches(desk, open_requests(first, requests - first + 1))
            started = time.perf_counter()
            projected = desk.catch_up()
            seconds = time.perf_counter() - started
        grown = f"grown from {smaller[-1]:,} requests; " if smaller else ""
        return (
            f"{grown}{stored:,} events stored by save(100 aggregates); catch_up projected "
            f"{projected:,} events at {projected / seconds:,.0f} ev/s{policy}"
        )

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return cached_sqlite(run, f"queries-{requests}", build)


def _postgres_queries(run: Run, requests: int) -> str:
    key = f"pgqueries:{requests}"
    if key not in run.memo:
        schema = run.schema(f"q{requests}")
        copy_to_postgres(run, query_cache(run, requests), schema)
        with open_desk("postgres", schema=schema, projections="external") as desk:
            started = time.perf_counter()
            projected = desk.catch_up()
            seconds = time.perf_counter() - started
        text = f"catch_up projected {projected:,} events at {projected / seconds:,.0f} ev/s"
        run.extras.setdefault("logs", {})[f"pg {schema} projection"] = text
        print(f"  pg {schema}: {text}")
        run.memo[key] = schema
    return str(run.memo[key])


# -- measuring ---------------------------------------------------------------------------------


def _time(
    name: str,
    desk_call: Callable[[], object],
    raw_call: Callable[[], object] | None,
    samples: int,
) -> Timing:
    """Time a desk call and its raw baseline alternately (no baseline: raw samples are 0)."""
    raw_call = raw_call or _nothing
    for _ in range(_WARM_UP):
        desk_call()
        raw_call()
    desk_ms: list[float] = []
    raw_ms: list[float] = []
    for _ in range(samples):
        started = time.perf_counter_ns()
        desk_call()
        middle = time.perf_counter_ns()
        raw_call()
        ended = time.perf_counter_ns()
        desk_ms.append((middle - started) / 1e6)
        raw_ms.append((ended - middle) / 1e6)
    return Timing(name, tuple(desk_ms), tuple(raw_ms))


def _nothing() -> None:
    return None


class _Raw:
    """Raw SELECTs with the plain driver on the desk's database."""

    def __init__(
        self, kind: StoreKind, *, path: Path | None, schema: str | None, events: str
    ) -> None:
        self.kind = kind
        self._connection: Any
        self._schema = schema
        if kind == "sqlite":
            self._connection = sqlite3.connect(str(path))
        else:
            self._connection = pg_connect()
        self._queue = self.table("sf_queue")
        self._events = self.table(events)

    def table(self, name: str) -> str:
        """A table of the desk's database, as SQL names it."""
        return f'"{name}"' if self.kind == "sqlite" else qualified(str(self._schema), name)

    def rows(self, statement: str, params: tuple[object, ...] = ()) -> list[Any]:
        """Run a statement written with ``?`` placeholders and fetch every row."""
        rows: list[Any]
        if self.kind == "sqlite":
            rows = self._connection.execute(statement, params).fetchall()
        else:
            statement = statement.replace("?", "%s")
            rows = self._connection.execute(statement, params, prepare=True).fetchall()
        return rows

    def queue(self, columns: str, where: str, params: tuple[object, ...] = ()) -> list[Any]:
        """The first page of a queue through the index, as the brief's baseline."""
        return self.rows(
            f"SELECT {columns} FROM {self._queue} WHERE {where} {_ORDER} LIMIT {_PAGE}",
            params,
        )

    def desk_queue_sql(self, columns: str, where: str, params: tuple[object, ...] = ()) -> None:
        """What ``desk.queue`` sends for the open queue: the page, then its total."""
        from servflow.domain.request import OPEN_STATUSES  # noqa: PLC0415

        self.rows(
            f"SELECT {columns} FROM {self._queue} WHERE {where} "
            f"{_ORDER}, ticket_code LIMIT ? OFFSET ?",
            (*params, _PAGE + 1, 0),
        )
        statuses = sorted(str(s) for s in OPEN_STATUSES)
        self.rows(
            f"SELECT COALESCE(SUM(n), 0) AS n FROM {self.table('sf_queue_counts')} "
            f"WHERE status IN ({', '.join('?' * len(statuses))})",
            tuple(statuses),
        )

    def events(self, request_id: Any) -> list[Any]:  # noqa: ANN401 - a UUID
        """Every stored event of one request, in order."""
        key = request_id.hex if self.kind == "sqlite" else request_id
        return self.rows(
            f"SELECT originator_id, originator_version, topic, state FROM {self._events} "
            "WHERE originator_id = ? ORDER BY originator_version",
            (key,),
        )

    def events_of(self, request_ids: list[Any]) -> int:
        """Every stored event of these requests, 500 requests per query (as ``kpis`` reads)."""
        found = 0
        for start in range(0, len(request_ids), _KPI_BATCH):
            chunk = request_ids[start : start + _KPI_BATCH]
            keys = tuple(i.hex if self.kind == "sqlite" else i for i in chunk)
            found += len(
                self.rows(
                    "SELECT originator_id, originator_version, topic, state "
                    f"FROM {self._events} WHERE originator_id IN ({', '.join('?' * len(keys))}) "
                    "ORDER BY originator_id, originator_version",
                    keys,
                )
            )
        return found

    def audit_page(self, actor: str) -> list[Any]:
        """A first page of one actor's events in the audit view, through its index."""
        return self.rows(
            f"SELECT {_audit_columns()} FROM {self.table('sf_audit')} "
            f"WHERE position > ? AND actor = ? ORDER BY position LIMIT {_AUDIT_PAGE + 1}",
            (0, actor),
        )

    def open_rows(self) -> int:
        """How many rows of the queue table are open."""
        rows = self.rows(f"SELECT COUNT(*) FROM {self._queue} WHERE is_open = 1")
        return int(rows[0][0])

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def _queue_columns() -> str:
    from servflow.projections.queues import QueueProjection  # noqa: PLC0415

    return ", ".join(QueueProjection.columns)


def _audit_columns() -> str:
    from servflow.projections.audit import AuditRow  # noqa: PLC0415

    return ", ".join(AuditRow.model_fields)  # the audit table's columns, in its order


def measure_queries(run: Run, kind: StoreKind, requests: int) -> dict[str, dict[str, float]]:
    """Latencies of every desk query on the data set with ``requests`` open requests (memo)."""
    memo: dict[tuple[str, int], dict[str, dict[str, float]]] = run.memo.setdefault("queries", {})
    if (kind, requests) in memo:
        return memo[(kind, requests)]
    path: Path | None = None
    schema: str | None = None
    if kind == "sqlite":
        path = working_copy(run, query_cache(run, requests), f"queries-{requests}")
    else:
        schema = _postgres_queries(run, requests)
    samples = run.sizes.query_samples
    columns = _queue_columns()
    long_id = request_id_for(LONG_CODE)
    as_of = long_as_of()
    at = T0 + timedelta(days=365)
    the_team = team(3)
    kpi_since = T0 + timedelta(seconds=_KPI_FIRST)
    kpi_until = kpi_since + timedelta(seconds=_KPI_REQUESTS)
    kpi_ids = [request_id_for(f"SR-{n:06d}") for n in range(_KPI_FIRST, _KPI_FIRST + _KPI_REQUESTS)]
    results: dict[str, dict[str, float]] = {}
    with open_desk(kind, path=path, schema=schema, projections="external") as desk:
        raw = _Raw(kind, path=path, schema=schema, events=events_table(desk))
        desk.catch_up()  # a no-op unless a projection changed version since the set was cached
        _quiet(run)
        open_rows = raw.open_rows()
        if open_rows != requests + 1 or len(desk.history(long_id)) != LONG_EVENTS:
            msg = (
                f"data set not as built: {open_rows} open rows for {requests} requests, "
                f"or the long request has not {LONG_EVENTS} events"
            )
            raise RuntimeError(msg)
        timings = [
            _time(
                "queue() first page",
                lambda: desk.queue(at=at),
                lambda: raw.queue(columns, "is_open = 1"),
                samples,
            ),
            _time(
                f"queue(team={the_team!r})",
                lambda: desk.queue(team=the_team, at=at),
                lambda: raw.queue(columns, "team = ? AND is_open = 1", (the_team,)),
                samples,
            ),
            _time(
                f"history(), {LONG_EVENTS} events",
                lambda: desk.history(long_id),
                lambda: raw.events(long_id),
                samples,
            ),
            _time(
                f"get(as_of=), {LONG_EVENTS} events",
                lambda: desk.get(long_id, as_of=as_of),
                lambda: raw.events(long_id),
                samples,
            ),
            _time(
                f"audit_log(actor=..., limit={_AUDIT_PAGE})",
                lambda: desk.audit_log(actor="agent:ana", limit=_AUDIT_PAGE),
                lambda: raw.audit_page("agent:ana"),
                samples,
            ),
            _time(
                f"kpis(), {_KPI_REQUESTS} requests in the period",
                lambda: desk.kpis(since=kpi_since, until=kpi_until, at=at),
                lambda: raw.events_of(kpi_ids),
                min(samples, _KPI_SAMPLES),
            ),
            _time(
                "queue() SQL alone (page + total)",
                lambda: raw.desk_queue_sql(columns, "is_open = 1"),
                lambda: raw.queue(columns, "is_open = 1"),
                samples,
            ),
        ]
        if "count" in inspect.signature(desk.queue).parameters:
            timings.insert(
                1,
                _time(
                    "queue(count=False) first page",
                    lambda: desk.queue(at=at, count=False),  # type: ignore[call-arg, unused-ignore]
                    lambda: raw.queue(columns, "is_open = 1"),
                    samples,
                ),
            )
        if callable(getattr(desk, "breaches", None)):
            timings.append(_breaches(desk, raw, at, samples))
    raw.close()
    for timing in timings:
        results[timing.name] = timing.summary()
    results["_open_rows"] = {"n": float(open_rows)}
    memo[(kind, requests)] = results
    run.memo.setdefault("query_timings", {})[(kind, requests)] = {t.name: t for t in timings}
    run.extras.setdefault("queries", {}).setdefault(kind, {})[str(requests)] = results
    print(f"  {kind}, {requests:,} open requests ({open_rows:,} open rows in sf_queue):")
    for timing in timings:
        s = timing.summary()
        print(
            f"    {timing.name:<34} desk p50 {s['desk_median_ms']:8.2f} p99 "
            f"{s['desk_p99_ms']:8.2f} ms | raw p50 {s['raw_median_ms']:7.3f} "
            f"p99 {s['raw_p99_ms']:7.3f} ms"
        )
    return results


def _breaches(desk: Any, raw: _Raw, at: datetime, samples: int) -> Timing:  # noqa: ANN401
    """``desk.breaches(at=, limit=50)`` against the same two indexed SELECTs on ``sf_sla``."""
    from servflow.persistence.sql import micros  # noqa: PLC0415

    when = micros(at.replace(microsecond=0))
    table = raw.table("sf_sla")
    columns = "request_id, ticket_code, team, agent, priority, policy_name, policy_version, paused"

    def raw_breaches() -> None:
        for clock in ("first_response", "resolution"):
            raw.rows(
                f"SELECT {columns}, {clock}_due AS due, {clock}_warn_from AS warn_from "
                f"FROM {table} WHERE {clock}_done IS NULL AND {clock}_due < ? "
                f"ORDER BY {clock}_due, ticket_code LIMIT {_PAGE}",
                (when,),
            )

    try:
        raw_breaches()
    except Exception:  # noqa: BLE001 - the SLA tables are not ours; time the desk alone then
        return _time(
            f"breaches(limit={_PAGE})", lambda: desk.breaches(at=at, limit=_PAGE), None, samples
        )
    return _time(
        f"breaches(limit={_PAGE})", lambda: desk.breaches(at=at, limit=_PAGE), raw_breaches, samples
    )


def _quiet(run: Run) -> None:
    """Let the disk settle before timing: PostgreSQL writes back what earlier benchmarks left.

    A 1M-event rebuild leaves gigabytes of dirty buffers; their checkpoint, landing in the
    middle of the samples, stalls the reads it overlaps (a stall that ends up in the p99 of
    whichever call it hits). Both the desk and its baseline are timed after it.
    """
    if run.postgres:
        with pg_connect() as connection:
            connection.execute("CHECKPOINT")
    os.sync()


def bench_queries(run: Run) -> None:
    """Query latency with ``query_requests`` open requests, on SQLite and PostgreSQL."""
    requests = run.sizes.query_requests
    kinds: list[StoreKind] = ["sqlite", "postgres"]
    for kind in kinds:
        if kind == "postgres" and not run.postgres:
            run.add(SECTION, "queries", kind, None, "ms", note="no PostgreSQL", workload=REALISTIC)
            continue
        results = measure_queries(run, kind, requests)
        timings: dict[str, Timing] = run.memo["query_timings"][(kind, requests)]
        for name, summary in results.items():
            if name.startswith("_"):
                continue
            # No goal: the page's SQL alone (what the desk adds is the rest), and KPIs, a
            # report that folds and measures every request of its period, against reading
            # their rows.
            diagnostic = name.startswith(("queue() SQL alone", "kpis("))
            against = (
                "raw SELECT of the period's events"
                if name.startswith("kpis(")
                else "raw indexed SELECT"
            )
            for q, label, goal in (("50", "median", GOAL_P50), ("99", "p99", GOAL_P99)):
                value = summary[f"desk_{label}_ms"]
                baseline = summary[f"raw_{label}_ms"] or None
                run.add(
                    SECTION,
                    f"{name}, p{q}",
                    kind,
                    value,
                    "ms",
                    baseline=f"{against}, p{q}",
                    baseline_value=baseline,
                    goal=None if diagnostic else goal,
                    note=f"{requests:,} open requests; {len(timings[name].desk_ms)} samples each",
                    workload=REALISTIC,
                    spread=timings[name].spread(float(q)),
                    ratio=value / baseline if baseline else None,
                )
    if not any(f.name.startswith("breaches") for f in run.figures):
        print("  breaches(): n/a (this desk has no breaches())")
        run.add(
            SECTION,
            "breaches()",
            "any",
            None,
            "ms",
            note="n/a: desk.breaches() not present",
            workload=REALISTIC,
        )
