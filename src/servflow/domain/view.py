"""``Request``: the read-only, typed view of a service request that queries return."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import AwareDatetime

from servflow.domain.request import (
    OPEN_STATUSES,
    Action,
    NonConformity,
    Probe,
    ServiceRequest,
    Status,
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
    satisfaction: int | None
    acceptance_comment: str | None
    deemed_acceptance: bool
    reopen_count: int
    transfer_count: int
    nonconformities: tuple[NonConformity, ...]
    opened_at: AwareDatetime
    opened_by: str
    completed_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    cancelled_at: AwareDatetime | None
    cancel_reason: str | None
    #: When the latest event happened.
    updated_at: AwareDatetime
    #: When the latest event was recorded.
    recorded_at: AwareDatetime

    @property
    def is_open(self) -> bool:
        """Whether the request still needs work or the customer's acceptance."""
        return self.status in OPEN_STATUSES

    @property
    def effort_minutes(self) -> int:
        """Total effort of the recorded actions."""
        return sum(action.effort_minutes for action in self.actions)

    @property
    def cost(self) -> Decimal:
        """Total cost of the recorded actions."""
        return sum((action.cost or Decimal(0) for action in self.actions), Decimal(0))

    @property
    def open_nonconformities(self) -> tuple[NonConformity, ...]:
        """Non-conformities still waiting for a correction."""
        return tuple(nc for nc in self.nonconformities if not nc.is_corrected)

    @classmethod
    def of(cls, request: ServiceRequest) -> Request:
        """Take a read-only snapshot of an aggregate's current state."""
        recorded: datetime = request.modified_on
        return cls(
            id=request.id,
            ticket_code=request.ticket_code,
            version=request.version,
            status=request.status,
            customer=request.customer,
            channel=request.channel,
            kind=request.kind,
            stage=request.stage,
            symptom=request.symptom,
            synthesis=request.synthesis,
            priority=request.priority,
            category=request.category,
            team=request.team,
            agent=request.agent,
            probes=tuple(request.probes),
            actions=tuple(request.actions),
            progress_reports=request.progress_reports,
            outcome=request.outcome,
            resolution=request.resolution,
            follow_up_at=request.follow_up_at,
            waiting_reason=request.waiting_reason,
            satisfaction=request.satisfaction,
            acceptance_comment=request.acceptance_comment,
            deemed_acceptance=request.deemed_acceptance,
            reopen_count=request.reopen_count,
            transfer_count=request.transfer_count,
            nonconformities=tuple(request.nonconformities),
            opened_at=request.opened_at,
            opened_by=request.opened_by,
            completed_at=request.completed_at,
            closed_at=request.closed_at,
            cancelled_at=request.cancelled_at,
            cancel_reason=request.cancel_reason,
            updated_at=request.last_occurred_at,
            recorded_at=recorded,
        )
