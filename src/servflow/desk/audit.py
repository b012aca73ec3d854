"""Auditing a desk: request histories with log positions, the global log, time travel, exports.

What an auditor asks, answered from the log (the only source of truth):

- ``desk.history(ref)``: every event of one request, with its position in the whole log, read
  with one indexed query;
- ``desk.audit_log(...)``: the events of every request, filtered and paged (the ``audit``
  projection);
- ``desk.queue_as_of(at, ...)``: a work queue as it stood at a past instant, folded from the
  log request by request, never from a stored snapshot of the answer;
- ``desk.export(fp, ...)``: JSON Lines or CSV, streamed in batches (constant memory), with the
  stable field names below; ``read_export`` reads an export back; XES and OCEL 2.0 for
  process-mining tools (``servflow.desk.mining``).

The export fields are a contract with auditors' tools: add new ones at the end, never rename.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import IO, TYPE_CHECKING, get_args
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from servflow.desk.checks import callback, names, page, refuse, text_filter
from servflow.desk.clock import checked_instant
from servflow.desk.export import (
    AUDIT_EXPORT_FIELDS,
    HISTORY_EXPORT_FIELDS,
    MINING_FORMATS,
    ExportFormat,
    RecordFormat,
    as_row,
    audit_record,
    customer_of,
    history_record,
    refuse_format,
    write_export,
)
from servflow.desk.tickets import Ref, describe
from servflow.domain.base import EventSourced
from servflow.domain.history import HistoryEntry, history_of
from servflow.domain.request import ServiceRequest
from servflow.domain.sla import SLA_POLICY_BOOK_ID
from servflow.domain.values import MAX_ACTOR
from servflow.errors import RequestNotFoundError, ValidationFailedError, shown
from servflow.persistence.chain import Head, VerifyReport
from servflow.persistence.log import LogReader, occurred_by
from servflow.persistence.sql import Dialect, Tx
from servflow.persistence.store import translated
from servflow.persistence.views import ViewStore
from servflow.projections.audit import (
    AuditFilter,
    AuditPage,
    AuditProjection,
    AuditRow,
    TimeBasis,
    event_type_of,
)
from servflow.projections.queues import QueuePage, QueueProjection

if TYPE_CHECKING:
    from servflow.desk.stores import Stores
    from servflow.desk.writer import Writer

__all__ = ["AuditDesk", "AuditTrail", "audit_filter", "known_event_types"]

_BATCH = 1000

_JSON_COLUMNS = frozenset({"data", "changes"})


def known_event_types() -> frozenset[str]:
    """The event type names the audit log can hold (``Opened``, ``SlaPolicyBook.Started``...)."""
    names: set[str] = set()
    pending: list[type[object]] = [EventSourced.Event]
    while pending:
        cls = pending.pop()
        children = cls.__subclasses__()
        pending.extend(children)
        # The library gives each aggregate a ``Created`` base of its own: not a fact anyone records.
        if not children and cls.__name__ != "Created" and "<locals>" not in cls.__qualname__:
            names.add(event_type_of(cls))
    return frozenset(names)


def audit_filter(
    *,
    actor: object = None,
    request_id: UUID | None = None,
    event_type: object = None,
    customer: object = None,
    since: object = None,
    until: object = None,
    by: object = "occurred",
    command: str = "audit_log",
) -> AuditFilter:
    """Check an auditor's criteria and turn them into an ``AuditFilter`` (typed errors if not)."""
    types = names(event_type, "event_type", command)
    # The known types are found by walking the event classes: only when a type is asked for.
    unknown = sorted(set(types) - known_event_types()) if types else []
    if unknown:
        msg = (
            f"refused '{command}': unknown event type {', '.join(map(shown, unknown[:5]))}; "
            f"known types: {', '.join(sorted(known_event_types()))}"
        )
        raise ValidationFailedError(msg, command=command, errors=(("event_type", "unknown"),))
    if by not in get_args(TimeBasis):
        refuse(command, "by", f"must be 'occurred' or 'recorded', not {shown(by)}")
    return AuditFilter(
        actor=text_filter(actor, "actor", command, longest=MAX_ACTOR),
        request_id=request_id,
        event_types=types,
        customer=text_filter(customer, "customer", command),
        since=None if since is None else checked_instant(since, "since", command),
        until=None if until is None else checked_instant(until, "until", command),
        by="occurred" if by == "occurred" else "recorded",
    )


