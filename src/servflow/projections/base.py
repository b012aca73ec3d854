"""What a projection is: a fold of the log into tables of its own; rows folded one by one."""

from __future__ import annotations

import dataclasses
import operator
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from servflow.persistence.sql import Dialect, Tx, id_text
from servflow.projections.shares import Share

__all__ = ["Projection", "RowProjection", "evolver"]

RowT = TypeVar("RowT")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Projection(ABC):
    """A read model: a fold of the log into tables of its own.

    Subclasses declare ``name`` (also the tracking key) and ``version`` (bump it when the
    tables change shape: the projector then rebuilds it from the log), create their tables,
    and apply batches of events. They must ignore events they do not use.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    #: The requests whose events this projection folds in a rebuild shared out by requests
    #: (``take_share``); None: all of them.
    share: Share | None = None

    def take_share(self, share: Share | None) -> None:
        """Fold only ``share``'s requests from now on (a rebuild's pass), or all (None)."""
        self.share = share

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


def _keep_newest(kept: dict[K, V], newer: Mapping[K, V], bound: int) -> None:
    """Put ``newer`` entries last in ``kept`` (most recent), then drop the oldest past ``bound``."""
    for key, value in newer.items():
        kept.pop(key, None)
        kept[key] = value
    while len(kept) > bound:
        del kept[next(iter(kept))]


class _RowMemory(Generic[RowT]):
    """One thread's remembered rows of a projection (see ``RowProjection.begin``)."""

    def __init__(self) -> None:
        #: Rows as the table holds them at ``position``, least recently written first.
        self.rows: dict[str, RowT] = {}
        self.position: int | None = None
        #: Rows written by the batch in progress (None outside a batch), and where it ends.
        self.pending: dict[str, RowT] | None = None
        self.pending_position: int | None = None
        #: Values kept beside the rows (a total, say), as of ``position``, and those the batch
        #: in progress wrote (see ``RowProjection.recall``).
        self.values: dict[Hashable, object] = {}
        self.pending_values: dict[Hashable, object] = {}


