"""The global audit log: one row per stored event, filterable by who, when, what and whose.

``desk.history(ref)`` answers for one request straight from the log; this projection answers
across requests ("everything agent:ana did last week", "every ``Reopened`` of customer acme")
with indexed reads instead of a scan of the log. Rows are keyed by the event's position in the
log, so a page is a keyset range (``position > after``) and paging never skips or repeats a row
while new events arrive.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from uuid import UUID

import orjson
from pydantic import AwareDatetime, TypeAdapter

from servflow.domain.base import DomainEvent
from servflow.domain.directory import CustomerRecord
from servflow.domain.erasure import ERASED, ErasureLedger, personal_fields, personal_fields_named
from servflow.domain.request import ServiceRequest
from servflow.domain.values import Value
from servflow.persistence.sql import Tx, id_text, micros
from servflow.projections.base import Projection

if TYPE_CHECKING:
    from servflow.persistence.erasure import KeyRing

__all__ = ["AuditFilter", "AuditPage", "AuditProjection", "AuditRow", "TimeBasis", "event_type_of"]

#: Which of an event's two times a time range filters on.
TimeBasis = Literal["occurred", "recorded"]

#: Fields every stored event carries; the rest of an event is what it says (``data``).
#: The same set ``servflow.domain.history`` leaves out of a history entry's data.
_BASE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "actor", "occurred_at", "originator_topic"}
)
_EXCLUDED = set(_BASE_FIELDS)
#: Ticket codes and customers of requests kept in memory, at most.
_REMEMBERED_REQUESTS = 5000
_COLUMNS = (
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


def event_type_of(event_class: type[object]) -> str:
    """The name an event has in the audit log: ``Opened`` for a request's, ``Book.Started`` else.

    A request's events are the ones auditors read all day, so they keep their short names (the
    same as ``HistoryEntry.event_type``); events of other records (the SLA policy book) are
    qualified by the record so that no two types share a name.
    """
    if issubclass(event_class, ServiceRequest.Event):
        return event_class.__name__
    return event_class.__qualname__


class AuditRow(Value):
    """One event of the global audit log, as an auditor reads it (field names are stable)."""

    #: The event's position in the log (its notification id): increases with every event.
    position: int
    #: The request the event belongs to (or the id of a store-level record, such as the SLA
    #: policy book, for events that belong to no request).
    request_id: UUID
    #: The request's ticket code; None for events that belong to no request.
    ticket_code: str | None
    version: int
    event_type: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    #: The customer of the request; None for events that belong to no request.
    customer_id: str | None
    #: The event's own fields (what was said), as JSON values.
    data: dict[str, Any]


#: Validates a page of rows in one call (ids are read from their text by pydantic).
_ROWS: TypeAdapter[list[AuditRow]] = TypeAdapter(list[AuditRow])


class AuditPage(Value):
    """A page of the audit log in log order, and where the next page starts."""

    rows: tuple[AuditRow, ...]
    #: The ``after_position`` this page was read from.
    after_position: int
    limit: int
    #: Pass this as ``after_position`` for the next page; None on the last page.
    next_after_position: int | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to select from the audit log; every criterion given must hold (they combine)."""

    actor: str | None = None
    request_id: UUID | None = None
    event_types: tuple[str, ...] = ()
    customer: str | None = None
    #: Time range [since, until): since inclusive, until exclusive, on ``by``'s time.
    since: datetime | None = None
    until: datetime | None = None
    by: TimeBasis = "occurred"

    def matches(self, row: AuditRow) -> bool:
        """Whether a row passes the filter (for rows not read through the SQL query)."""
        moment = row.occurred_at if self.by == "occurred" else row.recorded_at
        return (
            (self.actor is None or row.actor == self.actor)
            and (self.request_id is None or row.request_id == self.request_id)
            and (not self.event_types or row.event_type in self.event_types)
            and (self.customer is None or row.customer_id == self.customer)
            and (self.since is None or moment >= self.since)
            and (self.until is None or moment < self.until)
        )


