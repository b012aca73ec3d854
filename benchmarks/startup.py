"""10. Startup: how long the command line takes to answer, against starting Python at all.

Each command runs as a person runs it, in a fresh process of the installed ``servflow`` script:
``servflow --version``, ``servflow --help`` and ``servflow --db demo.db queue`` on a demo
database (made once, in the run's scratch space); the baseline is ``python -c pass`` with the
same interpreter. The runs alternate (baseline, each command, again), and the figure is the
median wall time of each. Goals (issue 20): ``--version`` and ``--help`` under 0.3 s, ``queue``
under 0.6 s on the benchmark machine; the ratio to ``python -c pass`` is what carries to
another machine.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Run

SECTION = "10 startup"


def _script() -> str:
    """The ``servflow`` script beside this interpreter (as installed), or on the PATH."""
    beside = Path(sys.executable).with_name("servflow")
    if beside.exists():
        return str(beside)
    found = shutil.which("servflow")
    if found is None:  # pragma: no cover - the package is installed to run the benchmarks
        msg = "no servflow script: install the package (pip install -e .)"
        raise RuntimeError(msg)
    return found


def _wall(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)  # noqa: S603 - ours
    return time.perf_counter() - started


def bench_startup(run: Run) -> None:
    """Wall time of --version, --help and a queue on a demo database, against python -c pass."""
    scratch = run.path("startup")
    scratch.mkdir(parents=True, exist_ok=True)
    script = _script()
    demo_size = "300" if run.sizes.mode == "quick" else "2000"
    subprocess.run(  # noqa: S603 - ours
        [script, "demo", "--requests", demo_size],
        cwd=scratch,
        check=True,
        capture_output=True,
    )
    commands = {
        "servflow --version": [script, "--version"],
        "servflow --help": [script, "--help"],
        "servflow --db demo.db queue": [script, "--db", "demo.db", "queue"],
    }
    baseline = [sys.executable, "-c", "pass"]
    rounds = 3 if run.sizes.mode == "quick" else 9
    times: dict[str, list[float]] = {name: [] for name in [*commands, "python -c pass"]}
    for _ in range(rounds):
        times["python -c pass"].append(_wall(baseline, scratch))
        for name, command in commands.items():
            times[name].append(_wall(command, scratch))
    python = statistics.median(times["python -c pass"])
    goals = {"servflow --version": 0.3, "servflow --help": 0.3, "servflow --db demo.db queue": 0.6}
    for name in commands:
        median = statistics.median(times[name])
        print(f"  startup {name}: {median * 1000:.0f} ms (python -c pass {python * 1000:.0f} ms)")
        run.add(
            SECTION,
            name,
            "sqlite",
            median,
            "s",
            baseline="python -c pass",
            baseline_value=python,
            note=(
                f"median of {rounds} fresh processes; goal under {goals[name]:g} s on the "
                f"benchmark machine; range {min(times[name]):.3f}-{max(times[name]):.3f} s"
            ),
        )