class _Staged(Generic[RowT]):
    """A rebuild's rows kept in memory across batches (see ``RowProjection.stage``)."""

    def __init__(self, position: int) -> None:
        #: The position the table's rows are as of: the last checkpoint.
        self.position = position
        #: Rows as the table holds them (None: no row), least recently used first.
        self.clean: dict[str, RowT | None] = {}
        #: Rows folded since the checkpoint, and the stored version of those the table has.
        self.dirty: dict[str, RowT] = {}
        self.before: dict[str, RowT] = {}
        #: The rows a checkpoint wrote, kept clean once its transaction commits.
        self.written: list[RowT] = []
        #: Dirty rows as the next checkpoint writes them, computed before it takes the lock.
        self.ready: dict[str, RowT] = {}


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
    #: Values kept beside the rows per thread (``remember``): the totals recent batches wrote.
    remembered_values: ClassVar[int] = 512

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
        if memory.position != position or memory.pending is not None:
            # Another writer moved the view, or the last batch never said how it ended.
            memory.rows.clear()
            memory.values.clear()
            memory.position = None
        memory.pending = {}
        memory.pending_values = {}
        memory.pending_position = None

    def end(self, position: int) -> None:  # noqa: D102
        memory = self._memory()
        if memory.pending is not None:
            memory.pending_position = position

    def committed(self) -> None:  # noqa: D102
        memory = self._memory()
        if memory.pending is None or memory.pending_position is None:
            return
        _keep_newest(memory.rows, memory.pending, self.remembered)
        _keep_newest(memory.values, memory.pending_values, self.remembered_values)
        memory.position = memory.pending_position
        memory.pending = None
        memory.pending_values = {}
        memory.pending_position = None

    def rolled_back(self) -> None:  # noqa: D102
        memory = self._memory()
        memory.rows.clear()
        memory.values.clear()
        memory.position = None
        memory.pending = None
        memory.pending_values = {}
        memory.pending_position = None

    def recall(self, key: Hashable) -> object | None:
        """A value kept beside the rows (``remember``), if this thread knows it; else None.

        Known only inside a batch (``begin``) that starts where the remembered rows are as of:
        the value as the table holds it, or as this batch last wrote it. The caller may change
        what it gets in place, as it changes the table: a batch that does not commit (rolled
        back, or never said to end before the next ``begin``) makes every value forgotten.
        """
        memory = self._memory()
        if memory.pending is None or memory.position is None:
            return None
        found = memory.pending_values.get(key)
        if found is None:
            found = memory.values.get(key)
        return found

    def remember(self, key: Hashable, value: object) -> None:
        """Keep a value this batch wrote beside the rows (kept once the batch commits)."""
        memory = self._memory()
        if memory.pending is not None:
            memory.pending_values[key] = value

    # -- a rebuild's rows kept across batches ---------------------------------------------
    #
    # A rebuild folds the log batch by batch into rows kept in memory, and writes the rows it
    # changed (and their tracking position) only at a checkpoint: when ``staged_rows`` rows
    # wait to be written, or at the end. A request's row is then read, measured and written
    # about once per rebuild instead of once per batch that touches it, however the log
    # interleaves requests. Between checkpoints the table holds the rows as of the last one,
    # so the tracking position is exact at every commit; a rebuild that dies restarts from it.

    #: Rows a rebuild keeps in memory (folded but not yet written, and read back), at most.
    #: A checkpoint comes when this many wait to be written: the fewer checkpoints a request
    #: is still moving at, the fewer times its SLA status is measured (each checkpoint writes
    #: its row as of then). About 10 MiB per 1,000 rows of the queue and SLA views together.
    staged_rows: ClassVar[int] = 10_000

    def stageable(self, events: Sequence[tuple[int, object]]) -> bool:
        """Whether a rebuild may fold these events in memory (else: a checkpoint, ``apply``)."""
        del events
        return True

    def stage_start(self, position: int) -> None:
        """Start keeping rows in memory, from the table as of ``position``."""
        self.rolled_back()  # no row remembered by ``apply`` outlives a rebuild's writes
        self.__dict__["_staged"] = _Staged[RowT](position)

    def stage_stop(self) -> None:
        """Forget the rows kept in memory (a checkpoint did not commit, or the rebuild ended)."""
        self.__dict__.pop("_staged", None)

    @property
    def staged(self) -> _Staged[RowT]:
        """The rows a rebuild keeps in memory (``stage_start`` first)."""
        staged: _Staged[RowT] = self.__dict__["_staged"]
        return staged

    def stage(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:
        """Fold events into the rows kept in memory; ``tx`` reads the rows not kept."""
        staged = self.staged
        clean, dirty, before = staged.clean, staged.dirty, staged.before
        keyed = [
            (id_text(event.originator_id), event)  # type: ignore[attr-defined]
            for _, event in events
            if self.relevant(event)
        ]
        missing = [
            key
            for key in dict.fromkeys(key for key, _ in keyed)
            if key not in dirty and key not in clean
        ]
        if missing:
            found = self._select(tx, missing)
            for key in missing:
                clean[key] = found.get(key)
        for key, event in keyed:
            row = dirty.get(key)
            if row is None:
                old = clean[key]
                after = self.fold(old, event)
                if after is old or after is None:
                    clean[key] = clean.pop(key)  # most recently used
                    continue
                del clean[key]
                if old is not None:
                    before[key] = old
                dirty[key] = after
                continue
            after = self.fold(row, event)
            if after is not None:
                dirty[key] = after
        while len(clean) + len(dirty) > self.staged_rows and clean:
            del clean[next(iter(clean))]

    def stage_full(self) -> bool:
        """Whether the rows folded in memory should be written now."""
        return len(self.staged.dirty) >= self.staged_rows

    def stage_dirty(self) -> list[str]:
        """The requests whose rows were folded since the last checkpoint."""
        return list(self.staged.dirty)

    def stage_prepare(self, tx: Tx, keys: Sequence[str]) -> None:
        """Compute the rows of these requests as the next checkpoint will write them.

        Run before the checkpoint's write transaction (``tx`` only reads), so that the work of
        preparing rows (an SLA measure for each) does not hold the store's write lock: rebuilds
        in several processes take turns at it for the writes alone.
        """
        del tx  # a measured projection reads its policies with it
        staged = self.staged
        chosen = [key for key in keys if key in staged.dirty and key not in staged.ready]
        if chosen:
            rows = self.prepared([staged.dirty[key] for key in chosen])
            staged.ready.update(zip(chosen, rows, strict=True))

    def stage_flush(self, tx: Tx, keys: Sequence[str]) -> None:
        """Write the rows of these requests folded since the last checkpoint.

        Rows ``stage_prepare`` computed are written as they are; the others are prepared now.
        The rows go on being kept once the checkpoint commits (``stage_committed``).
        """
        staged = self.staged
        dirty, before, ready = staged.dirty, staged.before, staged.ready
        chosen = [key for key in keys if key in dirty]
        if not chosen:
            return
        unprepared = [key for key in chosen if key not in ready]
        if unprepared:
            rows = self.prepared([dirty[key] for key in unprepared])
            ready.update(zip(unprepared, rows, strict=True))
        old = {key: before.pop(key) for key in chosen if key in before}
        rows = [ready.pop(key) for key in chosen]
        for key in chosen:
            del dirty[key]
        self._put(tx, rows, old)
        self.stored(tx, old, rows)
        staged.written += rows

    def stage_committed(self, position: int) -> None:
        """The checkpoint committed: the rows written are now the table's, as of ``position``."""
        staged = self.staged
        for row in staged.written:
            staged.clean[self.key_of(row)] = row
        staged.dirty, staged.before, staged.written, staged.ready = {}, {}, [], {}
        staged.position = position
        while len(staged.clean) > self.staged_rows:
            del staged.clean[next(iter(staged.clean))]

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
        if stored:
            stored = self.prepared(stored)
            self._put(tx, stored, loaded)
        self.stored(tx, loaded, stored)

    def stored(self, tx: Tx, before: Mapping[str, RowT], after: Sequence[RowT]) -> None:
        """Be told what a batch stored: for tables kept beside the rows, such as totals.

        ``before`` holds the rows as they were (absent for requests new to the view), ``after``
        the rows as written (prepared).
        """

    def load(self, tx: Tx, keys: Sequence[str]) -> dict[str, RowT]:
        """Read the rows of these requests (missing ones are simply absent)."""
        found: dict[str, RowT] = {}
        memory = self._memory()
        if memory.pending is not None and memory.position is not None:
            # Inside a batch that began at the position the remembered rows are as of; a row
            # this batch already stored (a batch applied in parts, around an adopted policy)
            # is newer than the one remembered.
            remembered, pending = memory.rows, memory.pending
            missing = []
            for key in keys:
                row = pending.get(key)
                if row is None:
                    row = remembered.get(key)
                if row is None:
                    missing.append(key)
                else:
                    found[key] = row
            keys = missing
        found.update(self._select(tx, keys))
        return found

    def _select(self, tx: Tx, keys: Sequence[str]) -> dict[str, RowT]:
        """Read the rows of these requests from the table."""
        found: dict[str, RowT] = {}
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
        if rows:
            self._put(tx, self.prepared(rows), before)

    def prepared(self, rows: Sequence[RowT]) -> list[RowT]:
        """The rows as written (a measured projection computes its SLA columns here)."""
        return list(rows)

    def _put(self, tx: Tx, rows: Sequence[RowT], before: Mapping[str, RowT] | None) -> None:
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
