"""2. Rebuild: replay a large log into every projection, against reading the log alone.

Each measurement runs in a fresh process (``spawn``) that reports its own peak RSS, so the
memory figures are the rebuild's and nothing else's:

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
    Goal,
    Run,
    StoreKind,
    current_rss_mb,
    open_desk,
    peak_rss_mb,
    pg_connect,
    qualified,
    store_of,
)
from benchmarks.logs import lifecycle_log, postgres_lifecycle_log

SECTION = "2 rebuild"
GOAL_RATE = Goal(">=", 0.33)
GOAL_MEMORY = Goal("<=", 1.5)
_PAGE = 1000
#: servflow's events table on PostgreSQL (the library names it after the application).
POSTGRES_EVENTS_TABLE = "servflow_events"


def _open(spec: dict[str, Any]) -> Any:  # noqa: ANN401 - a desk
    path = Path(spec["path"]) if spec.get("path") else None
    return open_desk(spec["kind"], path=path, schema=spec.get("schema"), projections="external")


def _rebuild(spec: dict[str, Any]) -> dict[str, Any]:
    with _open(spec) as desk:
        before = current_rss_mb()
        started = time.perf_counter()
        events = desk.rebuild_projections()
        elapsed = time.perf_counter() - started
    return {"events": events, "seconds": elapsed, "rss_before_mb": before}


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
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def in_child(spec: dict[str, Any]) -> dict[str, Any]:
    """``child(spec)`` in a new process of its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(child, spec).result()


def measure(run: Run, kind: StoreKind, events: int, mode: str) -> dict[str, Any]:
    """One rebuild/read/raw measurement of the log of ``events`` events (memoized)."""
    memo: dict[tuple[str, int, str], dict[str, Any]] = run.memo.setdefault("rebuild", {})
    key = (kind, events, mode)
    if key not in memo:
        if kind == "sqlite":
            spec = {"kind": kind, "path": str(lifecycle_log(run, events)), "mode": mode}
        else:
            spec = {
                "kind": kind,
                "schema": postgres_lifecycle_log(run, events),
                "events_table": run.memo.get("pg_events_table", POSTGRES_EVENTS_TABLE),
                "mode": mode,
            }
        result = in_child(spec)
        memo[key] = result
        run.extras.setdefault("rebuild_runs", []).append(
            {"store": kind, "log_events": events, "mode": mode, **result}
        )
        print(
            f"  {kind} {mode:<7} {result['events']:>9,} events: {result['rate']:>9,.0f} ev/s, "
            f"{result['seconds']:6.1f}s, peak RSS {result['peak_rss_mb']:.0f} MiB"
        )
    return memo[key]


def bench_rebuild(run: Run) -> None:
    """Rebuild rate and peak memory on SQLite and PostgreSQL."""
    sizes = run.sizes
    kinds: list[StoreKind] = ["sqlite", "postgres"]
    for kind in kinds:
        if kind == "postgres" and not run.postgres:
            run.add(SECTION, "rebuild rate", kind, None, "ev/s", note="no PostgreSQL")
            continue
        for events in sizes.rebuild_events:
            if events in (sizes.rebuild_reference, sizes.rebuild_main):
                measure(run, kind, events, "read")
            measure(run, kind, events, "rebuild")
            if events == sizes.rebuild_main:
                measure(run, kind, events, "raw")
        main = sizes.rebuild_main
        rebuild = measure(run, kind, main, "rebuild")
        read = measure(run, kind, main, "read")
        raw = measure(run, kind, main, "raw")
        label = f"{rebuild['events']:,} events"
        run.add(
            SECTION,
            f"rebuild all projections, {label}",
            kind,
            rebuild["rate"],
            "ev/s",
            baseline="read + deserialise",
            baseline_value=read["rate"],
            goal=GOAL_RATE,
            note=f"{rebuild['seconds']:.1f}s",
        )
        run.add(
            SECTION,
            f"read + deserialise, {label}",
            kind,
            read["rate"],
            "ev/s",
            baseline="raw SELECT",
            baseline_value=raw["rate"],
        )
        run.add(
            SECTION,
            f"rebuild vs raw SELECT, {label}",
            kind,
            rebuild["rate"],
            "ev/s",
            baseline="raw SELECT",
            baseline_value=raw["rate"],
        )
        reference = measure(run, kind, sizes.rebuild_reference, "rebuild")
        run.add(
            SECTION,
            f"rebuild peak RSS, {label}",
            kind,
            rebuild["peak_rss_mb"],
            "MiB",
            baseline=f"same at {reference['events']:,} events",
            baseline_value=reference["peak_rss_mb"],
            goal=GOAL_MEMORY,
            note=f"RSS before rebuild {rebuild['rss_before_mb']:.0f} MiB",
        )
        read_reference = measure(run, kind, sizes.rebuild_reference, "read")
        run.add(
            SECTION,
            f"read + deserialise peak RSS, {label}",
            kind,
            read["peak_rss_mb"],
            "MiB",
            baseline=f"same at {read_reference['events']:,} events",
            baseline_value=read_reference["peak_rss_mb"],
        )
