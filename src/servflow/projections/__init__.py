"""Read models folded from the log: queues, SLA clocks (and, as they land, audit, KPIs, outbox).

Every projection is disposable: rebuild it from the log at any time and it comes back row for
row the same.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servflow.persistence.sql import Tx
    from servflow.projections.base import Projection, RowProjection
    from servflow.projections.measured import MeasuredProjection
    from servflow.projections.queues import QueuePage, QueueProjection, QueueRow, SpecialQueue
    from servflow.projections.runner import Progress, ProjectionStatus, Projector
    from servflow.projections.sla import SlaAlert, SlaDueRow, SlaProjection

#: Where each name lives: imported on first use, so ``servflow.projections.<module>`` stays light.
_WHERE: dict[str, str] = {
    "MeasuredProjection": "servflow.projections.measured",
    "Progress": "servflow.projections.runner",
    "Projection": "servflow.projections.base",
    "ProjectionStatus": "servflow.projections.runner",
    "Projector": "servflow.projections.runner",
    "QueuePage": "servflow.projections.queues",
    "QueueProjection": "servflow.projections.queues",
    "QueueRow": "servflow.projections.queues",
    "RowProjection": "servflow.projections.base",
    "SlaAlert": "servflow.projections.sla",
    "SlaDueRow": "servflow.projections.sla",
    "SlaProjection": "servflow.projections.sla",
    "SpecialQueue": "servflow.projections.queues",
    "Tx": "servflow.persistence.sql",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - the package's names
    """A name of the package, imported on first use."""
    module = _WHERE.get(name)
    if module is None:
        msg = f"module 'servflow.projections' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


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