class AuditProjection(Projection):
    """The audit-log read model: one row per event, indexed for each filter of ``audit_log``."""

    name: ClassVar[str] = "audit"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "sf_audit"
    #: request id -> ticket code and customer, so later events of a request can carry them.
    requests_table: ClassVar[str] = "sf_audit_requests"
    #: An erasable store's key ring (set by the desk): the rows then hold each personal field
    #: as the envelope its event was stored with, opened as pages are read. None: in clear.
    keyring: KeyRing | None = None

    def __init__(self) -> None:
        self._remembered: dict[str, tuple[str, str]] = {}
        self._local = threading.local()

    def begin(self, position: int) -> None:  # noqa: D102
        del position
        self._local.opened = None

    def committed(self) -> None:  # noqa: D102
        opened: dict[str, tuple[str, str]] | None = getattr(self._local, "opened", None)
        if opened:
            self._remember(opened)
        self._local.opened = None

    def rolled_back(self) -> None:  # noqa: D102
        self._local.opened = None

    def tables(self) -> Sequence[str]:  # noqa: D102
        return (self.table, self.requests_table)

    def create(self, tx: Tx) -> None:  # noqa: D102
        table = self.t(self.table)
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (position {self.dialect.position_key}, "
            "request_id TEXT NOT NULL, ticket_code TEXT, version INTEGER NOT NULL, "
            "event_type TEXT NOT NULL, occurred_at BIGINT NOT NULL, recorded_at BIGINT NOT NULL, "
            "actor TEXT NOT NULL, customer_id TEXT, data TEXT NOT NULL)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(self.requests_table)} ("
            "request_id TEXT PRIMARY KEY, ticket_code TEXT NOT NULL, customer_id TEXT NOT NULL)"
        )

    def indexes(self) -> Sequence[str]:  # noqa: D102
        table = self.t(self.table)
        statements = []
        # Every filter leads an index that ends in position: a filtered page is a range read
        # in log order, whatever the size of the log.
        for name, columns in (
            ("request", "request_id, version"),
            ("actor", "actor, position"),
            ("type", "event_type, position"),
            ("customer", "customer_id, position"),
            ("occurred", "occurred_at, position"),
            ("recorded", "recorded_at, position"),
        ):
            unique = "UNIQUE " if name == "request" else ""
            statements.append(
                f'CREATE {unique}INDEX IF NOT EXISTS "ix_{self.table}_{name}" '
                f"ON {table} ({columns})"
            )
        return statements

    def apply(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:  # noqa: D102
        recorded = [(p, e) for p, e in events if isinstance(e, DomainEvent)]
        if not recorded:
            return
        known: dict[str, tuple[str, str]] = {}
        opened: list[tuple[str, str, str]] = []
        for _, event in recorded:
            if isinstance(event, ServiceRequest.Opened):
                key = id_text(event.originator_id)
                known[key] = (event.ticket_code, event.customer.id)
                opened.append((key, event.ticket_code, event.customer.id))
        wanted = {
            id_text(e.originator_id)
            for _, e in recorded
            if isinstance(e, ServiceRequest.Event) and id_text(e.originator_id) not in known
        }
        known.update(self._requests(tx, sorted(wanted)))
        # Opened in this batch: remembered once (and if) the batch commits.
        self._local.opened = {key: (code, customer) for key, code, customer in opened}
        tx.insert_many(
            self.t(self.requests_table), ("request_id", "ticket_code", "customer_id"), opened
        )
        keyring = self.keyring
        tx.insert_many(
            self.t(self.table),
            _COLUMNS,
            (
                (_values(position, event, known) for position, event in recorded)
                if keyring is None
                else (
                    _sealed_values(position, event, known, keyring) for position, event in recorded
                )
            ),
        )
        for position, event in recorded:
            if isinstance(event, ErasureLedger.CustomerForgotten):
                self._erase(tx, event.customer_id, position)

    def _erase(self, tx: Tx, customer_id: str, before: int) -> None:
        """Erase a forgotten customer's personal fields in the rows of their earlier events.

        A rebuild reads those fields as ``ERASED`` from the events themselves (their keys are
        gone), so erasing them here leaves the view as a rebuild would make it.
        """
        types = sorted(_PERSONAL_TYPES)
        marks = ", ".join("?" * len(types))
        found = tx.query(
            f"SELECT position, event_type, actor, data FROM {self.t(self.table)} "  # noqa: S608
            f"WHERE customer_id = ? AND position < ? AND event_type IN ({marks})",
            [customer_id, before, *types],
        )
        changed: list[tuple[str, int]] = []
        for row in found:
            paths = personal_fields_named(row["event_type"], row["actor"])
            data = orjson.loads(row["data"])
            erased = False
            for path in paths:
                holder: Any = data
                for part in path[:-1]:
                    holder = holder.get(part) if isinstance(holder, dict) else None
                if not isinstance(holder, dict):
                    continue
                value = holder.get(path[-1])
                # A sealed list (a customer record's contacts) reads as [ERASED], as a rebuild
                # reads it from the event once the key is gone.
                listed = isinstance(value, list) or (
                    isinstance(value, dict) and bool(value.get("json"))
                )
                if listed and value != [ERASED]:
                    holder[path[-1]] = [ERASED]
                    erased = True
                elif (isinstance(value, str) and value and value != ERASED) or isinstance(
                    value, dict
                ):
                    holder[path[-1]] = ERASED
                    erased = True
            if erased:
                changed.append((orjson.dumps(data).decode(), int(row["position"])))
        tx.executemany(
            f"UPDATE {self.t(self.table)} SET data = ? WHERE position = ?",  # noqa: S608
            changed,
        )

    def _requests(self, tx: Tx, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        # A request's ticket code and customer never change once it is opened, so what was
        # read once holds for good (a few thousand remembered).
        remembered = self._remembered
        found: dict[str, tuple[str, str]] = {k: remembered[k] for k in keys if k in remembered}
        keys = [k for k in keys if k not in found]
        table = self.t(self.requests_table)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for record in tx.query(
                f"SELECT request_id, ticket_code, customer_id FROM {table} "  # noqa: S608
                f"WHERE request_id IN ({marks})",
                chunk,
            ):
                found[record["request_id"]] = (record["ticket_code"], record["customer_id"])
        self._remember(found)
        return found

    def _remember(self, requests: Mapping[str, tuple[str, str]]) -> None:
        remembered = self._remembered
        if len(remembered) + len(requests) > _REMEMBERED_REQUESTS:
            remembered.clear()
        remembered.update(requests)

    # -- queries --------------------------------------------------------------------------

    def page(self, tx: Tx, selected: AuditFilter, *, after: int, limit: int) -> AuditPage:
        """The rows selected by the filter with positions after ``after``, in log order."""
        where = ["position > ?"]
        params: list[object] = [after]
        for column, value in (
            ("actor", selected.actor),
            ("request_id", None if selected.request_id is None else str(selected.request_id)),
            ("customer_id", selected.customer),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if selected.event_types:
            where.append(f"event_type IN ({', '.join('?' * len(selected.event_types))})")
            params.extend(selected.event_types)
        column = "occurred_at" if selected.by == "occurred" else "recorded_at"
        if selected.since is not None:
            where.append(f"{column} >= ?")
            params.append(micros(selected.since))
        if selected.until is not None:
            where.append(f"{column} < ?")
            params.append(micros(selected.until))
        records = tx.rows(
            f"SELECT {', '.join(_COLUMNS)} FROM {self.t(self.table)} "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY position LIMIT ?",
            [*params, limit + 1],
        )
        rows = tuple(_rows(records[:limit], self.keyring))
        more = len(records) > limit
        return AuditPage(
            rows=rows,
            after_position=after,
            limit=limit,
            next_after_position=rows[-1].position if more and rows else None,
        )

    def opened(
        self,
        tx: Tx,
        *,
        after: int,
        limit: int,
        request_id: UUID | None = None,
        customer: str | None = None,
    ) -> list[tuple[int, UUID]]:
        """Positions and ids of requests opened after ``after``, in the order they were opened.

        A keyset range of the ``Opened`` rows (the event type index): how an export walks
        requests one batch at a time, whatever the size of the log.
        """
        where = ["event_type = ?", "position > ?"]
        params: list[object] = ["Opened", after]
        if request_id is not None:
            where.append("request_id = ?")
            params.append(str(request_id))
        if customer is not None:
            where.append("customer_id = ?")
            params.append(customer)
        records = tx.rows(
            f"SELECT position, request_id FROM {self.t(self.table)} "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY position LIMIT ?",
            [*params, limit],
        )
        return [(int(position), UUID(str(key))) for position, key in records]

    def rows_of(self, tx: Tx, request_ids: Sequence[UUID]) -> list[AuditRow]:
        """Every row of these requests, in log order (so each request's in version order)."""
        found: list[AuditRow] = []
        for start in range(0, len(request_ids), 500):
            chunk = [str(key) for key in request_ids[start : start + 500]]
            records = tx.rows(
                f"SELECT {', '.join(_COLUMNS)} FROM {self.t(self.table)} "  # noqa: S608
                f"WHERE request_id IN ({', '.join('?' * len(chunk))}) ORDER BY position",
                chunk,
            )
            found.extend(_rows(records, self.keyring))
        return found


#: Audit-log names of the event types that may hold personal fields.
_PERSONAL_TYPES = frozenset(
    name
    for name in (
        "Opened",
        "CustomerResponded",
        "CustomerAccepted",
        "Reopened",
        "Cancelled",
        "CustomerRecord.Registered",
        "CustomerRecord.Updated",
    )
    if personal_fields_named(name, "customer:x")
)


def _values(
    position: int,
    event: DomainEvent,
    known: Mapping[str, tuple[str, str]],
    data: str | None = None,
) -> tuple[object, ...]:
    """A row's column values; ``data``, the event's JSON, when sealed (``_sealed_values``)."""
    key = id_text(event.originator_id)
    ticket_code, customer_id = known.get(key, (None, None))
    if not isinstance(event, ServiceRequest.Event):
        ticket_code = None
        # A customer record's events belong to their customer (found and erased with them).
        customer_id = event.customer_id if isinstance(event, CustomerRecord.Event) else None
    occurred = getattr(event, "occurred_at", None) or event.timestamp
    if data is None:
        # The same text as orjson.dumps(model_dump(mode="json")), without the dict in between.
        data = event.model_dump_json(exclude=_EXCLUDED)
    return (
        position,
        key,
        ticket_code,
        event.originator_version,
        event_type_of(type(event)),
        micros(occurred),
        micros(event.timestamp),
        str(getattr(event, "actor", "")),
        customer_id,
        data,
    )


def _sealed_values(
    position: int, event: DomainEvent, known: Mapping[str, tuple[str, str]], keyring: KeyRing
) -> tuple[object, ...]:
    """``_values`` in an erasable store: personal fields as the envelopes of the stored event."""
    paths = personal_fields(type(event), str(getattr(event, "actor", "")))
    if not paths:
        return _values(position, event, known)
    # The same text as model_dump_json once the envelopes are in.
    data = event.model_dump(mode="json", exclude=_EXCLUDED)
    keyring.seal_fields(data, paths, event.originator_id, event.originator_version)
    return _values(position, event, known, orjson.dumps(data).decode())


def _rows(records: Sequence[Sequence[Any]], keyring: KeyRing | None = None) -> list[AuditRow]:
    """Rows as selected (``_COLUMNS``), validated in one call: ids as text, instants as ints.

    With an erasable store's ``keyring``, sealed fields are opened (``ERASED`` once forgotten).
    """
    loads = orjson.loads
    values = [
        {
            "position": position,
            "request_id": request_id,
            "ticket_code": ticket_code,
            "version": version,
            "event_type": event_type,
            "occurred_at": _EPOCH + timedelta(0, 0, int(occurred_at)),
            "recorded_at": _EPOCH + timedelta(0, 0, int(recorded_at)),
            "actor": actor,
            "customer_id": customer_id,
            "data": loads(data),
        }
        for (
            position,
            request_id,
            ticket_code,
            version,
            event_type,
            occurred_at,
            recorded_at,
            actor,
            customer_id,
            data,
        ) in records
    ]
    if keyring is not None:
        for value in values:
            if value["event_type"] in _PERSONAL_TYPES:
                paths = personal_fields_named(value["event_type"], value["actor"])
                keyring.open_fields(value["data"], paths)
    return _ROWS.validate_python(values)


#: ``from_micros`` inline (the same sum): a page's instants without a call per instant.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
