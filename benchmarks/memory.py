"""6. Memory: peak RSS of an in-memory desk (``ServiceDesk()``) holding N open requests.

A fresh process (``spawn``) opens N requests one command at a time with inline projections,
classifies every third and assigns every sixth, then asks the queue once: its peak RSS
(``VmHWM``) is the figure. Goal (issue 21): under 300 MiB with 100k open requests. For other
sizes the goal is scaled: the RSS of the same process with a fresh, empty desk, plus
(300 MiB minus it) in proportion to N / 100k; the ratio is peak RSS over that allowance.
"""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from multiprocessing import get_context
from typing import Any

from benchmarks.common import Goal, Run, current_rss_mb, peak_rss_mb
from benchmarks.workload import T0

SECTION = "6 memory"
#: The goal: 300 MiB at 100k open requests.
GOAL_MIB = 300.0
GOAL_REQUESTS = 100_000


def fill(requests: int) -> dict[str, Any]:
    """Open ``requests`` requests on an in-memory desk (in this process); its memory."""
    from servflow import ServiceDesk  # noqa: PLC0415 - measured from a fresh process

    now = [T0]
    desk = ServiceDesk(clock=lambda: now[0])
    fresh = current_rss_mb()
    started = time.perf_counter()
    for n in range(requests):
        now[0] = T0 + timedelta(seconds=n)
        request = desk.open(
            customer=f"customer-{n % 5000}",
            channel="email",
            kind="complaint",
            stage="post_sale",
            symptom="The printer prints blank pages since the last update.",
            actor="agent:ana",
        )
        if n % 3 == 0:
            desk.classify(request.id, priority="normal", actor="agent:ana")
        if n % 6 == 0:
            desk.assign(request.id, team="team-1", agent="ana", actor="agent:ana")
    total = desk.queue(limit=1).total
    elapsed = time.perf_counter() - started
    desk.close()
    return {
        "requests": total,
        "events": requests + (requests + 2) // 3 + (requests + 5) // 6,
        "seconds": elapsed,
        "fresh_rss_mb": fresh,
        "peak_rss_mb": peak_rss_mb(),
    }


def bench_memory(run: Run) -> None:
    """Peak RSS of an in-memory desk with N open requests, in a fresh process."""
    requests = run.sizes.memory_requests
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        result = pool.submit(fill, requests).result()
    run.extras["memory"] = result
    fresh, peak = result["fresh_rss_mb"], result["peak_rss_mb"]
    allowance = fresh + (GOAL_MIB - fresh) * requests / GOAL_REQUESTS
    per_request = (peak - fresh) * 1024 / max(requests, 1)
    print(
        f"  memory desk: {result['requests']:,} open requests in {result['seconds']:.0f}s, "
        f"peak RSS {peak:.0f} MiB (fresh desk {fresh:.0f} MiB, {per_request:.2f} KiB per "
        f"request); allowance {allowance:.0f} MiB"
    )
    run.add(
        SECTION,
        f"peak RSS, {requests:,} open requests",
        "memory",
        peak,
        "MiB",
        baseline=f"goal: {GOAL_MIB:.0f} MiB at {GOAL_REQUESTS // 1000}k (scaled)",
        baseline_value=allowance,
        goal=Goal("<=", 1.0),
        note=f"{per_request:.2f} KiB per request above a fresh desk ({fresh:.0f} MiB)",
    )
