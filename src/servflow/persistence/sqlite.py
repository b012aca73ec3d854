"""SQLite connections that keep their prepared statements and their scratch data in memory.

``eventsourcing`` 9.5 opens its SQLite connections with ``cached_statements=True``, which
``sqlite3`` reads as a cache of **one** statement. A desk alternates between a dozen statements
per command (load the request, insert its events, extend the hash chain, update the views), so
each one was compiled again on every use: for an upsert into a table with several indexes that
is most of its cost (about 150-230 µs of the 160-240 µs it took; measured on the benchmark
machine). The pool below opens the same connections with a real cache, and keeps SQLite's
temporary data (the statement journal of a savepoint) in memory rather than in a file.

It also begins the views' write transactions ``IMMEDIATE`` (``writing``): the library begins
every transaction ``DEFERRED``, and a deferred transaction that reads (the views' positions)
before it writes cannot wait for the write lock: if another process committed since its read,
SQLite refuses the write at once with "database is locked", whatever the busy timeout.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTransaction,
)

__all__ = [
    "STATEMENT_CACHE_SIZE",
    "TEMP_STORE",
    "StatementCachingPool",
    "cache_statements",
    "writing",
]

#: Prepared statements kept per connection: more than servflow ever uses.
STATEMENT_CACHE_SIZE = 256
#: Where SQLite keeps temporary data (a rebuild switches to files while it sorts indexes).
TEMP_STORE = "MEMORY"


class StatementCachingPool(SQLiteConnectionPool):
    """``eventsourcing``'s SQLite pool: connections with a statement cache, temp data in memory."""

    def _create_connection(self) -> SQLiteConnection:
        # The library's own method, but for the size of the statement cache.
        try:
            connection = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: the library begins transactions itself
                cached_statements=STATEMENT_CACHE_SIZE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode;")
            if cursor.fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        # The savepoint around inline views keeps a statement journal; in a temporary file
        # (SQLite's default) opening and writing it cost about 120 µs a command.
        connection.execute(f"PRAGMA temp_store={TEMP_STORE}")
        connection.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=connection, max_age=self.max_age)


def cache_statements(factory: Any) -> None:  # noqa: ANN401 - any infrastructure factory
    """Make an SQLite factory's pool open connections with a statement cache.

    Connections already open (the library opens one to create its tables) are closed, so that
    every later transaction runs on a caching connection. Other stores are left as they are.
    """
    pool = getattr(getattr(factory, "datastore", None), "pool", None)
    if not isinstance(pool, SQLiteConnectionPool) or isinstance(pool, StatementCachingPool):
        return
    with pool._put_condition:  # noqa: SLF001 - the pool has no public way to drain idle ones
        idle = list(pool._pool)  # noqa: SLF001
        pool._pool.clear()  # noqa: SLF001
    pool.__class__ = StatementCachingPool
    if pool.is_sqlite_memory_mode:
        # An in-memory database lives only while one of its connections is open: the old ones
        # stay open, out of the pool, for as long as the pool does.
        pool._servflow_retired = idle  # type: ignore[attr-defined]  # noqa: SLF001
        return
    for connection in idle:
        connection.close()


class _ImmediateTransaction(SQLiteTransaction):
    """The library's SQLite transaction (commit, rollback, errors), begun ``IMMEDIATE``."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            # Takes the write lock now, waiting for it up to the busy timeout, before anything
            # is read: what the transaction reads then stays true until it commits.
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            cursor.sqlite_cursor.close()
            raise OperationalError(error) from error
        return cursor


@contextlib.contextmanager
def writing(
    datastore: SQLiteDatastore, wait: float | None = None, *, temp_in_files: bool = False
) -> Iterator[SQLiteCursor]:
    """A write transaction that holds SQLite's write lock from its first statement.

    For transactions that read before they write (the views': positions first, then rows).
    ``wait`` (seconds) waits that long for the lock instead of the store's lock timeout.

    ``temp_in_files`` puts the transaction's temporary data in files rather than memory, for
    statements whose temporary data grow with the tables: sorting a table for an index, and
    dropping one, whose statement journal keeps the original of every page the drop frees
    (and, where SQLite is built with secure deletion, as Debian's is, overwrites with
    zeros). SQLite decides where a transaction's statement journal lives when the
    transaction begins, so the setting is made before ``BEGIN``.
    """
    with datastore.get_connection(commit=True) as connection:
        raw = connection._sqlite_conn  # noqa: SLF001 - the library keeps no busy timeout setter
        if wait is not None:
            raw.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        if temp_in_files:
            raw.execute("PRAGMA temp_store = FILE")
        try:
            with _ImmediateTransaction(connection, commit=True) as cursor, cursor:
                yield cursor
        finally:
            if wait is not None:  # back to the store's lock timeout
                default = datastore.pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT
                raw.execute(f"PRAGMA busy_timeout = {int(default * 1000)}")
            if temp_in_files:
                raw.execute(f"PRAGMA temp_store = {TEMP_STORE}")
