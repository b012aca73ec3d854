"""2. Rebuild: replay a large log into every projection, against reading the log alone.

Two logs of the same lifecycles: **time-ordered** (realistic: each request spread over about
``rebuild_span`` events, as a desk with many requests in flight writes them) and **grouped**
(best case: each lifecycle's seven events together, the logs of earlier runs). On the headline
log the rebuild and the read + decode are timed alternately in ``rebuild_pairs`` pairs (which
runs first swaps every pair); the ratio is the median of the per-pair ratios, its spread their
lowest and highest.

Each measurement runs in a fresh process (``spawn``) that reports its own peak RSS, so the
memory figures are the rebuild's and nothing else's (in quick mode only the raw reads do):

- ``rebuild``: ``desk.rebuild_projections()`` on a desk with ``projections="external"``;
- ``read``: the same log through ``recorder.select_notifications(limit=1000)`` and
  ``mapper.to_domain_event`` (the application's own mapper), nothing else;
- ``raw``: plain ``SELECT`` of the stored rows with the driver, 1000 rows per query.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.common import (
    BEST_CASE,
    REALISTIC,
    ChildPeaks,
    Goal,
    Run,
    Spread,
    StoreKind,
    Workload,
    current_rss_mb,
    median,
    open_desk,
    pair_order,
    paired_ratios,
    peak_rss_mb,
    pg_connect,
    qualified,
    store_of,
)
from benchmarks.logs import lifecycle_log, mean_span, postgres_lifecycle_log

SECTION = "2 rebuild"
#: Rebuild rate against read + decode of the same log (issue 21: lower on SQLite, whose
#: single writer the projections share).
GOAL_RATE: dict[str, Goal] = {"sqlite": Goal(">=", 0.25), "postgres": Goal(">=", 0.33)}
GOAL_MEMORY = Goal("<=", 1.5)
_PAGE = 1000
#: servflow's events table on PostgreSQL (the library names it after the application).
POSTGRES_EVENTS_TABLE = "servflow_events"


def _open(spec: dict[str, Any]) -> Any:  # noqa: ANN401 - a desk
    path = Path(spec["path"]) if spec.get("path") else None
    return open_desk(spec["kind"], path=path, schema=spec.get("schema"), projections="external")


def _rebuild(spec: dict[str, Any]) -> dict[str, Any]:
    workers = spec.get("workers", 1)
    with _open(spec) as desk, ChildPeaks() as children:
        before = current_rss_mb()
        started = time.perf_counter()
        events = desk.rebuild_projections(workers=workers)
        elapsed = time.perf_counter() - started
    # With several processes, the largest of theirs (each holds the rows of its projections).
    return {
        "events": events,
        "seconds": elapsed,
        "rss_before_mb": before,
        "workers": workers,
        "children_peak_rss_mb": children.peak_mb,
    }


def _read(spec: dict[str, Any]) -> dict[str, Any]:
    with _open(spec) as desk:
        store = store_of(desk)
        recorder = store.recorder
        to_event = store.mapper.to_domain_event
        before = current_rss_mb()
        started = time.perf_counter()
        position = 0
        events = 0
        while notifications := recorder.select_notifications(
            start=position, limit=_PAGE, inclusive_of_start=False
        ):
            for notification in notifications:
                to_event(notification)
            events += len(notifications)
            position = notifications[-1].id
        elapsed = time.perf_counter() - started
    return {"events": events, "seconds": elapsed, "rss_before_mb": before}


def _raw(spec: dict[str, Any]) -> dict[str, Any]:
    before = current_rss_mb()
    events = 0
    size = 0
    if spec["kind"] == "sqlite":
        connection = sqlite3.connect(spec["path"])
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        started = time.perf_counter()
        position = 0
        while rows := connection.execute(statement, (position, _PAGE)).fetchall():
            events += len(rows)
            size += sum(len(row[4]) for row in rows)
            position = rows[-1][0]
        elapsed = time.perf_counter() - started
        connection.close()
    else:
        table = qualified(spec["schema"], spec["events_table"])
        statement = (
            f"SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {table} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        )
        with pg_connect() as connection:
            started = time.perf_counter()
            position = 0
            while rows := connection.execute(statement, (position, _PAGE), prepare=True).fetchall():
                events += len(rows)
                size += sum(len(row[4]) for row in rows)
                position = rows[-1][0]
            elapsed = time.perf_counter() - started
    return {"events": events, "seconds": elapsed, "rss_before_mb": before, "bytes": size}


_MODES = {"rebuild": _rebuild, "read": _read, "raw": _raw}


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement (in a fresh process) and add its rate and peak RSS."""
    result = _MODES[spec["mode"]](spec)
    result["rate"] = result["events"] / result["seconds"] if result["seconds"] else 0.0
    result["peak_rss_mb"] = max(peak_rss_mb(), result.get("children_peak_rss_mb", 0.0))
    return result


