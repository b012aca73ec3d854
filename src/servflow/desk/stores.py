"""The stores under a desk: the event store, the views beside it and the hash chain.

How they are opened (in memory, an SQLite file, a PostgreSQL schema) and kept in step after
each save.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Recording
from eventsourcing.popo import POPOFactory
from eventsourcing.utils import get_topic

from servflow.desk.audit import AuditTrail
from servflow.desk.options import postgres_schema
from servflow.desk.tickets import Ref, resolve
from servflow.domain.erasure import ErasureLedger
from servflow.domain.external import ExternalRef, ExternalReference
from servflow.domain.request import ServiceRequest
from servflow.errors import ConfigurationError, RequestNotFoundError, StoreError, shown
from servflow.persistence.chain import Chain
from servflow.persistence.codec import OrjsonTranscoder, PydanticMapper
from servflow.persistence.encryption import storage_settings
from servflow.persistence.erasure import KeyRing
from servflow.persistence.memory import MemoryRecorder
from servflow.persistence.sql import Tx
from servflow.persistence.sqlite import cache_statements
from servflow.persistence.store import (
    SavingApplication,
    driver_errors,
    hooks_of,
    outcome_hooks_of,
    recorder_topic,
    translated,
)
from servflow.persistence.views import ViewStore
from servflow.projections.audit import AuditProjection
from servflow.projections.queues import QueueProjection
from servflow.projections.runner import Projector
from servflow.projections.sla import SlaProjection

__all__ = [
    "OpenedWith",
    "ProjectionMode",
    "Stores",
    "postgres_env",
    "postgres_schema",
    "sqlite_env",
]

_log = logging.getLogger("servflow")

#: ``inline``: the desk updates its projections after every command (one process);
#: ``external``: a follower process does (``python -m servflow.projections follow``).
ProjectionMode = Literal["inline", "external"]
#: The most connections a desk keeps open to PostgreSQL.
_MAX_POOL = 1000
#: In-memory stores: chain links waiting to be written in one views transaction.
_CHAIN_BACKLOG = 500
#: External references a desk keeps resolved, at most (then it starts afresh).
_MAX_EXTERNALS = 10_000
#: How many of the log's first events tell whether a desk's cipher key and compressor fit.
_PROBED_EVENTS = 16


class _Store(SavingApplication):
    """The ``eventsourcing`` application underneath a desk; not part of the public API."""

    name = "servflow"
    env: ClassVar[dict[str, str]] = {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
    }

    def construct_recorder(self) -> ApplicationRecorder:
        """The library's recorder, but servflow's compact one for an in-memory store."""
        if isinstance(self.factory, POPOFactory):
            return MemoryRecorder()
        return super().construct_recorder()


@dataclass(frozen=True)
class OpenedWith:
    """How a desk's stores were opened, for another process to open them the same way."""

    env: dict[str, str]
    audit_key: bytes | None

    @property
    def shared(self) -> bool:
        """Whether another process sees the same store (a file or a server, not memory)."""
        module = self.env.get("PERSISTENCE_MODULE", "")
        if module == "eventsourcing.postgres":
            return True
        name = self.env.get("SQLITE_DBNAME", "")
        return (
            module == "eventsourcing.sqlite"
            and ":memory:" not in name
            and "mode=memory" not in name
        )


