"""Read models folded from the log: work queues (and, as they land, SLA, audit, KPIs, outbox).

Every projection is disposable: rebuild it from the log at any time and it comes back row for
row the same.
"""

from servflow.projections.engine import (
    Progress,
    Projection,
    ProjectionStatus,
    Projector,
    RowProjection,
    Tx,
)
from servflow.projections.queues import QueuePage, QueueProjection, QueueRow, SpecialQueue

__all__ = [
    "Progress",
    "Projection",
    "ProjectionStatus",
    "Projector",
    "QueuePage",
    "QueueProjection",
    "QueueRow",
    "RowProjection",
    "SpecialQueue",
    "Tx",
]
