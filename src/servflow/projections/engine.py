"""The projection machinery: read models folded from the log, exactly once, in batches.

Each projection owns tables in the same database as the events and a tracking position
(``eventsourcing``'s single-row tracking, keyed ``servflow:<projection>``). A batch of events
is applied and its tracking position recorded in **one transaction**, so a crash between
reading an event and updating a view neither loses nor doubles it, and two followers racing
on the same store cannot both apply a batch: the loser's tracking insert fails, its
transaction rolls back, and it reads the positions again.

What ``eventsourcing`` 9.5 lacks and this module adds: a pull loop for SQLite (its recorder
has no ``subscribe()``), batched transactions (its runner commits once per event), rebuilds
with progress, and a follower that wakes on PostgreSQL ``NOTIFY`` but also polls, so a lost
notification only delays it by one poll interval.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import operator
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from servflow.sqlite import TEMP_STORE, cache_statements

if TYPE_CHECKING:
    from eventsourcing.application import Application
    from eventsourcing.persistence import Notification

__all__ = [
    "Dialect",
    "Progress",
    "Projection",
    "ProjectionStatus",
    "Projector",
    "RowProjection",
    "Tx",
    "ViewStore",
    "evolver",
    "from_micros",
    "id_text",
    "micros",
]

_log = logging.getLogger("servflow")
DialectName = Literal["sqlite", "postgres"]
RowT = TypeVar("RowT")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_ID_TEXTS: dict[uuid.UUID, str] = {}


def id_text(value: uuid.UUID) -> str:
    """``str(value)``, remembered: every projection keys rows by it, several times an event."""
    text = _ID_TEXTS.get(value)
    if text is None:
        if len(_ID_TEXTS) >= _MAX_ID_TEXTS:
            _ID_TEXTS.clear()
        text = _ID_TEXTS[value] = str(value)
    return text


_MAX_ID_TEXTS = 20_000


def micros(moment: datetime | None) -> int | None:
    """An instant as integer microseconds since the epoch: sortable, exact, in every store."""
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int | None) -> datetime | None:
    """The instant stored by ``micros``, in UTC."""
    if value is None:
        return None
    return _EPOCH + timedelta(0, 0, value)  # positional: faster than microseconds=value


@dataclass(frozen=True)
class Dialect:
    """How SQL differs between the stores: placeholders and schema-qualified table names."""

    name: DialectName
    schema: str | None = None

    def table(self, name: str) -> str:
        """The table's name as SQL should say it."""
        if self.name == "postgres" and self.schema:
            return f'"{self.schema}"."{name}"'
        return f'"{name}"'

    @property
    def position_key(self) -> str:
        """The column type of a table keyed by log position.

        In SQLite exactly ``INTEGER PRIMARY KEY`` makes the column the table's rowid; any other
        spelling (``BIGINT``) keeps a separate unique index, one more B-tree to write per row.
        """
        return "INTEGER PRIMARY KEY" if self.name == "sqlite" else "BIGINT PRIMARY KEY"

    def sql(self, statement: str) -> str:
        """Adapt a statement written with ``?`` placeholders."""
        return statement.replace("?", "%s") if self.name == "postgres" else statement


class _Cursor(Protocol):
    def execute(self, *args: Any, **kwargs: Any) -> Any: ...  # noqa: ANN401
    def executemany(self, *args: Any, **kwargs: Any) -> Any: ...  # noqa: ANN401
    def fetchall(self) -> Any: ...  # noqa: ANN401


