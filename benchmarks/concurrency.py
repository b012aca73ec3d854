"""5. Concurrency: lifecycles per second with 1, 2 and 4 writer processes on PostgreSQL.

Each writer is its own process with its own desk (``projections="external"``) on one shared
schema per configuration. They start together at a barrier and write whole lifecycles, one
command at a time, for a fixed time; the total is the sum of each writer's rate. Writers open
requests concurrently, so they also race for ticket codes (the desk retries on conflict).

The writers open their desks one after the other: ``ServiceDesk.postgres()`` called by several
processes at the same moment fails now and then with ``StoreError: ... tuple concurrently
updated`` (``eventsourcing`` re-runs ``CREATE OR REPLACE FUNCTION`` in every process that opens
the store; see docs/performance.md, known gaps).
"""

from __future__ import annotations

import time
import traceback
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

from benchmarks.common import Run, open_desk
from benchmarks.workload import LIFECYCLE_EVENTS, adopt_standard_policy, run_lifecycle

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier, Lock

SECTION = "5 concurrency"
_TIMEOUT = 120.0


def writer(
    schema: str, seconds: float, barrier: Barrier, opening: Lock, results: Queue[Any], worker: int
) -> None:
    """One writer process: warm up, wait for the others, write lifecycles until time is up."""
    try:
        with opening:  # see the module docstring: desks must not be opened at the same moment
            desk = open_desk("postgres", schema=schema, projections="external")
        with desk:
            run_lifecycle(desk, worker)
            barrier.wait(timeout=_TIMEOUT)
            started = time.perf_counter()
            deadline = started + seconds
            done = 0
            while time.perf_counter() < deadline:
                run_lifecycle(desk, worker + done)
                done += 1
            elapsed = time.perf_counter() - started
        results.put({"worker": worker, "lifecycles": done, "seconds": elapsed})
    except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the run
        traceback.print_exc()
        barrier.abort()  # the others stop waiting for this writer
        results.put({"worker": worker, "error": repr(error)})


def _configuration(run: Run, writers: int) -> dict[str, Any]:
    schema = run.schema(f"c{writers}")
    with open_desk("postgres", schema=schema, projections="external") as desk:
        adopt_standard_policy(desk)  # and create the tables once, before the writers race
    context = get_context("spawn")
    barrier = context.Barrier(writers)
    opening = context.Lock()
    results: Queue[Any] = context.Queue()
    processes = [
        context.Process(
            target=writer,
            args=(schema, run.sizes.writer_seconds, barrier, opening, results, worker),
        )
        for worker in range(writers)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=run.sizes.writer_seconds + _TIMEOUT) for _ in processes]
    for process in processes:
        process.join(timeout=_TIMEOUT)
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        msg = f"{len(errors)} writer(s) failed: {errors[0]}"
        raise RuntimeError(msg)
    rate = sum(r["lifecycles"] / r["seconds"] for r in reports)
    return {"writers": writers, "rate": rate, "reports": reports}


def bench_concurrency(run: Run) -> None:
    """Total lifecycles per second for each number of writer processes."""
    if not run.postgres:
        run.add(SECTION, "writers", "postgres", None, "req/s", note="no PostgreSQL")
        return
    outcomes = [_configuration(run, writers) for writers in run.sizes.writers]
    run.extras["concurrency"] = outcomes
    single = outcomes[0]["rate"]
    for outcome in outcomes:
        print(
            f"  {outcome['writers']} writer(s): {outcome['rate']:,.1f} req/s "
            f"({outcome['rate'] * LIFECYCLE_EVENTS:,.0f} ev/s)"
        )
        run.add(
            SECTION,
            f"{outcome['writers']} writer process(es), total",
            "postgres",
            outcome["rate"],
            "req/s",
            baseline="1 writer",
            baseline_value=single,
            note=(
                f"{outcome['rate'] * LIFECYCLE_EVENTS:,.0f} ev/s; "
                f"{run.sizes.writer_seconds:g}s each"
            ),
        )