class AuditTrail:
    """The desk's auditing half: reads the log and the audit view; the desk delegates to it.

    Not part of the public API (use the desk's methods); it takes the store apart from the
    desk so that the desk stays a thin list of commands and queries.
    """

    def __init__(
        self,
        app: Application[UUID],
        views: ViewStore,
        projection: AuditProjection,
        *,
        batch_size: int = _BATCH,
    ) -> None:
        self._app = app
        self._views = views
        self._projection = projection
        self._batch = batch_size

        self.log = LogReader(app, views, batch_size=batch_size)

    def history(self, request_id: UUID) -> list[HistoryEntry]:
        """Every event of one request, with what it changed; empty if there is no such request."""
        return history_of(
            (p, e) for p, e in self.log.events([request_id]) if isinstance(e, ServiceRequest.Event)
        )

    # -- the global log ----------------------------------------------------------------------

    def page(self, selected: AuditFilter, *, after: int = 0, limit: int = 100) -> AuditPage:
        """One page of the audit log (keyset paging by position)."""
        page(limit, after, "audit_log", "after_position")
        with self._views.transaction(commit=False) as tx:
            return self._projection.page(tx, selected, after=after, limit=limit)

    def rows(self, selected: AuditFilter) -> Iterator[AuditRow]:
        """Every row the filter selects, in log order, read a batch at a time."""
        after = 0
        while True:
            page = self.page(selected, after=after, limit=self._batch)
            yield from page.rows
            if page.next_after_position is None:
                return
            after = page.next_after_position

    # -- time travel ---------------------------------------------------------------------------

    def queue_as_of(
        self,
        at: datetime,
        query: Callable[[QueueProjection, Tx], QueuePage],
        *,
        closed: bool,
        candidates: Sequence[UUID] | None = None,
    ) -> QueuePage:
        """A queue as it stood at ``at``: the queue fold over each request's events up to then.

        Requests are read in batches (``candidates``, or every request opened); each request's
        events with ``occurred_at <= at`` (a prefix: occurrence never goes backwards within a
        request, so the rest are not even decoded) go through ``QueueProjection``'s own fold
        into a private in-memory table, and ``query`` asks that table exactly what
        ``desk.queue`` asks the live one. With ``closed`` false, requests closed or cancelled
        by ``at`` are dropped batch by batch, so memory holds the rows that were open then,
        never the events.
        """
        shadow = QueueProjection()
        dialect = Dialect("sqlite")
        shadow.bind(dialect)
        connection = sqlite3.connect(":memory:")
        connection.row_factory = sqlite3.Row
        try:
            tx = Tx(connection.cursor(), dialect)
            shadow.create(tx)
            # The SLA policies adopted by then measure the rows, as in the live view.
            book = [(p, e) for p, e in self.log.events([SLA_POLICY_BOOK_ID]) if occurred_by(e, at)]
            shadow.apply(book, tx)
            batches = (
                self.log.opened_batches()
                if candidates is None
                else (
                    list(candidates[start : start + self._batch])
                    for start in range(0, len(candidates), self._batch)
                )
            )
            for batch in batches:
                # An unreadable event is skipped and flags its row, as in the live view.
                shadow.apply(list(self.log.events_as_of(batch, at, skip_unreadable=True)), tx)
                if not closed:
                    tx.execute(f"DELETE FROM {shadow.t(shadow.table)} WHERE is_open = 0")  # noqa: S608
            return query(shadow, tx)
        finally:
            connection.close()

    # -- exports -------------------------------------------------------------------------------

    def export(
        self,
        fp: IO[bytes] | IO[str],
        *,
        format: RecordFormat,  # noqa: A002 - the name auditors and the CLI use
        request_id: UUID | None,
        selected: AuditFilter,
    ) -> int:
        """Write one request's history or the global log to ``fp``; returns the rows written."""
        if request_id is None:
            records: Iterable[Mapping[str, object]] = (
                audit_record(row) for row in self.rows(selected)
            )
            return write_export(fp, records, format=format, fields=AUDIT_EXPORT_FIELDS)
        entries = self.history(request_id)
        customer = customer_of(entries)
        chosen = (
            history_record(entry, customer)
            for entry in entries
            if selected.matches(as_row(entry, customer))
        )
        return write_export(fp, chosen, format=format, fields=HISTORY_EXPORT_FIELDS)


