"""``Request``: the read-only, typed view of a service request that queries return."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from uuid import UUID

from pydantic import AwareDatetime

from servflow.domain.external import ExternalRef
from servflow.domain.request import (
    OPEN_STATUSES,
    Action,
    NonConformity,
    Note,
    Probe,
    ServiceRequest,
    Status,
    total_cost,
    total_effort,
)
from servflow.domain.values import Channel, Customer, Kind, Outcome, Priority, Stage, Value

__all__ = ["Request"]


class Request(Value):
    """A service request as of some version: every field the events have set, read-only."""

    id: UUID
    ticket_code: str
    version: int
    status: Status
    customer: Customer
    channel: Channel
    kind: Kind
    stage: Stage
    symptom: str
    synthesis: str | None
    priority: Priority | None
    category: str | None
    team: str | None
    agent: str | None
    probes: tuple[Probe, ...]
    actions: tuple[Action, ...]
    progress_reports: int
    outcome: Outcome | None
    resolution: str | None
    follow_up_at: AwareDatetime | None
    waiting_reason: str | None
    #: The reason of a hold other than on the customer (status ``on_hold``), from the catalogue.
    hold_reason: str | None
    hold_note: str | None
    satisfaction: int | None
    acceptance_comment: str | None
    deemed_acceptance: bool
    reopen_count: int
    transfer_count: int
    nonconformities: tuple[NonConformity, ...]
    #: The desk's notes (internal, or replies the customer sees) and the customer's messages.
    notes: tuple[Note, ...] = ()
    opened_at: AwareDatetime
    opened_by: str
    completed_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    #: Why the desk or ``system`` closed it (``Closed``); None for an acceptance.
    close_reason: str | None
    #: How many times it was reopened after a closure (also counted in ``reopen_count``).
    reopened_after_closure: int
    cancelled_at: AwareDatetime | None
    cancel_reason: str | None
    #: The request's id in the system it came from (``INC0012345``), and that system.
    external_ref: str | None
    external_source: str | None
    #: How many rows of the source system's history were imported into it (0: none; a live
    #: request). An imported request's events happened before they were recorded.
    imported_rows: int = 0
    #: When the latest event happened.
    updated_at: AwareDatetime
    #: When the latest event was recorded.
    recorded_at: AwareDatetime

    @property
    def external(self) -> ExternalRef | None:
        """The external reference, usable wherever a request reference is (None if none)."""
        if self.external_ref is None:
            return None
        return ExternalRef(ref=self.external_ref, source=self.external_source)

    @property
    def is_open(self) -> bool:
        """Whether the request still needs work or the customer's acceptance."""
        return self.status in OPEN_STATUSES

    @property
    def effort_minutes(self) -> int:
        """Total effort of the recorded actions."""
        return total_effort(self.actions)

    @property
    def cost(self) -> Decimal:
        """Total cost of the recorded actions."""
        return total_cost(self.actions)

    @property
    def open_nonconformities(self) -> tuple[NonConformity, ...]:
        """Non-conformities still waiting for a correction."""
        return tuple(nc for nc in self.nonconformities if not nc.is_corrected)

    @classmethod
    def of(cls, request: ServiceRequest) -> Request:
        """Take a read-only snapshot of an aggregate's current state."""
        values = {name: getattr(request, SOURCES.get(name, name)) for name in cls.model_fields}
        for name in SNAPSHOT_FIELDS:
            values[name] = tuple(values[name])
        return cls.model_validate(values)


#: The aggregate attribute each field of ``Request`` is read from, where the names differ
#: (every other field has the name of its attribute). ``history_of`` reads fields this way too,
#: so a request's history and its view cannot disagree.
SOURCES: Mapping[str, str] = MappingProxyType(
    {"updated_at": "last_occurred_at", "recorded_at": "modified_on"}
)
#: Fields of ``Request`` that hold a tuple snapshot of one of the aggregate's lists.
SNAPSHOT_FIELDS = frozenset({"probes", "actions", "nonconformities", "notes"})
