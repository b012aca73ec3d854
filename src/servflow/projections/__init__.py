"""Read models folded from the log: queues, SLA clocks (and, as they land, audit, KPIs, outbox).

Every projection is disposable: rebuild it from the log at any time and it comes back row for
row the same.
"""

from servflow.persistence.sql import Tx
from servflow.projections.base import Projection, RowProjection
from servflow.projections.queues import QueuePage, QueueProjection, QueueRow, SpecialQueue
from servflow.projections.runner import Progress, ProjectionStatus, Projector
from servflow.projections.sla import MeasuredProjection, SlaAlert, SlaDueRow, SlaProjection

__all__ = [
    "MeasuredProjection",
    "Progress",
    "Projection",
    "ProjectionStatus",
    "Projector",
    "QueuePage",
    "QueueProjection",
    "QueueRow",
    "RowProjection",
    "SlaAlert",
    "SlaDueRow",
    "SlaProjection",
    "SpecialQueue",
    "Tx",
]
