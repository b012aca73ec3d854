"""The named choices of servflow: request kinds, channels, priorities, clock states, queues...

Plain enumerations, kept here (they depend on nothing, not even pydantic) so that what only
names them, such as the command line's options, need not load the engine to offer them. The
modules that use them export them too (``servflow.domain.values.Kind``,
``servflow.projections.queues.SpecialQueue``, ``servflow.desk.kpis.GroupBy``...).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = [
    "Channel",
    "ClockState",
    "ExportFormat",
    "GroupBy",
    "Kind",
    "NonConformityStatus",
    "Outcome",
    "Priority",
    "Severity",
    "SpecialQueue",
    "Stage",
    "Tier",
    "Visibility",
]

#: The formats ``ServiceDesk.export`` writes: JSON Lines, CSV, XES and OCEL 2.0.
ExportFormat = Literal["jsonl", "csv", "xes", "ocel"]


class SpecialQueue(StrEnum):
    """The named queues of the 001 workflow."""

    TRIAGE = "triage"
    """Opened, not yet classified."""
    UNASSIGNED = "unassigned"
    """Classified (or transferred in) and waiting for someone to take it."""
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    """Paused until the customer replies."""
    ON_HOLD = "on_hold"
    """On hold for another reason (vendor, implementation...); ``hold_reason=`` narrows it."""
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    """Completed, waiting for the customer's acceptance."""
    FOLLOW_UPS_DUE = "follow_ups_due"
    """Completed with a follow-up whose date has come (as of ``at``)."""
    TRANSFERRED_IN = "transferred_in"
    """Sent by another department and not yet picked up."""


class GroupBy(StrEnum):
    """What KPIs may be grouped by (the request as of ``at``; week and month of its opening)."""

    TEAM = "team"
    AGENT = "agent"
    KIND = "kind"
    STAGE = "stage"
    CHANNEL = "channel"
    PRIORITY = "priority"
    TIER = "tier"
    CUSTOMER = "customer"
    WEEK = "week"
    MONTH = "month"


class NonConformityStatus(StrEnum):
    """Whether a non-conformity was corrected."""

    OPEN = "open"
    CORRECTED = "corrected"


class Kind(StrEnum):
    """The kind of need behind a request (source 001, "Necesidades de Servicio")."""

    INFORMATION = "information"
    QUOTE = "quote"
    PROPOSAL = "proposal"
    SERVICE_REQUEST = "service_request"
    PETITION = "petition"
    COMPLAINT = "complaint"
    CLAIM = "claim"
    SUGGESTION = "suggestion"
    REPORT = "report"
    WARRANTY = "warranty"


class Stage(StrEnum):
    """The stage of the customer relationship the request arises in."""

    PRE_SALE = "pre_sale"
    SALE = "sale"
    POST_SALE = "post_sale"


class Channel(StrEnum):
    """How the customer reached the company (source 001, "Canales")."""

    FACE_TO_FACE = "face_to_face"
    PHONE = "phone"
    WEB = "web"
    EMAIL = "email"
    CHAT = "chat"
    MOBILE_APP = "mobile_app"


class Priority(StrEnum):
    """How urgent the request is; drives SLA targets and queue order."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 for the most urgent, so that ascending order puts urgent work first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


class Outcome(StrEnum):
    """How a STAR contact ended: resolved, sent to another department, or to be followed up."""

    RESOLVED = "resolved"
    TRANSFERRED = "transferred"
    FOLLOW_UP = "follow_up"


class Visibility(StrEnum):
    """Who may read a note: the desk only, or the customer too."""

    INTERNAL = "internal"
    """For the desk: never shown to the customer."""
    CUSTOMER = "customer"
    """A reply the customer sees (it counts as a response to them)."""


class Severity(StrEnum):
    """How serious a non-conformity is."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Tier(StrEnum):
    """Customer tier: the most valuable customers get a differentiated service (source 004)."""

    STANDARD = "standard"
    PREMIUM = "premium"
    VIP = "vip"


class ClockState(StrEnum):
    """Where an SLA clock stands as of an instant."""

    RUNNING = "running"
    """Counting, below the warning threshold."""
    WARNING = "warning"
    """Counting, past ``warn_at`` of its target but not past its due instant."""
    BREACHED = "breached"
    """Past its due instant and not met (also outside business hours and while paused)."""
    MET = "met"
    """Met at or before its due instant."""
    MISSED = "missed"
    """Met, but after its due instant."""
    PAUSED = "paused"
    """Not counting: on a pausing hold (the customer's, or another the desk made pause), and
    not past its due instant."""
    CANCELLED = "cancelled"
    """Stopped by a cancellation before it was met: neither met nor breached."""
    NOT_STARTED = "not_started"
    """The update clock before the first response, which starts it (no other clock is ever
    in this state)."""
