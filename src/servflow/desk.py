"""``ServiceDesk``: the application servflow users call — commands, queries, persistence, clock.

The desk wraps an ``eventsourcing`` application (event store, repository, notification log)
so that servflow's public API does not change when the library does. Every command loads the
request, lets the aggregate check its rules, and saves the new event with optimistic
concurrency: a refused command appends nothing, and the loser of a race gets
``ConcurrencyConflictError``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import reduce
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording, StoredEvent
from eventsourcing.utils import get_topic

from servflow.chain import Chain, Head, VerifyReport
from servflow.codec import OrjsonTranscoder, PydanticMapper
from servflow.domain.history import HistoryEntry, history_of
from servflow.domain.request import (
    Moment,
    NonConformity,
    ServiceRequest,
    Status,
    request_id_for,
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
from servflow.projections.engine import ProgressCallback, ProjectionStatus, Projector
from servflow.projections.queues import QueuePage, QueueProjection, SpecialQueue
from servflow.store import hooks_of, recorder_topic

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Clock", "ProjectionMode", "Ref", "ServiceDesk"]

_log = logging.getLogger("servflow")

#: Something that says what time it is, as an aware datetime.
Clock = Callable[[], datetime]
#: ``inline``: the desk updates its projections after every command (one process);
#: ``external``: a follower process does (``python -m servflow.projections follow``).
ProjectionMode = Literal["inline", "external"]
#: How a request is named: its id, its ticket code (``"SR-000123"``) or a ``Request`` view.
Ref = UUID | str | Request

_T = TypeVar("_T")
_CODE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,9})-(\d{1,12})$")
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,9}$")
_MAX_CODE_ATTEMPTS = 64
_MAX_PAGE = 10_000


def utc_now() -> datetime:
    """The default clock: the current instant in UTC."""
    return datetime.now(UTC)


class _Store(Application[UUID]):
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
    an aware datetime; default UTC now) and ``ticket_prefix=`` (default ``"SR"``).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not _PREFIX.match(ticket_prefix):
            msg = (
                f"ticket_prefix {ticket_prefix!r} must be 1-10 capital letters or digits "
                "starting with a letter"
            )
            raise ConfigurationError(msg)
        self._clock: Clock = clock or utc_now
        self._prefix = ticket_prefix
        try:
            settings = dict(env or {})
            topic = recorder_topic(settings.get("PERSISTENCE_MODULE", ""))
            if topic:
                settings.setdefault("APPLICATION_RECORDER_TOPIC", topic)
            self._store = _Store(env=settings)
        except PersistenceError as error:
            msg = f"cannot open the event store: {error}"
            raise StoreError(msg) from None
        self._code_lock = threading.Lock()
        self._next_number: int | None = None
        if projections not in ("inline", "external"):
            msg = f"projections must be 'inline' or 'external', not {projections!r}"
            raise ConfigurationError(msg)
        self._inline = projections == "inline"
        self._queues = QueueProjection()
        try:
            self._projector = Projector(self._store, [self._queues])
        except PersistenceError as error:
            raise _store_error(error) from None
        self._chain = Chain(audit_key)
        with self._projector.views.transaction() as tx:
            self._chain.create(tx)
        hooks = hooks_of(self._store.recorder)
        # The hash chain and inline projections ride in the events' own transaction where the
        # store allows it (SQLite, PostgreSQL); in memory they follow each save.
        self._chained = hooks is not None
        self._hooked = self._inline and hooks is not None
        if hooks is not None:
            hooks.append(self._chain.record)
        if self._hooked and hooks is not None:
            hooks.append(self._projector.record_inline)
        if self._inline:
            self._catch_up()

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def sqlite(
        cls,
        path: str,
        *,
        clock: Clock | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
    ) -> ServiceDesk:
        """A desk on an SQLite file (created if missing, WAL mode): the embedded default."""
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        return cls(
            clock=clock,
            ticket_prefix=ticket_prefix,
            projections=projections,
            audit_key=audit_key,
            env=env,
        )

    @classmethod
    def postgres(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        clock: Clock | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        pool_size: int = 5,
    ) -> ServiceDesk:
        """A desk on PostgreSQL, shared by processes and machines (needs ``servflow[postgres]``).

        ``dsn`` is a libpq connection string or URL; ``schema`` (created if missing) keeps
        servflow's tables apart from others in the same database.
        """
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
        }
        if schema:
            _create_schema(dsn, schema)
            env["POSTGRES_SCHEMA"] = schema
        return cls(
            clock=clock,
            ticket_prefix=ticket_prefix,
            projections=projections,
            audit_key=audit_key,
            env=env,
        )

    def close(self) -> None:
        """Release the store's connections."""
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
            for _ in range(_MAX_CODE_ATTEMPTS):
                number = self._free_number()
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
                    # Another writer took this code first: look further up and try again.
                    self._next_number = number + 1
                    continue
                except PersistenceError as error:
                    raise _store_error(error) from None
                self._next_number = number + 1
                self._saved(recordings)
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
        """Every event of a request in order: who, when, what, and what changed."""
        request_id = self.resolve(ref)
        events = self._events(request_id, ref)
        return history_of(events)

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
        last = 0
        topic = get_topic(ServiceRequest.Opened)
        while True:
            notifications = self._store.recorder.select_notifications(
                start=last, limit=1000, topics=(topic,), inclusive_of_start=False
            )
            if not notifications:
                return
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
    ) -> QueuePage:
        """A page of open requests in work order (resolution due, priority, opening time).

        ``special`` picks a named queue: triage, unassigned, waiting_on_customer,
        awaiting_acceptance, follow_ups_due (as of ``at``, default now) or transferred_in.
        Filters combine; a ``status`` filter also reaches closed and cancelled requests.
        """
        try:
            named = SpecialQueue(special) if special is not None else None
            statuses = tuple(Status(v) for v in _many(status))
            priorities = tuple(Priority(v) for v in _many(priority))
            kinds = tuple(Kind(v) for v in _many(kind))
            tiers = tuple(Tier(v) for v in _many(tier))
        except ValueError as error:
            msg = f"refused 'queue': {error}"
            raise ValidationFailedError(msg, command="queue") from None
        if not 1 <= limit <= _MAX_PAGE or offset < 0:
            msg = f"refused 'queue': limit must be 1-10000 and offset >= 0 (got {limit}, {offset})"
            raise ValidationFailedError(msg, command="queue")
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
        request = self._load(request_id, ref)
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
        return result

    def _saved(self, recordings: Sequence[Recording[UUID]]) -> None:
        if not self._chained and recordings:
            notifications = [r.notification for r in recordings]
            with self._projector.views.transaction() as tx:
                self._chain.record(tx, notifications, [n.id for n in notifications])
        if self._inline and (not self._hooked or self._projector.behind):
            self._catch_up()

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
        events = self._events(request_id, ref)
        # Occurrence times never go backwards within a request, so "as of" is a prefix.
        prefix = [e for e in events if e.occurred_at <= as_of]
        if not prefix:
            raise RequestNotFoundError(
                _describe(ref), detail=f"it was opened after {as_of.isoformat()}"
            )
        request = reduce(_mutate, prefix, None)
        if request is None:  # pragma: no cover - an Opened event always creates one
            raise RequestNotFoundError(_describe(ref))
        return request

    def _has(self, request_id: UUID) -> bool:
        try:
            return bool(self._store.recorder.select_events(request_id, limit=1))
        except PersistenceError as error:
            raise _store_error(error) from None

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
            return start
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


def _mutate(request: ServiceRequest | None, event: ServiceRequest.Event) -> ServiceRequest | None:
    return event.mutate(request)


def _project(aggregate: Any, events: Iterable[Any]) -> Any:  # noqa: ANN401 - the library's signature
    # The library's default projector asserts a runtime-checkable Protocol on every event,
    # which costs more than the fold itself for pydantic events.
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _many(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[attr-defined]


def _describe(ref: Ref) -> str:
    if isinstance(ref, Request):
        return f"{ref.ticket_code} ({ref.id})"
    return str(ref)


def _store_error(error: PersistenceError) -> StoreError:
    return StoreError(f"the event store refused the operation: {error}")


def _create_schema(dsn: str, schema: str) -> None:
    import psycopg  # noqa: PLC0415 - optional extra
    from psycopg import sql  # noqa: PLC0415

    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
            )
    except psycopg.Error as error:
        msg = f"cannot prepare PostgreSQL schema {schema!r}: {error}"
        raise StoreError(msg) from None
