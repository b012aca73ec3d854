"""The queue view's rows: as stored, as a page shows them, and what each event changes.

``Row`` is a request's row as the queue projection keeps it (the page's columns, then what the
KPIs need, then the SLA bookkeeping); ``QueueRow`` and ``QueuePage`` are what a queue query
answers; ``row_changes`` says which columns an event changes (the projection's fold in
``servflow.projections.queues`` adds the status, the clocks and the KPI facts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import singledispatch
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from servflow.domain.clocks import ClockFigures
from servflow.domain.lifecycle import OPEN_STATUSES, Status
from servflow.domain.request import CUSTOMER_HOLD, ServiceRequest
from servflow.domain.sla import SlaTracker
from servflow.domain.values import Channel, Kind, Outcome, Priority, Stage, Tier, Value
from servflow.persistence.quarantine import Unreadable
from servflow.persistence.sql import from_micros, micros
from servflow.projections.base import evolver

__all__ = [
    "NO_DUE",
    "NO_PRIORITY_RANK",
    "OPEN",
    "VIEW_COLUMNS",
    "QueuePage",
    "QueueRow",
    "Row",
    "evolve",
    "row_changes",
    "views",
]

#: Sorts after every real instant: requests without a due time come last.
NO_DUE = 2**62
#: Unclassified requests sort after every priority.
NO_PRIORITY_RANK = 9
OPEN = tuple(s.value for s in Status if s in OPEN_STATUSES)


@dataclass(slots=True)
class Row:
    """A request's row as stored (one column a field; the tracker as JSON)."""

    request_id: str
    ticket_code: str
    status: str
    is_open: int
    customer_id: str
    tier: str
    kind: str
    stage: str
    channel: str
    priority: str | None
    priority_rank: int
    category: str | None
    team: str | None
    agent: str | None
    outcome: str | None
    hold_reason: str | None
    opened_at: int
    updated_at: int
    follow_up_at: int | None
    first_response_due: int | None
    resolution_due: int | None
    update_due: int | None
    due_sort: int
    quarantined: int
    external_ref: str | None
    external_source: str | None
    imported: int
    # What the KPIs need (``servflow.domain.kpis.RequestFacts``), kept as the request's events
    # set them, and whether the request's figures are settled (see ``projections.kpis``).
    completed_at: int | None
    reopen_count: int
    transfer_count: int
    actions: int
    closed_by_desk: int
    deemed: int
    satisfaction: int | None
    reopened_after_closure: int
    effort: int
    cost: str
    ncs: int
    ncs_corrected: int
    #: Time on hold so far per reason (JSON, microseconds), and since when the hold under way.
    holds: str | None
    held_since: int | None
    #: When the last event that changed any of the above happened (us).
    last_at: int
    settled: int
    #: The clocks as of the tracker's last fact, as the KPIs take them (JSON in the table).
    clocks: ClockFigures | None
    sla_policy: str | None
    sla_tracker: SlaTracker | None


_FIELDS = tuple(f.name for f in dataclasses.fields(Row))
#: The columns kept for the KPIs only (``projections.kpis``).
_KPI_COLUMNS = frozenset(_FIELDS[_FIELDS.index("completed_at") : _FIELDS.index("clocks") + 1])
#: What a queue page reads: everything but the SLA and KPI bookkeeping.
VIEW_COLUMNS = tuple(
    name for name in _FIELDS if not name.startswith("sla_") and name not in _KPI_COLUMNS
)


class QueueRow(Value):
    """One request as a work queue shows it."""

    request_id: UUID
    ticket_code: str
    status: Status
    priority: Priority | None
    kind: Kind
    stage: Stage
    channel: Channel
    customer_id: str
    tier: Tier
    category: str | None
    team: str | None
    agent: str | None
    outcome: Outcome | None
    opened_at: datetime
    updated_at: datetime
    follow_up_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    #: The due instant of the update clock's current (or last) cycle: when the customer must
    #: next hear from the desk. None without an update target and before the first response.
    update_due: datetime | None = None
    #: The reason of the hold the request is on (``customer`` for a wait on the customer).
    hold_reason: str | None = None
    #: One of the request's stored events could not be read: the row shows the request as
    #: folded without it (``desk.quarantine()`` lists it; ``desk.get`` raises
    #: ``CorruptEventError``).
    quarantined: bool = False
    #: The request's id in the system it came from, and that system (``open``).
    external_ref: str | None = None
    external_source: str | None = None
    #: It holds history imported from another system (``import_events``).
    imported: bool = False


