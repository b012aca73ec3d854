"""4. Growth: cost per event of writes and rebuilds, and query latency, as the store grows.

- Writes: the same number of lifecycles, one command at a time with inline projections, on
  SQLite logs that already hold each size of log (the rebuild benchmark's logs, projected);
  the sizes take turns in rounds. Goal: flat (cost at the largest size within 1.5x the
  smallest).
- Rebuild: the rebuild benchmark's figures at each log size, per event.
- Queries: median latency of each desk query at each number of requests (SQLite). Goal: no
  faster than log n, i.e. latency ratio <= ln(n) / ln(n0).
"""

from __future__ import annotations

import math
import time

from benchmarks.common import (
    Goal,
    Run,
    Spread,
    StoreKind,
    growth_exponent,
    median,
    open_desk,
    ratio_of,
)
from benchmarks.logs import lifecycle_log
from benchmarks.queries import measure_queries
from benchmarks.rebuild import measure
from benchmarks.workload import LIFECYCLE_EVENTS, run_lifecycle

SECTION = "4 growth"
GOAL_FLAT = Goal("<=", 1.5)


def _label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def _write_costs(run: Run) -> dict[int, list[float]]:
    """Microseconds per event of inline-projection lifecycles on each log size (SQLite)."""
    sizes = run.sizes.rebuild_events
    for events in sizes:
        measure(run, "sqlite", events, "rebuild")  # the views must exist before inline writes
    desks = {
        events: open_desk("sqlite", path=lifecycle_log(run, events), projections="inline")
        for events in sizes
    }
    costs: dict[int, list[float]] = {events: [] for events in sizes}
    per_round = run.sizes.growth_write_lifecycles
    try:
        for events, desk in desks.items():  # warm-up
            run_lifecycle(desk, events)
        for round_number in range(run.sizes.growth_write_rounds):
            order = list(sizes) if round_number % 2 == 0 else list(reversed(sizes))
            for events in order:
                started = time.perf_counter()
                for index in range(per_round):
                    run_lifecycle(desks[events], index)
                elapsed = time.perf_counter() - started
                costs[events].append(elapsed / (per_round * LIFECYCLE_EVENTS) * 1e6)
    finally:
        for desk in desks.values():
            desk.close()
    run.extras["growth_write_us_per_event"] = {str(k): v for k, v in costs.items()}
    return costs


def _add_series(
    run: Run,
    name: str,
    store: str,
    unit: str,
    values: dict[int, float],
    goal_of: str,
    rounds: dict[int, list[float]] | None = None,
) -> None:
    """One figure per size against the smallest; ``rounds``: per-round values, for a spread."""
    sizes = sorted(values)
    smallest = sizes[0]
    for n in sizes:
        goal: Goal | None = None
        if goal_of == "flat":
            goal = GOAL_FLAT
        elif goal_of == "log":
            goal = Goal("<=", round(math.log(n) / math.log(smallest), 2))
        note = ""
        if n != smallest:
            k = growth_exponent(values[smallest], values[n], smallest, n)
            note = f"cost ~ n^{k:.2f}"
        run.add(
            SECTION,
            f"{name} @ {_label(n)}",
            store,
            values[n],
            unit,
            baseline=f"same @ {_label(smallest)}",
            baseline_value=values[smallest],
            goal=goal if n != smallest else None,
            note=note,
            ratio=ratio_of(values[n], values[smallest]),
            spread=(
                Spread.of(
                    [a / b for a, b in zip(rounds[n], rounds[smallest], strict=True)], "round"
                )
                if rounds is not None and n != smallest
                else None
            ),
        )


def bench_growth(run: Run) -> None:
    """Write, rebuild and query cost at growing sizes."""
    rounds = _write_costs(run)
    writes = {events: median(values) for events, values in rounds.items()}
    _add_series(run, "write cost/event, inline", "sqlite", "us/ev", writes, "flat", rounds)
    print("  write us/event: " + ", ".join(f"{_label(k)} {v:.0f}" for k, v in writes.items()))
    kinds: list[StoreKind] = ["sqlite", "postgres"] if run.postgres else ["sqlite"]
    for kind in kinds:
        rebuilds = {
            events: 1e6 / measure(run, kind, events, "rebuild")["rate"]
            for events in run.sizes.rebuild_events
        }
        _add_series(run, "rebuild cost/event", kind, "us/ev", rebuilds, "flat")
    latencies: dict[str, dict[int, float]] = {}
    for requests in run.sizes.growth_requests:
        for name, summary in measure_queries(run, "sqlite", requests).items():
            if name.startswith("_"):
                continue
            latencies.setdefault(name, {})[requests] = summary["desk_median_ms"]
            latencies.setdefault(f"raw baseline of {name}", {})[requests] = summary["raw_median_ms"]
    for name, values in latencies.items():
        if name.startswith("raw baseline of queue() SQL alone"):
            continue
        baseline = name.startswith(("raw baseline", "queue() SQL alone"))
        _add_series(run, f"{name}, p50", "sqlite", "ms", values, "info" if baseline else "log")
