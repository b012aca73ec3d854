"""``python -m benchmarks [--quick] [--json out.json] [--only NAME[,NAME]] [--markdown out.md]``.

Runs the benchmarks, prints a table per workload (figure, baseline, ratio, its spread, goal,
pass/miss) and writes the JSON if asked. ``--quick`` uses tiny sizes to check that every
benchmark runs (CI): it asserts nothing about timing. ``--realistic`` or ``--best-case`` measure
one workload only (both by default); ``--in-flight``, ``--span`` and ``--pairs`` size the
realistic workloads and the paired rebuild. The exit status is 0 unless a benchmark failed to
run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.common import (
    BEST_CASE,
    FULL,
    MEDIUM,
    QUICK,
    REALISTIC,
    Run,
    Workload,
    postgres_available,
    with_options,
)
from benchmarks.concurrency import bench_concurrency
from benchmarks.growth import bench_growth
from benchmarks.http import bench_http
from benchmarks.importing import bench_import
from benchmarks.kpis import bench_kpis
from benchmarks.memory import bench_memory
from benchmarks.outbox import bench_outbox
from benchmarks.queries import bench_queries
from benchmarks.rebuild import bench_rebuild
from benchmarks.report import machine, markdown, report, write_json
from benchmarks.startup import bench_startup
from benchmarks.writes import bench_writes

SECTIONS: dict[str, Callable[[Run], None]] = {
    "writes": bench_writes,
    "rebuild": bench_rebuild,
    "queries": bench_queries,
    "growth": bench_growth,
    "concurrency": bench_concurrency,
    "memory": bench_memory,
    "import": bench_import,
    "outbox": bench_outbox,
    "http": bench_http,
    "startup": bench_startup,
    "kpis": bench_kpis,
}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"expected a whole number of at least 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="servflow benchmarks: every figure against a baseline from the same run.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny sizes; checks every bench runs")
    size.add_argument(
        "--medium",
        action="store_true",
        help="100k-event logs, 10k requests: plausible figures in minutes, not for the record",
    )
    parser.add_argument("--json", type=Path, help="write all figures and details to this file")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown to this file")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these benchmarks (repeat or comma-separate): {', '.join(SECTIONS)}",
    )
    workloads = parser.add_argument_group(
        "workloads",
        "realistic: many requests in flight, logs in time order; best case: one request at a "
        "time, logs grouped by request (the figures of earlier runs). Both unless one is chosen.",
    )
    workloads.add_argument("--realistic", action="store_true", help="measure the realistic one")
    workloads.add_argument("--best-case", action="store_true", help="measure the best case")
    workloads.add_argument(
        "--in-flight",
        type=_positive,
        metavar="N",
        help=f"realistic writes: requests in flight (default {FULL.in_flight}; quick "
        f"{QUICK.in_flight})",
    )
    workloads.add_argument(
        "--span",
        type=_positive,
        metavar="EVENTS",
        help=f"realistic rebuild: events of the log one request spans (default "
        f"{FULL.rebuild_span:,}; quick {QUICK.rebuild_span:,})",
    )
    workloads.add_argument(
        "--pairs",
        type=_positive,
        metavar="N",
        help=f"rebuild and read + decode timed alternately, N pairs (default "
        f"{FULL.rebuild_pairs}; quick {QUICK.rebuild_pairs})",
    )
    workloads.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help=f"rebuild: processes the requests are shared out among (default one per CPU, "
        f"at most 16: {FULL.rebuild_workers} here); 1 measures the rebuild in one process",
    )
    args = parser.parse_args(argv)
    chosen_workloads: list[Workload] = [
        w for w, on in ((REALISTIC, args.realistic), (BEST_CASE, args.best_case)) if on
    ]
    args.workloads = tuple(chosen_workloads) or (REALISTIC, BEST_CASE)
    chosen = [name.strip() for value in args.only for name in value.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}"
        )
    args.sections = [name for name in SECTIONS if not chosen or name in chosen]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; 0 when all of them ran."""
    args = _parse(argv)
    problem = postgres_available()
    if problem and os.environ.get("SERVFLOW_REQUIRE_POSTGRES") == "1":
        print(f"SERVFLOW_REQUIRE_POSTGRES=1 but {problem}", file=sys.stderr)
        return 2
    sizes = with_options(
        QUICK if args.quick else MEDIUM if args.medium else FULL,
        in_flight=args.in_flight,
        span=args.span,
        pairs=args.pairs,
        workers=args.workers,
    )
    run = Run(sizes=sizes, postgres=problem is None, workloads=args.workloads)
    # A SIGTERM (a CI timeout, kill) still drops this run's schemas and scratch files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    meta = machine(run)
    print(
        f"servflow benchmarks, {run.sizes.mode} mode: {meta['nproc']} CPUs ({meta['cpu']}), "
        f"{meta['ram_gib']} GiB, Python {meta['python']}, SQLite {meta['sqlite']}, "
        f"PostgreSQL {meta.get('postgresql', 'n/a')} (psycopg {meta.get('psycopg_impl', '?')})"
    )
    print(
        f"workloads: {', '.join(run.workloads)}; {sizes.in_flight} requests in flight, "
        f"time-ordered logs spanning {sizes.rebuild_span:,} events per request, "
        f"{sizes.rebuild_pairs} rebuild/read pairs; load average {meta['load_average']}"
    )
    if problem:
        print(f"PostgreSQL figures skipped: {problem}")
    durations: dict[str, float] = {}
    failed: list[str] = []
    started = time.perf_counter()
    try:
        for name in args.sections:
            print(f"\n== {name}")
            section_started = time.perf_counter()
            try:
                SECTIONS[name](run)
            except Exception:  # noqa: BLE001 - report it, run the others, fail at the end
                traceback.print_exc()
                failed.append(name)
            durations[name] = round(time.perf_counter() - section_started, 1)
            print(f"   ({durations[name]:.0f}s)")
    finally:
        run.cleanup()
    durations["total"] = round(time.perf_counter() - started, 1)
    meta["load_average_end"] = os.getloadavg()
    print()
    print(report(run.figures))
    misses = [f for f in run.figures if f.verdict == "miss"]
    passes = [f for f in run.figures if f.verdict == "pass"]
    print(
        f"\n{len(passes)} pass, {len(misses)} miss"
        + (" (quick mode: sizes too small for the goals to mean anything)" if args.quick else "")
        + f"; {durations['total']:.0f}s in all"
    )
    if args.json:
        write_json(args.json, run, meta, durations)
        print(f"JSON written to {args.json}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(run.figures) + "\n", encoding="utf-8")
        print(f"Markdown table written to {args.markdown}")
    if failed:
        print(f"FAILED to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
