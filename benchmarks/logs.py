"""Large logs, built fast and cached.

SQLite logs are built with the domain API and stored through the desk's own
``eventsourcing`` application, 100 aggregates per ``save`` (so the store's recording hooks,
such as the hash chain, run as in production), then cached under ``benchmarks/results/cache``
keyed by size and by ``workload.fingerprint``. Each run works on a copy.

Two orders of the same events: **grouped** logs store each lifecycle's seven events together
(the best case for a rebuild: a request's row is read once and written once); **time-ordered**
logs store them as a desk with many requests in flight would, each request spread over about
``span`` events of the log (``workload.save_time_ordered``).

PostgreSQL logs are the same stored rows copied with ``COPY`` from the SQLite log of that
size into a fresh schema whose tables the desk created: the events are byte for byte those
servflow stored, in the same order (the hash chain's rows are not copied; rebuilds and
queries do not read them).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CACHE_DIR,
    Run,
    checkpoint,
    copy_sqlite,
    events_table,
    open_desk,
    pg_connect,
    qualified,
)
from benchmarks.workload import (
    LIFECYCLE_EVENTS,
    adopt_standard_policy,
    before_t0,
    fingerprint,
    in_flight_for_span,
    lifecycles,
    request_spans,
    save_batches,
    save_time_ordered,
)

_COPY_CHUNK = 5000


def run_fingerprint(run: Run) -> str:
    """The cache key of this run's code (computed once)."""
    key = run.memo.get("fingerprint")
    if key is None:
        key = fingerprint(run.scratch)
        run.memo["fingerprint"] = key
    return str(key)


def _note(run: Run, name: str, text: str) -> None:
    run.extras.setdefault("logs", {})[name] = text
    print(f"  {name}: {text}")


def cache_path(run: Run, name: str) -> Path:
    """Where the cached SQLite file ``name`` lives for this run's code."""
    return CACHE_DIR / f"{name}-{run_fingerprint(run)}.db"


def cached_sqlite(run: Run, name: str, build: Callable[[Path], str]) -> Path:
    """The cached SQLite file ``name``, built by ``build(path)`` if missing; never written to."""
    cache = cache_path(run, name)
    if cache.exists():
        if name not in run.extras.get("logs", {}):
            _note(run, name, f"reused cache {cache.name}")
        return cache
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".partial-{os.getpid()}")
    started = time.perf_counter()
    how = build(partial)
    checkpoint(partial)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.replace(cache)
    _note(run, name, f"{how} in {time.perf_counter() - started:.1f}s (cached as {cache.name})")
    return cache


def working_copy(run: Run, cache: Path, name: str) -> Path:
    """A copy of a cached file in this run's scratch space (made once per run and name)."""
    key = f"copy:{name}"
    if key not in run.memo:
        work = run.path(f"{name}.db")
        copy_sqlite(cache, work)
        run.memo[key] = work
    path: Path = run.memo[key]
    return path