class AuditDesk:
    """What auditors ask a desk: histories, time travel, the global log, exports, the chain."""

    def __init__(self, stores: Stores, writer: Writer) -> None:
        self._stores = stores
        self._trail = stores.trail
        self._writer = writer

    def history(self, ref: Ref) -> list[HistoryEntry]:
        """Every event of a request in order (see ``ServiceDesk.history``)."""
        request_id = self._stores.resolve(ref)
        with translated():
            entries = self._trail.history(request_id)
        if not entries:
            raise RequestNotFoundError(describe(ref))
        return entries

    def as_of(self, request_id: UUID, as_of: object, ref: Ref) -> ServiceRequest:
        """The request folded from its events that happened by ``as_of``."""
        as_of = checked_instant(as_of, "as_of", "get", request_id)
        request: ServiceRequest | None = None
        with translated():
            for _, event in self._trail.log.events_as_of([request_id], as_of):
                if isinstance(event, ServiceRequest.Event):
                    request = event.mutate(request)
        if request is None and not self._writer.has(request_id):
            raise RequestNotFoundError(describe(ref))
        if request is None:
            raise RequestNotFoundError(
                describe(ref), detail=f"it was opened after {as_of.isoformat()}"
            )
        return request

    def verify(self, expected: Head | None, progress: Callable[[int], None] | None) -> VerifyReport:
        """Recompute the hash chain over the stored log (see ``ServiceDesk.verify``)."""
        if expected is not None and not isinstance(expected, Head):
            refuse(
                "verify",
                "expected",
                f"must be a Head (audit_head()) or None, not {shown(expected)}",
            )
        callback(progress, "progress", "verify")
        recorder = self._stores.store.recorder
        chain = self._stores.chain

        def batches() -> Iterator[list[tuple[int, StoredEvent]]]:
            position = 0
            while notifications := recorder.select_notifications(
                start=position, limit=1000, inclusive_of_start=False
            ):
                yield [(n.id, n) for n in notifications]
                position = notifications[-1].id

        with self._stores.reading() as tx:
            return chain.verify(
                batches(),
                lambda after, upto: chain.links(tx, after, upto),
                expected=expected,
                progress=progress,
            )

    def head(self) -> Head | None:
        """The newest link of the hash chain."""
        with self._stores.reading() as tx:
            return self._stores.chain.head(tx)

    def page(self, selected: AuditFilter, after: int, limit: int) -> AuditPage:
        """A page of the global log (see ``ServiceDesk.audit_log``)."""
        with translated():
            return self._trail.page(selected, after=after, limit=limit)

    def queue_as_of(
        self,
        at: datetime,
        ask: Callable[[QueueProjection, Tx], QueuePage],
        *,
        closed: bool,
        candidates: Callable[[], list[UUID]],
    ) -> QueuePage:
        """A queue as it stood at ``at`` (see ``ServiceDesk.queue_as_of``)."""
        with translated():
            return self._trail.queue_as_of(at, ask, closed=closed, candidates=candidates())

    def export(
        self,
        fp: IO[bytes] | IO[str],
        *,
        format: ExportFormat,  # noqa: A002 - the name auditors and the CLI use
        request: Ref | None,
        selected: AuditFilter,
    ) -> int:
        """Stream a history or the global log to a file (see ``ServiceDesk.export``)."""
        if not callable(getattr(fp, "write", None)) or getattr(fp, "closed", False) is True:
            refuse("export", "fp", f"must be a file open for writing, not {shown(fp)}")
        if format not in get_args(ExportFormat):
            refuse_format(format, "export")
        request_id: UUID | None = None
        if request is not None:
            request_id = self._stores.resolve(request)
            if not self._writer.has(request_id):
                raise RequestNotFoundError(describe(request))
        with translated():
            if format in MINING_FORMATS:
                stores = self._stores
                from servflow.desk.mining import MiningLog  # noqa: PLC0415 - XES and OCEL only

                log = MiningLog(stores.views, stores.audit, stores.queues)
                if request_id is not None:
                    selected = replace(selected, request_id=request_id)
                write = log.write_xes if format == "xes" else log.write_ocel
                return write(fp, selected)
            return self._trail.export(
                fp,
                format="csv" if format == "csv" else "jsonl",
                request_id=request_id,
                selected=selected,
            )