def in_child(spec: dict[str, Any]) -> dict[str, Any]:
    """``child(spec)`` in a new process of its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(child, spec).result()


def _spec(run: Run, kind: StoreKind, events: int, span: int | None) -> dict[str, Any]:
    if kind == "sqlite":
        return {"kind": kind, "path": str(lifecycle_log(run, events, span))}
    return {
        "kind": kind,
        "schema": postgres_lifecycle_log(run, events, span),
        "events_table": run.memo.get("pg_events_table", POSTGRES_EVENTS_TABLE),
    }


def _measured(
    run: Run, kind: StoreKind, events: int, mode: str, span: int | None
) -> dict[str, Any]:
    spec = {**_spec(run, kind, events, span), "mode": mode, "workers": run.sizes.rebuild_workers}
    # Quick mode (CI) checks that everything runs: a process per measurement would be most of
    # its time, so only the raw reads run in their own (which checks that path); the others'
    # peak RSS is then the runner's.
    result = child(spec) if run.quick and mode != "raw" else in_child(spec)
    run.extras.setdefault("rebuild_runs", []).append(
        {"store": kind, "log_events": events, "span": span, "mode": mode, **result}
    )
    order = "grouped" if span is None else f"span {span:,}"
    print(
        f"  {kind} {mode:<7} {result['events']:>9,} events ({order}): "
        f"{result['rate']:>9,.0f} ev/s, {result['seconds']:6.1f}s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MiB"
        + (f", {result['workers']} processes" if result.get("workers", 1) > 1 else "")
    )
    return result


def measure(
    run: Run, kind: StoreKind, events: int, mode: str, span: int | None = None
) -> dict[str, Any]:
    """One rebuild/read/raw measurement of a log of ``events`` events (memoized).

    ``span`` None: the grouped log; else the time-ordered log with that span. The first pair
    of ``measure_pairs`` counts as the measurement when it ran first.
    """
    memo: dict[tuple[str, int, str, int | None], dict[str, Any]] = run.memo.setdefault(
        "rebuild", {}
    )
    key = (kind, events, mode, span)
    if key not in memo:
        memo[key] = _measured(run, kind, events, mode, span)
    return memo[key]


def measure_pairs(
    run: Run, kind: StoreKind, events: int, span: int | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(rebuild, read + decode)`` of the log, timed alternately in ``rebuild_pairs`` pairs."""
    memo: dict[tuple[str, int, int | None], list[tuple[dict[str, Any], dict[str, Any]]]] = (
        run.memo.setdefault("rebuild_pairs", {})
    )
    key = (kind, events, span)
    if key not in memo:
        pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for index in range(run.sizes.rebuild_pairs):
            results = {
                mode: _measured(run, kind, events, mode, span)
                for mode in pair_order(index, "rebuild", "read")
            }
            pairs.append((results["rebuild"], results["read"]))
        single: dict[tuple[str, int, str, int | None], dict[str, Any]] = run.memo.setdefault(
            "rebuild", {}
        )
        single.setdefault((kind, events, "rebuild", span), pairs[0][0])
        single.setdefault((kind, events, "read", span), pairs[0][1])
        memo[key] = pairs
    return memo[key]


def _processes(run: Run) -> str:
    workers = run.sizes.rebuild_workers
    return f"{workers} processes (rebuild_projections(workers={workers})); " if workers > 1 else ""


