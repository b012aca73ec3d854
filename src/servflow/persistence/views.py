"""Where the views live: the events' database, through ``eventsourcing``'s tracking recorder.

A ``ViewStore`` hands out transactions (``Tx``) on the tracking recorder's connection, so the
views' writes and their tracking positions commit together.

Several processes may write the views of one store at once (desks catching up, followers, a
rebuild). Each transaction that writes them reads the positions first, and it must not be
overtaken between that read and its commit: on SQLite a write transaction takes the store's
write lock before it reads (``BEGIN IMMEDIATE``); on PostgreSQL it takes the views' advisory
lock (``lock``), one per store, so transactions that would update the same rows in different
orders (and deadlock) take turns instead.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from servflow.persistence.sql import Dialect, Tx
from servflow.persistence.sqlite import cache_statements, writing

if TYPE_CHECKING:
    from eventsourcing.application import Application

__all__ = ["ViewStore"]


class _ViewRecorder(Protocol):
    datastore: Any

    def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...  # noqa: ANN401
    def max_tracking_id(self, application_name: str) -> int | None: ...


class _SQLiteViews(SQLiteTrackingRecorder):
    """Tracking recorder whose transactions also carry the views' writes (SQLite)."""


def _postgres_views_class() -> type[TrackingRecorder]:
    from eventsourcing.postgres import PostgresTrackingRecorder  # noqa: PLC0415 - optional extra

    class _PostgresViews(PostgresTrackingRecorder):
        """Tracking recorder whose transactions also carry the views' writes (PostgreSQL)."""

    return _PostgresViews


