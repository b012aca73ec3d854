"""The outbox: messages owed to customers, derived from the log, and their delivery."""

from servflow.desk.outbox.message import OutboundMessage, Sender

__all__ = ["OutboundMessage", "Sender"]
