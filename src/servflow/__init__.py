"""servflow: an event-sourced engine for customer service requests.

Requests are aggregates whose events are the only source of truth; every other answer
(queues, SLA clocks, audit trail, KPIs) is derived from the log. Start with
:class:`ServiceDesk`.
"""

import servflow.settings  # noqa: F401 - installs the settings-file reader behind from_file
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
from servflow.desk.register import NonConformityEntry, NonConformityRegister, NonConformityStatus
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