class ViewStore:
    """Where the views live: the events' database, through ``eventsourcing``'s tracking recorder."""

    def __init__(self, recorder: TrackingRecorder, dialect: Dialect, *, owned: bool) -> None:
        self._recorder: _ViewRecorder = recorder  # type: ignore[assignment]
        self.dialect = dialect
        self._owned = owned
        # Called before every use of the views (writers of in-memory stores bringing in what
        # they deferred); not again while they run, since they use the views themselves.
        self._use_hooks: list[Callable[[], None]] = []
        self._in_hooks = threading.local()
        #: How long an SQLite write waits for the lock, if not the store's lock timeout.
        self._lock_wait: float | None = None

    @classmethod
    def for_application(cls, app: Application[Any]) -> ViewStore:
        """Views beside the application's events (a separate in-memory SQLite for POPO)."""
        module = app.env.get("PERSISTENCE_MODULE", "") or "eventsourcing.popo"
        if module == "eventsourcing.sqlite":
            recorder = app.factory.tracking_recorder(_SQLiteViews)
            return cls(recorder, Dialect("sqlite"), owned=False)
        if module == "eventsourcing.postgres":
            recorder = app.factory.tracking_recorder(_postgres_views_class())
            schema = getattr(recorder, "datastore").schema  # noqa: B009 - not on the base type
            return cls(recorder, Dialect("postgres", schema), owned=False)
        name = f"file:servflow-views-{uuid.uuid4().hex}?mode=memory&cache=shared"
        factory = InfrastructureFactory.construct(
            Environment(
                name=app.name,
                env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name},
            )
        )
        cache_statements(factory)
        recorder = factory.tracking_recorder(_SQLiteViews)
        return cls(recorder, Dialect("sqlite"), owned=True)

    @contextlib.contextmanager
    def transaction(self, *, commit: bool = True, bulk: bool = False) -> Iterator[Tx]:
        """A transaction on the views (committed on success when ``commit``).

        With ``commit`` on SQLite it holds the write lock from the start (``BEGIN IMMEDIATE``);
        on PostgreSQL, a transaction that applies events to the views takes ``lock`` first.
        ``bulk`` is for a rebuild's statements over whole tables (drops, index builds): on
        SQLite their temporary data go to files, not memory (see ``writing``).

        Without ``commit`` it is for reading only. On PostgreSQL a read then runs in
        autocommit: each statement is its own transaction, as it would be anyway under the
        default READ COMMITTED isolation (which gives every statement its own snapshot), but
        without the ``BEGIN`` and ``ROLLBACK`` round trips around it. Reads that must agree
        with each other are written as one statement (see ``with_position``).
        """
        self.run_use_hooks()
        if not commit and self.dialect.name == "postgres":
            with self._reading() as tx:
                yield tx
            return
        if commit and self.dialect.name == "sqlite":
            with writing(self._recorder.datastore, self._lock_wait, temp_in_files=bulk) as cursor:
                yield Tx(cursor, self.dialect)
            return
        with self._recorder.datastore.transaction(commit=commit) as cursor:
            yield Tx(cursor, self.dialect)

    @contextlib.contextmanager
    def patient(self, seconds: float) -> Iterator[None]:
        """While the block runs, SQLite writes wait up to ``seconds`` for the write lock.

        For a rebuild whose passes in other processes hold the lock for as long as a flush of
        their rows takes, which may be well past the store's lock timeout.
        """
        before = self._lock_wait
        self._lock_wait = seconds
        try:
            yield
        finally:
            self._lock_wait = before

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A transaction that reads the views as of one moment, statement after statement.

        SQLite's deferred transactions do so already; on PostgreSQL it is a ``REPEATABLE READ``
        transaction that only reads (the default isolation gives each statement its own).
        """
        self.run_use_hooks()
        if self.dialect.name != "postgres":
            with self._recorder.datastore.transaction(commit=False) as cursor:
                yield Tx(cursor, self.dialect)
            return
        with self._reading() as tx:
            tx.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield tx
            finally:
                tx.execute("ROLLBACK")

    def lock(self, tx: Tx) -> None:
        """Make other writers of this store's views wait until ``tx`` ends (PostgreSQL).

        Taken before a transaction reads the positions it will apply events after, so that
        no other one applies them meanwhile. One lock for the whole store: a batch writes every
        projection and its tracking row, so there is no order of locks to keep. A holder
        writes projection tables and positions only, and never waits for the events or the
        hash chain: a writer of events takes this lock while it holds theirs (inline
        projections ride in its transaction).
        SQLite's write transactions hold the store's write lock already: nothing to do there.
        """
        if self.dialect.name == "postgres":
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext(?), hashtext(?))",
                ("servflow:views", self.dialect.schema or "public"),
            )

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Tx]:
        # The library's pool hands out connections in autocommit already (its transactions
        # say BEGIN themselves); one configured otherwise goes back as it came.
        datastore: Any = self._recorder.datastore
        with datastore.get_connection() as connection:
            configured = connection.autocommit
            connection.autocommit = True
            try:
                with connection.cursor() as cursor:
                    yield Tx(cursor, self.dialect)
            finally:
                connection.autocommit = configured

    def on_use(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` before every later use of the views (see ``run_use_hooks``)."""
        self._use_hooks.append(hook)

    def run_use_hooks(self) -> None:
        """Run the use hooks now, unless they are running already in this thread."""
        if not self._use_hooks or getattr(self._in_hooks, "active", False):
            return
        self._in_hooks.active = True
        try:
            for hook in self._use_hooks:
                hook()
        finally:
            self._in_hooks.active = False

    def track(self, tx: Tx, key: str, position: int) -> None:
        """Record a position inside ``tx``; fails (``IntegrityError``) if it does not advance."""
        self._recorder._insert_tracking(tx._cursor, Tracking(key, position))  # noqa: SLF001

    def track_all(self, tx: Tx, keys: Sequence[str], position: int) -> None:
        """Record one position under several keys in one statement (see ``track``)."""
        if len(keys) < 2 or not self._recorder.datastore.single_row_tracking:  # noqa: PLR2004
            for key in keys:
                self.track(tx, key, position)
            return
        table = self._tracking_table()
        values = ", ".join("(?, ?)" for _ in keys)
        params: list[object] = []
        for key in keys:
            params += [key, position]
        # The library's single-row upsert, for every key at once: a key whose position would
        # not advance returns no row, and the batch fails as the library's insert would.
        moved = tx.query(
            f"INSERT INTO {table} (application_name, notification_id) VALUES {values} "  # noqa: S608
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = "
            f"excluded.notification_id WHERE {table}.notification_id < excluded.notification_id "
            "RETURNING application_name",
            params,
        )
        if len(moved) != len(keys):
            msg = f"failed to record tracking at {position} for {', '.join(keys)}"
            raise IntegrityError(msg)

    def positions_in(self, tx: Tx, keys: Sequence[str]) -> dict[str, int]:
        """The last positions recorded under ``keys`` (0 if none), read in one query."""
        found = dict.fromkeys(keys, 0)
        if keys:
            marks = ", ".join("?" * len(keys))
            for record in tx.query(
                f"SELECT application_name AS k, MAX(notification_id) AS n "  # noqa: S608
                f"FROM {self._tracking_table()} WHERE application_name IN ({marks}) "
                "GROUP BY application_name",
                keys,
            ):
                found[str(record["k"])] = int(record["n"] or 0)
        return found

    def with_position(
        self, tx: Tx, key: str, statement: str, params: Sequence[object] = ()
    ) -> tuple[int, list[Sequence[Any]]]:
        """A query of a projection's tables and the position (under ``key``) they are as of.

        Both come from one statement, so from one snapshot on every store (PostgreSQL gives
        each statement of a transaction its own): the rows can be neither newer nor older than
        the position, even while another process applies or rebuilds the projection.
        ``statement`` is a SELECT whose first column is never NULL; its rows come as sequences.
        """
        found = tx.rows(
            "SELECT mark.position, picked.* FROM (SELECT COALESCE(MAX(notification_id), 0) "  # noqa: S608
            f"AS position FROM {self._tracking_table()} WHERE application_name = ?) mark "
            f"LEFT JOIN ({statement}) picked ON 1 = 1",
            [key, *params],
        )
        position = int(found[0][0]) if found else 0
        return position, [row[1:] for row in found if row[1] is not None]

    def _tracking_table(self) -> str:
        if self.dialect.name == "postgres":
            return self.dialect.table(self._recorder.tracking_table_name)  # type: ignore[attr-defined]
        return "tracking"

    def position(self, key: str) -> int:
        """The last position recorded under ``key`` (0 if none)."""
        self.run_use_hooks()
        return self._recorder.max_tracking_id(key) or 0

    def forget(self, tx: Tx, key: str) -> None:
        """Remove the tracking row of ``key`` inside ``tx`` (for a rebuild)."""
        table = self._tracking_table()
        tx.execute(f"DELETE FROM {table} WHERE application_name = ?", (key,))  # noqa: S608

    def forget_prefix(self, tx: Tx, prefix: str) -> None:
        """Remove the tracking rows of every key that starts with ``prefix``, inside ``tx``."""
        table = self._tracking_table()
        tx.execute(
            f"DELETE FROM {table} WHERE substr(application_name, 1, ?) = ?",  # noqa: S608
            (len(prefix), prefix),
        )

    def close(self) -> None:
        """Release an in-memory view store (views beside real stores close with them)."""
        if self._owned:
            self._recorder.datastore.close()
