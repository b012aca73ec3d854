"""7. Import: the BPI Challenge 2013 log through ``import_events``, against bare writes.

Each store (memory, an SQLite file, a PostgreSQL schema) imports the log (the whole of it, or
every n-th case at smaller sizes: ``Sizes.import_every``) with the shipped mapping
(``examples/import/bpi2013.toml``) into a fresh desk with inline views: the rows are written
case by case with the views deferred, then the views catch up. The figure is events per second
over the whole import, the catch-up included. The baseline is the bare ``eventsourcing``
application writing lifecycles one command at a time on a fresh store of the same kind, timed
just before and just after the import (the figure's spread is against each); goal 0.5x.
"""

from __future__ import annotations

import csv
import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.baselines import bare_app, bare_lifecycle, calibrate
from benchmarks.common import Goal, Run, Spread, StoreKind, open_desk
from benchmarks.workload import LIFECYCLE_EVENTS

SECTION = "7 import"
GOAL = Goal(">=", 0.5)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "import"
LOG = EXAMPLES / "bpi2013_incidents.csv.gz"
MAPPING = EXAMPLES / "bpi2013.toml"
#: After every time of the log: the desks' clock.
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sliced_log(run: Run, every: int) -> Path:
    """The log, or every ``every``-th case of it (a gzip CSV in the run's scratch space)."""
    if every == 1:
        return LOG
    target = run.path(f"bpi-every-{every}.csv.gz")
    if target.exists():
        return target
    with gzip.open(LOG, "rt", encoding="utf-8-sig", newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        cases: dict[str, int] = {}
        with gzip.open(target, "wt", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            for row in reader:
                number = cases.setdefault(row[0], len(cases))
                if number % every == 0:
                    writer.writerow(row)
    return target


def bare_rate(run: Run, kind: StoreKind, tag: str, lifecycles: int) -> float:
    """Events per second of the bare application writing lifecycles, on a fresh store."""
    sample = run.memo.get("import_sample")
    if sample is None:
        sample = run.memo["import_sample"] = calibrate()
    app = bare_app(
        kind,
        path=run.path(f"import-bare-{tag}.db"),
        schema=run.schema(f"i_bare_{tag}") if kind == "postgres" else None,
    )
    try:
        started = time.perf_counter()
        for index in range(lifecycles):
            bare_lifecycle(app, index, sample.pads, NOW)
        seconds = time.perf_counter() - started
    finally:
        app.close()
    return lifecycles * LIFECYCLE_EVENTS / seconds


def bench_import(run: Run) -> None:
    """The BPI log's import rate on each store, against bare writes of the same run."""
    every = run.sizes.import_every
    log = sliced_log(run, every)
    kinds: list[StoreKind] = ["memory", "sqlite", "postgres"]
    for kind in kinds:
        name = "import, views caught up"
        if kind == "postgres" and not run.postgres:
            run.add(SECTION, name, kind, None, "ev/s", note="no PostgreSQL")
            continue
        lifecycles = run.sizes.memory_lifecycles if kind == "memory" else run.sizes.write_lifecycles
        lifecycles *= 10
        before = bare_rate(run, kind, "before", lifecycles)
        desk = open_desk(
            kind,
            path=run.path("import.db"),
            schema=run.schema("import") if kind == "postgres" else None,
            projections="inline",
            clock=lambda: NOW,
        )
        try:
            started = time.perf_counter()
            outcome = desk.import_events(log, MAPPING)
            seconds = time.perf_counter() - started
        finally:
            desk.close()
        after = bare_rate(run, kind, "after", lifecycles)
        rate = outcome.events / seconds
        baseline = (before + after) / 2
        cases = f"{outcome.cases:,} cases" + ("" if every == 1 else f" (every {every}th)")
        print(
            f"  import {kind}: {outcome.events:,} events in {seconds:.1f}s = {rate:,.0f} ev/s "
            f"(writes {outcome.seconds:.1f}s, views {outcome.views_seconds:.1f}s); bare "
            f"{before:,.0f} / {after:,.0f} ev/s; {cases}, {outcome.clean_share:.2%} clean"
        )
        run.extras.setdefault("import", {})[kind] = {
            "events": outcome.events,
            "cases": outcome.cases,
            "clean": outcome.clean,
            "seconds": seconds,
            "write_seconds": outcome.seconds,
            "views_seconds": outcome.views_seconds,
            "bare_before": before,
            "bare_after": after,
        }
        run.add(
            SECTION,
            name,
            kind,
            rate,
            "ev/s",
            baseline="bare eventsourcing writes",
            baseline_value=baseline,
            goal=GOAL,
            spread=Spread.of([rate / before, rate / after], "bare run (before, after)"),
            note=(
                f"{cases}; writes {outcome.events / outcome.seconds:,.0f} ev/s, then views "
                f"{outcome.views_seconds:.1f}s"
            ),
        )
