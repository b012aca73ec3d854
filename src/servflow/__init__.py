"""servflow: an event-sourced engine for customer service requests.

Requests are aggregates whose events are the only source of truth; every other answer
(queues, SLA clocks, audit trail, KPIs) is derived from the log. Start with
:class:`ServiceDesk`.
"""

from servflow.chain import Head, VerifyReport
from servflow.desk import Clock, ProjectionMode, Ref, ServiceDesk
from servflow.domain.history import Change, HistoryEntry
from servflow.domain.request import (
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    NonConformity,
    Probe,
    ServiceRequest,
    Status,
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
)
from servflow.domain.view import Request
from servflow.errors import (
    ConcurrencyConflictError,
    ConfigurationError,
    InvalidTransitionError,
    NonConformityNotFoundError,
    OccurrenceOutOfOrderError,
    RequestNotFoundError,
    ServflowError,
    StoreError,
    ValidationFailedError,
)
from servflow.projections.engine import Progress, ProjectionStatus
from servflow.projections.queues import QueuePage, QueueRow, SpecialQueue

__version__ = "0.1.0"

__all__ = [
    "OPEN_STATUSES",
    "TRANSITIONS",
    "Action",
    "Change",
    "Channel",
    "Clock",
    "ConcurrencyConflictError",
    "ConfigurationError",
    "Customer",
    "Head",
    "HistoryEntry",
    "InvalidTransitionError",
    "Kind",
    "NonConformity",
    "NonConformityNotFoundError",
    "OccurrenceOutOfOrderError",
    "Outcome",
    "Priority",
    "Probe",
    "Progress",
    "ProjectionMode",
    "ProjectionStatus",
    "QueuePage",
    "QueueRow",
    "Ref",
    "Request",
    "RequestNotFoundError",
    "ServflowError",
    "ServiceDesk",
    "ServiceRequest",
    "Severity",
    "SpecialQueue",
    "Stage",
    "Status",
    "StoreError",
    "Tier",
    "ValidationFailedError",
    "VerifyReport",
    "__version__",
]
