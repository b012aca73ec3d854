"""The outbox: messages owed to customers, derived from the log, and their delivery."""

from servflow.desk.outbox.dispatch import (
    DeliveryStatus,
    DispatchReport,
    Outbox,
    OutboxEntry,
    RetryPolicy,
)
from servflow.desk.outbox.message import OutboundMessage, Sender
from servflow.desk.outbox.templates import Templates

__all__ = [
    "DeliveryStatus",
    "DispatchReport",
    "OutboundMessage",
    "Outbox",
    "OutboxEntry",
    "RetryPolicy",
    "Sender",
    "Templates",
]
