"""What a desk reads for its users: requests now or at a version, and the work queues.

Queues come from the queue view (indexed tables); a request comes from its events.
``ids_in_view`` is how narrowed reads (KPIs, past queues) stay exact while the views lag:
the view's rows up to its position, then the log past it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from servflow.desk.checks import member, members, page, refuse, text_filter, whole
from servflow.desk.clock import DeskClock, checked_instant
from servflow.desk.stores import Stores
from servflow.desk.tickets import Ref, describe
from servflow.desk.writer import Writer
from servflow.domain.erasure import ERASURE_LEDGER_ID
from servflow.domain.lifecycle import Status
from servflow.domain.sla import SLA_POLICY_BOOK_ID
from servflow.domain.values import Kind, Priority, Tier
from servflow.domain.view import Request
from servflow.errors import RequestNotFoundError
from servflow.persistence.sql import Tx
from servflow.persistence.store import translated
from servflow.projections.base import Projection
from servflow.projections.queues import QueuePage, QueueProjection, SpecialQueue

__all__ = ["QueueFilters", "QueueQuestion", "Reader"]

#: The queue filters as enums: special queue, statuses, priorities, kinds, tiers.
QueueFilters = tuple[
    SpecialQueue | None,
    tuple[Status, ...],
    tuple[Priority, ...],
    tuple[Kind, ...],
    tuple[Tier, ...],
]


class Reader:
    """Reads requests and queues for a desk."""

    def __init__(self, stores: Stores, writer: Writer, clock: DeskClock) -> None:
        self._stores = stores
        self._writer = writer
        self._clock = clock

    def get(self, ref: Ref, version: int | None) -> Request:
        """The request now or at ``version`` (see ``ServiceDesk.get``)."""
        request_id = self._stores.resolve(ref)
        if version is not None:
            whole(version, "version", "get", low=1)
        request = self._writer.load(request_id, ref, version=version)
        if version is not None and request.version != version:
            raise RequestNotFoundError(
                describe(ref), detail=f"it has {request.version} versions, not {version}"
            )
        return Request.of(request)

    def exists(self, ref: Ref) -> bool:
        """Whether a request with this id or ticket code is in the store."""
        try:
            request_id = self._stores.resolve(ref)
        except RequestNotFoundError:
            return False
        return self._writer.has(request_id)

    def queue(self, question: QueueQuestion) -> QueuePage:
        """A page of the queue view (see ``ServiceDesk.queue``)."""
        if question.at is None:
            question = dataclasses.replace(question, at=self._clock.now())
        with self._stores.reading() as tx:
            return question.ask(self._stores.queues, tx)

    def as_of_candidates(self, at: datetime, *, closed: bool) -> list[UUID]:
        """Ids of at least the requests a queue as of ``at`` can show, whatever the views' lag.

        The queue view's rows say which requests were opened by ``at`` and, unless closed ones
        are asked for, which were already closed or cancelled by then; every request the log
        changed after the view's position is read too.
        """
        statement, params = self._stores.queues.as_of_candidates_sql(at, closed=closed)
        log = self._stores.trail.log
        found = self.ids_in_view(self._stores.queues, statement, params, log.ids_after)
        return [i for i in found if i not in (SLA_POLICY_BOOK_ID, ERASURE_LEDGER_ID)]

    def cohort_ids(self, since: datetime, until: datetime) -> list[UUID]:
        """Ids of at least the requests opened in ``[since, until)``, whatever the views' lag.

        The SLA view's rows say when each request it has seen was opened (an indexed range);
        the requests opened after its position come from the log.
        """
        statement, params = self._stores.sla.opened_ids_sql(since, until)
        log = self._stores.trail.log
        return self.ids_in_view(self._stores.sla, statement, params, log.opened_after)

    def ids_in_view(
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
        views = self._stores.views
        with translated():
            with views.transaction(commit=False) as tx:
                position, rows = views.with_position(
                    tx, self._stores.projector.key(view), statement, params
                )
            found = dict.fromkeys(UUID(str(row[0])) for row in rows)
            found.update(dict.fromkeys(after(position)))
        return list(found)


@dataclass(frozen=True, slots=True)
class QueueQuestion:
    """What a queue page is asked for: checked filters, page, and the instant (None: now)."""

    filters: QueueFilters
    team: str | None
    agent: str | None
    customer: str | None
    at: datetime | None
    limit: int
    offset: int
    count: bool = True
    hold_reason: str | None = None
    include_imported: bool = True

    @classmethod
    def checked(  # noqa: PLR0913 - one keyword per filter of ``ServiceDesk.queue``
        cls,
        command: str,
        special: object,
        *,
        team: object,
        agent: object,
        status: object,
        priority: object,
        kind: object,
        customer: object,
        tier: object,
        at: object,
        limit: object,
        offset: object,
        count: object = True,
        hold_reason: object = None,
        include_imported: object = True,
    ) -> QueueQuestion:
        """The question ``ServiceDesk.queue`` (or ``queue_as_of``) was asked, or refused.

        Every filter is checked here, before any SQL is built (``ValidationFailedError`` naming
        ``command``); ``at`` None means now.
        """
        filters = (
            None if special is None else member(SpecialQueue, special, "special", command),
            members(Status, status, "status", command),
            members(Priority, priority, "priority", command),
            members(Kind, kind, "kind", command),
            members(Tier, tier, "tier", command),
        )
        page(limit, offset, command)
        if not isinstance(include_imported, bool):
            refuse(command, "include_imported", "must be True or False")
        return cls(
            filters,
            text_filter(team, "team", command),
            text_filter(agent, "agent", command),
            text_filter(customer, "customer", command),
            None if at is None else checked_instant(at, "at", command),
            limit,  # type: ignore[arg-type]  # checked by ``page``
            offset,  # type: ignore[arg-type]
            bool(count),
            text_filter(hold_reason, "hold_reason", command),
            include_imported,
        )

    def ask(self, view: QueueProjection, tx: Tx) -> QueuePage:
        """The page ``view`` answers (the live queue view, or a past queue's own table)."""
        named, statuses, priorities, kinds, tiers = self.filters
        return view.query(
            tx,
            special=named,
            team=self.team,
            agent=self.agent,
            status=statuses,
            priority=priorities,
            kind=kinds,
            customer=self.customer,
            tier=tiers,
            hold_reason=self.hold_reason,
            include_imported=self.include_imported,
            at=self.at,
            limit=self.limit,
            offset=self.offset,
            count=self.count,
        )
