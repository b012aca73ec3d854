"""servflow: an event-sourced engine for customer service requests.

Requests are aggregates whose events are the only source of truth; every other answer
(queues, SLA clocks, audit trail, KPIs) is derived from the log. Start with
:class:`ServiceDesk`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servflow.desk import ProjectionMode, Ref, ServiceDesk, TimeSource
    from servflow.desk.automation import AutomationReport, RuleFiring, RuleProblem
    from servflow.desk.export import AUDIT_EXPORT_FIELDS, HISTORY_EXPORT_FIELDS, ExportFormat
    from servflow.desk.importing import ImportMapping, ImportOutcome, ImportProblem, load_mapping
    from servflow.desk.kpis import GroupBy, KpiGroup, KpiGroups, Kpis
    from servflow.desk.mining import XES_LIFECYCLE
    from servflow.desk.outbox import (
        DispatchReport,
        OutboundMessage,
        OutboxEntry,
        RetryPolicy,
        Sender,
    )
    from servflow.desk.register import (
        NonConformityEntry,
        NonConformityRegister,
        NonConformityStatus,
    )
    from servflow.domain.automation import (
        AutomationRule,
        AutomationRules,
        NonConformityAction,
        RuleActions,
        RuleCondition,
        RuleFilter,
    )
    from servflow.domain.calendar import Calendar
    from servflow.domain.directory import (
        AgentDirectory,
        AgentEntry,
        CustomerEntry,
        CustomerRecord,
        TeamDirectory,
        TeamEntry,
    )
    from servflow.domain.erasure import ERASED, ErasureLedger, Forgetting
    from servflow.domain.external import ExternalRef, ExternalReference
    from servflow.domain.history import Change, HistoryEntry
    from servflow.domain.lifecycle import OPEN_STATUSES, TRANSITIONS, Status
    from servflow.domain.policy import SlaPolicy, SlaRule
    from servflow.domain.request import Action, NonConformity, Note, Probe, ServiceRequest
    from servflow.domain.roles import ActorKind, Roles
    from servflow.domain.sla import (
        Clock,
        ClockState,
        DueAction,
        PolicyAdoption,
        SlaStatus,
        SlaTracker,
        TimelineEntry,
        TimelineKind,
        UpdateClock,
        WhatIfFlip,
    )
    from servflow.domain.values import (
        Channel,
        Customer,
        Kind,
        Outcome,
        Priority,
        Severity,
        Stage,
        Tier,
        Visibility,
    )
    from servflow.domain.view import Request
    from servflow.errors import (
        AuditKeyMismatchError,
        ConcurrencyConflictError,
        ConfigurationError,
        CorruptEventError,
        CustomerNotFoundError,
        DeliveryError,
        DirectoryConflictError,
        DuplicateExternalRefError,
        ImportSourceError,
        InvalidTransitionError,
        NonConformityNotFoundError,
        NotInDirectoryError,
        OccurrenceOutOfOrderError,
        PermissionDeniedError,
        RequestNotFoundError,
        ServflowError,
        StaleVersionError,
        StoreError,
        UnknownAgentError,
        UnknownTeamError,
        ValidationFailedError,
    )
    from servflow.persistence.chain import ChainBreak, Head, VerifyReport
    from servflow.persistence.encryption import new_cipher_key
    from servflow.persistence.quarantine import QuarantinedEvent
    from servflow.projections.audit import AuditPage, AuditRow, TimeBasis
    from servflow.projections.queues import QueuePage, QueueRow, SpecialQueue
    from servflow.projections.runner import Progress, ProjectionStatus
    from servflow.projections.sla import SlaAlert
    from servflow.senders import JsonlSender, SmtpSender, WebhookSender, verify_signature
    from servflow.settings import holidays_for

__version__ = "0.1.0"

#: Where each public name lives: ``import servflow`` loads nothing more; a name is imported the
#: first time it is used (``servflow.ServiceDesk``, ``from servflow import ServiceDesk``), so
#: the command line and a program that needs a part only pay for that part.
_WHERE: dict[str, str] = {
    "ProjectionMode": "servflow.desk",
    "Ref": "servflow.desk",
    "ServiceDesk": "servflow.desk",
    "TimeSource": "servflow.desk",
    "AutomationReport": "servflow.desk.automation",
    "RuleFiring": "servflow.desk.automation",
    "RuleProblem": "servflow.desk.automation",
    "AUDIT_EXPORT_FIELDS": "servflow.desk.export",
    "ExportFormat": "servflow.desk.export",
    "HISTORY_EXPORT_FIELDS": "servflow.desk.export",
    "ImportMapping": "servflow.desk.importing",
    "ImportOutcome": "servflow.desk.importing",
    "ImportProblem": "servflow.desk.importing",
    "load_mapping": "servflow.desk.importing",
    "GroupBy": "servflow.desk.kpis",
    "KpiGroup": "servflow.desk.kpis",
    "KpiGroups": "servflow.desk.kpis",
    "Kpis": "servflow.desk.kpis",
    "XES_LIFECYCLE": "servflow.desk.mining",
    "DispatchReport": "servflow.desk.outbox",
    "OutboundMessage": "servflow.desk.outbox",
    "OutboxEntry": "servflow.desk.outbox",
    "RetryPolicy": "servflow.desk.outbox",
    "Sender": "servflow.desk.outbox",
    "NonConformityEntry": "servflow.desk.register",
    "NonConformityRegister": "servflow.desk.register",
    "NonConformityStatus": "servflow.desk.register",
    "AutomationRule": "servflow.domain.automation",
    "AutomationRules": "servflow.domain.automation",
    "NonConformityAction": "servflow.domain.automation",
    "RuleActions": "servflow.domain.automation",
    "RuleCondition": "servflow.domain.automation",
    "RuleFilter": "servflow.domain.automation",
    "Calendar": "servflow.domain.calendar",
    "AgentDirectory": "servflow.domain.directory",
    "AgentEntry": "servflow.domain.directory",
    "CustomerEntry": "servflow.domain.directory",
    "CustomerRecord": "servflow.domain.directory",
    "TeamDirectory": "servflow.domain.directory",
    "TeamEntry": "servflow.domain.directory",
    "ERASED": "servflow.domain.erasure",
    "ErasureLedger": "servflow.domain.erasure",
    "Forgetting": "servflow.domain.erasure",
    "ExternalRef": "servflow.domain.external",
    "ExternalReference": "servflow.domain.external",
    "Change": "servflow.domain.history",
    "HistoryEntry": "servflow.domain.history",
    "OPEN_STATUSES": "servflow.domain.lifecycle",
    "Status": "servflow.domain.lifecycle",
    "TRANSITIONS": "servflow.domain.lifecycle",
    "SlaPolicy": "servflow.domain.policy",
    "SlaRule": "servflow.domain.policy",
    "Action": "servflow.domain.request",
    "NonConformity": "servflow.domain.request",
    "Note": "servflow.domain.request",
    "Probe": "servflow.domain.request",
    "ServiceRequest": "servflow.domain.request",
    "ActorKind": "servflow.domain.roles",
    "Roles": "servflow.domain.roles",
    "Clock": "servflow.domain.sla",
    "ClockState": "servflow.domain.sla",
    "DueAction": "servflow.domain.sla",
    "PolicyAdoption": "servflow.domain.sla",
    "SlaStatus": "servflow.domain.sla",
    "SlaTracker": "servflow.domain.sla",
    "TimelineEntry": "servflow.domain.sla",
    "TimelineKind": "servflow.domain.sla",
    "UpdateClock": "servflow.domain.sla",
    "WhatIfFlip": "servflow.domain.sla",
    "Channel": "servflow.domain.values",
    "Customer": "servflow.domain.values",
    "Kind": "servflow.domain.values",
    "Outcome": "servflow.domain.values",
    "Priority": "servflow.domain.values",
    "Severity": "servflow.domain.values",
    "Stage": "servflow.domain.values",
    "Tier": "servflow.domain.values",
    "Visibility": "servflow.domain.values",
    "Request": "servflow.domain.view",
    "AuditKeyMismatchError": "servflow.errors",
    "ConcurrencyConflictError": "servflow.errors",
    "ConfigurationError": "servflow.errors",
    "CorruptEventError": "servflow.errors",
    "CustomerNotFoundError": "servflow.errors",
    "DeliveryError": "servflow.errors",
    "DirectoryConflictError": "servflow.errors",
    "DuplicateExternalRefError": "servflow.errors",
    "ImportSourceError": "servflow.errors",
    "InvalidTransitionError": "servflow.errors",
    "NonConformityNotFoundError": "servflow.errors",
    "NotInDirectoryError": "servflow.errors",
    "OccurrenceOutOfOrderError": "servflow.errors",
    "PermissionDeniedError": "servflow.errors",
    "RequestNotFoundError": "servflow.errors",
    "ServflowError": "servflow.errors",
    "StaleVersionError": "servflow.errors",
    "StoreError": "servflow.errors",
    "UnknownAgentError": "servflow.errors",
    "UnknownTeamError": "servflow.errors",
    "ValidationFailedError": "servflow.errors",
    "ChainBreak": "servflow.persistence.chain",
    "Head": "servflow.persistence.chain",
    "VerifyReport": "servflow.persistence.chain",
    "new_cipher_key": "servflow.persistence.encryption",
    "QuarantinedEvent": "servflow.persistence.quarantine",
    "AuditPage": "servflow.projections.audit",
    "AuditRow": "servflow.projections.audit",
    "TimeBasis": "servflow.projections.audit",
    "QueuePage": "servflow.projections.queues",
    "QueueRow": "servflow.projections.queues",
    "SpecialQueue": "servflow.projections.queues",
    "Progress": "servflow.projections.runner",
    "ProjectionStatus": "servflow.projections.runner",
    "SlaAlert": "servflow.projections.sla",
    "JsonlSender": "servflow.senders",
    "SmtpSender": "servflow.senders",
    "WebhookSender": "servflow.senders",
    "verify_signature": "servflow.senders",
    "holidays_for": "servflow.settings",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - any public name
    """Import a public name the first time it is used (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        msg = f"module 'servflow' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "AUDIT_EXPORT_FIELDS",
    "ERASED",
    "HISTORY_EXPORT_FIELDS",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "XES_LIFECYCLE",
    "Action",
    "ActorKind",
    "AgentDirectory",
    "AgentEntry",
    "AuditKeyMismatchError",
    "AuditPage",
    "AuditRow",
    "AutomationReport",
    "AutomationRule",
    "AutomationRules",
    "Calendar",
    "ChainBreak",
    "Change",
    "Channel",
    "Clock",
    "ClockState",
    "ConcurrencyConflictError",
    "ConfigurationError",
    "CorruptEventError",
    "Customer",
    "CustomerEntry",
    "CustomerNotFoundError",
    "CustomerRecord",
    "DeliveryError",
    "DirectoryConflictError",
    "DispatchReport",
    "DueAction",
    "DuplicateExternalRefError",
    "ErasureLedger",
    "ExportFormat",
    "ExternalRef",
    "ExternalReference",
    "Forgetting",
    "GroupBy",
    "Head",
    "HistoryEntry",
    "ImportMapping",
    "ImportOutcome",
    "ImportProblem",
    "ImportSourceError",
    "InvalidTransitionError",
    "JsonlSender",
    "Kind",
    "KpiGroup",
    "KpiGroups",
    "Kpis",
    "NonConformity",
    "NonConformityAction",
    "NonConformityEntry",
    "NonConformityNotFoundError",
    "NonConformityRegister",
    "NonConformityStatus",
    "NotInDirectoryError",
    "Note",
    "OccurrenceOutOfOrderError",
    "OutboundMessage",
    "OutboxEntry",
    "Outcome",
    "PermissionDeniedError",
    "PolicyAdoption",
    "Priority",
    "Probe",
    "Progress",
    "ProjectionMode",
    "ProjectionStatus",
    "QuarantinedEvent",
    "QueuePage",
    "QueueRow",
    "Ref",
    "Request",
    "RequestNotFoundError",
    "RetryPolicy",
    "Roles",
    "RuleActions",
    "RuleCondition",
    "RuleFilter",
    "RuleFiring",
    "RuleProblem",
    "Sender",
    "ServflowError",
    "ServiceDesk",
    "ServiceRequest",
    "Severity",
    "SlaAlert",
    "SlaPolicy",
    "SlaRule",
    "SlaStatus",
    "SlaTracker",
    "SmtpSender",
    "SpecialQueue",
    "Stage",
    "StaleVersionError",
    "Status",
    "StoreError",
    "TeamDirectory",
    "TeamEntry",
    "Tier",
    "TimeBasis",
    "TimeSource",
    "TimelineEntry",
    "TimelineKind",
    "UnknownAgentError",
    "UnknownTeamError",
    "UpdateClock",
    "ValidationFailedError",
    "VerifyReport",
    "Visibility",
    "WebhookSender",
    "WhatIfFlip",
    "__version__",
    "holidays_for",
    "load_mapping",
    "new_cipher_key",
    "verify_signature",
]
