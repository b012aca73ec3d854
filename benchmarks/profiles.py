"""Profile one benchmark's hot path with cProfile: ``python -m benchmarks.profiles NAME``.

NAME is one of ``rebuild``, ``catch-up``, ``writes``, ``queue``, ``history``, ``as-of``,
``breaches``. Uses the same data sets (and caches) as the benchmarks, at a moderate size, and
prints the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from benchmarks.common import QUICK, Run, StoreKind, open_desk
from benchmarks.logs import lifecycle_log
from benchmarks.queries import query_cache
from benchmarks.workload import LONG_CODE, T0, long_as_of, run_lifecycle
from servflow.domain.request import request_id_for

if TYPE_CHECKING:
    from servflow import ServiceDesk

NAMES = ("rebuild", "catch-up", "writes", "queue", "history", "as-of", "breaches")


def _profile(label: str, action: Callable[[], object], top: int) -> None:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    action()
    profiler.disable()
    print(f"== {label}: {time.perf_counter() - started:.2f}s under cProfile")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def _lifecycles(desk: ServiceDesk, count: int) -> None:
    for index in range(count):
        run_lifecycle(desk, index)


def main(argv: Sequence[str] | None = None) -> int:
    """Profile the named path."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiles")
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--store", choices=("memory", "sqlite"), default="sqlite")
    parser.add_argument("--size", type=int, default=20_000, help="events or requests")
    parser.add_argument("--repeat", type=int, default=100, help="calls of a query")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    run = Run(sizes=QUICK, postgres=False)
    store: StoreKind = args.store
    try:
        if args.name in ("rebuild", "catch-up"):
            path = lifecycle_log(run, args.size)
            with open_desk("sqlite", path=path, projections="external") as desk:
                if args.name == "rebuild":
                    _profile(f"rebuild of {args.size:,} events", desk.rebuild_projections, args.top)
                else:
                    desk.rebuild_projections()
                    _profile("catch-up with nothing to do", desk.catch_up, args.top)
        elif args.name == "writes":
            for mode in ("external", "inline"):
                projections: Literal["inline", "external"] = (
                    "inline" if mode == "inline" else "external"
                )
                with open_desk(
                    store, path=run.path(f"profile-{mode}.db"), projections=projections
                ) as desk:
                    run_lifecycle(desk, 0)
                    _profile(
                        f"{args.repeat} lifecycles on {store}, projections={mode}",
                        functools.partial(_lifecycles, desk, args.repeat),
                        args.top,
                    )
        else:
            path = query_cache(run, args.size)
            with open_desk("sqlite", path=path, projections="external") as desk:
                at = T0 + timedelta(days=365)
                calls: dict[str, Callable[[], object]] = {
                    "queue": lambda: desk.queue(at=at),
                    "history": lambda: desk.history(request_id_for(LONG_CODE)),
                    "as-of": lambda: desk.get(request_id_for(LONG_CODE), as_of=long_as_of()),
                    "breaches": lambda: getattr(desk, "breaches")(at=at, limit=50),  # noqa: B009
                }
                call = calls[args.name]
                call()
                _profile(
                    f"{args.repeat} x {args.name} on {args.size:,} requests",
                    lambda: [call() for _ in range(args.repeat)],
                    args.top,
                )
    finally:
        run.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