class Tx:
    """One transaction on the view store; statements use ``?`` placeholders in every dialect."""

    def __init__(self, cursor: _Cursor, dialect: Dialect) -> None:
        self._cursor = cursor
        self.dialect = dialect
        #: Values the projections of one transaction derive alike and may share (an SLA
        #: tracker folded, a status measured, once for the queue and SLA views); it lives and
        #: dies with the transaction, so nothing in it outlasts the batch that computed it.
        self.memo: dict[Hashable, Any] = {}

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        """Run one statement."""
        self._cursor.execute(self.dialect.sql(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement for many parameter rows."""
        batch = [row if isinstance(row, tuple) else tuple(row) for row in rows]
        if batch:
            self._cursor.executemany(self.dialect.sql(statement), batch)

    def query(self, statement: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        self._cursor.execute(self.dialect.sql(statement), tuple(params))
        return [dict(row) for row in self._cursor.fetchall()]

    def rows(self, statement: str, params: Sequence[object] = ()) -> list[Sequence[Any]]:
        """Run a query and return its rows as sequences, in the order of the selected columns.

        ``query`` copies each row into a dict; a hot read need not: rows come as the driver
        makes them, SQLite's (which index by position) or PostgreSQL's tuples.
        """
        if self.dialect.name != "postgres":
            self._cursor.execute(statement, tuple(params))
            rows: list[Any] = self._cursor.fetchall()
            return rows
        # The library's PostgreSQL connections make a dict of every row: tuples, for this one.
        from psycopg.rows import tuple_row  # noqa: PLC0415 - psycopg is an optional extra

        cursor: Any = self._cursor
        factory = cursor.row_factory
        cursor.row_factory = tuple_row
        try:
            cursor.execute(self.dialect.sql(statement), tuple(params))
            rows = cursor.fetchall()
        finally:
            cursor.row_factory = factory
        return rows


class Projection(ABC):
    """A read model: a fold of the log into tables of its own.

    Subclasses declare ``name`` (also the tracking key) and ``version`` (bump it when the
    tables change shape: the projector then rebuilds it from the log), create their tables,
    and apply batches of events. They must ignore events they do not use.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1

    def bind(self, dialect: Dialect) -> None:
        """Called once by the projector before anything else."""
        self.dialect = dialect
        self.__dict__.pop("_upsert", None)  # statements remembered for another store

    def t(self, table: str) -> str:
        """A table of this projection, qualified for the store."""
        return self.dialect.table(table)

    @abstractmethod
    def tables(self) -> Sequence[str]:
        """The projection's table names (dropped on rebuild)."""

    @abstractmethod
    def create(self, tx: Tx) -> None:
        """Create the tables if they do not exist (their secondary indexes: ``indexes``)."""

    def indexes(self) -> Sequence[str]:
        """``CREATE INDEX IF NOT EXISTS`` statements for the tables' secondary indexes.

        Kept apart from ``create`` so that a rebuild can fill the tables first and build each
        index once at the end, which is several times faster than keeping them up to date row
        by row; every other time they are created with the tables.
        """
        return ()

    def begin(self, position: int) -> None:  # noqa: B027 - optional, nothing by default
        """Be told, before ``apply``, the committed position read in the same transaction.

        A projection that remembers rows between batches drops them unless they are as of
        that position.
        """

    def end(self, position: int) -> None:  # noqa: B027 - optional, nothing by default
        """Be told, after ``apply``, the position the batch takes the projection to."""

    def committed(self) -> None:  # noqa: B027 - optional, nothing by default
        """Be told that the transaction of the last ``apply`` committed."""

    def rolled_back(self) -> None:  # noqa: B027 - optional, nothing by default
        """Be told that the transaction of the last ``apply`` did not commit."""

    def create_all(self, tx: Tx) -> None:
        """Create the tables and their indexes."""
        self.create(tx)
        for statement in self.indexes():
            tx.execute(statement)

    @abstractmethod
    def apply(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:
        """Fold a batch of ``(position, event)`` pairs, in log order, into the tables."""


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
    def transaction(self, *, commit: bool = True) -> Iterator[Tx]:
        """A transaction on the views (committed on success when ``commit``).

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
        with self._recorder.datastore.transaction(commit=commit) as cursor:
            yield Tx(cursor, self.dialect)

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

    def close(self) -> None:
        """Release an in-memory view store (views beside real stores close with them)."""
        if self._owned:
            self._recorder.datastore.close()


@dataclass(frozen=True)
class Progress:
    """How far a catch-up or rebuild has come."""

    done: int
    total: int
    position: int
    head: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Events per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class ProjectionStatus:
    """Where a projection stands against the head of the log."""

    name: str
    version: int
    position: int
    head: int

    @property
    def lag(self) -> int:
        """How many positions the projection is behind (an upper bound: ids may have gaps)."""
        return max(0, self.head - self.position)


ProgressCallback = Callable[[Progress], None]

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


def _analyze(tx: Tx, projections: Sequence[Projection]) -> None:
    """Refresh the planner statistics of the projections' tables."""
    for projection in projections:
        for table in projection.tables():
            tx.execute(f"ANALYZE {projection.t(table)}")


@contextlib.contextmanager
def _fewer_full_collections() -> Iterator[None]:
    """Make the garbage collector's full passes rare while batches are applied.

    A batch makes many short-lived objects; each full pass walks every object the process
    holds, and during a rebuild those passes took 20-30% of the CPU time (measured on 20,000
    events). Young objects are still collected as usual (servflow's batches make no reference
    cycles that only a full pass could free), and the thresholds come back as they were when
    the last batch loop ends (batch loops in several threads share one setting).
    """
    global _gc_users, _gc_saved  # noqa: PLW0603 - one process-wide setting, counted
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            young, middle, *_ = _gc_saved
            gc.set_threshold(young, middle, _RARE_FULL_COLLECTIONS)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


#: Generation-1 passes between full passes while batches are applied (CPython's default: 10).
_RARE_FULL_COLLECTIONS = 1000


class Projector:
    """Follows the log of one store and keeps a set of projections up to date.

    ``catch_up()`` applies every event not yet applied, in batches; the desk calls it after
    each command in inline mode. ``follow()`` keeps doing so (a separate process, or a thread).
    ``rebuild()`` drops a projection's tables and replays the whole log into them.
    """

    def __init__(
        self,
        app: Application[Any],
        projections: Sequence[Projection],
        views: ViewStore | None = None,
        *,
        batch_size: int = 1000,
        rebuild_batch_size: int = 5000,
    ) -> None:
        self._app = app
        self.views = views or ViewStore.for_application(app)
        self.projections: dict[str, Projection] = {}
        for projection in projections:
            if projection.name in self.projections:
                msg = f"two projections are named {projection.name!r}"
                raise ValueError(msg)
            projection.bind(self.views.dialect)
            self.projections[projection.name] = projection
        self.batch_size = batch_size
        #: A rebuild's batches: larger, since nothing reads the half-built view's freshness
        #: and each commit costs a sync of the store.
        self.rebuild_batch_size = rebuild_batch_size
        #: Set when an inline pass left a projection behind; the next catch-up clears it.
        self.behind = False
        self._lock = threading.RLock()
        self._positions: dict[str, int] = {}
        # Projections that applied events in a writer's transaction not yet committed, per
        # thread: writers on PostgreSQL may run their transactions in several threads at once.
        self._inline = threading.local()
        #: Events waiting to be applied in one batch (see ``defer``), and how many may wait.
        self._deferred: list[tuple[int, object]] = []
        self.defer_limit = 500
        #: A catch-up that applies at least this many events refreshes PostgreSQL's planner
        #: statistics of the tables it filled (``ANALYZE``): a view filled from nothing has none
        #: until autovacuum gets to it, and PostgreSQL then scans where an index would do
        #: (``breaches`` took 15 ms instead of 1 ms on 20k fresh rows).
        self.analyze_after = 10_000
        self.views.on_use(self.flush)
        self._setup()

    def key(self, projection: Projection) -> str:
        """The tracking key a projection's position is recorded under."""
        return f"{self._app.name}:{projection.name}"

    def _version_key(self, projection: Projection) -> str:
        return f"{self._app.name}:{projection.name}#version"

    def _setup(self) -> None:
        for projection in self.projections.values():
            stored_version = self.views.position(self._version_key(projection))
            with self.views.transaction() as tx:
                if stored_version and stored_version != projection.version:
                    # The tables have another shape: start again from an empty view.
                    self._drop(tx, projection)
                projection.create_all(tx)
                if stored_version != projection.version:
                    self.views.forget(tx, self._version_key(projection))
                    self.views.track(tx, self._version_key(projection), projection.version)
        self._refresh_positions()

    def _drop(self, tx: Tx, projection: Projection) -> None:
        for table in projection.tables():
            tx.execute(f"DROP TABLE IF EXISTS {projection.t(table)}")
        self.views.forget(tx, self.key(projection))

    def _refresh_positions(self) -> None:
        self._positions = {
            name: self.views.position(self.key(p)) for name, p in self.projections.items()
        }

    def head(self) -> int:
        """The newest position in the log (0 when empty)."""
        return self._app.recorder.max_notification_id() or 0

    def status(self) -> list[ProjectionStatus]:
        """Each projection's position against the head of the log."""
        with self._lock:
            self._refresh_positions()
            head = self.head()
            return [
                ProjectionStatus(name, p.version, self._positions[name], head)
                for name, p in self.projections.items()
            ]

    def catch_up(
        self,
        *,
        names: Iterable[str] | None = None,
        progress: ProgressCallback | None = None,
        limit: int | None = None,
        batch_size: int | None = None,
        analyze: bool = True,
    ) -> int:
        """Apply every event the projections have not seen; returns how many were read.

        ``limit`` stops after about that many events (used to simulate a crash in tests);
        ``batch_size`` overrides the projector's for this call; ``analyze`` lets a large
        catch-up refresh PostgreSQL's statistics (see ``analyze_after``).
        """
        batch = batch_size or self.batch_size
        with self._lock, _fewer_full_collections():
            self.behind = False
            self._refresh_positions()
            selected = [self.projections[n] for n in (names or self.projections)]
            started = time.perf_counter()
            head = self.head()
            first = min((self._positions[p.name] for p in selected), default=head)
            total = max(0, head - first)
            done = 0
            while True:
                start = min(self._positions[p.name] for p in selected)
                size = batch if limit is None else min(batch, limit - done)
                if size <= 0:
                    break
                notifications = self._app.recorder.select_notifications(
                    start=start, limit=size, inclusive_of_start=False
                )
                if not notifications:
                    break
                try:
                    self._apply(selected, notifications)
                except IntegrityError:
                    # Another follower applied (part of) this batch first: start from its work.
                    self._refresh_positions()
                    continue
                done += len(notifications)
                if progress:
                    position = notifications[-1].id
                    progress(
                        Progress(
                            done=done,
                            total=max(total, done),
                            position=position,
                            head=max(head, position),
                            elapsed=time.perf_counter() - started,
                        )
                    )
            if analyze and done >= self.analyze_after and self.views.dialect.name == "postgres":
                with self.views.transaction() as tx:
                    _analyze(tx, selected)
            return done

    def _apply(self, selected: Sequence[Projection], notifications: Sequence[Notification]) -> None:
        to_event = self._app.mapper.to_domain_event
        self._apply_batch(selected, [(n.id, to_event(n)) for n in notifications])

    def _apply_batch(
        self,
        selected: Sequence[Projection],
        events: Sequence[tuple[int, object]],
        *,
        contiguous: bool = False,
    ) -> bool:
        """Apply events to projections in one views transaction, with their tracking.

        Each projection takes the events after its own position. With ``contiguous``, nothing
        is applied (False) unless every projection has applied everything before the events.
        """
        first, last = events[0][0], events[-1][0]
        advanced: dict[str, int] = {}
        touched: list[Projection] = []
        try:
            with self.views.transaction() as tx:
                keys = [self.key(p) for p in selected]
                positions = self.views.positions_in(tx, keys)
                if contiguous and any(positions[key] < first - 1 for key in keys):
                    return False
                for projection, key in zip(selected, keys, strict=True):
                    position = positions[key]
                    fresh = [pair for pair in events if pair[0] > position]
                    if not fresh:
                        continue
                    touched.append(projection)
                    projection.begin(position)
                    projection.apply(fresh, tx)
                    projection.end(last)
                    advanced[projection.name] = last
                self.views.track_all(tx, [self.key(p) for p in touched], last)
        except BaseException:
            for projection in touched:
                projection.rolled_back()
            raise
        for projection in touched:
            projection.committed()
        self._positions.update(advanced)
        return True

    def defer(self, events: Sequence[tuple[int, object]]) -> None:
        """Keep events just recorded, to apply them in one batch before the views are next used.

        For in-memory stores, whose views live in a database of their own: the batch is applied
        before any read of the views (so a query after a command still sees it), or once
        ``defer_limit`` events wait. What a batch of commands costs is then close to a
        catch-up's cost per event, rather than a transaction per command.
        """
        with self._lock:
            self._deferred.extend(events)
            full = len(self._deferred) >= self.defer_limit
        if full:
            self.flush()

    def flush(self) -> None:
        """Apply the deferred events now (from the log instead if the views fell behind)."""
        with self._lock:
            if not self._deferred:
                return
            events, self._deferred = self._deferred, []
            try:
                if not self.apply_recorded(events):
                    self.catch_up()
            except Exception:  # noqa: BLE001 - a view must never cost a command or a read
                _log.exception("servflow: projections could not catch up; they will retry")
                self.behind = True

    def apply_recorded(self, events: Sequence[tuple[int, object]]) -> bool:
        """Apply events just recorded (``(position, event)``, in order), as a catch-up would.

        They are applied in a transaction of the views' own, without reading them back from
        the log. Returns False, applying nothing, when a projection has not applied everything
        before them: the caller catches up instead.
        """
        if not events:
            return True
        with self._lock:
            return self._apply_batch(list(self.projections.values()), events, contiguous=True)

    def record_inline(self, tx: Tx, stored: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        """A recording hook: apply events in the transaction that inserts them.

        Only a projection that has applied everything before these events takes part; one that
        is behind (another process wrote meanwhile) is left for ``catch_up`` after the commit,
        so a write never carries someone else's backlog. A failing projection is rolled back
        to a savepoint: the events still commit and the view catches up later.
        """
        first, last = min(ids), max(ids)
        to_event = self._app.mapper.to_domain_event
        fresh = [(i, to_event(s)) for i, s in zip(ids, stored, strict=True)]
        events_table: str = getattr(self._app.recorder, "events_table_name", "stored_events")
        id_column = "notification_id" if self.views.dialect.name == "postgres" else "rowid"
        # A transaction whose outcome was never reported (a retried insert, say) is taken as
        # rolled back: its rows are not remembered.
        self.inline_outcome(committed=False)
        tx.execute("SAVEPOINT servflow_views")
        touched: list[Projection] = []
        try:
            keys = {name: self.key(p) for name, p in self.projections.items()}
            positions = self.views.positions_in(tx, list(keys.values()))
            for name, projection in self.projections.items():
                key = keys[name]
                position = positions[key]
                if position >= last:
                    continue
                if position < first - 1 and tx.query(
                    f"SELECT {id_column} AS n FROM {self.views.dialect.table(events_table)} "  # noqa: S608
                    f"WHERE {id_column} > ? AND {id_column} < ? LIMIT 1",
                    (position, first),
                ):
                    self.behind = True
                    continue
                touched.append(projection)
                projection.begin(position)
                projection.apply([pair for pair in fresh if pair[0] > position], tx)
                projection.end(last)
            self.views.track_all(tx, [self.key(p) for p in touched], last)
        except Exception:  # noqa: BLE001 - a view must never cost the events their commit
            tx.execute("ROLLBACK TO SAVEPOINT servflow_views")
            _log.exception("servflow: inline projections failed; they will catch up later")
            self.behind = True
            for projection in touched:
                projection.rolled_back()
            touched = []
        tx.execute("RELEASE SAVEPOINT servflow_views")
        self._inline_pending.extend(touched)

    @property
    def _inline_pending(self) -> list[Projection]:
        pending: list[Projection] | None = getattr(self._inline, "pending", None)
        if pending is None:
            pending = self._inline.pending = []
        return pending

    def inline_outcome(self, committed: bool) -> None:  # noqa: FBT001 - the hook's signature
        """An outcome hook: the transaction of the last ``record_inline`` ended so."""
        pending = list(self._inline_pending)
        self._inline_pending.clear()
        for projection in pending:
            if committed:
                projection.committed()
            else:
                projection.rolled_back()

    def rebuild(
        self, *, names: Iterable[str] | None = None, progress: ProgressCallback | None = None
    ) -> int:
        """Drop the projections' tables and replay the whole log into them, in batches.

        Writers are not blocked: each batch is its own short transaction. Readers see the
        view fill up from empty while it runs.
        """
        with self._lock:
            selected = [self.projections[n] for n in (names or self.projections)]
            with self.views.transaction() as tx:
                for projection in selected:
                    self._drop(tx, projection)
                    projection.create(tx)
            self._refresh_positions()
            done = self.catch_up(
                names=[p.name for p in selected],
                progress=progress,
                batch_size=max(self.batch_size, self.rebuild_batch_size),
                analyze=False,  # below, once the indexes are in
            )
            # The indexes are built once the rows are in (should the rebuild stop before this,
            # the next projector creates them on start). Fresh tables have no planner
            # statistics either: without them PostgreSQL may scan where an index would do.
            with self.views.transaction() as tx:
                sqlite = self.views.dialect.name == "sqlite"
                if sqlite:
                    # Sorting a large table for an index in memory would make the rebuild's
                    # peak memory grow with the log: let SQLite sort in temporary files.
                    tx.execute("PRAGMA temp_store = FILE")
                try:
                    for projection in selected:
                        for statement in projection.indexes():
                            tx.execute(statement)
                    _analyze(tx, selected)
                finally:
                    if sqlite:
                        tx.execute(f"PRAGMA temp_store = {TEMP_STORE}")
            return done

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_interval: float = 0.5,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Keep catching up until ``stop`` is set; wakes on PostgreSQL NOTIFY, else polls."""
        listener = self._listener()
        try:
            while not stop.is_set():
                self.catch_up(progress=progress)
                if listener is not None:
                    listener(poll_interval)
                else:
                    stop.wait(poll_interval)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    listener(-1)

    def _listener(self) -> Callable[[float], None] | None:
        """A function that waits up to N seconds for a NOTIFY on the events' channel."""
        if self.views.dialect.name != "postgres":
            return None
        import psycopg  # noqa: PLC0415 - optional extra
        from psycopg import sql  # noqa: PLC0415

        recorder: Any = self._app.recorder
        connection = psycopg.connect(
            dbname=self._app.env.get("POSTGRES_DBNAME"),
            host=self._app.env.get("POSTGRES_HOST"),
            port=self._app.env.get("POSTGRES_PORT"),
            user=self._app.env.get("POSTGRES_USER"),
            password=self._app.env.get("POSTGRES_PASSWORD") or None,
            autocommit=True,
        )
        connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(recorder.channel_name)))

        def wait(timeout: float) -> None:
            if timeout < 0:
                connection.close()
                return
            for _ in connection.notifies(timeout=timeout, stop_after=1):
                pass

        return wait

    def close(self) -> None:
        """Release the view store."""
        self.views.close()


def evolver(row_class: type[RowT]) -> Callable[[RowT, Mapping[str, Any]], RowT]:
    """A function copying a dataclass row with some fields changed (folds stay pure).

    Faster than ``dataclasses.replace``: the fields are read with one ``attrgetter``.
    """
    values = operator.attrgetter(*(f.name for f in dataclasses.fields(row_class)))  # type: ignore[arg-type]

    def evolve(row: RowT, changes: Mapping[str, Any]) -> RowT:
        copy = row_class(*values(row))
        for name, value in changes.items():
            setattr(copy, name, value)
        return copy

    return evolve


class _RowMemory(Generic[RowT]):
    """One thread's remembered rows of a projection (see ``RowProjection.begin``)."""

    def __init__(self) -> None:
        #: Rows as the table holds them at ``position``, least recently written first.
        self.rows: dict[str, RowT] = {}
        self.position: int | None = None
        #: Rows written by the batch in progress (None outside a batch), and where it ends.
        self.pending: dict[str, RowT] | None = None
        self.pending_position: int | None = None


class RowProjection(Projection, Generic[RowT]):
    """A projection with one row per request, folded in memory a batch at a time.

    ``fold(row, event)`` is pure (the old row in, the new row out; ``None`` before the
    request's first event), so a rebuild and incremental following give the same rows by
    construction. The batch loads the rows it touches once and writes them back once.
    """

    table: ClassVar[str]
    #: Column names in the order ``to_values`` returns them; the first is the request id.
    columns: ClassVar[tuple[str, ...]]

    @abstractmethod
    def fold(self, row: RowT | None, event: object) -> RowT | None:
        """The row after ``event`` (return ``row`` unchanged for events it does not use)."""

    @abstractmethod
    def key_of(self, row: RowT) -> str:
        """The request id of a row, as the first column holds it."""

    @abstractmethod
    def to_values(self, row: RowT) -> tuple[object, ...]:
        """The row as column values, in ``columns`` order."""

    @abstractmethod
    def from_record(self, record: Mapping[str, Any]) -> RowT:
        """A row read back from the table."""

    #: Rows remembered per thread between transactions (see ``begin``): the requests a desk
    #: works on now, whose rows the next command would otherwise read back from the table.
    remembered: ClassVar[int] = 2000

    def relevant(self, event: object) -> bool:
        """Whether ``fold`` may change a row for this event (default: every request event)."""
        return hasattr(event, "originator_id")

    # -- rows remembered between transactions ----------------------------------------------
    #
    # A row written by a committed batch that took the projection to position P is what the
    # table holds for as long as the projection stays at P: every change to a row moves the
    # position (the fold is a function of the log). So the rows a thread wrote are reused
    # while the position read in the next transaction is still the one it left, and dropped
    # otherwise; rows of a batch that did not commit are never kept.

    def _memory(self) -> _RowMemory[RowT]:
        local = self.__dict__.get("_row_memory")
        if local is None:
            local = self.__dict__["_row_memory"] = threading.local()
        memory: _RowMemory[RowT] | None = getattr(local, "memory", None)
        if memory is None:
            memory = local.memory = _RowMemory()
        return memory

    def begin(self, position: int) -> None:  # noqa: D102
        memory = self._memory()
        if memory.position != position:
            memory.rows.clear()
            memory.position = None
        memory.pending = {}
        memory.pending_position = None

    def end(self, position: int) -> None:  # noqa: D102
        memory = self._memory()
        if memory.pending is not None:
            memory.pending_position = position

    def committed(self) -> None:  # noqa: D102
        memory = self._memory()
        if memory.pending is None or memory.pending_position is None:
            return
        rows = memory.rows
        for key, row in memory.pending.items():
            rows.pop(key, None)
            rows[key] = row
        while len(rows) > self.remembered:
            del rows[next(iter(rows))]
        memory.position = memory.pending_position
        memory.pending = None
        memory.pending_position = None

    def rolled_back(self) -> None:  # noqa: D102
        memory = self._memory()
        memory.rows.clear()
        memory.position = None
        memory.pending = None
        memory.pending_position = None

    def tables(self) -> Sequence[str]:  # noqa: D102
        return (self.table,)

    def apply(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:  # noqa: D102
        wanted = [event for _, event in events if self.relevant(event)]
        if not wanted:
            return
        keyed = [(id_text(event.originator_id), event) for event in wanted]  # type: ignore[attr-defined]
        keys = list(dict.fromkeys(key for key, _ in keyed))
        rows: dict[str, RowT | None] = dict.fromkeys(keys)
        loaded = self.load(tx, keys)
        rows.update(loaded)
        changed: set[str] = set()
        for key, event in keyed:
            before = rows[key]
            after = self.fold(before, event)
            if after is not before:
                rows[key] = after
                changed.add(key)
        stored = [row for key in keys if key in changed and (row := rows[key]) is not None]
        self.store(tx, stored, loaded)
        self.stored(tx, loaded, stored)

    def stored(self, tx: Tx, before: Mapping[str, RowT], after: Sequence[RowT]) -> None:
        """Be told what a batch stored: for tables kept beside the rows, such as totals.

        ``before`` holds the rows as they were (absent for requests new to the view).
        """

    def load(self, tx: Tx, keys: Sequence[str]) -> dict[str, RowT]:
        """Read the rows of these requests (missing ones are simply absent)."""
        found: dict[str, RowT] = {}
        memory = self._memory()
        if memory.pending is not None and memory.position is not None:
            # Inside a batch that began at the position the remembered rows are as of.
            remembered = memory.rows
            missing = []
            for key in keys:
                row = remembered.get(key)
                if row is None:
                    missing.append(key)
                else:
                    found[key] = row
            keys = missing
        names = ", ".join(self.columns)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            statement = (
                f"SELECT {names} FROM {self.t(self.table)} WHERE {self.columns[0]} IN ({marks})"  # noqa: S608
            )
            for record in tx.query(statement, chunk):
                row = self.from_record(record)
                found[str(record[self.columns[0]])] = row
        return found

    def store(self, tx: Tx, rows: Sequence[RowT], before: Mapping[str, RowT] | None = None) -> None:
        """Write rows: ``before`` holds the stored version of those that exist, if known.

        A row stored before is updated in the columns that changed, and only those: setting a
        column to the value it has still rewrites every index holding it (in SQLite, seven
        times the bytes a command writes; in PostgreSQL, no in-place update). The others are
        upserted.
        """
        if not rows:
            return
        memory = self._memory()
        if memory.pending is not None:
            for row in rows:
                memory.pending[self.key_of(row)] = row
        fresh: list[tuple[object, ...]] = []
        changed: dict[tuple[int, ...], list[tuple[object, ...]]] = {}
        for row in rows:
            values = self.to_values(row)
            old = None if before is None else before.get(self.key_of(row))
            if old is None:
                fresh.append(values)
                continue
            previous = self.to_values(old)
            which = tuple(i for i in range(1, len(values)) if values[i] != previous[i])
            if which:
                changed.setdefault(which, []).append((*(values[i] for i in which), values[0]))
        if fresh:
            tx.executemany(self._upsert_statement(), fresh)
        for which, params in changed.items():
            sets = ", ".join(f"{self.columns[i]} = ?" for i in which)
            tx.executemany(
                f"UPDATE {self.t(self.table)} SET {sets} WHERE {self.columns[0]} = ?",  # noqa: S608
                params,
            )

    def _upsert_statement(self) -> str:
        statement: str | None = self.__dict__.get("_upsert")
        if statement is None:
            key, *rest = self.columns
            updates = ", ".join(f"{name} = excluded.{name}" for name in rest)
            statement = self.__dict__["_upsert"] = (
                f"INSERT INTO {self.t(self.table)} ({', '.join(self.columns)}) "  # noqa: S608
                f"VALUES ({', '.join('?' * len(self.columns))}) "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
            )
        return statement
