"""servflow's event store: ``eventsourcing``'s SQLite and PostgreSQL recorders, plus hooks.

A *recording hook* runs inside the very transaction that inserts a batch of events, after the
insert, with the notification ids the store gave them. servflow uses it to update inline
projections (so a command costs one commit, not two) and to extend the tamper-evident hash
chain: whatever a hook writes commits or rolls back together with the events.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Literal
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    PersistenceError,
    Recording,
    StoredEvent,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic

from servflow.errors import StoreError
from servflow.persistence.sql import Dialect, Tx

__all__ = [
    "HookedSQLiteRecorder",
    "OutcomeHook",
    "RecordingHook",
    "SavingApplication",
    "driver_errors",
    "hooks_of",
    "outcome_hooks_of",
    "recorder_topic",
    "store_error",
    "translated",
]

#: Called with the open transaction, the inserted events and their notification ids.
RecordingHook = Callable[[Tx, Sequence[StoredEvent], Sequence[int]], None]


#: Called after the transaction of an insert ends: with True once it committed, else False.
OutcomeHook = Callable[[bool], None]


class _Hooked:
    """Mixin: a list of hooks run after each insert, inside its transaction."""

    dialect: ClassVar[str]
    recording_hooks: list[RecordingHook]
    outcome_hooks: list[OutcomeHook]

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,  # noqa: ANN401 - the library's signature
    ) -> Sequence[int] | None:
        """Insert events (the library's method), then tell the outcome hooks how it ended."""
        try:
            ids = self._insert(stored_events, **kwargs)
        except BaseException:
            self._run_outcome_hooks(committed=False)
            raise
        self._run_outcome_hooks(committed=True)
        return ids

    def _insert(
        self,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,  # noqa: ANN401 - the library's signature
    ) -> Sequence[int] | None:
        """The insert itself, with the recording hooks in its transaction."""
        ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)  # type: ignore[misc]
        return ids

    def _run_outcome_hooks(self, *, committed: bool) -> None:
        for hook in getattr(self, "outcome_hooks", ()):
            hook(committed)

    def _run_hooks(self, cursor: Any, stored: Sequence[StoredEvent], ids: Sequence[int]) -> None:  # noqa: ANN401
        hooks = getattr(self, "recording_hooks", ())
        if not hooks or not ids:
            return
        datastore: Any = getattr(self, "datastore")  # noqa: B009 - set by the library's base
        if self.dialect == "postgres":
            dialect = Dialect("postgres", datastore.schema)
        else:
            dialect = Dialect("sqlite")
        tx = Tx(cursor, dialect)
        for hook in hooks:
            hook(tx, stored, ids)


class SavingApplication(Application[UUID]):
    """An ``eventsourcing`` application whose ``save`` of aggregates skips protocol checks.

    The library's ``save`` asks ``isinstance`` of two runtime-checkable protocols for every
    object saved; on Python 3.11 each such check walks the protocol's members and costs more
    than encoding the event. servflow only ever saves its own aggregates, so for them the
    events are collected directly; anything else goes the library's way. The rest of the
    save (recording, snapshots, the notify hooks) is the library's own.
    """

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | Any | None,  # noqa: ANN401 - the library's signature
        **kwargs: Any,  # noqa: ANN401 - the library's signature
    ) -> list[Recording[UUID]]:
        """Record the pending events of the given aggregates in one transaction."""
        aggregates = [obj for obj in objs if isinstance(obj, BaseAggregate)]
        if len(aggregates) != len(objs):
            return super().save(*objs, **kwargs)
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, still honoured
        return recordings


class HookedSQLiteRecorder(_Hooked, SQLiteApplicationRecorder):
    """SQLite application recorder that runs recording hooks inside the insert transaction."""

    dialect: ClassVar[str] = "sqlite"

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,  # noqa: ANN401 - the library's signature
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if ids:
            self._run_hooks(c, stored_events, ids)
        return ids


