"""The bodies the API takes and the pages it gives, validated by pydantic as the desk would."""

# No ``from __future__ import annotations``: FastAPI reads these models' annotations at runtime.
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from servflow.domain.policy import SlaPolicy
from servflow.domain.values import (
    Channel,
    Customer,
    Kind,
    Outcome,
    Priority,
    Severity,
    ShortText,
    Stage,
    Text,
    Visibility,
)
from servflow.projections.audit import AuditRow
from servflow.projections.queues import QueueRow

__all__ = [
    "AcceptBody",
    "ActBody",
    "AdoptBody",
    "AssignBody",
    "AuditPageOut",
    "ClassifyBody",
    "CompleteBody",
    "CorrectionBody",
    "HoldBody",
    "MessageBody",
    "NonConformityBody",
    "NoteBody",
    "NoteOnlyBody",
    "OpenBody",
    "ProbeBody",
    "ProgressBody",
    "QueuePageOut",
    "ReasonBody",
    "RespondedBody",
    "UnassignBody",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenBody(_Body):
    """``POST /requests``: a new request (a customer's own: ``customer`` may be left out)."""

    customer: ShortText | Customer | None = None
    channel: Channel
    kind: Kind
    stage: Stage
    symptom: Text
    synthesis: Text | None = None
    external_ref: ShortText | None = None
    external_source: ShortText | None = None


class ClassifyBody(_Body):
    """``classify``: the priority (and a corrected kind or category)."""

    priority: Priority
    kind: Kind | None = None
    category: ShortText | None = None


class AssignBody(_Body):
    """``assign``: a team, and optionally one of its agents."""

    team: ShortText
    agent: ShortText | None = None


class ProbeBody(_Body):
    """``probe``: STAR probing."""

    questions: list[Text] = Field(default_factory=list, max_length=100)
    findings: Text
    diagnosis: Text | None = None


class ActBody(_Body):
    """``act``: an action taken, its effort and cost."""

    action: Text
    effort_minutes: int = Field(0, ge=0, le=1_000_000)
    cost: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=4)


class ReasonBody(_Body):
    """``wait_on_customer``, ``close``, ``reopen``, ``cancel``: why."""

    reason: Text


class HoldBody(_Body):
    """``hold``: a reason of the SLA policy's catalogue, and a note."""

    reason: ShortText
    note: Text | None = None


class NoteOnlyBody(_Body):
    """``resume``: an optional note."""

    note: Text | None = None


class RespondedBody(_Body):
    """``customer_responded``: what the customer answered."""

    note: Text


class UnassignBody(_Body):
    """``unassign``: back to a team's queue (or to nobody's)."""

    team: ShortText | None = None


class ProgressBody(_Body):
    """``report_progress``: what the customer is told."""

    message: Text


class CompleteBody(_Body):
    """``complete``: the outcome and resolution."""

    outcome: Outcome
    resolution: Text
    follow_up_at: AwareDatetime | None = None
    to_team: ShortText | None = None


class AcceptBody(_Body):
    """``accept``: the customer's satisfaction (1-5) and comment."""

    satisfaction: int = Field(ge=1, le=5)
    comment: Text | None = None


class NoteBody(_Body):
    """``notes``: a note, internal or for the customer."""

    text: Text
    visibility: Visibility = Visibility.INTERNAL


class MessageBody(_Body):
    """``messages``: the customer's words."""

    text: Text


class NonConformityBody(_Body):
    """``nonconformities``: a non-conformity documented."""

    description: Text
    severity: Severity
    category: ShortText | None = None
    root_cause: Text | None = None
    corrective_action: Text | None = None


class CorrectionBody(_Body):
    """``nonconformities/{number}/correct``: how it was corrected."""

    correction: Text


class AdoptBody(_Body):
    """``POST /policies``: an SLA policy version, and when it takes effect."""

    policy: SlaPolicy
    effective_from: AwareDatetime | None = None


class QueuePageOut(BaseModel):
    """A page of a queue; ``next_cursor`` asks for the next one (None: the last page)."""

    items: list[QueueRow]
    total: int | None
    next_cursor: str | None


class AuditPageOut(BaseModel):
    """A page of the audit log, in log order; ``next_cursor`` asks for the next one."""

    items: list[AuditRow]
    next_cursor: str | None
