"""What a request holds: its state (one declaration), the work recorded, when things happen.

``RequestState`` declares every attribute the events set on a ``ServiceRequest``, once, with
the value it has until an event sets it. ``Moment`` (recorded and occurred instants), the STAR
probes and actions, non-conformities, and the request id each ticket code stands for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AwareDatetime

from servflow.domain.lifecycle import Status
from servflow.domain.values import (
    Actor,
    Channel,
    Customer,
    Kind,
    Money,
    Outcome,
    Priority,
    Severity,
    Stage,
    Text,
    Value,
    Visibility,
)

__all__ = [
    "Action",
    "Moment",
    "NonConformity",
    "Note",
    "Probe",
    "RequestState",
    "request_id_for",
    "total_cost",
    "total_effort",
]


#: Namespace of the deterministic request ids derived from ticket codes.
_TICKET_NAMESPACE = uuid5(NAMESPACE_URL, "https://servflow.dev/ticket")


def request_id_for(ticket_code: str) -> UUID:
    """The id of the request with this ticket code: the store keeps codes unique through it."""
    return uuid5(_TICKET_NAMESPACE, ticket_code)


@dataclass(frozen=True, slots=True)
class Moment:
    """When a command is recorded (from the clock) and when it happened (maybe earlier)."""

    recorded_at: datetime
    occurred_at: datetime


class Probe(Value):
    """One STAR probing step: the questions asked, what was found, the working diagnosis."""

    questions: tuple[Text, ...]
    findings: Text
    diagnosis: Text | None
    actor: Actor
    at: AwareDatetime


class Action(Value):
    """One STAR action: the procedure applied, its effort and cost."""

    action: Text
    effort_minutes: int
    cost: Money | None
    actor: Actor
    at: AwareDatetime


def total_effort(actions: Iterable[Action]) -> int:
    """Total effort of the actions, in minutes (a request's, a report's)."""
    return sum(action.effort_minutes for action in actions)


def total_cost(actions: Iterable[Action]) -> Decimal:
    """Total cost of the actions (those without a cost count as zero)."""
    return sum((action.cost or Decimal(0) for action in actions), Decimal(0))


class Note(Value):
    """A note on a request: the desk's (internal or for the customer) or the customer's message."""

    text: str
    visibility: Visibility
    #: Who recorded it: the customer, or the desk or an integration on their behalf.
    actor: Actor
    at: AwareDatetime
    #: Whether these are the customer's words (a message of theirs), not the desk's.
    by_customer: bool = False


class NonConformity(Value):
    """A documented non-conformity (ISO-style control) and, later, its correction."""

    number: int
    description: str
    severity: Severity
    category: str | None
    root_cause: str | None
    corrective_action: str | None
    logged_by: str
    logged_at: AwareDatetime
    correction: str | None = None
    corrected_by: str | None = None
    corrected_at: AwareDatetime | None = None

    @property
    def is_corrected(self) -> bool:
        """Whether a correction has been recorded."""
        return self.correction is not None


class RequestState:
    """The state of a service request, declared once: each attribute and its starting value.

    ``ServiceRequest`` takes its attributes from here; the events assign them (``Opened`` the
    facts of the opening and fresh lists). An attribute no event has set yet reads its value
    below. A plain class, not a dataclass: the aggregate's constructor stays the library's.
    """

    ticket_code: str
    customer: Customer
    channel: Channel
    kind: Kind
    stage: Stage
    symptom: str
    synthesis: str | None
    status: Status
    opened_at: datetime
    opened_by: str
    last_occurred_at: datetime
    probes: list[Probe]
    actions: list[Action]
    nonconformities: list[NonConformity]
    notes: list[Note]
    priority: Priority | None = None
    category: str | None = None
    team: str | None = None
    agent: str | None = None
    progress_reports: int = 0
    outcome: Outcome | None = None
    resolution: str | None = None
    follow_up_at: datetime | None = None
    completed_at: datetime | None = None
    satisfaction: int | None = None
    acceptance_comment: str | None = None
    deemed_acceptance: bool = False
    follow_up_due: bool = False
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    external_ref: str | None = None
    external_source: str | None = None
    #: Source rows of another system's history taken into the request (``HistoryImported``).
    imported_rows: int = 0
    #: The digest of those rows, as the importer computed it (None: nothing imported).
    imported_digest: str | None = None
    #: ``<rule>|<condition key>`` of every automation rule that fired (``AutomationFired``).
    automations: frozenset[str] = frozenset()
    waiting_reason: str | None = None
    hold_reason: str | None = None
    hold_note: str | None = None
    close_reason: str | None = None
    reopened_after_closure: int = 0
    reopen_count: int = 0
    transfer_count: int = 0

    @property
    def held_for(self) -> str | None:
        """The reason of the hold the request is on (``customer`` for a wait on the customer).

        None when it is not on hold.
        """
        if self.status is Status.WAITING_ON_CUSTOMER:
            return "customer"
        if self.status is Status.ON_HOLD:
            return self.hold_reason or "other"
        return None