class QueuePage(Value):
    """A page of a queue: its rows, how many match in all, and where the next page starts."""

    rows: tuple[QueueRow, ...]
    #: How many rows match in all; None when the page was asked for without ``count``.
    total: int | None
    offset: int
    limit: int
    #: Whether rows follow this page.
    has_more: bool = False

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, or None on the last page."""
        return self.offset + len(self.rows) if self.has_more else None


@singledispatch
def row_changes(event: object, row: Row) -> dict[str, Any] | None:
    """The columns an event changes (None: the queue does not use it)."""
    del event, row
    return None


@row_changes.register
def _(event: Unreadable, row: Row) -> dict[str, Any] | None:
    # Skipped by the projector: the row goes on without it, flagged for the UIs.
    del event
    return None if row.quarantined else {"quarantined": 1}


@row_changes.register
def _(event: ServiceRequest.Classified, row: Row) -> dict[str, Any] | None:
    del row
    return {
        "priority": event.priority.value,
        "priority_rank": event.priority.rank,
        "kind": event.kind.value,
        "category": event.category,
    }


@row_changes.register
def _(event: ServiceRequest.Assigned, row: Row) -> dict[str, Any] | None:
    del row
    return {"team": event.team, "agent": event.agent}


@row_changes.register
def _(event: ServiceRequest.Completed, row: Row) -> dict[str, Any] | None:
    del row
    if event.outcome is Outcome.TRANSFERRED:
        return {
            "team": event.to_team,
            "agent": None,
            "outcome": event.outcome.value,
            "follow_up_at": None,
            "hold_reason": None,
        }
    return {
        "outcome": event.outcome.value,
        "follow_up_at": micros(event.follow_up_at),
        "hold_reason": None,
    }


@row_changes.register
def _(event: ServiceRequest.CustomerAccepted, row: Row) -> dict[str, Any] | None:
    del event, row
    return {}  # only the status, which the fold takes from the lifecycle table


@row_changes.register
def _(event: ServiceRequest.WaitingOnCustomer, row: Row) -> dict[str, Any] | None:
    del event, row
    return {"hold_reason": CUSTOMER_HOLD}


@row_changes.register
def _(event: ServiceRequest.Held, row: Row) -> dict[str, Any] | None:
    del row
    return {"hold_reason": event.reason}


@row_changes.register
def _(
    event: ServiceRequest.CustomerResponded | ServiceRequest.Resumed | ServiceRequest.Cancelled,
    row: Row,
) -> dict[str, Any] | None:
    del event, row
    return {"hold_reason": None}


@row_changes.register
def _(event: ServiceRequest.Unassigned, row: Row) -> dict[str, Any] | None:
    del row
    return {"team": event.team, "agent": None, "hold_reason": None}


@row_changes.register
def _(event: ServiceRequest.Closed, row: Row) -> dict[str, Any] | None:
    del event, row
    return {}  # only the status, which the fold takes from the lifecycle table


@row_changes.register
def _(event: ServiceRequest.HistoryImported, row: Row) -> dict[str, Any] | None:
    del event
    return None if row.imported else {"imported": 1}


@row_changes.register
def _(event: ServiceRequest.Reopened, row: Row) -> dict[str, Any] | None:
    del event, row
    return {"outcome": None, "follow_up_at": None}


#: A copy of a row with ``changes``: rows are never changed in place (folds stay pure).
evolve = evolver(Row)


_ROW_FIELDS = tuple(QueueRow.model_fields)
_INSTANTS = (
    "opened_at",
    "updated_at",
    "follow_up_at",
    "first_response_due",
    "resolution_due",
    "update_due",
)


def views(records: Sequence[Sequence[Any]]) -> list[QueueRow]:
    """Stored rows of ``VIEW_COLUMNS`` as a page shows them."""
    # The stored text of ids and enumerations is left to pydantic
    # to read (in its compiled validator, which checks it as strictly, a whole page in one
    # call); instants are stored as integer microseconds.
    values = []
    for record in records:
        value = {name: record[index] for name, index in _PICKED}
        for name in _INSTANTS:
            value[name] = from_micros(value[name])
        values.append(value)
    return _ROWS.validate_python(values)


#: Each field of ``QueueRow`` and where it is in a row of ``VIEW_COLUMNS``.
_PICKED = tuple((name, VIEW_COLUMNS.index(name)) for name in _ROW_FIELDS)
_ROWS: TypeAdapter[list[QueueRow]] = TypeAdapter(list[QueueRow])