class Stores:
    """The event store, the views (queues, SLA, audit) and the hash chain of one desk.

    The hash chain and inline projections ride in the events' own transaction where the
    store allows it (SQLite, PostgreSQL); in memory they follow the saves, in batches
    (``saved``).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None,
        *,
        projections: ProjectionMode,
        audit_key: bytes | None,
        erasable: bool = False,
        indexes: bool = True,
    ) -> None:
        try:
            settings = dict(env or {})
            #: What another process needs to open this store as it is opened here.
            self.opened_with = OpenedWith(dict(settings), audit_key)
            # The library also reads the process environment; a desk says where it keeps its
            # events itself, so a stray PERSISTENCE_MODULE cannot move an in-memory desk.
            settings.setdefault("PERSISTENCE_MODULE", "eventsourcing.popo")
            topic = recorder_topic(settings.get("PERSISTENCE_MODULE", ""))
            if topic:
                settings.setdefault("APPLICATION_RECORDER_TOPIC", topic)
            self.store = _Store(env=settings)
            cache_statements(self.store.factory)
            mapper = self.store.mapper
            if isinstance(mapper, PydanticMapper):
                mapper.probe = self._settings_read
        except driver_errors() as error:
            msg = f"cannot open the event store: {error}"
            raise StoreError(msg) from None
        if projections not in ("inline", "external"):
            msg = f"projections must be 'inline' or 'external', not {shown(projections)}"
            raise ConfigurationError(msg)
        self.inline = projections == "inline"
        self.chain = Chain(audit_key)
        with translated():
            self.views = ViewStore.for_application(self.store)
        #: The per-customer keys of an erasable store (None: the store is not erasable).
        self.keyring: KeyRing | None = None
        self._check_key(erasable=erasable)
        self.queues = QueueProjection()
        self.sla = SlaProjection()
        self.audit = AuditProjection()
        with translated():
            self.projector = Projector(
                self.store, [self.queues, self.sla, self.audit], self.views, indexes=indexes
            )
        if self.keyring is not None:
            # The audit view holds personal fields sealed, as the envelopes of the events the
            # projector decodes (kept while it decodes and applies a batch), and opens them as
            # it is read. A follower or rebuild opens its desk here too: the same wiring.
            self.audit.keyring = self.keyring
            self.projector.decoding = self.keyring.keeping
        self.trail = AuditTrail(self.store, self.views, self.audit)
        #: External reference id -> request id, as found (``find_external``).
        self._externals: dict[UUID, UUID] = {}
        self._chained, self._hooked = self._hook_store()
        #: While true (``deferring``), saves leave the views behind; a catch-up follows.
        self._deferring = False

    def _check_key(self, *, erasable: bool) -> None:
        """Create the chain's tables and refuse a key that is not the chain's, before any write.

        The views' tables and positions, a policy adoption and every event come after this.
        Erasure is settled here too: the store says whether it is erasable (``KeyRing.settle``).
        """
        try:
            with translated(), self.views.transaction() as tx:
                self.chain.create(tx)
                self.chain.check_key(tx)
                KeyRing.create(tx)
                empty = not tx.query(f"SELECT 1 FROM {tx.dialect.table('sf_chain')} LIMIT 1")  # noqa: S608
                on = KeyRing.settle(tx, erasable=bool(erasable), empty=empty)
            if on:
                in_sql = hooks_of(self.store.recorder) is not None
                self.keyring = KeyRing(
                    self.reading if in_sql else None,
                    self._customer_of,
                    self.store.mapper.to_domain_event,
                )
                self.keyring.refresh()
                mapper: PydanticMapper = self.store.mapper  # type: ignore[assignment]
                mapper.keyring = self.keyring
        except BaseException:
            self.views.close()
            self.store.close()
            raise

    def resolve(self, ref: Ref) -> UUID:
        """The request id a reference names; an external reference is looked up in the store."""
        return resolve(ref, self.find_external)

    def find_external(self, external: ExternalRef) -> UUID:
        """The id of the request opened with this external reference (``RequestNotFoundError``).

        A reference, once taken, names its request for good: what was found is kept.
        """
        key = external.id
        found = self._externals.get(key)
        if found is not None:
            return found
        claimed = self.claimed(external)
        if claimed is None:
            raise RequestNotFoundError(
                str(external), detail="no request has this external reference"
            )
        if len(self._externals) >= _MAX_EXTERNALS:
            self._externals.clear()
        self._externals[key] = claimed.request_id
        return claimed.request_id

    def claimed(self, external: ExternalRef) -> ExternalReference.Claimed | None:
        """The claim of an external reference by its request (None if no request has it)."""
        with translated():
            stored = self.store.recorder.select_events(external.id, lte=1)
            claimed = self.store.mapper.to_domain_event(stored[0]) if stored else None
        return claimed if isinstance(claimed, ExternalReference.Claimed) else None

    def _customer_of(self, request_id: UUID) -> str | None:
        """The customer of a request, from its ``Opened`` event (None if there is none)."""
        with translated():
            found = self.store.recorder.select_events(request_id, lte=1)
            opened = self.store.mapper.to_domain_event(found[0]) if found else None
        return opened.customer.id if isinstance(opened, ServiceRequest.Opened) else None

    def refresh_keys(self) -> None:
        """In an erasable store, notice keys other processes destroyed (one single-row read)."""
        if self.keyring is not None:
            with translated():
                self.keyring.refresh()

    def _settings_read(self) -> bool:
        """Whether the desk's cipher key and compressor read any of the log's first events.

        Asked once, when an event's bytes do not decode: if none of the first few decode
        either, the desk was opened with settings other than the store's (not a corrupt event).
        A store that cannot be asked is taken as readable: the event is reported as corrupt.
        """
        mapper = self.store.mapper
        if not isinstance(mapper, PydanticMapper):  # pragma: no cover - always servflow's
            return True
        try:
            first = self.store.recorder.select_notifications(start=1, limit=_PROBED_EVENTS)
        except Exception:  # noqa: BLE001 - e.g. inside a transaction that forbids another
            return True
        return not first or any(mapper.readable(event) for event in first)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Tx]:
        """A transaction that reads the views; no driver error leaves it (``translated``)."""
        with translated(), self.views.transaction(commit=False) as tx:
            yield tx

    def _hook_store(self) -> tuple[bool, bool]:
        """Hook the chain and inline views into the store; whether each rides in its inserts."""
        recorder = self.store.recorder
        hooks = hooks_of(recorder)
        if hooks is None:
            self.views.on_use(self._flush_chain)
            return False, False
        outcomes = outcome_hooks_of(recorder)
        if self.keyring is not None and outcomes is not None:
            # First: the rows of new keys are written before anything reads the events back.
            hooks.append(self.keyring.record)
            outcomes.append(self.keyring.outcome)
        hooks.append(self.chain.record)
        if not self.inline:
            return True, False
        hooks.append(self.projector.record_inline)
        if outcomes is not None:
            # Rows the views remember between commands are those of committed inserts only.
            outcomes.append(self.projector.inline_outcome)
        return True, True

    def saved(self, recordings: Sequence[Recording[UUID]]) -> None:
        """Bring the chain and inline views in step with events just saved."""
        if self.keyring is not None and not self._chained:
            # In memory the keys live in the key ring: a forgetting destroys them once saved.
            for recording in recordings:
                event = recording.domain_event
                if isinstance(event, ErasureLedger.CustomerForgotten):
                    self.keyring.destroy_in_memory(event.customer_id)
        if recordings:
            if self._chained:
                # The links were written in the events' transaction, which has committed.
                self.chain.committed(max(r.notification.id for r in recordings))
            else:
                # In memory the chain lives in the views' database: write it in batches, one
                # transaction per many saves, and before anything uses that database (a use
                # hook, like the views' own batches).
                notifications = [r.notification for r in recordings]
                if self.chain.defer(notifications, [n.id for n in notifications]) >= (
                    _CHAIN_BACKLOG
                ):
                    self.views.run_use_hooks()
        if self._deferring:
            return  # the views catch up once the deferred block ends (``deferring``)
        if self.inline and not self._hooked:
            # In memory the views follow the saves in batches of their own, from the events
            # just recorded, applied before the views are next read (see Projector.defer).
            self.projector.defer([(r.notification.id, r.domain_event) for r in recordings])
            return
        if self.inline and self.projector.behind:
            self.catch_up_quietly()

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """Within: saves leave the views behind (an import); the caller catches them up after.

        The hash chain still rides in every save. Other desks are not affected; this desk's
        saves from other threads are deferred too, until the block ends.
        """
        hooks = hooks_of(self.store.recorder)
        outcomes = outcome_hooks_of(self.store.recorder)
        hooked = self.inline and self._hooked and hooks is not None
        if hooked:
            assert hooks is not None  # noqa: S101 - checked above
            hooks.remove(self.projector.record_inline)
            if outcomes is not None:
                outcomes.remove(self.projector.inline_outcome)
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            if hooked:
                assert hooks is not None  # noqa: S101 - checked above
                hooks.append(self.projector.record_inline)
                if outcomes is not None:
                    outcomes.append(self.projector.inline_outcome)

    def _flush_chain(self) -> None:
        """Write the chain links of an in-memory store's saved events (a use hook there)."""
        self.chain.flush(self.views.transaction)

    def catch_up_quietly(self) -> None:
        """Catch the views up; a failure is logged, never raised (the events are stored)."""
        # A projection failure must not turn a recorded command into an error. The view stays
        # behind and the next catch-up (or a rebuild) retries it.
        try:
            self.projector.catch_up()
        except Exception:  # noqa: BLE001 - any failure of a view must leave the command recorded
            _log.exception("servflow: projections could not catch up; they will retry")

    def close(self) -> None:
        """Release the store's connections."""
        self.views.run_use_hooks()  # write what an in-memory store deferred
        self.projector.close()
        self.store.close()


