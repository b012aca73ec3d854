"""What every benchmark shares: sizes, the run context, figures, timing, stores and memory."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import shutil
import sqlite3
import statistics
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from servflow import ServiceDesk

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CACHE_DIR = RESULTS_DIR / "cache"
POSTGRES_DSN = os.environ.get(
    "SERVFLOW_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)

StoreKind = Literal["memory", "sqlite", "postgres"]
Verdict = Literal["pass", "miss", "info", "n/a"]
#: Which workload a figure measures: "realistic" (many requests in flight, time-ordered logs),
#: "best case" (one request at a time, logs grouped by request), or "" (not split).
Workload = Literal["realistic", "best case", ""]
REALISTIC: Workload = "realistic"
BEST_CASE: Workload = "best case"
WORKLOADS: tuple[Workload, ...] = (REALISTIC, BEST_CASE)


# -- sizes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is in one mode."""

    mode: Literal["quick", "medium", "full"]
    #: Writes: rounds, and lifecycles per round per variant (SQLite, PostgreSQL / memory).
    write_rounds: int
    write_lifecycles: int
    memory_lifecycles: int
    #: Rebuild: log sizes in events, ascending; the last is the headline, the one before it
    #: the reference for the memory ratio.
    rebuild_events: tuple[int, ...]
    #: Queries: open requests for the headline figures, and the growth sizes (SQLite).
    query_requests: int
    growth_requests: tuple[int, ...]
    query_samples: int
    #: Growth of the write cost: rounds and lifecycles per round per log size.
    growth_write_rounds: int
    growth_write_lifecycles: int
    #: Concurrency: writer counts and seconds each configuration runs.
    writers: tuple[int, ...]
    writer_seconds: float
    #: Realistic writes: requests in flight, each stepped one command at a time in turn.
    in_flight: int
    #: Realistic rebuild: how many events of the log one request spans (open to acceptance).
    rebuild_span: int
    #: Rebuild and read + decode of the headline log, timed alternately: how many pairs.
    rebuild_pairs: int
    #: Processes a rebuild shares the requests out among (``rebuild_projections(workers=)``).
    rebuild_workers: int
    #: Memory: open requests on an in-memory desk (the goal is stated for 100k).
    memory_requests: int
    #: Import: every n-th case of the BPI 2013 log (1: the whole log, 7,554 cases).
    import_every: int = 1
    #: KPIs: requests in the year the KPI view answers for, and how many the exact fold reads.
    kpi_year: int = 1_000_000
    kpi_fold: int = 100_000

    @property
    def rebuild_main(self) -> int:
        """The headline log size."""
        return self.rebuild_events[-1]

    @property
    def rebuild_reference(self) -> int:
        """The log size the headline's peak memory is compared with."""
        return self.rebuild_events[-2]


#: A rebuild's processes by default: one per CPU (at most 16), as the command line's.
DEFAULT_WORKERS = max(1, min(os.cpu_count() or 1, 16))

FULL = Sizes(
    mode="full",
    write_rounds=10,
    write_lifecycles=30,
    memory_lifecycles=100,
    rebuild_events=(10_000, 100_000, 1_000_000),
    query_requests=100_000,
    growth_requests=(10_000, 100_000, 1_000_000),
    query_samples=500,
    growth_write_rounds=6,
    growth_write_lifecycles=20,
    writers=(1, 2, 4),
    writer_seconds=15.0,
    in_flight=600,
    rebuild_span=20_000,
    rebuild_pairs=3,
    rebuild_workers=DEFAULT_WORKERS,
    memory_requests=100_000,
)

#: A few minutes: plausible figures while working (not for the record: 100k-event logs).
MEDIUM = Sizes(
    mode="medium",
    write_rounds=6,
    write_lifecycles=20,
    memory_lifecycles=60,
    rebuild_events=(1_000, 10_000, 100_000),
    query_requests=10_000,
    growth_requests=(1_000, 3_000, 10_000),
    query_samples=200,
    growth_write_rounds=3,
    growth_write_lifecycles=10,
    writers=(1, 2, 4),
    writer_seconds=5.0,
    in_flight=600,
    rebuild_span=20_000,
    rebuild_pairs=3,
    rebuild_workers=DEFAULT_WORKERS,
    memory_requests=30_000,
    import_every=3,
    kpi_year=100_000,
    kpi_fold=10_000,
)

