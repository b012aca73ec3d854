"""``ServiceDesk``: the application servflow users call — commands, queries, persistence, clock.

The desk is a thin facade: each method checks nothing of its own and hands the work to one
small service (``writer``, ``tickets``, ``stores``, ``reads``, ``sla``, ``audit``, ``kpis``).
Every command loads the request, lets the aggregate check its rules, and saves the new event
with optimistic concurrency: a refused command appends nothing, and the loser of a race gets
``ConcurrencyConflictError``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Self, overload
from uuid import UUID

from servflow.desk import checks, rebuild
from servflow.desk.audit import AuditDesk, audit_filter
from servflow.desk.checks import callback
from servflow.desk.clock import DeskClock, TimeSource, checked_instant
from servflow.desk.commands import RequestCommands
from servflow.desk.directories import Directories, check_ad_hoc
from servflow.desk.directory_commands import DirectoryCommands
from servflow.desk.erasure import ErasureDesk
from servflow.desk.export import ExportFormat
from servflow.desk.figures import Figures
from servflow.desk.following import Following
from servflow.desk.integrations import Integrations
from servflow.desk.kpis import KpiDesk
from servflow.desk.reads import QueueQuestion, Reader
from servflow.desk.rebuild import MAX_WORKERS
from servflow.desk.sla import SlaDesk
from servflow.desk.stores import (
    ProjectionMode,
    Stores,
    create_schema,
    opening_lock,
    postgres_env,
    postgres_schema,
    sqlite_env,
)
from servflow.desk.tickets import Ref, Tickets
from servflow.desk.writer import Writer
from servflow.domain.erasure import Forgetting
from servflow.domain.history import HistoryEntry
from servflow.domain.lifecycle import Status
from servflow.domain.policy import SlaPolicy
from servflow.domain.roles import Roles
from servflow.domain.sla import DueAction, PolicyAdoption, SlaStatus, TimelineEntry, WhatIfFlip
from servflow.domain.values import Kind, Priority, Tier
from servflow.domain.view import Request
from servflow.errors import ConfigurationError, ValidationFailedError, shown
from servflow.persistence.chain import Head, VerifyReport
from servflow.persistence.quarantine import QuarantinedEvent
from servflow.persistence.store import translated
from servflow.projections.audit import AuditPage, TimeBasis
from servflow.projections.queues import QueuePage, SpecialQueue
from servflow.projections.runner import ProgressCallback, ProjectionStatus
from servflow.projections.sla import SlaAlert

if TYPE_CHECKING:
    from types import TracebackType


__all__ = ["ProjectionMode", "Ref", "ServiceDesk", "TimeSource"]

_log = logging.getLogger("servflow")


class ServiceDesk(RequestCommands, DirectoryCommands, Integrations, Figures, Following):
    """An event-sourced service desk: open, work and close service requests, and read them back.

    The commands (``open``, ``classify``, ... ``correct_nonconformity``) come from
    ``RequestCommands``; the queries, SLA, audit, KPI and projection calls are below.

    ``ServiceDesk()`` keeps events in memory (tests, simulations); ``ServiceDesk.sqlite(path)``
    is the embedded default for real use; ``ServiceDesk.postgres(dsn)`` shares one store
    between processes and machines. Every constructor takes ``clock=`` (a callable returning
    an aware datetime; default UTC now) and ``ticket_prefix=`` (default ``"SR"``), and
    ``sla=`` (an ``SlaPolicy``, recorded in the store's policy book when it differs from the
    latest adopted one; without it the adopted policy stays, or the built-in standard applies),
    and ``roles=`` (who may record what; default ``Roles.standard()``), and ``ad_hoc=`` (whether
    teams and agents not in the directories are taken: ``None``, the default, while none is
    registered; ``True`` always; ``False`` never).
    """

    def __init__(
        self,
        *,
        clock: TimeSource | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        sla: SlaPolicy | None = None,
        roles: Roles | None = None,
        env: Mapping[str, str] | None = None,
        erasable: bool = False,
        ad_hoc: bool | None = None,
    ) -> None:
        _check_settings(audit_key, env)
        ad_hoc = check_ad_hoc(ad_hoc)
        if not isinstance(erasable, bool):
            msg = f"erasable must be True or False, not {shown(erasable)}"
            raise ConfigurationError(msg)
        self._clock = DeskClock(clock)
        self._tickets = Tickets(ticket_prefix, lambda request_id: self._writer.has(request_id))  # noqa: PLW0108 - the writer comes next
        self._stores = Stores(env, projections=projections, audit_key=audit_key, erasable=erasable)
        self._writer = Writer(self._stores, self._clock, roles or Roles.standard())
        self._reads = Reader(self._stores, self._writer, self._clock)
        self._sla = SlaDesk(self._stores, self._clock, self._writer)
        self._audit = AuditDesk(self._stores, self._writer)
        self._kpis = KpiDesk(self._stores, self._clock, self._reads, self._sla)
        self._erasure = ErasureDesk(self._stores, self._writer, self._clock)
        self._directories = Directories(self._stores, self._writer, self._clock, ad_hoc=ad_hoc)
        try:
            self._sla.configure(sla)
        except BaseException:
            self.close()
            raise
        if self._stores.inline:
            self._stores.catch_up_quietly()

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def sqlite(  # noqa: PLR0913 - the desk's options and the store's
        cls,
        path: str,
        *,
        clock: TimeSource | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        sla: SlaPolicy | None = None,
        roles: Roles | None = None,
        cipher_key: str | None = None,
        compress: bool = False,
        erasable: bool = False,
        ad_hoc: bool | None = None,
    ) -> ServiceDesk:
        """A desk on an SQLite file (created if missing, WAL mode): the embedded default.

        ``cipher_key`` (``servflow.new_cipher_key()``) encrypts the stored events, ``compress``
        compresses them; a store must be opened with the settings it was written with
        (``docs/how-to/encryption.md``). ``erasable=True`` creates a store whose customers can
        be forgotten (``forget_customer``; ``docs/how-to/erasure.md``); a store created so
        stays so for every desk that opens it.
        """
        env = sqlite_env(path, cipher_key=cipher_key, compress=compress)
        return cls(
            clock=clock,
            ticket_prefix=ticket_prefix,
            projections=projections,
            audit_key=audit_key,
            sla=sla,
            roles=roles,
            env=env,
            erasable=erasable,
            ad_hoc=ad_hoc,
        )

    @classmethod
    def postgres(  # noqa: PLR0913 - the desk's options and the store's
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        clock: TimeSource | None = None,
        ticket_prefix: str = "SR",
        projections: ProjectionMode = "inline",
        audit_key: bytes | None = None,
        sla: SlaPolicy | None = None,
        roles: Roles | None = None,
        pool_size: int = 5,
        cipher_key: str | None = None,
        compress: bool = False,
        erasable: bool = False,
        ad_hoc: bool | None = None,
    ) -> ServiceDesk:
        """A desk on PostgreSQL, shared by processes and machines (needs ``servflow[postgres]``).

        ``dsn`` is a libpq connection string or URL; ``schema`` (created if missing) keeps
        servflow's tables apart from others in the same database. ``cipher_key``,
        ``compress`` and ``erasable`` as for ``sqlite``.
        """
        schema = postgres_schema(schema)
        env = postgres_env(dsn, pool_size=pool_size, cipher_key=cipher_key, compress=compress)
        # Opening a store creates its tables, functions and views if they are missing; processes
        # opening the same schema at once would collide in PostgreSQL's catalogue, so they take
        # turns (an advisory lock, held only while the desk opens).
        with opening_lock(dsn, schema or "public"):
            if schema:
                create_schema(dsn, schema)
                env["POSTGRES_SCHEMA"] = schema
            return cls(
                clock=clock,
                ticket_prefix=ticket_prefix,
                projections=projections,
                audit_key=audit_key,
                sla=sla,
                roles=roles,
                env=env,
                erasable=erasable,
                ad_hoc=ad_hoc,
            )

    @overload
    def close(self) -> None: ...

    @overload
    def close(
        self, ref: Ref, *, reason: str, actor: str, occurred_at: datetime | None = None
    ) -> Request: ...

    def close(
        self,
        ref: Ref | None = None,
        *,
        reason: str | None = None,
        actor: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Request | None:
        """``close()`` releases the store's connections; ``close(ref, ...)`` closes a request.

        ``close(ref, reason=..., actor=...)`` closes a completed request for the desk or
        ``system`` (``Closed``: no satisfaction, never the customer's ``accept``); when
        importing history, give the source's closure time as ``occurred_at``.
        """
        if ref is None and reason is None and actor is None and occurred_at is None:
            self._stores.close()
            return None
        if ref is None or reason is None or actor is None:
            missing = [
                name
                for name, value in (("ref", ref), ("reason", reason), ("actor", actor))
                if value is None
            ]
            msg = f"refused 'close': a request's closure needs {', '.join(missing)}"
            raise ValidationFailedError(
                msg, command="close", errors=tuple((name, "missing") for name in missing)
            )
        return self._close_request(ref, reason=reason, actor=actor, occurred_at=occurred_at)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------------------

    def get(
        self, ref: Ref, *, as_of: datetime | None = None, version: int | None = None
    ) -> Request:
        """The request now, as of an instant (by when things happened), or at a version."""
        if as_of is not None and version is not None:
            msg = "give as_of or version, not both"
            raise ValidationFailedError(msg, command="get", request_id=self._stores.resolve(ref))
        self._stores.refresh_keys()
        if as_of is not None:
            return Request.of(self._audit.as_of(self._stores.resolve(ref), as_of, ref))
        return self._reads.get(ref, version)

    @contextlib.contextmanager
    def expecting(self, ref: Ref, version: int) -> Iterator[None]:
        """Within: commands on ``ref`` are refused unless it is still at ``version``.

        For a UI that must not overwrite a newer state (HTTP ``If-Match``): a command run in
        the block raises ``StaleVersionError`` and records nothing when another writer recorded
        an event since the caller read ``version``. Per thread; blocks may nest.
        """
        request_id = self._stores.resolve(ref)
        checks.whole(version, "version", "expecting", low=1)
        with self._writer.expecting(request_id, version):
            yield

    def history(self, ref: Ref) -> list[HistoryEntry]:
        """Every event of a request in order: position in the log, who, when, what changed.

        One indexed read of the request's stored events (with their log positions).
        """
        self._stores.refresh_keys()
        return self._audit.history(ref)

    def exists(self, ref: Ref) -> bool:
        """Whether a request with this id or ticket code is in the store."""
        return self._reads.exists(ref)

    def resolve(self, ref: Ref) -> UUID:
        """The request id a reference names (without checking that the request exists)."""
        return self._stores.resolve(ref)

    def request_ids(self) -> Iterator[UUID]:
        """Ids of every request in the store, in the order they were opened."""
        return self._stores.trail.log.opened_after(0)

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
        hold_reason: str | None = None,
        include_imported: bool = True,
    ) -> QueuePage:
        """A page of open requests in work order (resolution due, priority, opening time).

        ``special`` picks a named queue: triage, unassigned, waiting_on_customer, on_hold,
        awaiting_acceptance, follow_ups_due (as of ``at``, default now) or transferred_in.
        ``hold_reason`` keeps the requests on that hold (``customer``: waiting on the customer).
        Filters combine; a ``status`` filter also reaches closed and cancelled requests.
        ``count=False`` skips counting every match (``total`` is then None): a page then
        costs only its own rows, however long the queue. A ``team`` or ``agent`` of the
        directories matches whatever its case or blanks (``"Billing "`` is ``billing``).
        ``include_imported=False`` leaves out requests holding imported history
        (``import_events``): the live work only.
        """
        question = QueueQuestion.checked(
            "queue",
            special,
            team=self._directories.known_team(team),
            agent=self._directories.known_agent(agent),
            status=status,
            priority=priority,
            kind=kind,
            customer=customer,
            tier=tier,
            at=at,
            limit=limit,
            offset=offset,
            count=count,
            hold_reason=hold_reason,
            include_imported=include_imported,
        )
        return self._reads.queue(question)

    # -- tamper evidence --------------------------------------------------------------------

    def verify(
        self, *, expected: Head | None = None, progress: Callable[[int], None] | None = None
    ) -> VerifyReport:
        """Recompute the hash chain over the whole stored log and report every break.

        The report's ``problem``, ``request_id``, ``version`` and ``position`` name the first
        break, ``breaks`` lists them all (up to 100; ``more_breaks`` counts the rest). Pass a
        ``Head`` exported earlier (``audit_head()``) to also detect that the newest events were
        removed. Reads the log in batches: constant memory for any size.
        """
        return self._audit.verify(expected, progress)

    def audit_head(self) -> Head | None:
        """The newest link of the log's hash chain: keep it elsewhere to detect truncation."""
        return self._audit.head()

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
        request_id = None if request is None else self._stores.resolve(request)
        selected = audit_filter(
            actor=actor,
            request_id=request_id,
            event_type=event_type,
            customer=customer,
            since=since,
            until=until,
            by=by,
        )
        self._stores.refresh_keys()
        return self._audit.page(selected, after_position, limit)

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
        hold_reason: str | None = None,
        include_imported: bool = True,
    ) -> QueuePage:
        """A queue as it stood at ``at`` (by when things happened), folded from the log.

        Takes ``queue``'s filters (follow_ups_due as of ``at``). It folds the requests opened
        by then (without those the queue view shows closed or cancelled by then, unless closed
        statuses are asked for), so it answers audits ("team X's queue at 10:00 last
        Monday"), not dashboards.
        """
        when = checked_instant(at, "at", "queue_as_of")
        question = QueueQuestion.checked(
            "queue_as_of",
            special,
            team=self._directories.known_team(team),
            agent=self._directories.known_agent(agent),
            status=status,
            priority=priority,
            kind=kind,
            customer=customer,
            tier=tier,
            at=when,
            limit=limit,
            offset=offset,
            hold_reason=hold_reason,
            include_imported=include_imported,
        )
        closed = bool(question.filters[1])  # statuses asked for: closed requests count too
        self._stores.refresh_keys()
        candidates = lambda: self._reads.as_of_candidates(when, closed=closed)  # noqa: E731
        return self._audit.queue_as_of(when, question.ask, closed=closed, candidates=candidates)

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

        ``fp`` is a binary or text file; ``format`` is ``jsonl`` or ``csv`` (field names are
        fixed: ``servflow.AUDIT_EXPORT_FIELDS``, plus ``changes`` for one request), or for
        process-mining tools ``xes`` (IEEE 1849 XML, one trace per request) or ``ocel``
        (OCEL 2.0 JSON: requests, customers, teams and agents as objects); the criteria are
        ``audit_log``'s. Returns the rows (events) written; memory stays constant.
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
        self._stores.refresh_keys()
        return self._audit.export(fp, format=format, request=request, selected=selected)

    # -- SLA ------------------------------------------------------------------------------

    def sla(
        self, ref: Ref, *, at: datetime | None = None, known_at: datetime | None = None
    ) -> SlaStatus:
        """The SLA clocks of a request as of ``at`` (default now), from its events up to then.

        Each clock says its state, target, due instant, business time elapsed, remaining and
        paused, and the policy and calendar versions that measured it (those in force at the
        request's opening, or a correction adopted while the clock still ran), so the same
        question gets the same answer at any later date. The update clock
        (``SlaStatus.update``) is there where the rule in force sets an update target, with its
        current cycle and its cycles met and breached.

        Answers are bitemporal: ``known_at`` (default now) answers with what the desk had
        recorded by then (events and policy adoptions), so what it reported before a correction
        can be reproduced; ``known_at`` may be before ``at``.
        """
        return self._sla.status(ref, at, known_at)

    def sla_timeline(
        self, ref: Ref, *, until: datetime | None = None, known_at: datetime | None = None
    ) -> list[TimelineEntry]:
        """Why a clock stands where it does: started, paused, resumed, warned, breached, met.

        Each entry names the event (type and version) that caused it, or ``time``; entries
        run up to ``until`` (default now), as known at ``known_at`` (default now, see ``sla``).
        """
        return self._sla.timeline(ref, until, known_at)

    def sla_whatif(
        self,
        *,
        policy: SlaPolicy,
        period: tuple[datetime, datetime],
        at: datetime | None = None,
    ) -> list[WhatIfFlip]:
        """Which clocks would change under ``policy``, for requests opened in ``period``.

        Compares each clock as of ``at`` (default now) under the policy that measured it and
        under the candidate: one entry per clock whose state flips (``flipped``) or whose due
        instant moves (``due_delta``), naming both policy and calendar versions; records
        nothing, so what was reported stays as it was. ``period`` is ``(start, end)``, end
        excluded. A candidate with the name and version of an adopted policy is refused.
        """
        return self._sla.whatif(policy, period, at)

    def run_due(self, *, at: datetime | None = None) -> list[DueAction]:
        """Record the time-based events whose moment has come by ``at`` (default now).

        A follow-up whose date has come gets ``FollowUpDue``; a request awaiting acceptance whose
        customer stayed silent for the policy's ``deemed_acceptance_after`` (business time) gets
        ``CustomerAccepted(deemed=True)``, both by ``system`` and dated when their moment came.
        Idempotent: a second call records nothing new. Candidates come from the SLA projection.
        """
        return self._sla.run_due(at)

    def breaches(
        self,
        *,
        at: datetime | None = None,
        limit: int | None = None,
        include_imported: bool = False,
    ) -> list[SlaAlert]:
        """Clocks past their due instant as of ``at`` (default now) and not met, earliest first.

        The update clock is listed too (clock ``update``) while its current cycle is past due.

        Read from the SLA projection (an indexed range read), so ``at`` should be at or after the
        requests' latest events; for an earlier instant ask ``sla(ref, at=...)``. Requests
        holding imported history (``import_events``) are left out unless ``include_imported``:
        their breaches are history, not work to do.
        """
        return self._sla.alerts("breaches", at, limit, imported=include_imported)

    def at_risk(
        self,
        *,
        at: datetime | None = None,
        limit: int | None = None,
        include_imported: bool = False,
    ) -> list[SlaAlert]:
        """Clocks in their warning window as of ``at`` (default now), earliest due first.

        Requests holding imported history are left out unless ``include_imported``.
        """
        return self._sla.alerts("at_risk", at, limit, imported=include_imported)

    def adopt_policy(
        self, policy: SlaPolicy, *, actor: str, effective_from: datetime | None = None
    ) -> PolicyAdoption:
        """Adopt an SLA policy version for the requests opened from ``effective_from`` on.

        By default it takes effect from the next whole second (the very first adoption, made
        before any request was opened, measures every request, imported history included).
        Only a **correction** may be back-dated: a higher version of an adopted policy, effective
        from a past instant no earlier than that policy was first in force. It re-times, from
        their opening, the clocks still running (or paused) when it is recorded of the requests
        opened from ``effective_from`` on; clocks stopped before keep their version and verdict
        (``sla(..., known_at=...)`` still answers what was reported before it). Any other past
        ``effective_from`` is a ``ValidationFailedError`` (``sla_whatif`` shows a candidate's
        effect without adopting it). Re-adopting the latest policy records nothing; the same
        name and version with other content, or an older version, is a ``ConfigurationError``.
        """
        return self._sla.adopt(policy, actor=actor, effective_from=effective_from)

    def policies(self) -> list[PolicyAdoption]:
        """Every adopted SLA policy version, in the order adopted (empty: the built-in default)."""
        return self._sla.adoptions()

    # -- erasure ---------------------------------------------------------------------------

    @property
    def erasable(self) -> bool:
        """Whether the store is erasable (its customers can be forgotten)."""
        return self._stores.keyring is not None

    def forget_customer(
        self, customer_id: str, *, actor: str, occurred_at: datetime | None = None
    ) -> Forgetting:
        """Forget a customer: destroy their keys, so their personal data reads as erased.

        Only in an erasable store (``ConfigurationError`` else), by an actor the roles let
        forget (supervisors by default; ``PermissionDeniedError`` else). Records
        ``CustomerForgotten`` (the customer id, who and when: nothing personal) and, in its
        transaction, destroys the customer's keys: from then on their name and the texts they
        wrote read as ``servflow.ERASED`` in requests, history, exports and views, while the
        log, its hash chain and every KPI stay as they were. An unknown customer is a
        ``CustomerNotFoundError``; forgetting one already forgotten records nothing
        (``recorded`` is False).
        """
        return self._erasure.forget(customer_id, actor=actor, occurred_at=occurred_at)

    # -- projections ------------------------------------------------------------------------

    def catch_up(self, *, progress: ProgressCallback | None = None) -> int:
        """Bring every projection up to the head of the log; returns how many events it applied."""
        callback(progress, "progress", "catch_up")
        with translated():
            return self._stores.projector.catch_up(progress=progress)

    def rebuild_projections(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        workers: int = 1,
    ) -> int:
        """Drop projections' tables and replay the whole log into them (all by default).

        ``workers`` > 1 (at most 16) shares the requests out among that many processes, each
        rebuilding every projection for its share (``servflow.desk.rebuild``): faster on a
        machine with cores to spare, the same views. Meanwhile the projections are marked as
        being rebuilt (``ProjectionStatus.rebuilding``) and no catch-up touches them. An
        in-memory desk rebuilds in this process whatever it says. Returns how many positions
        of the log a pass read (each reads the whole log), plus what the catch-up after it
        applied.
        """
        projector = self._stores.projector
        chosen = checks.names(names, "names", "rebuild_projections")
        unknown = sorted(set(chosen) - set(projector.projections))
        if unknown:
            known = ", ".join(projector.projections)
            problem = f"{', '.join(map(shown, unknown[:5]))} unknown; known: {known}"
            checks.refuse("rebuild_projections", "names", problem)
        callback(progress, "progress", "rebuild_projections")
        count = checks.whole(workers, "workers", "rebuild_projections", low=1, high=MAX_WORKERS)
        with translated():
            return rebuild.rebuild(
                self._stores,
                chosen or list(projector.projections),
                workers=count,
                progress=progress,
            )

    def projection_status(self) -> list[ProjectionStatus]:
        """Each projection's position against the head of the log, and the events it skipped."""
        with translated():
            return self._stores.projector.status()

    def quarantine(self) -> list[QuarantinedEvent]:
        """The stored events the projections skipped because they could not be read.

        In log order, each with its request, version, topic, why it could not be read and the
        projections that skipped it (``docs/how-to/corruption.md``). Empty for a sound log.
        """
        with translated():
            return self._stores.projector.quarantine()


def _check_settings(audit_key: object, env: object) -> None:
    """Refuse an audit key that is not bytes, or store settings that are not text."""
    if audit_key is not None and not isinstance(audit_key, bytes):
        msg = f"audit_key must be bytes or None, not {type(audit_key).__name__}"  # never the key
        raise ConfigurationError(msg)
    if env is not None and (
        not isinstance(env, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        msg = f"env must map setting names to text, not {shown(env)}"
        raise ConfigurationError(msg)