def _range(values: list[float], unit: str) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f} {unit}"


def _add_log(run: Run, kind: StoreKind, workload: Workload) -> None:
    """The rows of one log (time-ordered for the realistic workload, grouped for the best)."""
    sizes = run.sizes
    main = sizes.rebuild_main
    span = sizes.rebuild_span if workload == REALISTIC else None
    pairs = measure_pairs(run, kind, main, span)
    rebuilds = [rebuild for rebuild, _ in pairs]
    reads = [read for _, read in pairs]
    count = rebuilds[0]["events"]
    if span is None:
        label = f"{count:,} events, grouped by request"
        how = ""
    else:
        label = f"{count:,} events in time order"
        how = f"a request spans {mean_span(run, main, span):,.0f} events on average; "
    rates = [r["rate"] for r in rebuilds]
    read_rates = [r["rate"] for r in reads]
    run.add(
        SECTION,
        f"rebuild all projections, {label}",
        kind,
        median(rates),
        "ev/s",
        baseline="read + deserialise, paired",
        baseline_value=median(read_rates),
        goal=GOAL_RATE[kind],
        note=(
            f"{how}{_processes(run)}rebuild {_range(rates, 'ev/s')}, "
            f"read {_range(read_rates, 'ev/s')}; "
            f"{median([r['seconds'] for r in rebuilds]):.1f}s"
        ),
        workload=workload,
        spread=Spread.of(paired_ratios(list(zip(rates, read_rates, strict=True))), "pair"),
    )
    reference = measure(run, kind, sizes.rebuild_reference, "rebuild", span)
    peaks = [r["peak_rss_mb"] for r in rebuilds]
    run.add(
        SECTION,
        f"rebuild peak RSS, {label}",
        kind,
        median(peaks),
        "MiB",
        baseline=f"same at {reference['events']:,} events",
        baseline_value=reference["peak_rss_mb"],
        goal=GOAL_MEMORY,
        note=(
            f"peaks {_range(peaks, 'MiB')}; "
            f"RSS before rebuild {rebuilds[0]['rss_before_mb']:.0f} MiB"
        ),
        workload=workload,
        spread=Spread.of([peak / reference["peak_rss_mb"] for peak in peaks], "pair"),
    )
    if workload != BEST_CASE:
        return
    raw = measure(run, kind, main, "raw")
    run.add(
        SECTION,
        f"read + deserialise, {label}",
        kind,
        median(read_rates),
        "ev/s",
        baseline="raw SELECT",
        baseline_value=raw["rate"],
        workload=workload,
    )
    run.add(
        SECTION,
        f"rebuild vs raw SELECT, {label}",
        kind,
        median(rates),
        "ev/s",
        baseline="raw SELECT",
        baseline_value=raw["rate"],
        workload=workload,
    )
    read_reference = measure(run, kind, sizes.rebuild_reference, "read")
    run.add(
        SECTION,
        f"read + deserialise peak RSS, {label}",
        kind,
        median([r["peak_rss_mb"] for r in reads]),
        "MiB",
        baseline=f"same at {read_reference['events']:,} events",
        baseline_value=read_reference["peak_rss_mb"],
        workload=workload,
    )


def bench_rebuild(run: Run) -> None:
    """Rebuild rate against read + decode, and peak memory, on SQLite and PostgreSQL."""
    sizes = run.sizes
    kinds: list[StoreKind] = ["sqlite", "postgres"]
    workloads = [w for w in (REALISTIC, BEST_CASE) if run.measures(w)]
    for kind in kinds:
        if kind == "postgres" and not run.postgres:
            for workload in workloads:
                run.add(
                    SECTION,
                    "rebuild rate",
                    kind,
                    None,
                    "ev/s",
                    note="no PostgreSQL",
                    workload=workload,
                )
            continue
        for workload in workloads:
            if workload == BEST_CASE:
                # Every size once (the growth section's cost per event), the headline in pairs.
                for events in sizes.rebuild_events[:-1]:
                    measure(run, kind, events, "rebuild")
            _add_log(run, kind, workload)