QUICK = Sizes(
    mode="quick",
    write_rounds=2,
    write_lifecycles=6,
    memory_lifecycles=30,
    rebuild_events=(200, 1_000, 5_000),
    query_requests=2_000,
    growth_requests=(200, 600, 2_000),
    query_samples=10,
    growth_write_rounds=2,
    growth_write_lifecycles=3,
    writers=(1, 2, 4),
    writer_seconds=1.0,
    in_flight=24,
    rebuild_span=1_000,
    rebuild_pairs=2,
    rebuild_workers=DEFAULT_WORKERS,
    memory_requests=2_000,
    import_every=25,
    kpi_year=3_000,
    kpi_fold=1_000,
)


def with_options(
    sizes: Sizes,
    *,
    in_flight: int | None = None,
    span: int | None = None,
    pairs: int | None = None,
    workers: int | None = None,
) -> Sizes:
    """``sizes`` with the options given on the command line (None: the mode's default)."""
    return replace(
        sizes,
        in_flight=sizes.in_flight if in_flight is None else in_flight,
        rebuild_span=sizes.rebuild_span if span is None else span,
        rebuild_pairs=sizes.rebuild_pairs if pairs is None else pairs,
        rebuild_workers=sizes.rebuild_workers if workers is None else workers,
    )


# -- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """A goal on a ratio: ``>= threshold`` (higher is better) or ``<= threshold``."""

    op: Literal[">=", "<="]
    threshold: float

    def met(self, ratio: float) -> bool:
        """Whether the ratio meets the goal."""
        return ratio >= self.threshold if self.op == ">=" else ratio <= self.threshold

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"


@dataclass
class Figure:
    """One line of the table: a figure, its baseline, the ratio and the goal."""

    section: str
    name: str
    store: str
    value: float | None
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    goal: str = ""
    verdict: Verdict = "info"
    note: str = ""
    workload: Workload = ""
    #: The ratio's run-to-run spread (lowest and highest of its rounds, pairs or blocks).
    ratio_low: float | None = None
    ratio_high: float | None = None
    #: What the spread is over ("10 rounds", "3 pairs", "5 blocks of 100 samples").
    spread_of: str = ""

    @property
    def spread(self) -> str:
        """The spread as ``low-high`` (empty when there is none)."""
        if self.ratio_low is None or self.ratio_high is None:
            return ""
        return f"{self.ratio_low:.2f}-{self.ratio_high:.2f}"

    def as_dict(self) -> dict[str, Any]:
        """The figure as JSON-ready values."""
        return asdict(self)