def sqlite_env(path: str, *, cipher_key: str | None, compress: bool) -> dict[str, str]:
    """The store settings of an SQLite file."""
    if not isinstance(path, str | os.PathLike) or "\x00" in str(path) or not str(path):
        msg = f"path must name an SQLite file, not {shown(path)}"
        raise ConfigurationError(msg)
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    env.update(storage_settings(cipher_key=cipher_key, compress=compress))
    return env


def postgres_env(
    dsn: str, *, pool_size: int, cipher_key: str | None, compress: bool
) -> dict[str, str]:
    """The store settings of a PostgreSQL DSN (libpq string or URL)."""
    storage = storage_settings(cipher_key=cipher_key, compress=compress)
    try:
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - optional extra
    except ImportError:
        msg = "PostgreSQL support needs the extra: pip install 'servflow[postgres]'"
        raise ConfigurationError(msg) from None
    if (
        isinstance(pool_size, bool)
        or not isinstance(pool_size, int)
        or not 1 <= pool_size <= _MAX_POOL
    ):
        msg = f"pool_size must be a whole number from 1 to {_MAX_POOL}, not {shown(pool_size)}"
        raise ConfigurationError(msg)
    try:
        params: dict[str, Any] = conninfo_to_dict(dsn)
    except Exception as error:  # noqa: BLE001 - psycopg raises its own ProgrammingError
        # libpq quotes the part of the string it choked on, which may be the password: only
        # the names of its options are shown.
        msg = f"invalid PostgreSQL connection string: {_masked(str(error))}"
        raise ConfigurationError(msg) from None
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        "POSTGRES_POOL_SIZE": str(pool_size),
        **storage,
    }


