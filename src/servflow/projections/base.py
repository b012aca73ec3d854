"""What a projection is: a fold of the log into tables of its own; rows folded one by one."""

from __future__ import annotations

import dataclasses
import operator
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from servflow.persistence.sql import Dialect, Tx, id_text

__all__ = ["Projection", "RowProjection", "evolver"]

RowT = TypeVar("RowT")


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