def ratio_of(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline`` when both are known and the baseline is not zero."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def judge(ratio: float | None, goal: Goal | None) -> Verdict:
    """The verdict of a ratio against a goal."""
    if goal is None:
        return "info"
    if ratio is None:
        return "n/a"
    return "pass" if goal.met(ratio) else "miss"


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Run:
    """State shared by the benchmarks of one run: sizes, scratch space, results, memos."""

    sizes: Sizes
    postgres: bool
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    figures: list[Figure] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)
    schemas: list[str] = field(default_factory=list)
    #: The workloads to measure (``--realistic``, ``--best-case``; both by default).
    workloads: tuple[Workload, ...] = WORKLOADS
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="servflow-bench-")))

    @property
    def quick(self) -> bool:
        """Whether this is the quick (CI) mode."""
        return self.sizes.mode == "quick"

    def add(  # noqa: PLR0913 - a figure has that many parts; all but six are keywords
        self,
        section: str,
        name: str,
        store: str,
        value: float | None,
        unit: str,
        *,
        baseline: str = "",
        baseline_value: float | None = None,
        ratio: float | None = None,
        goal: Goal | None = None,
        note: str = "",
        workload: Workload = "",
        spread: Spread | None = None,
    ) -> Figure:
        """Record a figure; the ratio is ``value / baseline_value`` unless given.

        With a ``spread`` the ratio is the spread's median unless given, and the figure keeps
        its lowest and highest values.
        """
        if ratio is None:
            ratio = spread.median if spread is not None else ratio_of(value, baseline_value)
        figure = Figure(
            section=section,
            name=name,
            store=store,
            value=value,
            unit=unit,
            baseline=baseline,
            baseline_value=baseline_value,
            ratio=ratio,
            goal=str(goal) if goal else "",
            verdict=judge(ratio, goal) if value is not None else "n/a",
            note=note,
            workload=workload,
            ratio_low=spread.low if spread is not None else None,
            ratio_high=spread.high if spread is not None else None,
            spread_of=spread.over if spread is not None else "",
        )
        self.figures.append(figure)
        return figure

    def measures(self, workload: Workload) -> bool:
        """Whether this run measures that workload."""
        return workload in self.workloads

    def schema(self, label: str) -> str:
        """A fresh PostgreSQL schema name for this run, dropped by ``cleanup``."""
        name = f"bench_{self.run_id}_{label}"
        self.schemas.append(name)
        return name

    def path(self, name: str) -> Path:
        """A scratch file path for this run."""
        return self.scratch / name

    def cleanup(self) -> None:
        """Drop this run's schemas and scratch files."""
        if self.postgres:
            for schema in self.schemas:
                with contextlib.suppress(Exception):
                    drop_schema(schema)
        shutil.rmtree(self.scratch, ignore_errors=True)


# -- timing and statistics ---------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of the samples."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    """The median of the samples."""
    return statistics.median(samples)


@dataclass(frozen=True)
class Spread:
    """Ratios measured several times (per round, per pair, per block): median and spread."""

    values: tuple[float, ...]
    #: What one value is: "round", "pair", "block of 100 samples".
    unit: str

    @classmethod
    def of(cls, values: Sequence[float], unit: str) -> Spread:
        """The spread of these values (at least one)."""
        if not values:
            msg = "a spread needs at least one value"
            raise ValueError(msg)
        return cls(tuple(values), unit)

    @property
    def median(self) -> float:
        """The median value: the figure's ratio."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The lowest value."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The highest value."""
        return max(self.values)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The first and third quartiles (both the one value when there is one)."""
        if len(self.values) == 1:
            return self.values[0], self.values[0]
        q1, _, q3 = statistics.quantiles(self.values, n=4, method="inclusive")
        return q1, q3

    @property
    def over(self) -> str:
        """What the spread is over, e.g. "10 rounds"."""
        plural = "" if len(self.values) == 1 else "s"
        head, _, tail = self.unit.partition(" ")
        return f"{len(self.values)} {head}{plural}" + (f" {tail}" if tail else "")


def paired_ratios(pairs: Sequence[tuple[float, float]]) -> list[float]:
    """``a / b`` of each pair (the pairs timed one right after the other)."""
    return [a / b for a, b in pairs]


def pair_order(index: int, first: str, second: str) -> tuple[str, str]:
    """Which of a pair runs first in pair ``index``: they swap every pair (drift hurts both)."""
    return (first, second) if index % 2 == 0 else (second, first)


def block_ratios(
    values: Sequence[float], baselines: Sequence[float], blocks: int, q: float
) -> list[float]:
    """Percentile ``q`` of ``values`` over that of ``baselines``, in consecutive blocks.

    The samples of a query and its baseline are taken alternately, so sample ``i`` of both saw
    the same moment; cutting both into the same ``blocks`` consecutive blocks gives one ratio per
    stretch of time, whose spread is the run-to-run spread of the figure. Blocks are as equal
    as the sample count allows; there are never more blocks than samples.
    """
    if len(values) != len(baselines):
        msg = "values and baselines must pair up"
        raise ValueError(msg)
    blocks = max(1, min(blocks, len(values)))
    ratios: list[float] = []
    for block in range(blocks):
        start = block * len(values) // blocks
        end = (block + 1) * len(values) // blocks
        base = percentile(baselines[start:end], q)
        ratios.append(percentile(values[start:end], q) / base if base else float("nan"))
    return ratios


def growth_exponent(small: float, large: float, n_small: int, n_large: int) -> float:
    """``k`` in cost ~ n**k between two sizes (0: flat, 1: linear)."""
    if small <= 0 or large <= 0:
        return float("nan")
    return math.log(large / small) / math.log(n_large / n_small)


# -- memory ------------------------------------------------------------------------------------


def _peak_of(pid: int | str) -> float | None:
    """``VmHWM`` of a process, in MiB (None where ``/proc`` does not tell)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


