"""1. Writes: whole lifecycles, one command at a time, against the bare library and raw inserts.

Every variant writes to a fresh store of its own kind (a new SQLite file, a new PostgreSQL
schema, or memory). The variants take turns in many short rounds (about a second each), in a
rotating order, so that a noisy neighbour hurts them alike: commit latency on a shared disk
swings several-fold within seconds. A figure is the median of the per-round rates; a ratio is
the median of the per-round ratios.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks.baselines import (
    BareApp,
    RawPostgres,
    RawSQLite,
    Sample,
    bare_app,
    bare_lifecycle,
    calibrate,
)
from benchmarks.common import Goal, Run, StoreKind, median, open_desk
from benchmarks.workload import LIFECYCLE_EVENTS, adopt_standard_policy, run_lifecycle

SECTION = "1 writes"
GOAL_OFF = Goal(">=", 0.8)
GOAL_ON = Goal(">=", 0.5)


def _variants(
    run: Run, kind: StoreKind, sample: Sample
) -> tuple[dict[str, Any], dict[str, Callable[[], object]], list[Any]]:
    """Writers for each variant on fresh stores (name -> callable(index)), what settles them."""
    closers: list[Any] = []
    variants: dict[str, Callable[[int], None]] = {}
    #: What each variant must have done before a round's clock stops (see ``_measure``).
    settle: dict[str, Callable[[], object]] = {}
    for mode in ("external", "inline"):
        name = "servflow off" if mode == "external" else "servflow on"
        desk = open_desk(
            kind,
            path=run.path(f"writes-{mode}.db"),
            schema=run.schema(f"w_{mode}") if kind == "postgres" else None,
            projections="inline" if mode == "inline" else "external",
        )
        closers.append(desk)
        run.extras["writes_sla_policy"] = adopt_standard_policy(desk)
        variants[name] = functools.partial(run_lifecycle, desk)
        # An in-memory desk applies its views in batches before they are next read: a read
        # at the end of the round makes it finish the work its round caused.
        settle[name] = desk.projection_status
    app: BareApp = bare_app(
        kind,
        path=run.path("writes-bare.db"),
        schema=run.schema("w_bare") if kind == "postgres" else None,
    )
    closers.append(app)
    now = datetime.now(UTC)
    variants["bare eventsourcing"] = lambda index: bare_lifecycle(app, index, sample.pads, now)
    if kind == "sqlite":
        raw_sqlite = RawSQLite(run.path("writes-raw.db"), sample)
        closers.append(raw_sqlite)
        variants["raw driver"] = lambda _index: raw_sqlite.lifecycle()
    elif kind == "postgres":
        raw_pg = RawPostgres(run.schema("w_raw"), sample)
        closers.append(raw_pg)
        variants["raw driver"] = lambda _index: raw_pg.lifecycle()
    return variants, settle, closers


def _measure(run: Run, kind: StoreKind, sample: Sample) -> dict[str, list[float]]:
    """Lifecycles per second of each variant, per round."""
    per_round = run.sizes.memory_lifecycles if kind == "memory" else run.sizes.write_lifecycles
    variants, settle, closers = _variants(run, kind, sample)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    try:
        for name in names:  # warm-up: connections, prepared statements, imports
            variants[name](1)
        for round_number in range(run.sizes.write_rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                first = 2 + round_number * per_round
                started = time.perf_counter()
                for index in range(first, first + per_round):
                    variants[name](index)
                if name in settle:
                    settle[name]()
                rates[name].append(per_round / (time.perf_counter() - started))
    finally:
        for closer in closers:
            closer.close()
    return rates


def bench_writes(run: Run) -> None:
    """Lifecycle writes on memory, SQLite and PostgreSQL, inline projections off and on."""
    sample = calibrate()
    run.extras["writes_payload_bytes"] = {
        "servflow": list(sample.sizes),
        "bare": list(sample.bare_sizes),
        "raw": list(sample.sizes),
    }
    print(
        f"  payload bytes per event (servflow / bare): {list(sample.sizes)} / "
        f"{list(sample.bare_sizes)}"
    )
    kinds: list[StoreKind] = ["memory", "sqlite", "postgres"]
    for kind in kinds:
        if kind == "postgres" and not run.postgres:
            for name in ("servflow off", "servflow on"):
                run.add(SECTION, f"lifecycles, {name}", kind, None, "req/s", note="no PostgreSQL")
            continue
        rates = _measure(run, kind, sample)
        run.extras.setdefault("writes_rates", {})[kind] = rates
        bare = rates["bare eventsourcing"]
        per_round = run.sizes.memory_lifecycles if kind == "memory" else run.sizes.write_lifecycles
        count = per_round * run.sizes.write_rounds
        for name, goal in (("servflow off", GOAL_OFF), ("servflow on", GOAL_ON)):
            value = median(rates[name])
            ratios = [a / b for a, b in zip(rates[name], bare, strict=True)]
            run.add(
                SECTION,
                f"lifecycles, {name.replace('servflow ', 'projections ')}",
                kind,
                value,
                "req/s",
                baseline="bare eventsourcing",
                baseline_value=median(bare),
                ratio=median(ratios),
                goal=goal,
                note=f"{value * LIFECYCLE_EVENTS:,.0f} ev/s; {count} lifecycles",
            )
        if "raw driver" in rates:
            raw = rates["raw driver"]
            for name in ("bare eventsourcing", "servflow off"):
                ratios = [a / b for a, b in zip(rates[name], raw, strict=True)]
                run.add(
                    SECTION,
                    f"lifecycles, {name}",
                    kind,
                    median(rates[name]),
                    "req/s",
                    baseline="raw driver, 1 tx/event",
                    baseline_value=median(raw),
                    ratio=median(ratios),
                    note=f"raw = {median(raw) * LIFECYCLE_EVENTS:,.0f} rows/s",
                )
        print(
            f"  {kind}: "
            + ", ".join(f"{name} {median(values):,.1f} req/s" for name, values in rates.items())
        )
