"""servflow's event store: ``eventsourcing``'s SQLite and PostgreSQL recorders, plus hooks.

A *recording hook* runs inside the very transaction that inserts a batch of events, after the
insert, with the notification ids the store gave them. servflow uses it to update inline
projections (so a command costs one commit, not two) and to extend the tamper-evident hash
chain: whatever a hook writes commits or rolls back together with the events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic

from servflow.projections.engine import Dialect, Tx

__all__ = ["HookedSQLiteRecorder", "RecordingHook", "hooks_of", "recorder_topic"]

#: Called with the open transaction, the inserted events and their notification ids.
RecordingHook = Callable[[Tx, Sequence[StoredEvent], Sequence[int]], None]


class _Hooked:
    """Mixin: a list of hooks run after each insert, inside its transaction."""

    dialect: ClassVar[str]
    recording_hooks: list[RecordingHook]

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
    from eventsourcing.postgres import PostgresApplicationRecorder  # noqa: PLC0415 - optional extra

    class HookedPostgresRecorder(_Hooked, PostgresApplicationRecorder):
        """PostgreSQL application recorder running recording hooks inside the insert transaction."""

        dialect: ClassVar[str] = "postgres"

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


def recorder_topic(persistence_module: str) -> str | None:
    """The ``APPLICATION_RECORDER_TOPIC`` for a persistence module (None: no hooks there)."""
    global _POSTGRES_CLASS  # noqa: PLW0603 - one class per process, made on first use
    if persistence_module == "eventsourcing.sqlite":
        return get_topic(HookedSQLiteRecorder)
    if persistence_module == "eventsourcing.postgres":
        if _POSTGRES_CLASS is None:
            _POSTGRES_CLASS = _postgres_recorder_class()
            # Made in a function so psycopg stays optional; published here so its topic resolves.
            _POSTGRES_CLASS.__qualname__ = "HookedPostgresRecorder"
            globals()["HookedPostgresRecorder"] = _POSTGRES_CLASS
        return get_topic(_POSTGRES_CLASS)
    return None


def hooks_of(recorder: object) -> list[RecordingHook] | None:
    """The hook list of a hooked recorder (created on first use), or None for other recorders."""
    if not isinstance(recorder, _Hooked):
        return None
    if not hasattr(recorder, "recording_hooks"):
        recorder.recording_hooks = []
    return recorder.recording_hooks
