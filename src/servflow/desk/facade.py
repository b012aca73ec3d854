"""``ServiceDesk``: the application servflow users call — commands, queries, persistence, clock.

The desk wraps an ``eventsourcing`` application (event store, repository, notification log)
so that servflow's public API does not change when the library does. Every command loads the
request, lets the aggregate check its rules, and saves the new event with optimistic
concurrency: a refused command appends nothing, and the loser of a race gets
``ConcurrencyConflictError``.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording, StoredEvent
from eventsourcing.utils import get_topic

from servflow.desk.audit import AuditTrail, ExportFormat, audit_filter
from servflow.desk.kpis import Kpis, compute_kpis
from servflow.domain.history import HistoryEntry
from servflow.domain.policy import SlaPolicy
from servflow.domain.request import (
    Moment,
    NonConformity,
    ServiceRequest,
    Status,
    request_id_for,
)
from servflow.domain.sla import (
    SINCE_EVER,
    SLA_POLICY_BOOK_ID,
    DueAction,
    DueActionKind,
    PolicyAdoption,
    SlaPolicyBook,
    SlaStatus,
    SlaTracker,
    TimelineEntry,
    WhatIfFlip,
    compare,
    policy_at,
    same_policy,
    to_second,
)
from servflow.domain.values import (
    Channel,
    Customer,
    Kind,
    Outcome,
    Priority,
    Severity,
    Stage,
    Tier,
)
from servflow.domain.view import Request
from servflow.errors import (
    ConcurrencyConflictError,
    ConfigurationError,
    OccurrenceOutOfOrderError,
    RequestNotFoundError,
    StoreError,
    ValidationFailedError,
)
from servflow.persistence.chain import Chain, Head, VerifyReport
from servflow.persistence.codec import OrjsonTranscoder, PydanticMapper
from servflow.persistence.encryption import storage_settings
from servflow.persistence.sql import Tx
from servflow.persistence.sqlite import cache_statements
from servflow.persistence.store import SavingApplication, hooks_of, outcome_hooks_of, recorder_topic
from servflow.projections.audit import AuditPage, AuditProjection, TimeBasis
from servflow.projections.base import Projection
from servflow.projections.queues import QueuePage, QueueProjection, SpecialQueue
from servflow.projections.runner import ProgressCallback, ProjectionStatus, Projector
from servflow.projections.sla import SlaAlert, SlaProjection

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["ProjectionMode", "Ref", "ServiceDesk", "TimeSource"]

_log = logging.getLogger("servflow")

#: Something that says what time it is, as an aware datetime.
TimeSource = Callable[[], datetime]
#: ``inline``: the desk updates its projections after every command (one process);
#: ``external``: a follower process does (``python -m servflow.projections follow``).
ProjectionMode = Literal["inline", "external"]
#: How a request is named: its id, its ticket code (``"SR-000123"``) or a ``Request`` view.
Ref = UUID | str | Request

_T = TypeVar("_T")
_CODE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,9})-(\d{1,12})$")
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
_MAX_CODE_ATTEMPTS = 200
_MAX_SAVE_ATTEMPTS = 8
#: Requests a desk keeps as it saved them, for its next command on them (``_checkout``).
_MAX_KEPT = 256
#: In-memory stores: chain links waiting to be written in one views transaction.
_CHAIN_BACKLOG = 500
#: Ticket claims in a row that found their number free before a desk guesses again.
_QUIET_CLAIMS = 8
_SECOND = timedelta(seconds=1)
#: When two due actions of one request fall on the same instant, the follow-up comes first.
_DUE_ORDER: dict[DueActionKind, int] = {"follow_up_due": 0, "deemed_acceptance": 1}
_MAX_PAGE = 10_000


def utc_now() -> datetime:
    """The default clock: the current instant in UTC."""
    return datetime.now(UTC)


class _Store(SavingApplication):
    """The ``eventsourcing`` application underneath a desk; not part of the public API."""

    name = "servflow"
    env: ClassVar[dict[str, str]] = {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
    }


class ServiceDesk:
    """An event-sourced service desk: open, work and close service requests, and read them back.

    ``ServiceDesk()`` keeps events in memory (tests, simulations); ``ServiceDesk.sqlite(path)``
    is the embedded default for real use; ``ServiceDesk.postgres(dsn)`` shares one store
    between processes and machines. Every constructor takes ``clock=`` (a callable returning
    an aware datetime; default UTC now) and ``ticket_prefix=`` (default ``"SR"``), and
    ``sla=`` (an ``SlaPolicy``, recorded in the store's policy book when it differs from the
    latest adopted one; without it the adopted policy stays, or the built-in standard applies).
    """

    def __init__(
        self,
        *,
        clock: TimeSource | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        sla: SlaPolicy | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not _PREFIX.match(ticket_prefix):
            msg = (
                f"ticket_prefix {ticket_prefix!r} must be 1-10 capital letters or digits "
                "starting with a letter"
            )
            raise ConfigurationError(msg)
        self._clock: TimeSource = clock or utc_now
        self._prefix = ticket_prefix
        try:
            settings = dict(env or {})
            # The library also reads the process environment; a desk says where it keeps its
            # events itself, so a stray PERSISTENCE_MODULE cannot move an in-memory desk.
            settings.setdefault("PERSISTENCE_MODULE", "eventsourcing.popo")
            topic = recorder_topic(settings.get("PERSISTENCE_MODULE", ""))
            if topic:
                settings.setdefault("APPLICATION_RECORDER_TOPIC", topic)
            self._store = _Store(env=settings)
            cache_statements(self._store.factory)
        except PersistenceError as error:
            msg = f"cannot open the event store: {error}"
            raise StoreError(msg) from None
        self._code_lock = threading.Lock()
        self._next_number: int | None = None
        # Claims in a row whose number was found free; from _QUIET_CLAIMS on, ``open`` tries
        # ``_next_number`` without checking it first.
        self._quiet_claims = _QUIET_CLAIMS
        self._kept = _Kept(_MAX_KEPT)
        if projections not in ("inline", "external"):
            msg = f"projections must be 'inline' or 'external', not {projections!r}"
            raise ConfigurationError(msg)
        self._inline = projections == "inline"
        self._queues = QueueProjection()
        self._sla = SlaProjection()
        self._audit = AuditProjection()
        try:
            self._projector = Projector(self._store, [self._queues, self._sla, self._audit])
        except PersistenceError as error:
            raise _store_error(error) from None
        self._trail = AuditTrail(self._store, self._projector.views, self._audit)
        self._chain = Chain(audit_key)
        with self._projector.views.transaction() as tx:
            self._chain.create(tx)
        self._chained, self._hooked = self._hook_store()
        try:
            self._configure_sla(sla)
        except BaseException:
            self.close()
            raise
        if self._inline:
            self._catch_up()

    def _hook_store(self) -> tuple[bool, bool]:
        """Hook the chain and inline views into the store; whether each rides in its inserts.

        The hash chain and inline projections ride in the events' own transaction where the
        store allows it (SQLite, PostgreSQL); in memory they follow the saves, in batches
        (see ``_saved``).
        """
        recorder = self._store.recorder
        hooks = hooks_of(recorder)
        if hooks is None:
            self._projector.views.on_use(self._flush_chain)
            return False, False
        hooks.append(self._chain.record)
        if not self._inline:
            return True, False
        hooks.append(self._projector.record_inline)
        outcomes = outcome_hooks_of(recorder)
        if outcomes is not None:
            # Rows the views remember between commands are those of committed inserts only.
            outcomes.append(self._projector.inline_outcome)
        return True, True

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def sqlite(
        cls,
        path: str,
        *,
        clock: TimeSource | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        sla: SlaPolicy | None = None,
        cipher_key: str | None = None,
        compress: bool = False,
    ) -> ServiceDesk:
        """A desk on an SQLite file (created if missing, WAL mode): the embedded default.

        ``cipher_key`` (``servflow.new_cipher_key()``) encrypts the stored events, ``compress``
        compresses them; a store must be opened with the settings it was written with
        (``docs/how-to/encryption.md``).
        """
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        env.update(storage_settings(cipher_key=cipher_key, compress=compress))
        return cls(
            clock=clock,
            ticket_prefix=ticket_prefix,
            projections=projections,
            audit_key=audit_key,
            sla=sla,
            env=env,
        )

    @classmethod
    def postgres(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        clock: TimeSource | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        sla: SlaPolicy | None = None,
        pool_size: int = 5,
        cipher_key: str | None = None,
        compress: bool = False,
    ) -> ServiceDesk:
        """A desk on PostgreSQL, shared by processes and machines (needs ``servflow[postgres]``).

        ``dsn`` is a libpq connection string or URL; ``schema`` (created if missing) keeps
        servflow's tables apart from others in the same database. ``cipher_key`` and
        ``compress`` as for ``sqlite``.
        """
        storage = storage_settings(cipher_key=cipher_key, compress=compress)
        try:
            from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - optional extra
        except ImportError:
            msg = "PostgreSQL support needs the extra: pip install 'servflow[postgres]'"
            raise ConfigurationError(msg) from None
        try:
            params = conninfo_to_dict(dsn)
        except Exception as error:  # noqa: BLE001 - psycopg raises its own ProgrammingError
            msg = f"invalid PostgreSQL connection string: {error}"
            raise ConfigurationError(msg) from None
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
            "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_POOL_SIZE": str(pool_size),
            **storage,
        }
        # Opening a store creates its tables, functions and views if they are missing; processes
        # opening the same schema at once would collide in PostgreSQL's catalogue, so they take
        # turns (an advisory lock, held only while the desk opens).
        with _opening_lock(dsn, schema or "public"):
            if schema:
                _create_schema(dsn, schema)
                env["POSTGRES_SCHEMA"] = schema
            return cls(
                clock=clock,
                ticket_prefix=ticket_prefix,
                projections=projections,
                audit_key=audit_key,
                sla=sla,
                env=env,
            )

    def close(self) -> None:
        """Release the store's connections."""
        self._projector.views.run_use_hooks()  # write what an in-memory store deferred
        self._projector.close()
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- commands --------------------------------------------------------------------------

    def open(
        self,
        *,
        customer: Customer | Mapping[str, Any] | str,
        channel: Channel | str,
        kind: Kind | str,
        stage: Stage | str,
        symptom: str,
        synthesis: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Record a new request and give it the next free ticket code (001 step 1)."""
        at = self._moment(occurred_at, "open")
        with self._code_lock:
            for attempt in range(_MAX_CODE_ATTEMPTS):
                # After a quiet spell (no other writer took the numbers this desk looked at),
                # try the number after this desk's last claim straight away: the store refuses
                # it if taken, and the check before it would cost a read per request.
                guess = attempt == 0 and self._next_number is not None
                guess = guess and self._quiet_claims >= _QUIET_CLAIMS
                number = (self._next_number or 1) if guess else self._free_number()
                request = ServiceRequest.open(
                    ticket_code=self._code(number),
                    customer=customer,
                    channel=channel,
                    kind=kind,
                    stage=stage,
                    symptom=symptom,
                    synthesis=synthesis,
                    actor=actor,
                    at=at,
                )
                try:
                    recordings = self._store.save(request)
                except IntegrityError:
                    self._next_number = number + 1
                    if guess:
                        self._quiet_claims = 0  # others are writing: check before claiming
                        continue
                    # Another writer took this code first: look further up and try again,
                    # after a jittered pause that grows, so racing writers stop colliding.
                    time.sleep(random.uniform(0, min(0.05, 0.0005 * 2 ** min(attempt, 7))))  # noqa: S311 - jitter, not secrets
                    continue
                except PersistenceError as error:
                    raise _store_error(error) from None
                self._next_number = number + 1
                self._saved(recordings)
                self._keep(request, recordings)
                return Request.of(request)
        msg = f"could not claim a free ticket code after {_MAX_CODE_ATTEMPTS} attempts"
        raise StoreError(msg)

    def classify(
        self,
        ref: Ref,
        *,
        priority: Priority | str,
        kind: Kind | str | None = None,
        category: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Set the priority (and correct the kind or category); SLA targets follow it."""
        return self._execute(
            ref,
            "classify",
            occurred_at,
            lambda r, at: r.classify(
                priority=priority, kind=kind, category=category, actor=actor, at=at
            ),
        )

    def assign(
        self,
        ref: Ref,
        *,
        team: str,
        agent: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Give the request to a team and optionally an agent (also transfers and reassignment)."""
        return self._execute(
            ref,
            "assign",
            occurred_at,
            lambda r, at: r.assign(team=team, agent=agent, actor=actor, at=at),
        )

    def probe(
        self,
        ref: Ref,
        *,
        questions: list[str] | tuple[str, ...],
        findings: str,
        diagnosis: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Record STAR probing: the questions asked, what was found, the working diagnosis."""
        return self._execute(
            ref,
            "probe",
            occurred_at,
            lambda r, at: r.probe(
                questions=questions, findings=findings, diagnosis=diagnosis, actor=actor, at=at
            ),
        )

    def act(
        self,
        ref: Ref,
        *,
        action: str,
        effort_minutes: int = 0,
        cost: Decimal | int | str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Record a STAR action with the effort (minutes) and cost it took."""
        return self._execute(
            ref,
            "act",
            occurred_at,
            lambda r, at: r.act(
                action=action, effort_minutes=effort_minutes, cost=cost, actor=actor, at=at
            ),
        )

    def wait_on_customer(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Pause the work and the SLA clocks until the customer replies."""
        return self._execute(
            ref,
            "wait_on_customer",
            occurred_at,
            lambda r, at: r.wait_on_customer(reason=reason, actor=actor, at=at),
        )

    def customer_responded(
        self, ref: Ref, *, note: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Record the customer's reply; work and SLA clocks resume."""
        return self._execute(
            ref,
            "customer_responded",
            occurred_at,
            lambda r, at: r.customer_responded(note=note, actor=actor, at=at),
        )

    def report_progress(
        self, ref: Ref, *, message: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Record a customer-visible progress update."""
        return self._execute(
            ref,
            "report_progress",
            occurred_at,
            lambda r, at: r.report_progress(message=message, actor=actor, at=at),
        )

    def complete(
        self,
        ref: Ref,
        *,
        outcome: Outcome | str,
        resolution: str,
        follow_up_at: datetime | None = None,
        to_team: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """End the work: ``resolved``, ``transferred`` (to ``to_team``) or ``follow_up``."""
        return self._execute(
            ref,
            "complete",
            occurred_at,
            lambda r, at: r.complete(
                outcome=outcome,
                resolution=resolution,
                follow_up_at=follow_up_at,
                to_team=to_team,
                actor=actor,
                at=at,
            ),
        )

    def accept(
        self,
        ref: Ref,
        *,
        satisfaction: int,
        comment: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> Request:
        """Close the request with the customer's explicit acceptance and a 1-5 satisfaction."""
        return self._execute(
            ref,
            "accept",
            occurred_at,
            lambda r, at: r.accept(satisfaction=satisfaction, comment=comment, actor=actor, at=at),
        )

    def reopen(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """The customer rejects the completion: the request goes back to work."""
        return self._execute(
            ref,
            "reopen",
            occurred_at,
            lambda r, at: r.reopen(reason=reason, actor=actor, at=at),
        )

    def cancel(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request:
        """Withdraw an open request (or mark it a duplicate); its SLA clocks stop."""
        return self._execute(
            ref,
            "cancel",
            occurred_at,
            lambda r, at: r.cancel(reason=reason, actor=actor, at=at),
        )

    def log_nonconformity(
        self,
        ref: Ref,
        *,
        description: str,
        severity: Severity | str,
        category: str | None = None,
        root_cause: str | None = None,
        corrective_action: str | None = None,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> NonConformity:
        """Document a non-conformity on a request, at any time (even after closure)."""
        return self._run(
            ref,
            "log_nonconformity",
            occurred_at,
            lambda r, at: r.log_nonconformity(
                description=description,
                severity=severity,
                category=category,
                root_cause=root_cause,
                corrective_action=corrective_action,
                actor=actor,
                at=at,
            ),
        )

    def correct_nonconformity(
        self,
        ref: Ref,
        nc: NonConformity | int,
        *,
        correction: str,
        actor: str,
        occurred_at: datetime | None = None,
    ) -> NonConformity:
        """Record how a documented non-conformity was corrected."""
        number = nc.number if isinstance(nc, NonConformity) else nc
        return self._run(
            ref,
            "correct_nonconformity",
            occurred_at,
            lambda r, at: r.correct_nonconformity(
                number=number, correction=correction, actor=actor, at=at
            ),
        )

    # -- queries ---------------------------------------------------------------------------

    def get(
        self, ref: Ref, *, as_of: datetime | None = None, version: int | None = None
    ) -> Request:
        """The request now, as of an instant (by when things happened), or at a version."""
        request_id = self.resolve(ref)
        if as_of is not None and version is not None:
            msg = "give as_of or version, not both"
            raise ValidationFailedError(msg, command="get", request_id=request_id)
        if as_of is not None:
            return Request.of(self._as_of(request_id, as_of, ref))
        if version is not None and version < 1:
            msg = f"version must be 1 or more, not {version}"
            raise ValidationFailedError(msg, command="get", request_id=request_id)
        request = self._load(request_id, ref, version=version)
        if version is not None and request.version != version:
            raise RequestNotFoundError(
                _describe(ref), detail=f"it has {request.version} versions, not {version}"
            )
        return Request.of(request)

    def history(self, ref: Ref) -> list[HistoryEntry]:
        """Every event of a request in order: position in the log, who, when, what changed.

        One indexed read of the request's stored events (with their log positions).
        """
        request_id = self.resolve(ref)
        try:
            entries = self._trail.history(request_id)
        except PersistenceError as error:
            raise _store_error(error) from None
        if not entries:
            raise RequestNotFoundError(_describe(ref))
        return entries

    def exists(self, ref: Ref) -> bool:
        """Whether a request with this id or ticket code is in the store."""
        try:
            request_id = self.resolve(ref)
        except RequestNotFoundError:
            return False
        return self._has(request_id)

    def resolve(self, ref: Ref) -> UUID:
        """The request id a reference names (without checking that the request exists)."""
        if isinstance(ref, Request):
            return ref.id
        if isinstance(ref, UUID):
            return ref
        if isinstance(ref, str):
            text = ref.strip()
            code = _CODE.match(text)
            if code:
                return request_id_for(f"{code.group(1).upper()}-{int(code.group(2)):06d}")
            try:
                return UUID(text)
            except ValueError:
                pass
        raise RequestNotFoundError(
            repr(ref), detail="not a request id, a ticket code such as 'SR-000123' or a Request"
        )

    def request_ids(self) -> Iterator[UUID]:
        """Ids of every request in the store, in the order they were opened."""
        return self._opened_after(0)

    def _opened_after(self, position: int) -> Iterator[UUID]:
        """Ids of the requests whose ``Opened`` event is after ``position`` in the log."""
        return self._ids_after(position, topics=(get_topic(ServiceRequest.Opened),))

    def _ids_after(self, position: int, *, topics: Sequence[str] = ()) -> Iterator[UUID]:
        """Ids of the records with events (of these topics, if any) after ``position``."""
        last = position
        while notifications := self._store.recorder.select_notifications(
            start=last, limit=1000, topics=topics, inclusive_of_start=False
        ):
            for notification in notifications:
                yield UUID(str(notification.originator_id))
            last = notifications[-1].id

    def queue(  # noqa: PLR0913 - one keyword per filter
        self,
        special: SpecialQueue | str | None = None,
        *,
        team: str | None = None,
        agent: str | None = None,
        status: Status | str | Sequence[Status | str] = (),
        priority: Priority | str | Sequence[Priority | str] = (),
        kind: Kind | str | Sequence[Kind | str] = (),
        customer: str | None = None,
        tier: Tier | str | Sequence[Tier | str] = (),
        at: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        count: bool = True,
    ) -> QueuePage:
        """A page of open requests in work order (resolution due, priority, opening time).

        ``special`` picks a named queue: triage, unassigned, waiting_on_customer,
        awaiting_acceptance, follow_ups_due (as of ``at``, default now) or transferred_in.
        Filters combine; a ``status`` filter also reaches closed and cancelled requests.
        ``count=False`` skips counting every match (``total`` is then None): a page then
        costs only its own rows, however long the queue.
        """
        named, statuses, priorities, kinds, tiers = _queue_filters(
            "queue", special, status, priority, kind, tier, limit, offset
        )
        when = at or self._clock()
        with self._projector.views.transaction(commit=False) as tx:
            return self._queues.query(
                tx,
                special=named,
                team=team,
                agent=agent,
                status=statuses,
                priority=priorities,
                kind=kinds,
                customer=customer,
                tier=tiers,
                at=when,
                limit=limit,
                offset=offset,
                count=count,
            )

    # -- tamper evidence --------------------------------------------------------------------

    def verify(
        self, *, expected: Head | None = None, progress: Callable[[int], None] | None = None
    ) -> VerifyReport:
        """Recompute the hash chain over the whole stored log and report the first break.

        Pass a ``Head`` exported earlier (``audit_head()``) to also detect that the newest
        events were removed. Reads the log in batches: constant memory for any size.
        """
        recorder = self._store.recorder

        def batches() -> Iterator[list[tuple[int, StoredEvent]]]:
            position = 0
            while notifications := recorder.select_notifications(
                start=position, limit=1000, inclusive_of_start=False
            ):
                yield [(n.id, n) for n in notifications]
                position = notifications[-1].id

        try:
            with self._projector.views.transaction(commit=False) as tx:
                return self._chain.verify(
                    batches(),
                    lambda after, upto: self._chain.links(tx, after, upto),
                    expected=expected,
                    progress=progress,
                )
        except PersistenceError as error:
            raise _store_error(error) from None

    def audit_head(self) -> Head | None:
        """The newest link of the log's hash chain: keep it elsewhere to detect truncation."""
        with self._projector.views.transaction(commit=False) as tx:
            return self._chain.head(tx)

    # -- audit ------------------------------------------------------------------------------

    def audit_log(
        self,
        *,
        actor: str | None = None,
        request: Ref | None = None,
        event_type: str | Sequence[str] | None = None,
        customer: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        by: TimeBasis = "occurred",
        limit: int = 100,
        after_position: int = 0,
    ) -> AuditPage:
        """A page of every request's events in log order, filtered: the auditors' global view.

        Criteria combine. ``since`` (inclusive) and ``until`` (exclusive) bound when events
        happened, or when they were recorded with ``by="recorded"``. Page on with
        ``after_position=page.next_after_position``. Reads the ``audit`` projection.
        """
        selected = audit_filter(
            actor=actor,
            request_id=None if request is None else self.resolve(request),
            event_type=event_type,
            customer=customer,
            since=since,
            until=until,
            by=by,
        )
        try:
            return self._trail.page(selected, after=after_position, limit=limit)
        except PersistenceError as error:
            raise _store_error(error) from None

    def queue_as_of(  # noqa: PLR0913 - the filters of ``queue``
        self,
        at: datetime,
        special: SpecialQueue | str | None = None,
        *,
        team: str | None = None,
        agent: str | None = None,
        status: Status | str | Sequence[Status | str] = (),
        priority: Priority | str | Sequence[Priority | str] = (),
        kind: Kind | str | Sequence[Kind | str] = (),
        customer: str | None = None,
        tier: Tier | str | Sequence[Tier | str] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> QueuePage:
        """A queue as it stood at ``at`` (by when things happened), folded from the log.

        Takes ``queue``'s filters (follow_ups_due as of ``at``). It folds the requests opened
        by then (without those the queue view shows closed or cancelled by then, unless closed
        statuses are asked for), so it answers audits ("team X's queue at 10:00 last
        Monday"), not dashboards.
        """
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            msg = f"refused 'queue_as_of': at must be a timezone-aware datetime, not {at!r}"
            raise ValidationFailedError(msg, command="queue_as_of")
        named, statuses, priorities, kinds, tiers = _queue_filters(
            "queue_as_of", special, status, priority, kind, tier, limit, offset
        )

        def ask(view: QueueProjection, tx: Tx) -> QueuePage:
            return view.query(
                tx,
                special=named,
                team=team,
                agent=agent,
                status=statuses,
                priority=priorities,
                kind=kinds,
                customer=customer,
                tier=tiers,
                at=at,
                limit=limit,
                offset=offset,
            )

        try:
            closed = bool(statuses)
            candidates = self._as_of_candidates(at, closed=closed)
            return self._trail.queue_as_of(at, ask, closed=closed, candidates=candidates)
        except PersistenceError as error:
            raise _store_error(error) from None

    def export(
        self,
        fp: IO[bytes] | IO[str],
        *,
        format: ExportFormat = "jsonl",  # noqa: A002 - the name auditors and the CLI use
        request: Ref | None = None,
        actor: str | None = None,
        event_type: str | Sequence[str] | None = None,
        customer: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        by: TimeBasis = "occurred",
    ) -> int:
        """Stream one request's history, or the global log, to a file for auditors' tools.

        ``fp`` is a binary or text file; ``format`` is ``jsonl`` or ``csv``; the criteria are
        ``audit_log``'s. Field names are fixed (``servflow.AUDIT_EXPORT_FIELDS``, plus
        ``changes`` for one request). Returns the rows written; memory stays constant.
        """
        selected = audit_filter(
            actor=actor,
            event_type=event_type,
            customer=customer,
            since=since,
            until=until,
            by=by,
            command="export",
        )
        request_id: UUID | None = None
        if request is not None:
            request_id = self.resolve(request)
            if not self._has(request_id):
                raise RequestNotFoundError(_describe(request))
        try:
            return self._trail.export(fp, format=format, request_id=request_id, selected=selected)
        except PersistenceError as error:
            raise _store_error(error) from None

    # -- SLA ------------------------------------------------------------------------------

    def sla(self, ref: Ref, *, at: datetime | None = None) -> SlaStatus:
        """Both SLA clocks of a request as of ``at`` (default now), from its events up to then.

        Each clock says its state, target, due instant, business time elapsed, remaining and
        paused, and the policy and calendar versions that measured it (those in force at the
        request's opening), so the same question gets the same answer at any later date.
        """
        request_id = self.resolve(ref)
        when = self._instant(at, "at", "sla", request_id)
        tracker = self._tracker(request_id, ref)
        if to_second(when) < tracker.opened_at:
            raise RequestNotFoundError(
                _describe(ref), detail=f"it was opened after {when.isoformat()}"
            )
        return tracker.status(when, policy_at(self._adoptions(), tracker.opened_at))

    def sla_timeline(self, ref: Ref, *, until: datetime | None = None) -> list[TimelineEntry]:
        """Why a clock stands where it does: started, paused, resumed, warned, breached, met.

        Each entry names the event (type and version) that caused it, or ``time``; entries
        run up to ``until`` (default now).
        """
        request_id = self.resolve(ref)
        when = self._instant(until, "until", "sla_timeline", request_id)
        tracker = self._tracker(request_id, ref)
        return tracker.timeline(policy_at(self._adoptions(), tracker.opened_at), until=when)

    def sla_whatif(
        self,
        *,
        policy: SlaPolicy,
        period: tuple[datetime, datetime],
        at: datetime | None = None,
    ) -> list[WhatIfFlip]:
        """Which clock outcomes would flip under ``policy``, for requests opened in ``period``.

        Compares each clock's state as of ``at`` (default now) under the policy that measured
        it and under the candidate, with the due-time delta; records nothing, so what was
        reported stays as it was. ``period`` is ``(start, end)``, end excluded.
        """
        if not isinstance(policy, SlaPolicy):
            msg = f"refused 'sla_whatif': policy must be an SlaPolicy, not {type(policy).__name__}"
            raise ValidationFailedError(msg, command="sla_whatif", errors=(("policy", msg),))
        if not isinstance(period, tuple) or len(period) != 2:  # noqa: PLR2004 - a pair
            msg = "refused 'sla_whatif': period must be a (start, end) pair of datetimes"
            raise ValidationFailedError(msg, command="sla_whatif", errors=(("period", msg),))
        start = self._instant(period[0], "period start", "sla_whatif")
        end = self._instant(period[1], "period end", "sla_whatif")
        if end < start:
            msg = "refused 'sla_whatif': the period ends before it starts"
            raise ValidationFailedError(msg, command="sla_whatif", errors=(("period", msg),))
        when = to_second(self._instant(at, "at", "sla_whatif"))
        with self._projector.views.transaction(commit=False) as tx:
            trackers = self._sla.opened_between(tx, start, end)
        adoptions = self._adoptions()
        flips: list[WhatIfFlip] = []
        for tracker in trackers:
            if tracker.opened_at <= when:
                current = policy_at(adoptions, tracker.opened_at)
                flips += compare(tracker, when, current, policy)
        return flips

    def run_due(self, *, at: datetime | None = None) -> list[DueAction]:
        """Record the time-based events whose moment has come by ``at`` (default now).

        A follow-up whose date has come gets ``FollowUpDue``; a request awaiting acceptance whose
        customer stayed silent for the policy's ``deemed_acceptance_after`` (business time) gets
        ``CustomerAccepted(deemed=True)``, both by ``system`` and dated when their moment came.
        Idempotent: a second call records nothing new. Candidates come from the SLA projection.
        """
        now = self._now()
        when = self._instant(at, "at", "run_due")
        if when > now:
            msg = (
                f"refused 'run_due': at {when.isoformat()} is after the desk's clock "
                f"({now.isoformat()}); events cannot be recorded before they happen"
            )
            raise OccurrenceOutOfOrderError(msg, command="run_due")
        with self._projector.views.transaction(commit=False) as tx:
            candidates = self._sla.due_actions(tx, when)
        adoptions = self._adoptions()
        actions: list[DueAction] = []
        for candidate in candidates:
            actions += self._run_due_for(candidate.request_id, when, now, adoptions)
        return actions

    def breaches(self, *, at: datetime | None = None, limit: int | None = None) -> list[SlaAlert]:
        """Clocks past their due instant as of ``at`` (default now) and not met, earliest first.

        Read from the SLA projection (an indexed range read), so ``at`` should be at or after the
        requests' latest events; for an earlier instant ask ``sla(ref, at=...)``.
        """
        when = self._instant(at, "at", "breaches")
        with self._projector.views.transaction(commit=False) as tx:
            return self._sla.breaches(tx, when, limit=_positive_limit(limit, "breaches"))

    def at_risk(self, *, at: datetime | None = None, limit: int | None = None) -> list[SlaAlert]:
        """Clocks in their warning window as of ``at`` (default now), earliest due first."""
        when = self._instant(at, "at", "at_risk")
        with self._projector.views.transaction(commit=False) as tx:
            return self._sla.at_risk(tx, when, limit=_positive_limit(limit, "at_risk"))

    def adopt_policy(
        self, policy: SlaPolicy, *, actor: str, effective_from: datetime | None = None
    ) -> PolicyAdoption:
        """Adopt an SLA policy version for the requests opened from ``effective_from`` on.

        By default it takes effect from the next whole second (the very first adoption, made
        before any request was opened, measures every request, imported history included).
        It cannot be back-dated: what-ifs (``sla_whatif``) show a correction's effect on the past
        without rewriting it. Re-adopting the latest policy records nothing; the same name and
        version with other content, or an older version, is a ``ConfigurationError``.
        """
        if not isinstance(policy, SlaPolicy):
            msg = (
                f"refused 'adopt_policy': policy must be an SlaPolicy, not {type(policy).__name__}"
            )
            raise ValidationFailedError(msg, command="adopt_policy", errors=(("policy", msg),))
        for _ in range(_MAX_SAVE_ATTEMPTS):
            now = self._now()
            book = self._book()
            latest = book.latest if book is not None else None
            if latest is not None and same_policy(latest.policy, policy):
                return latest
            effective = self._effective_from(book, effective_from, now)
            moment = Moment(recorded_at=now, occurred_at=now)
            if book is None:
                book = SlaPolicyBook.start(actor=actor, at=moment)
            adoption = book.adopt(policy, effective_from=effective, actor=actor, at=moment)
            try:
                recordings = self._store.save(book)
            except IntegrityError:
                continue  # another process adopted meanwhile: look again
            except PersistenceError as error:
                raise _store_error(error) from None
            self._saved(recordings)
            return adoption
        msg = f"could not record the policy adoption after {_MAX_SAVE_ATTEMPTS} attempts"
        raise StoreError(msg)

    def policies(self) -> list[PolicyAdoption]:
        """Every adopted SLA policy version, in the order adopted (empty: the built-in default)."""
        return self._adoptions()

    # -- KPIs -----------------------------------------------------------------------------

    def kpis(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime | None = None,
        team: str | None = None,
        kind: Kind | str | None = None,
    ) -> Kpis:
        """Metrics for the requests opened in ``[since, until)``, as the log stood at ``at``.

        ``at`` defaults to the desk's clock now; only events that happened by then count, so
        the same question gets the same answer at any later date. ``team`` and ``kind`` filter
        on the request as of ``at``. It reads the requests' events from the log (not a
        projection), 500 requests per query, each event decoded once. See ``Kpis``.
        """
        when = self._instant(at, "at", "kpis")
        return compute_kpis(
            lambda start, end: self._cohort_as_of(start, end, when),
            since=since,
            until=until,
            at=when,
            team=team,
            kind=kind,
        )

    # -- projections ------------------------------------------------------------------------

    def catch_up(self, *, progress: ProgressCallback | None = None) -> int:
        """Bring every projection up to the head of the log; returns how many events it read."""
        try:
            return self._projector.catch_up(progress=progress)
        except PersistenceError as error:
            raise _store_error(error) from None

    def rebuild_projections(
        self, names: Sequence[str] | None = None, *, progress: ProgressCallback | None = None
    ) -> int:
        """Drop projections' tables and replay the whole log into them (all by default)."""
        unknown = set(names or ()) - set(self._projector.projections)
        if unknown:
            msg = f"unknown projections: {', '.join(sorted(unknown))}"
            raise ValidationFailedError(msg, command="rebuild_projections")
        try:
            return self._projector.rebuild(names=names, progress=progress)
        except PersistenceError as error:
            raise _store_error(error) from None

    def projection_status(self) -> list[ProjectionStatus]:
        """Each projection's position against the head of the log."""
        return self._projector.status()

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_interval: float = 0.5,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Keep the projections up to date until ``stop`` is set (for a follower process)."""
        self._projector.follow(stop, poll_interval=poll_interval, progress=progress)

    # -- internals -------------------------------------------------------------------------

    def _execute(
        self,
        ref: Ref,
        command: str,
        occurred_at: datetime | None,
        change: Callable[[ServiceRequest, Moment], None],
    ) -> Request:
        def run(request: ServiceRequest, at: Moment) -> Request:
            change(request, at)
            return Request.of(request)

        return self._run(ref, command, occurred_at, run)

    def _run(
        self,
        ref: Ref,
        command: str,
        occurred_at: datetime | None,
        change: Callable[[ServiceRequest, Moment], _T],
    ) -> _T:
        request_id = self.resolve(ref)
        request = self._checkout(request_id, ref)
        at = self._moment(occurred_at, command, request)
        result = change(request, at)
        try:
            recordings = self._store.save(request)
        except IntegrityError:
            raise ConcurrencyConflictError(
                request_id=request.id, ticket_code=request.ticket_code, command=command
            ) from None
        except PersistenceError as error:
            raise _store_error(error) from None
        self._saved(recordings)
        self._keep(request, recordings)
        return result

    def _checkout(self, request_id: UUID, ref: Ref) -> ServiceRequest:
        """The request as stored now, for a command: the one this desk saved last, if still so.

        A request this desk saved is kept (``_keep``) and taken out here, so no two commands
        share it and a command that fails leaves nothing behind. It is used only if the newest
        event it knows is still stored at its version with the same bytes; the events other
        writers added since are read and applied, as a load would. Otherwise it is loaded.
        """
        kept = self._kept.take(request_id)
        if kept is not None:
            request, state = kept
            try:
                stored = self._store.recorder.select_events(request_id, gt=request.version - 1)
            except PersistenceError as error:
                raise _store_error(error) from None
            if (
                stored
                and stored[0].originator_version == request.version
                and bytes(stored[0].state) == state
            ):
                mapper = self._store.mapper
                for newer in stored[1:]:
                    event: Any = mapper.to_domain_event(newer)
                    request = event.mutate(request)
                return request
        return self._load(request_id, ref)

    def _keep(self, request: ServiceRequest, recordings: Sequence[Recording[UUID]]) -> None:
        """Keep a request just saved for the desk's next command on it (see ``_checkout``)."""
        if recordings and recordings[-1].notification.originator_version == request.version:
            self._kept.put(request, bytes(recordings[-1].notification.state))

    def _saved(self, recordings: Sequence[Recording[UUID]]) -> None:
        if recordings:
            if self._chained:
                # The links were written in the events' transaction, which has committed.
                self._chain.committed(max(r.notification.id for r in recordings))
            else:
                # In memory the chain lives in the views' database: write it in batches, one
                # transaction per many saves, and before anything uses that database (a use
                # hook, like the views' own batches).
                notifications = [r.notification for r in recordings]
                if self._chain.defer(notifications, [n.id for n in notifications]) >= (
                    _CHAIN_BACKLOG
                ):
                    self._projector.views.run_use_hooks()
        if self._inline and not self._hooked:
            # In memory the views follow the saves in batches of their own, from the events
            # just recorded, applied before the views are next read (see Projector.defer).
            self._projector.defer([(r.notification.id, r.domain_event) for r in recordings])
            return
        if self._inline and self._projector.behind:
            self._catch_up()

    def _flush_chain(self) -> None:
        """Write the chain links of an in-memory store's saved events (a use hook there)."""
        self._chain.flush(self._projector.views.transaction)

    def _catch_up(self) -> None:
        # The events are stored: a projection failure must not turn a recorded command into
        # an error. The view stays behind and the next catch-up (or a rebuild) retries it.
        try:
            self._projector.catch_up()
        except Exception:  # noqa: BLE001 - any failure of a view must leave the command recorded
            _log.exception("servflow: projections could not catch up; they will retry")

    def _moment(
        self, occurred_at: datetime | None, command: str, request: ServiceRequest | None = None
    ) -> Moment:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            msg = "the desk's clock returned a naive datetime; it must return an aware one"
            raise ConfigurationError(msg)
        now = now.astimezone(UTC)
        request_id = request.id if request else None
        if occurred_at is None:
            return Moment(recorded_at=now, occurred_at=now)
        if not isinstance(occurred_at, datetime):
            msg = f"refused '{command}': occurred_at must be a datetime, not {occurred_at!r}"
            raise ValidationFailedError(msg, command=command, request_id=request_id)
        if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
            msg = (
                f"refused '{command}': occurred_at {occurred_at.isoformat()} is naive; "
                "give a timezone-aware datetime"
            )
            raise ValidationFailedError(
                msg,
                command=command,
                request_id=request_id,
                errors=(("occurred_at", "must be timezone-aware"),),
            )
        occurred = occurred_at.astimezone(UTC)
        if occurred > now:
            msg = (
                f"refused '{command}': occurred_at {occurred.isoformat()} is after the desk's "
                f"clock ({now.isoformat()}); events cannot be recorded before they happen"
            )
            raise OccurrenceOutOfOrderError(msg, command=command, request_id=request_id)
        return Moment(recorded_at=now, occurred_at=occurred)

    def _load(self, request_id: UUID, ref: Ref, *, version: int | None = None) -> ServiceRequest:
        try:
            request: object = self._store.repository.get(
                request_id, version=version, projector_func=_project
            )
        except AggregateNotFoundError:
            raise RequestNotFoundError(_describe(ref)) from None
        except PersistenceError as error:
            raise _store_error(error) from None
        if not isinstance(request, ServiceRequest):
            raise RequestNotFoundError(_describe(ref), detail="that id is not a service request")
        return request

    def _events(self, request_id: UUID, ref: Ref) -> list[ServiceRequest.Event]:
        try:
            events = [
                e for e in self._store.events.get(request_id) if isinstance(e, ServiceRequest.Event)
            ]
        except PersistenceError as error:
            raise _store_error(error) from None
        if not events:
            raise RequestNotFoundError(_describe(ref))
        return events

    def _as_of(self, request_id: UUID, as_of: datetime, ref: Ref) -> ServiceRequest:
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            msg = f"as_of {as_of.isoformat()} is naive; give a timezone-aware datetime"
            raise ValidationFailedError(msg, command="get", request_id=request_id)
        request: ServiceRequest | None = None
        try:
            for _, event in self._trail.events_as_of([request_id], as_of):
                if isinstance(event, ServiceRequest.Event):
                    request = event.mutate(request)
        except PersistenceError as error:
            raise _store_error(error) from None
        if request is None and not self._has(request_id):
            raise RequestNotFoundError(_describe(ref))
        if request is None:
            raise RequestNotFoundError(
                _describe(ref), detail=f"it was opened after {as_of.isoformat()}"
            )
        return request

    def _as_of_candidates(self, at: datetime, *, closed: bool) -> list[UUID]:
        """Ids of at least the requests a queue as of ``at`` can show, whatever the views' lag.

        The queue view's rows say which requests were opened by ``at`` and, unless closed ones
        are asked for, which were already closed or cancelled by then; every request the log
        changed after the view's position is read too.
        """
        statement, params = self._queues.as_of_candidates_sql(at, closed=closed)
        found = self._ids_in_view(self._queues, statement, params, self._ids_after)
        return [i for i in found if i != SLA_POLICY_BOOK_ID]

    def _cohort_ids(self, since: datetime, until: datetime) -> list[UUID]:
        """Ids of at least the requests opened in ``[since, until)``, whatever the views' lag.

        The SLA view's rows say when each request it has seen was opened (an indexed range);
        the requests opened after its position come from the log.
        """
        statement, params = self._sla.opened_ids_sql(since, until)
        return self._ids_in_view(self._sla, statement, params, self._opened_after)

    def _ids_in_view(
        self,
        view: Projection,
        statement: str,
        params: Sequence[object],
        after: Callable[[int], Iterable[UUID]],
    ) -> list[UUID]:
        """The ids a view's ``statement`` selects, then ``after(position)`` of the log, once each.

        The view's rows and its position come from one statement (``with_position``), so the
        log read after that position covers exactly what the rows may lack.
        """
        views = self._projector.views
        try:
            with views.transaction(commit=False) as tx:
                position, rows = views.with_position(
                    tx, self._projector.key(view), statement, params
                )
            found = dict.fromkeys(UUID(str(row[0])) for row in rows)
            found.update(dict.fromkeys(after(position)))
        except PersistenceError as error:
            raise _store_error(error) from None
        return list(found)

    def _cohort_as_of(
        self, since: datetime, until: datetime, when: datetime
    ) -> Iterator[tuple[ServiceRequest, Callable[[], SlaStatus]]]:
        """The requests opened in ``[since, until)`` by ``when``, with their SLA clocks, then.

        Each is what ``get(id, as_of=when)`` and ``sla(id, at=when)`` answer. The log is read
        500 requests per query; each event is decoded once and folded into both the request
        (up to ``when``) and its SLA tracker (all of it, as ``sla`` does); a request opened
        outside the period is left after its first event. The clocks come as a call that
        measures them (as ``sla`` would), so that requests filtered out cost no measuring.
        """
        adoptions = self._adoptions()
        to_event = self._store.mapper.to_domain_event
        ids = iter(self._cohort_ids(since, until))
        while True:
            chunk = list(itertools.islice(ids, _KPI_BATCH))
            if not chunk:
                return
            try:
                stored = self._trail.stored(chunk)
            except PersistenceError as error:
                raise _store_error(error) from None
            for _, rows in itertools.groupby(stored, key=lambda pair: pair[1].originator_id):
                found = _fold_as_of(rows, to_event, since, until, when)
                if found is not None:
                    request, tracker = found
                    policy = policy_at(adoptions, tracker.opened_at)
                    # The clocks are measured only for the requests the filters keep.
                    yield request, functools.partial(tracker.status, when, policy)

    def _has(self, request_id: UUID) -> bool:
        try:
            return bool(self._store.recorder.select_events(request_id, limit=1))
        except PersistenceError as error:
            raise _store_error(error) from None

    # -- SLA internals ----------------------------------------------------------------------

    def _configure_sla(self, sla: SlaPolicy | None) -> None:
        """Adopt the constructor's policy when it differs from the latest adopted one."""
        if sla is None:
            return  # keep what the store adopted (or the built-in default)
        if not isinstance(sla, SlaPolicy):
            msg = f"sla must be an SlaPolicy, not {type(sla).__name__}"
            raise ConfigurationError(msg)
        book = self._book()
        latest = book.latest if book is not None else None
        if latest is None or not same_policy(latest.policy, sla):
            if book is not None:
                book.check(sla)  # refuse before recording anything
            self.adopt_policy(sla, actor="system")

    def _book(self) -> SlaPolicyBook | None:
        try:
            book: object = self._store.repository.get(SLA_POLICY_BOOK_ID, projector_func=_project)
        except AggregateNotFoundError:
            return None
        except PersistenceError as error:
            raise _store_error(error) from None
        return book if isinstance(book, SlaPolicyBook) else None

    def _adoptions(self) -> list[PolicyAdoption]:
        book = self._book()
        return [] if book is None else list(book.adoptions)

    def _effective_from(
        self, book: SlaPolicyBook | None, requested: datetime | None, now: datetime
    ) -> datetime:
        # From the next whole second: a request opened (recorded) before the adoption, even in
        # the same second, keeps the policy it was opened under.
        earliest = to_second(now) + _SECOND
        if requested is None:
            first = book is None or not book.adoptions
            return SINCE_EVER if first and not self._has_requests() else earliest
        when = self._instant(requested, "effective_from", "adopt_policy")
        if when < now:
            msg = (
                f"refused 'adopt_policy': effective_from {when.isoformat()} is in the past; "
                "an adoption cannot change answers already given (use sla_whatif to see the "
                "effect of a correction on the past)"
            )
            raise ValidationFailedError(
                msg, command="adopt_policy", errors=(("effective_from", "in the past"),)
            )
        whole = to_second(when)
        return max(earliest, whole if whole == when else whole + _SECOND)

    def _has_requests(self) -> bool:
        try:
            found = self._store.recorder.select_notifications(
                start=1, limit=1, topics=(get_topic(ServiceRequest.Opened),)
            )
        except PersistenceError as error:
            raise _store_error(error) from None
        return bool(found)

    def _tracker(self, request_id: UUID, ref: Ref) -> SlaTracker:
        tracker: SlaTracker | None = None
        for event in self._events(request_id, ref):
            tracker = SlaTracker.fold(tracker, event)
        if tracker is None:  # pragma: no cover - an Opened event always starts one
            raise RequestNotFoundError(_describe(ref))
        return tracker

    def _run_due_for(
        self,
        request_id: UUID,
        when: datetime,
        now: datetime,
        adoptions: Sequence[PolicyAdoption],
    ) -> list[DueAction]:
        """Record one request's due events (one save); retried if another writer got there."""
        for _ in range(_MAX_SAVE_ATTEMPTS):
            events = self._events(request_id, request_id)
            request = reduce(_mutate, events, None)
            tracker = reduce(SlaTracker.fold, events, None)
            if request is None or tracker is None:  # pragma: no cover - Opened starts both
                return []
            policy = policy_at(adoptions, tracker.opened_at)
            planned = _planned_due(request, tracker, policy, when)
            done: list[DueAction] = []
            for instant, action in planned:
                if request.status is not Status.COMPLETED:
                    break  # accepted first: a follow-up of a closed request is not due
                moment = Moment(recorded_at=now, occurred_at=max(instant, request.last_occurred_at))
                if action == "follow_up_due":
                    request.mark_follow_up_due(actor="system", at=moment)
                else:
                    request.accept(
                        satisfaction=None, comment=None, actor="system", at=moment, deemed=True
                    )
                done.append(
                    DueAction(
                        request_id=request.id,
                        ticket_code=request.ticket_code,
                        action=action,
                        occurred_at=moment.occurred_at,
                    )
                )
            if not done:
                return []
            try:
                recordings = self._store.save(request)
            except IntegrityError:
                continue  # another writer changed it: look again
            except PersistenceError as error:
                raise _store_error(error) from None
            self._saved(recordings)
            return done
        return []

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            msg = "the desk's clock returned a naive datetime; it must return an aware one"
            raise ConfigurationError(msg)
        return now.astimezone(UTC)

    def _instant(
        self, value: object, name: str, command: str, request_id: UUID | None = None
    ) -> datetime:
        """An aware instant given to a query (default: the clock's now), in UTC."""
        if value is None:
            return self._now()
        if not isinstance(value, datetime):
            msg = f"refused '{command}': {name} must be a datetime, not {value!r}"
            raise ValidationFailedError(
                msg, command=command, request_id=request_id, errors=((name, "not a datetime"),)
            )
        if value.tzinfo is None or value.utcoffset() is None:
            msg = (
                f"refused '{command}': {name} {value.isoformat()} is naive; "
                "give a timezone-aware datetime"
            )
            raise ValidationFailedError(
                msg, command=command, request_id=request_id, errors=((name, "must be aware"),)
            )
        return value.astimezone(UTC)

    def _code(self, number: int) -> str:
        return f"{self._prefix}-{number:06d}"

    def _free_number(self) -> int:
        """The lowest ticket number not yet taken, assuming taken numbers form a prefix 1..n.

        They do: a number is only tried once every lower one is known to be taken, and a
        save either takes it or records nothing. So after a conflict we gallop upwards and
        bisect, in O(log n) existence checks, instead of probing one number at a time.
        """
        start = self._next_number or 1
        if not self._has(request_id_for(self._code(start))):
            self._quiet_claims += 1
            return start
        if self._next_number is not None:
            self._quiet_claims = 0  # another writer took the number after this desk's last
        step = 1
        low = start  # taken
        high = start + step
        while self._has(request_id_for(self._code(high))):
            low = high
            step *= 2
            high = start + step
        while high - low > 1:  # low is taken, high is free
            middle = (low + high) // 2
            if self._has(request_id_for(self._code(middle))):
                low = middle
            else:
                high = middle
        return high


class _Kept:
    """Requests as a desk last saved them, with their newest event's stored bytes (bounded).

    ``take`` removes what it returns: a request kept here is used by one command at a time.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[UUID, tuple[ServiceRequest, bytes]] = OrderedDict()

    def take(self, request_id: UUID) -> tuple[ServiceRequest, bytes] | None:
        """The kept request and its newest stored bytes, no longer kept; None if not kept."""
        with self._lock:
            return self._items.pop(request_id, None)

    def put(self, request: ServiceRequest, state: bytes) -> None:
        """Keep a request just saved, forgetting the least recently saved beyond the size."""
        with self._lock:
            self._items[request.id] = (request, state)
            self._items.move_to_end(request.id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def _mutate(request: ServiceRequest | None, event: ServiceRequest.Event) -> ServiceRequest | None:
    return event.mutate(request)


def _project(aggregate: Any, events: Iterable[Any]) -> Any:  # noqa: ANN401 - the library's signature
    # The library's default projector asserts a runtime-checkable Protocol on every event,
    # which costs more than the fold itself for pydantic events.
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _planned_due(
    request: ServiceRequest, tracker: SlaTracker, policy: SlaPolicy, when: datetime
) -> list[tuple[datetime, DueActionKind]]:
    """The time-based events of one request whose moment came by ``when``, in time order."""
    planned: list[tuple[datetime, DueActionKind]] = []
    follow_up = request.follow_up_at
    if (
        request.allows("mark_follow_up_due")
        and request.outcome is Outcome.FOLLOW_UP
        and follow_up is not None
        and not request.follow_up_due
        and follow_up <= when
    ):
        planned.append((follow_up, "follow_up_due"))
    deemed = tracker.deemed_acceptance_at(policy)
    if request.status is Status.COMPLETED and deemed is not None and deemed <= when:
        planned.append((deemed, "deemed_acceptance"))
    planned.sort(key=lambda item: (item[0], _DUE_ORDER[item[1]]))
    return planned


def _positive_limit(limit: int | None, command: str) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        msg = f"refused '{command}': limit must be a positive int or None, not {limit!r}"
        raise ValidationFailedError(msg, command=command, errors=(("limit", msg),))
    return limit


def _queue_filters(
    command: str,
    special: SpecialQueue | str | None,
    status: object,
    priority: object,
    kind: object,
    tier: object,
    limit: int,
    offset: int,
) -> tuple[
    SpecialQueue | None,
    tuple[Status, ...],
    tuple[Priority, ...],
    tuple[Kind, ...],
    tuple[Tier, ...],
]:
    """The queue filters as enums, or ValidationFailedError naming the command."""
    try:
        filters = (
            SpecialQueue(special) if special is not None else None,
            tuple(Status(v) for v in _many(status)),
            tuple(Priority(v) for v in _many(priority)),
            tuple(Kind(v) for v in _many(kind)),
            tuple(Tier(v) for v in _many(tier)),
        )
    except ValueError as error:
        msg = f"refused '{command}': {error}"
        raise ValidationFailedError(msg, command=command) from None
    if not 1 <= limit <= _MAX_PAGE or offset < 0:
        msg = (
            f"refused '{command}': limit must be 1-{_MAX_PAGE} and offset >= 0 "
            f"(got {limit}, {offset})"
        )
        raise ValidationFailedError(msg, command=command)
    return filters


def _many(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[attr-defined]


#: Requests read per query by ``kpis``.
_KPI_BATCH = 500


def _fold_as_of(
    rows: Iterable[tuple[int, StoredEvent]],
    to_event: Callable[[StoredEvent], object],
    since: datetime,
    until: datetime,
    when: datetime,
) -> tuple[ServiceRequest, SlaTracker] | None:
    """One request's rows folded as of ``when`` (None unless opened in ``[since, until)``)."""
    request: ServiceRequest | None = None
    tracker: SlaTracker | None = None
    past = False  # an event happened after ``when``: the request stops there (see ``_as_of``)
    for _, stored in rows:
        event = to_event(stored)
        if not isinstance(event, ServiceRequest.Event):
            continue
        if not past and event.occurred_at <= when:
            request = event.mutate(request)
        else:
            past = True
            if request is None:
                return None  # opened after ``when``
        if tracker is None and request is not None and not since <= request.opened_at < until:
            return None  # opened outside the period: its other events are not even decoded
        tracker = SlaTracker.fold(tracker, event)
    if request is None or tracker is None:
        return None  # opened after ``when``
    return request, tracker


def _describe(ref: Ref) -> str:
    if isinstance(ref, Request):
        return f"{ref.ticket_code} ({ref.id})"
    return str(ref)


def _store_error(error: PersistenceError) -> StoreError:
    return StoreError(f"the event store refused the operation: {error}")


@contextlib.contextmanager
def _opening_lock(dsn: str, schema: str) -> Iterator[None]:
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


def _create_schema(dsn: str, schema: str) -> None:
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