_QUOTED = re.compile(r'"([^"]*)"')


def _masked(message: str) -> str:
    """What libpq said of a connection string, each quoted part masked but option names."""
    from psycopg import pq  # noqa: PLC0415 - optional extra

    options = {option.keyword.decode() for option in pq.Conninfo.get_defaults()} | {"="}
    return _QUOTED.sub(
        lambda quoted: quoted.group(0) if quoted.group(1) in options else '"***"',
        " ".join(message.split()),
    )


#: A schema servflow can use: a lower-case unquoted PostgreSQL identifier (63 bytes at most).


@contextlib.contextmanager
def opening_lock(dsn: str, schema: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock for the schema while a desk opens on it."""
    import psycopg  # noqa: PLC0415 - optional extra

    try:
        connection = psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as error:
        msg = f"cannot connect to PostgreSQL: {error}"
        raise StoreError(msg) from None
    try:
        connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"servflow:{schema}",))
        yield
    finally:
        connection.close()  # a session's advisory locks end with it


def create_schema(dsn: str, schema: str) -> None:
    """Create a PostgreSQL schema if it is missing (processes may race to it)."""
    import psycopg  # noqa: PLC0415 - optional extra
    from psycopg import sql  # noqa: PLC0415

    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
    except psycopg.errors.UniqueViolation:
        return  # another process created it at the same moment: IF NOT EXISTS is not atomic
    except psycopg.Error as error:
        msg = f"cannot prepare PostgreSQL schema {schema!r}: {error}"
        raise StoreError(msg) from None
