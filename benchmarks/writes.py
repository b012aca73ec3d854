"""1. Writes: lifecycles one command at a time, against the bare library and raw inserts.

Two workloads, each variant on a fresh store of its own kind (a new SQLite file, a new
PostgreSQL schema, or memory):

- **realistic**: ``in_flight`` requests (600 by default) in flight at once, as a desk works
  them: the requests take turns, one command each, so a request's next command comes after
  the ``in_flight - 1`` others' (``workload.InFlight``). Caches keyed by request (the desk keeps
  its last 256 requests) miss as they would in production. The bare baseline works the same
  requests in the same order.
- **best case** (the figures of earlier runs): one lifecycle at a time, from open to
  acceptance, so every command finds its request in whatever the desk keeps.

The variants take turns in many short rounds (about a second each), in a rotating order, so
that a noisy neighbour hurts them alike: commit latency on a shared disk swings several-fold
within seconds. A figure is the median of the per-round rates; a ratio is the median of the
per-round ratios, and its spread their lowest and highest.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from benchmarks.baselines import (
    BareApp,
    RawPostgres,
    RawSQLite,
    Sample,
    bare_app,
    bare_command,
    bare_lifecycle,
    calibrate,
)
from benchmarks.common import (
    BEST_CASE,
    REALISTIC,
    Goal,
    Run,
    Spread,
    StoreKind,
    Workload,
    median,
    open_desk,
)
from benchmarks.workload import (
    LIFECYCLE_EVENTS,
    InFlight,
    adopt_standard_policy,
    desk_command,
    run_lifecycle,
)

SECTION = "1 writes"
GOAL_OFF = Goal(">=", 0.8)
GOAL_ON = Goal(">=", 0.5)
#: A variant: called with a round's first index and how many lifecycles' worth to write.
Writer = Callable[[int, int], None]


def _desks(
    run: Run, kind: StoreKind, tag: str
) -> tuple[dict[str, Any], dict[str, Callable[[], object]]]:
    """A desk with projections off and one with inline projections, on fresh stores."""
    desks: dict[str, Any] = {}
    #: What each variant must have done before a round's clock stops (see ``_measure``).
    settle: dict[str, Callable[[], object]] = {}
    for mode in ("external", "inline"):
        name = "servflow off" if mode == "external" else "servflow on"
        desk = open_desk(
            kind,
            path=run.path(f"writes{tag}-{mode}.db"),
            schema=run.schema(f"w{tag}_{mode}") if kind == "postgres" else None,
            projections="inline" if mode == "inline" else "external",
        )
        desks[name] = desk
        run.extras["writes_sla_policy"] = adopt_standard_policy(desk)
        # An in-memory desk applies its views in batches before they are next read: a read
        # at the end of the round makes it finish the work its round caused.
        settle[name] = desk.projection_status
    return desks, settle


def _bare(run: Run, kind: StoreKind, tag: str) -> BareApp:
    return bare_app(
        kind,
        path=run.path(f"writes{tag}-bare.db"),
        schema=run.schema(f"w{tag}_bare") if kind == "postgres" else None,
    )


def _lifecycles(lifecycle: Callable[[int], None]) -> Writer:
    def write(first: int, count: int) -> None:
        for index in range(first, first + count):
            lifecycle(index)

    return write


def _best_case_variants(
    run: Run, kind: StoreKind, sample: Sample, closers: list[Any]
) -> tuple[dict[str, Writer], dict[str, Callable[[], object]]]:
    """Writers for each variant (one lifecycle at a time) and what settles them, warmed up."""
    desks, settle = _desks(run, kind, "")
    closers.extend(desks.values())
    variants: dict[str, Writer] = {
        name: _lifecycles(functools.partial(run_lifecycle, desk)) for name, desk in desks.items()
    }
    app = _bare(run, kind, "")
    closers.append(app)
    now = datetime.now(UTC)
    variants["bare eventsourcing"] = _lifecycles(
        lambda index: bare_lifecycle(app, index, sample.pads, now)
    )
    if kind == "sqlite":
        raw_sqlite = RawSQLite(run.path("writes-raw.db"), sample)
        closers.append(raw_sqlite)
        variants["raw driver"] = _lifecycles(lambda _index: raw_sqlite.lifecycle())
    elif kind == "postgres":
        raw_pg = RawPostgres(run.schema("w_raw"), sample)
        closers.append(raw_pg)
        variants["raw driver"] = _lifecycles(lambda _index: raw_pg.lifecycle())
    for write in variants.values():  # warm-up: connections, prepared statements, imports
        write(1, 1)
    return variants, settle


def _in_flight(flight: InFlight[UUID]) -> Writer:
    def write(_first: int, count: int) -> None:
        for _ in range(count * LIFECYCLE_EVENTS):
            flight.step()

    return write


def _realistic_variants(
    run: Run, kind: StoreKind, sample: Sample, closers: list[Any]
) -> tuple[dict[str, Writer], dict[str, Callable[[], object]]]:
    """Writers with ``in_flight`` requests each and what settles them, filled (untimed)."""
    size = run.sizes.in_flight
    desks, settle = _desks(run, kind, "r")
    closers.extend(desks.values())
    flights: dict[str, InFlight[UUID]] = {
        name: InFlight(size, functools.partial(desk_command, desk)) for name, desk in desks.items()
    }
    app = _bare(run, kind, "r")
    closers.append(app)
    stamp = datetime.now(UTC).isoformat()
    flights["bare eventsourcing"] = InFlight(
        size,
        lambda index, step, ref: bare_command(app, index, step, ref, sample.pads, stamp),
    )
    for name, flight in flights.items():  # the warm-up: open them all
        flight.fill()
        if name in settle:
            settle[name]()
        if flight.open_requests != size:
            msg = f"{name}: {flight.open_requests} requests open after the fill, not {size}"
            raise RuntimeError(msg)
    return {name: _in_flight(flight) for name, flight in flights.items()}, settle


def _measure(
    run: Run, kind: StoreKind, sample: Sample, workload: Workload
) -> dict[str, list[float]]:
    """Lifecycles per second of each variant, per round (realistic: commands / 7 per second)."""
    per_round = run.sizes.memory_lifecycles if kind == "memory" else run.sizes.write_lifecycles
    make = _realistic_variants if workload == REALISTIC else _best_case_variants
    closers: list[Any] = []
    try:
        variants, settle = make(run, kind, sample, closers)
        rates: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for round_number in range(run.sizes.write_rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                first = 2 + round_number * per_round
                started = time.perf_counter()
                variants[name](first, per_round)
                if name in settle:
                    settle[name]()
                rates[name].append(per_round / (time.perf_counter() - started))
    finally:
        for closer in closers:
            closer.close()
    return rates


def _label(run: Run, workload: Workload, name: str) -> str:
    what = name.replace("servflow ", "projections ")
    if workload == REALISTIC:
        return f"{run.sizes.in_flight} requests in flight, {what}"
    return f"lifecycles, {what}"


def _add(run: Run, kind: StoreKind, workload: Workload, rates: dict[str, list[float]]) -> None:
    bare = rates["bare eventsourcing"]
    per_round = run.sizes.memory_lifecycles if kind == "memory" else run.sizes.write_lifecycles
    count = per_round * run.sizes.write_rounds
    done = (
        f"{count * LIFECYCLE_EVENTS:,} commands" if workload == REALISTIC else f"{count} lifecycles"
    )
    for name, goal in (("servflow off", GOAL_OFF), ("servflow on", GOAL_ON)):
        value = median(rates[name])
        ratios = [a / b for a, b in zip(rates[name], bare, strict=True)]
        run.add(
            SECTION,
            _label(run, workload, name),
            kind,
            value,
            "req/s",
            baseline="bare eventsourcing",
            baseline_value=median(bare),
            goal=goal,
            note=f"{value * LIFECYCLE_EVENTS:,.0f} ev/s; {done}",
            workload=workload,
            spread=Spread.of(ratios, "round"),
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
                note=f"raw = {median(raw) * LIFECYCLE_EVENTS:,.0f} rows/s",
                workload=workload,
                spread=Spread.of(ratios, "round"),
            )


def bench_writes(run: Run) -> None:
    """Writes on memory, SQLite and PostgreSQL, projections off and inline, both workloads."""
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
    workloads = [w for w in (REALISTIC, BEST_CASE) if run.measures(w)]
    for kind in kinds:
        for workload in workloads:
            if kind == "postgres" and not run.postgres:
                for name in ("servflow off", "servflow on"):
                    run.add(
                        SECTION,
                        _label(run, workload, name),
                        kind,
                        None,
                        "req/s",
                        note="no PostgreSQL",
                        workload=workload,
                    )
                continue
            rates = _measure(run, kind, sample, workload)
            run.extras.setdefault("writes_rates", {}).setdefault(workload, {})[kind] = rates
            _add(run, kind, workload, rates)
            print(
                f"  {kind}, {workload}: "
                + ", ".join(f"{name} {median(values):,.1f} req/s" for name, values in rates.items())
            )