class ChildPeaks:
    """The highest peak RSS of this process's children while it runs (``with``; Linux).

    A thread reads each child's ``VmHWM`` every ``interval`` seconds (a peak only grows, so the
    last reading before a child ends is close to its peak); ``getrusage(RUSAGE_CHILDREN)``
    would count this process's own RSS at each fork.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(self.interval):
            for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError, IndexError):
                    stat = (entry / "stat").read_text(encoding="ascii")
                    if stat[stat.rindex(")") + 2 :].split()[1] == me:
                        self.peak_mb = max(self.peak_mb, _peak_of(entry.name) or 0.0)


def peak_rss_mb() -> float:
    """This process's own peak resident set size so far, in MiB.

    Read from ``VmHWM`` in ``/proc/self/status``: on Linux ``getrusage().ru_maxrss`` of a
    spawned child also counts its parent's RSS at the moment of the fork, so it would report
    the benchmark runner's memory rather than the rebuild's.
    """
    own = _peak_of("self")
    if own is not None:
        return own
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


# -- stores ------------------------------------------------------------------------------------


def store_of(desk: ServiceDesk) -> Application[Any]:
    """The ``eventsourcing`` application under a desk (its recorder, mapper and ``save``)."""
    store: Application[Any] = desk._stores.store  # noqa: SLF001 - benchmarks build logs fast through it
    return store


def events_table(desk: ServiceDesk) -> str:
    """The name of the desk's stored-events table (``servflow_events`` on PostgreSQL)."""
    return str(getattr(store_of(desk).recorder, "events_table_name", "stored_events"))


def open_desk(
    kind: StoreKind,
    *,
    path: Path | None = None,
    schema: str | None = None,
    projections: Literal["inline", "external"] = "external",
    clock: Callable[[], Any] | None = None,
) -> ServiceDesk:
    """A desk on the given store (memory, an SQLite file, or a PostgreSQL schema)."""
    from servflow import ServiceDesk  # noqa: PLC0415 - children import what they use

    if kind == "memory":
        return ServiceDesk(projections=projections, clock=clock)
    if kind == "sqlite":
        if path is None:
            msg = "an SQLite desk needs a path"
            raise ValueError(msg)
        return ServiceDesk.sqlite(str(path), projections=projections, clock=clock)
    return ServiceDesk.postgres(POSTGRES_DSN, schema=schema, projections=projections, clock=clock)


def postgres_available() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        import psycopg  # noqa: PLC0415 - optional extra
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL at {POSTGRES_DSN}: {error}"


def pg_connect(*, autocommit: bool = True) -> Any:  # noqa: ANN401 - psycopg is optional
    """A new psycopg connection to the benchmark database."""
    import psycopg  # noqa: PLC0415

    return psycopg.connect(POSTGRES_DSN, autocommit=autocommit)


def drop_schema(schema: str) -> None:
    """Drop a PostgreSQL schema and everything in it."""
    from psycopg import sql  # noqa: PLC0415

    with pg_connect() as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


def qualified(schema: str, table: str) -> str:
    """A schema-qualified, quoted PostgreSQL table name."""
    return f'"{schema}"."{table}"'


def checkpoint(path: Path) -> None:
    """Fold an SQLite file's write-ahead log into it, so that the file can be copied alone."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a checkpointed SQLite file (and nothing else) to a new place."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)


@contextlib.contextmanager
def closing_desk(desk: ServiceDesk) -> Iterator[ServiceDesk]:
    """Close a desk when the block ends."""
    try:
        yield desk
    finally:
        desk.close()