def lifecycle_log_cache(run: Run, events: int) -> Path:
    """The cached SQLite log of at least ``events`` events: whole lifecycles, all closed."""
    count = -(-events // LIFECYCLE_EVENTS)

    def build(path: Path) -> str:
        with open_desk("sqlite", path=path, projections="external", clock=before_t0) as desk:
            policy = adopt_standard_policy(desk)
            stored = save_batches(desk, lifecycles(1, count))
        return (
            f"{stored:,} events ({count:,} lifecycles) built with the domain API and stored "
            f"by save(100 aggregates); {policy}"
        )

    return cached_sqlite(run, f"log-{events}", build)


def time_ordered_log_cache(run: Run, events: int, span: int) -> Path:
    """The cached SQLite log of the same lifecycles as ``lifecycle_log_cache``, in time order."""
    count = -(-events // LIFECYCLE_EVENTS)
    in_flight = min(in_flight_for_span(span), count)

    def build(path: Path) -> str:
        with open_desk("sqlite", path=path, projections="external", clock=before_t0) as desk:
            policy = adopt_standard_policy(desk)
            stored = save_time_ordered(desk, count, in_flight)
        return (
            f"{stored:,} events ({count:,} lifecycles, {in_flight:,} in flight) in time order, "
            f"built with the domain API and stored by save(up to 700 events); {policy}"
        )

    return cached_sqlite(run, f"log-{events}-span{span}", build)


def log_name(events: int, span: int | None) -> str:
    """The name of a log: grouped (``span`` None) or time-ordered with that span."""
    return f"log-{events}" if span is None else f"log-{events}-span{span}"


def log_cache(run: Run, events: int, span: int | None) -> Path:
    """The cached log of ``events`` events: grouped (``span`` None) or time-ordered."""
    if span is None:
        return lifecycle_log_cache(run, events)
    return time_ordered_log_cache(run, events, span)


def lifecycle_log(run: Run, events: int, span: int | None = None) -> Path:
    """This run's working copy of the log of ``events`` events (grouped unless ``span``)."""
    return working_copy(run, log_cache(run, events, span), log_name(events, span))


def mean_span(run: Run, events: int, span: int) -> float:
    """How many log positions a request of the time-ordered log spans on average (memo)."""
    key = f"span:{events}:{span}"
    if key not in run.memo:
        spans = request_spans(log_cache(run, events, span))
        run.memo[key] = sum(spans) / len(spans) if spans else 0.0
    value: float = run.memo[key]
    return value


def sqlite_rows(path: Path) -> Iterator[tuple[str, int, str, bytes]]:
    """The stored events of an SQLite log, in log order."""
    connection = sqlite3.connect(path)
    try:
        cursor = connection.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "ORDER BY rowid"
        )
        while rows := cursor.fetchmany(_COPY_CHUNK):
            yield from rows
    finally:
        connection.close()


def copy_to_postgres(run: Run, source: Path, schema: str) -> int:
    """Make a desk's tables in ``schema`` and COPY the stored events of ``source`` into them."""
    with open_desk("postgres", schema=schema, projections="external") as desk:
        run.memo["pg_events_table"] = events_table(desk)
        table = qualified(schema, events_table(desk))
    started = time.perf_counter()
    copied = 0
    connection: Any = pg_connect(autocommit=False)
    try:
        with connection.cursor() as cursor:
            with cursor.copy(
                f"COPY {table} (originator_id, originator_version, topic, state) FROM STDIN"
            ) as copy:
                lines: list[str] = []
                for originator_id, version, topic, state in sqlite_rows(source):
                    lines.append(f"{originator_id}\t{version}\t{topic}\t\\\\x{state.hex()}\n")
                    if len(lines) == _COPY_CHUNK:
                        copy.write("".join(lines))
                        copied += len(lines)
                        lines = []
                if lines:
                    copy.write("".join(lines))
                    copied += len(lines)
            connection.commit()
        connection.autocommit = True
        connection.execute(f"ANALYZE {table}")
    finally:
        connection.close()
    _note(
        run,
        f"pg {schema}",
        f"{copied:,} stored events copied from {source.name} with COPY in "
        f"{time.perf_counter() - started:.1f}s",
    )
    return copied


def postgres_lifecycle_log(run: Run, events: int, span: int | None = None) -> str:
    """A fresh schema holding the same log as ``lifecycle_log(run, events, span)``."""
    key = f"pglog:{events}:{span}"
    if key not in run.memo:
        schema = run.schema(f"log{events}" if span is None else f"log{events}s{span}")
        copy_to_postgres(run, log_cache(run, events, span), schema)
        run.memo[key] = schema
    return str(run.memo[key])


def count_events(path: Path) -> int:
    """How many events an SQLite log holds."""
    connection = sqlite3.connect(path)
    try:
        (count,) = connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()
    finally:
        connection.close()
    return int(count)