def _postgres_recorder_class() -> type[ApplicationRecorder]:
    from eventsourcing.persistence import (  # noqa: PLC0415
        InterfaceError,
        OperationalError,
    )
    from eventsourcing.postgres import PostgresApplicationRecorder  # noqa: PLC0415 - optional extra
    from eventsourcing.utils import retry  # noqa: PLC0415

    class HookedPostgresRecorder(_Hooked, PostgresApplicationRecorder):
        """PostgreSQL application recorder running recording hooks inside the insert transaction."""

        dialect: ClassVar[str] = "postgres"

        @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
        def _insert(
            self,
            stored_events: Sequence[StoredEvent],
            **kwargs: Any,  # noqa: ANN401 - the library's signature
        ) -> Sequence[int] | None:
            # The library's ``insert_events`` (9.5.6) catches an error raised after the insert
            # inside its transaction block, lets the block COMMIT, and only then raises it: a
            # failing hook would leave the events recorded while the command reports a failure.
            # Here the transaction block sees the error and rolls back; the pipeline block
            # still exits cleanly, as the library wants. (Its optional database-function path
            # is not used: it would bypass the hooks.)
            error: Exception | None = None
            ids: Sequence[int] | None = None
            with self.datastore.get_connection() as conn:
                with conn.pipeline() as pipeline:
                    try:
                        with conn.transaction():
                            with conn.cursor() as curs:
                                self._insert_events(curs, stored_events, **kwargs)
                            if stored_events:
                                with conn.cursor() as curs:
                                    self._insert_stored_events(curs, stored_events, **kwargs)
                                    pipeline.sync()
                                    ids = self._fetch_ids_after_insert_events(
                                        curs, stored_events, **kwargs
                                    )
                    except Exception as caught:  # noqa: BLE001 - raised below, past the pipeline
                        error = caught
                if error is not None:
                    # Inside the connection block, which turns driver errors into the library's.
                    raise error
            return ids

        def _fetch_ids_after_insert_events(
            self,
            curs: Any,  # noqa: ANN401 - a psycopg cursor; psycopg is optional
            stored_events: Sequence[StoredEvent],
            **kwargs: Any,  # noqa: ANN401 - the library's signature
        ) -> Sequence[int] | None:
            ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            if ids:
                self._run_hooks(curs, stored_events, ids)
            return ids

    return HookedPostgresRecorder


_POSTGRES_CLASS: type[ApplicationRecorder] | None = None
_CLASS_LOCK = threading.Lock()


def recorder_topic(persistence_module: str) -> str | None:
    """The ``APPLICATION_RECORDER_TOPIC`` for a persistence module (None: no hooks there)."""
    global _POSTGRES_CLASS  # noqa: PLW0603 - one class per process, made on first use
    if persistence_module == "eventsourcing.sqlite":
        return get_topic(HookedSQLiteRecorder)
    if persistence_module == "eventsourcing.postgres":
        with _CLASS_LOCK:  # desks opened in several threads at once make it once
            if _POSTGRES_CLASS is None:
                made = _postgres_recorder_class()
                # Made in a function so psycopg stays optional; published here so its topic
                # resolves.
                made.__qualname__ = "HookedPostgresRecorder"
                globals()["HookedPostgresRecorder"] = made
                _POSTGRES_CLASS = made
            return get_topic(_POSTGRES_CLASS)
    return None


def outcome_hooks_of(recorder: object) -> list[OutcomeHook] | None:
    """The outcome-hook list of a hooked recorder (created on first use), or None."""
    hooks: list[OutcomeHook] | None = _hook_list(recorder, "outcome_hooks")
    return hooks


def hooks_of(recorder: object) -> list[RecordingHook] | None:
    """The hook list of a hooked recorder (created on first use), or None for other recorders."""
    hooks: list[RecordingHook] | None = _hook_list(recorder, "recording_hooks")
    return hooks


def _hook_list(recorder: object, name: str) -> Any:  # noqa: ANN401 - one of the two lists
    if not isinstance(recorder, _Hooked):
        return None
    if not hasattr(recorder, name):
        setattr(recorder, name, [])
    return getattr(recorder, name)


def store_error(error: BaseException) -> StoreError:
    """The typed error for a refusal of the store underneath (the driver's words kept)."""
    return StoreError(f"the event store refused the operation: {error}")


def driver_errors() -> tuple[type[BaseException], ...]:
    """What the library and the drivers raise: the library's errors, sqlite3's, psycopg's.

    The library translates most driver errors into its own, but not those of opening a
    connection (a file that is not a database) nor those of the views' own statements.
    psycopg counts once something imported it (it is an optional extra).
    """
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return (PersistenceError, sqlite3.Error)
    return (PersistenceError, sqlite3.Error, psycopg.Error)


class translated(contextlib.ContextDecorator):  # noqa: N801 - reads as the phrase it is
    """Let no library or driver error out: each becomes a ``StoreError``.

    ``with translated(): ...``, or a decorator. Code inside that must tell a conflict apart
    catches ``IntegrityError`` (a ``PersistenceError``) itself, before this sees it. A class,
    not a generator: it wraps every read and save, and costs a fraction of one.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc is not None and isinstance(exc, driver_errors()):
            raise store_error(exc) from None
        return False
