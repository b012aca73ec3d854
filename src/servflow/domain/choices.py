"""The named choices the desk's queries take: queues, KPI groupings, register states, formats.

Plain enumerations, kept here (they depend on nothing) so that what only names them, such as
the command line's options, need not load the desk to offer them. The modules that use them
export them too (``servflow.projections.queues.SpecialQueue``, ``servflow.desk.kpis.GroupBy``,
``servflow.desk.register.NonConformityStatus``, ``servflow.desk.export.ExportFormat``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["ExportFormat", "GroupBy", "NonConformityStatus", "SpecialQueue"]

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
