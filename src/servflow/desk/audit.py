"""Auditing a desk: request histories with log positions, the global log, time travel, exports.

What an auditor asks, answered from the log (the only source of truth):

- ``desk.history(ref)``: every event of one request, with its position in the whole log, read
  with one indexed query;
- ``desk.audit_log(...)``: the events of every request, filtered and paged (the ``audit``
  projection);
- ``desk.queue_as_of(at, ...)``: a work queue as it stood at a past instant, folded from the
  log request by request, never from a stored snapshot of the answer;
- ``desk.export(fp, ...)``: JSON Lines or CSV, streamed in batches (constant memory), with the
  stable field names below; ``read_export`` reads an export back.

The export fields are a contract with auditors' tools: add new ones at the end, never rename.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from typing import IO, Any, Literal, get_args
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.utils import get_topic

from servflow.domain.base import DomainEvent, EventSourced
from servflow.domain.history import Change, HistoryEntry, history_of
from servflow.domain.request import ServiceRequest
from servflow.domain.sla import SLA_POLICY_BOOK_ID
from servflow.errors import ValidationFailedError
from servflow.persistence.sql import Dialect, Tx
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

__all__ = [
    "AUDIT_EXPORT_FIELDS",
    "HISTORY_EXPORT_FIELDS",
    "AuditTrail",
    "ExportFormat",
    "audit_filter",
    "known_event_types",
    "read_export",
    "write_export",
]

#: Columns of an export of the global log (``desk.export(fp)``), in order.
AUDIT_EXPORT_FIELDS: tuple[str, ...] = (
    "position",
    "request_id",
    "ticket_code",
    "version",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor",
    "customer_id",
    "data",
)
#: Columns of an export of one request's history (``desk.export(fp, request=...)``), in order.
HISTORY_EXPORT_FIELDS: tuple[str, ...] = (*AUDIT_EXPORT_FIELDS, "changes")
#: The export formats: JSON Lines (one JSON object a line) or CSV (RFC 4180, with a header).
ExportFormat = Literal["jsonl", "csv"]

_BATCH = 1000
_MAX_PAGE = 10_000
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
    actor: str | None = None,
    request_id: UUID | None = None,
    event_type: str | Sequence[str] | None = None,
    customer: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    by: TimeBasis | str = "occurred",
    command: str = "audit_log",
) -> AuditFilter:
    """Check an auditor's criteria and turn them into an ``AuditFilter`` (typed errors if not)."""
    types = (event_type,) if isinstance(event_type, str) else tuple(event_type or ())
    unknown = sorted(set(types) - known_event_types()) if types else []
    if unknown:
        msg = (
            f"refused '{command}': unknown event type {', '.join(map(repr, unknown))}; "
            f"known types: {', '.join(sorted(known_event_types()))}"
        )
        raise ValidationFailedError(msg, command=command, errors=(("event_type", "unknown"),))
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            msg = f"refused '{command}': {name} {moment.isoformat()} is naive; give an aware one"
            raise ValidationFailedError(
                msg, command=command, errors=((name, "must be timezone-aware"),)
            )
    if by not in get_args(TimeBasis):
        msg = f"refused '{command}': by must be 'occurred' or 'recorded', not {by!r}"
        raise ValidationFailedError(msg, command=command, errors=(("by", "unknown time"),))
    return AuditFilter(
        actor=actor,
        request_id=request_id,
        event_types=types,
        customer=customer,
        since=since,
        until=until,
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

    # -- reading the log, with positions ---------------------------------------------------

    def stored(self, request_ids: Sequence[UUID]) -> list[tuple[int, StoredEvent]]:
        """The stored events of these requests with their log positions, request by request.

        One indexed query (per 500 requests) on the events' own table: the events and their
        positions come from the same rows, so they cannot disagree.
        """
        recorder = self._app.recorder
        if isinstance(recorder, POPOApplicationRecorder):
            return _popo_stored(recorder, request_ids)
        if len(request_ids) == 1:
            return list(self.stored_one(request_ids[0]))
        table: str = getattr(recorder, "events_table_name", "stored_events")
        postgres = self._views.dialect.name == "postgres"
        position = "notification_id" if postgres else "rowid"
        found: list[tuple[int, StoredEvent]] = []
        for start in range(0, len(request_ids), 500):
            chunk = request_ids[start : start + 500]
            keys: list[object] = [i if postgres else i.hex for i in chunk]
            with self._views.transaction(commit=False) as tx:
                records = tx.query(
                    f"SELECT {position} AS position, originator_id, originator_version, "  # noqa: S608
                    f"topic, state FROM {self._views.dialect.table(table)} "
                    f"WHERE originator_id IN ({', '.join('?' * len(keys))}) "
                    "ORDER BY originator_id, originator_version",
                    keys,
                )
            # Rows come ordered by request id; the caller's order of requests is restored
            # by a stable sort on it (nothing to sort for one request, as for a history).
            ids = {str(key): uid for key, uid in zip(keys, chunk, strict=True)}
            order = {uid: n for n, uid in enumerate(chunk)}
            events = [
                (
                    int(r["position"]),
                    StoredEvent(
                        originator_id=ids.get(str(r["originator_id"])) or _uuid(r["originator_id"]),
                        originator_version=int(r["originator_version"]),
                        topic=r["topic"],
                        state=bytes(r["state"]),
                    ),
                )
                for r in records
            ]
            if len(chunk) > 1:
                events.sort(key=lambda p: order[_uuid(p[1].originator_id)])
            found.extend(events)
        return found

    def stored_one(self, request_id: UUID) -> Iterator[tuple[int, StoredEvent]]:
        """``stored`` for one request (a history, a time travel), as the hot path it is.

        The rows are read at once, in one short transaction; each ``StoredEvent`` is made as
        the caller iterates, so a time travel that stops half way makes only half of them.
        """
        recorder = self._app.recorder
        if isinstance(recorder, POPOApplicationRecorder):
            return iter(_popo_stored(recorder, [request_id]))
        table: str = getattr(recorder, "events_table_name", "stored_events")
        postgres = self._views.dialect.name == "postgres"
        with self._views.transaction(commit=False) as tx:
            records = tx.rows(
                f"SELECT {'notification_id' if postgres else 'rowid'} AS position, "  # noqa: S608
                f"originator_version, topic, state FROM {self._views.dialect.table(table)} "
                "WHERE originator_id = ? ORDER BY originator_version",
                (request_id if postgres else request_id.hex,),
            )
        return (
            (position, StoredEvent(request_id, version, topic, bytes(state)))
            for position, version, topic, state in records
        )

    def events(self, request_ids: Sequence[UUID]) -> Iterator[tuple[int, DomainEvent]]:
        """The events of these requests as domain events, with positions, request by request."""
        to_event = self._app.mapper.to_domain_event
        for position, stored in self.stored(request_ids):
            event = to_event(stored)
            if isinstance(event, DomainEvent):
                yield position, event

    def events_as_of(
        self, request_ids: Sequence[UUID], at: datetime
    ) -> Iterator[tuple[int, DomainEvent]]:
        """Each request's events that happened by ``at``, with positions, request by request.

        Occurrence never goes backwards within a request, so they are a prefix of its events:
        the rows after it are not even decoded (nor made into stored events, for one request).
        """
        to_event = self._app.mapper.to_domain_event
        stored = (
            self.stored_one(request_ids[0]) if len(request_ids) == 1 else self.stored(request_ids)
        )
        for _, rows in groupby(stored, key=lambda pair: pair[1].originator_id):
            for position, record in rows:
                event = to_event(record)
                if not isinstance(event, DomainEvent):
                    continue
                if not _by(event, at):
                    break
                yield position, event

    def history(self, request_id: UUID) -> list[HistoryEntry]:
        """Every event of one request, with what it changed; empty if there is no such request."""
        return history_of(
            (p, e) for p, e in self.events([request_id]) if isinstance(e, ServiceRequest.Event)
        )

    # -- the global log ----------------------------------------------------------------------

    def page(self, selected: AuditFilter, *, after: int = 0, limit: int = 100) -> AuditPage:
        """One page of the audit log (keyset paging by position)."""
        if not 1 <= limit <= _MAX_PAGE or after < 0:
            msg = (
                "refused 'audit_log': limit must be 1-10000 and after_position >= 0 "
                f"(got {limit}, {after})"
            )
            raise ValidationFailedError(msg, command="audit_log")
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
            book = [(p, e) for p, e in self.events([SLA_POLICY_BOOK_ID]) if _by(e, at)]
            shadow.apply(book, tx)
            batches = (
                self._opened_batches()
                if candidates is None
                else (
                    list(candidates[start : start + self._batch])
                    for start in range(0, len(candidates), self._batch)
                )
            )
            for batch in batches:
                shadow.apply(list(self.events_as_of(batch, at)), tx)
                if not closed:
                    tx.execute(f"DELETE FROM {shadow.t(shadow.table)} WHERE is_open = 0")  # noqa: S608
            return query(shadow, tx)
        finally:
            connection.close()

    def _opened_batches(self) -> Iterator[list[UUID]]:
        recorder = self._app.recorder
        topic = get_topic(ServiceRequest.Opened)
        last = 0
        while notifications := recorder.select_notifications(
            start=last, limit=self._batch, topics=(topic,), inclusive_of_start=False
        ):
            yield [_uuid(n.originator_id) for n in notifications]
            last = notifications[-1].id

    # -- exports -------------------------------------------------------------------------------

    def export(
        self,
        fp: IO[bytes] | IO[str],
        *,
        format: ExportFormat,  # noqa: A002 - the name auditors and the CLI use
        request_id: UUID | None,
        selected: AuditFilter,
    ) -> int:
        """Write one request's history or the global log to ``fp``; returns the rows written."""
        if request_id is None:
            records: Iterable[Mapping[str, object]] = (
                _audit_record(row) for row in self.rows(selected)
            )
            return write_export(fp, records, format=format, fields=AUDIT_EXPORT_FIELDS)
        entries = self.history(request_id)
        customer = _customer_of(entries)
        chosen = (
            _history_record(entry, customer)
            for entry in entries
            if selected.matches(_as_row(entry, customer))
        )
        return write_export(fp, chosen, format=format, fields=HISTORY_EXPORT_FIELDS)


def _by(event: DomainEvent, at: datetime) -> bool:
    occurred: datetime = getattr(event, "occurred_at", None) or event.timestamp
    return occurred <= at


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _popo_stored(
    recorder: POPOApplicationRecorder, request_ids: Sequence[UUID]
) -> list[tuple[int, StoredEvent]]:
    # The in-memory recorder keeps its events in a list; a notification id is index + 1.
    found: list[tuple[int, StoredEvent]] = []
    with recorder._database_lock:  # noqa: SLF001 - no public way to read positions by request
        stored = recorder._stored_events  # noqa: SLF001
        for request_id in request_ids:
            index = recorder._stored_events_index.get(str(request_id), {})  # noqa: SLF001
            found.extend((index[v] + 1, stored[index[v]]) for v in sorted(index))
    return found


# -- export records ----------------------------------------------------------------------------


def _customer_of(entries: Sequence[HistoryEntry]) -> str | None:
    if not entries:
        return None
    customer = entries[0].data.get("customer")
    return str(customer["id"]) if isinstance(customer, dict) and "id" in customer else None


def _as_row(entry: HistoryEntry, customer: str | None) -> AuditRow:
    return AuditRow(
        position=entry.position,
        request_id=entry.request_id,
        ticket_code=entry.ticket_code,
        version=entry.version,
        event_type=entry.event_type,
        occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        actor=entry.actor,
        customer_id=customer,
        data=entry.data,
    )


def _audit_record(row: AuditRow) -> dict[str, object]:
    dumped = row.model_dump(mode="json")
    return {name: dumped[name] for name in AUDIT_EXPORT_FIELDS}


def _history_record(entry: HistoryEntry, customer: str | None) -> dict[str, object]:
    dumped = entry.model_dump(mode="json")
    dumped["customer_id"] = customer
    return {name: dumped[name] for name in HISTORY_EXPORT_FIELDS}


def _is_binary(fp: IO[Any]) -> bool:
    if isinstance(fp, io.TextIOBase):
        return False
    if isinstance(fp, (io.RawIOBase, io.BufferedIOBase)):
        return True
    return "b" in str(getattr(fp, "mode", ""))


def write_export(
    fp: IO[bytes] | IO[str],
    records: Iterable[Mapping[str, object]],
    *,
    format: ExportFormat,  # noqa: A002 - the name auditors and the CLI use
    fields: Sequence[str],
) -> int:
    """Stream records to a binary or text file as JSON Lines or CSV; returns the rows written.

    Output is flushed every 1000 rows, so memory stays constant however long ``records`` is.
    JSON Lines keeps ``data`` and ``changes`` as nested JSON; CSV holds them as JSON text.
    Times are ISO 8601 in UTC (``...Z``).
    """
    if format not in get_args(ExportFormat):
        msg = f"refused 'export': format must be 'jsonl' or 'csv', not {format!r}"
        raise ValidationFailedError(msg, command="export", errors=(("format", "unknown"),))
    binary = _is_binary(fp)

    def emit(text: str) -> None:
        if text:
            fp.write(text.encode() if binary else text)  # type: ignore[arg-type]

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if format == "csv":
        writer.writerow(fields)
    written = 0
    for record in records:
        if format == "jsonl":
            buffer.write(orjson.dumps(record).decode())
            buffer.write("\n")
        else:
            writer.writerow([_csv_cell(name, record.get(name)) for name in fields])
        written += 1
        if written % _BATCH == 0:
            emit(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
    emit(buffer.getvalue())
    return written


def _csv_cell(name: str, value: object) -> str:
    if name in _JSON_COLUMNS:
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def read_export(
    fp: IO[bytes] | IO[str],
    *,
    format: ExportFormat = "jsonl",  # noqa: A002 - the name auditors and the CLI use
) -> Iterator[AuditRow | HistoryEntry]:
    """Read an export back, row by row: ``HistoryEntry`` for a request's, ``AuditRow`` for the log.

    It is how tests (and auditors' scripts) check that an export says exactly what the desk
    said; a request history export is told apart by its ``changes`` field.
    """
    if format not in get_args(ExportFormat):
        msg = f"refused 'read_export': format must be 'jsonl' or 'csv', not {format!r}"
        raise ValidationFailedError(msg, command="read_export", errors=(("format", "unknown"),))
    if format == "jsonl":
        for line in fp:
            text = line.strip()
            if text:
                yield _parsed(orjson.loads(text))
        return
    text_fp: IO[str]
    wrapper: io.TextIOWrapper | None = None
    if _is_binary(fp):
        wrapper = io.TextIOWrapper(fp, encoding="utf-8", newline="")  # type: ignore[arg-type]
        text_fp = wrapper
    else:
        text_fp = fp  # type: ignore[assignment]
    try:
        for record in csv.DictReader(text_fp):
            yield _parsed(
                {
                    name: orjson.loads(value) if name in _JSON_COLUMNS else (value or None)
                    for name, value in record.items()
                }
            )
    finally:
        if wrapper is not None:
            wrapper.detach()  # leave the caller's file open


def _parsed(record: dict[str, Any]) -> AuditRow | HistoryEntry:
    if "changes" in record:
        record.pop("customer_id", None)
        record["changes"] = tuple(Change.model_validate(c) for c in record["changes"])
        return HistoryEntry.model_validate(record)
    return AuditRow.model_validate(record)
