"""What the outbox hands a sender: one message owed to a customer, rendered, with its key.

A sender is anything with ``send(message)`` that delivers it (by mail, to a webhook, to a
file...) or raises (``servflow.DeliveryError`` to say whether trying again may help; any other
exception counts as a failure that may pass). The outbox delivers at least once: a sender that
must not deliver twice drops a message whose ``key`` it has seen (the key is derived from the
log, so a rebuild of the outbox gives every message the same key again).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable
from uuid import UUID

from pydantic import AwareDatetime, Field

from servflow.domain.values import Value

__all__ = ["OutboundMessage", "Sender"]


class OutboundMessage(Value):
    """A message owed to a customer about a request, rendered for them, ready to send.

    A ``team_alert`` (an automation rule's ``notify``) is for a team of the desk instead:
    ``team`` names it, ``to`` is empty (route it by team), ``customer_id`` is the request's.
    """

    #: The idempotency key: ``<request id>:<kind>:<log position>`` (the same after a rebuild).
    key: str = Field(min_length=1, max_length=200)
    #: receipt, progress, bad_news, completion, closure, reopening, cancellation; team_alert.
    kind: str
    request_id: UUID
    ticket_code: str
    customer_id: str
    #: The customer's contacts from the customer directory (addresses, numbers), maybe none.
    to: tuple[str, ...] = ()
    #: The language it is written in (``es``, ``en``...).
    language: str
    #: Bad news: to be told through a more personal channel (a call) if the company can.
    personal: bool = False
    subject: str
    body: str
    #: When it became owed (the time of the fact that made it owed).
    owed_at: AwareDatetime
    #: Which delivery attempt this is, from 1.
    attempt: int = Field(1, ge=1)
    #: The team a ``team_alert`` is for (None for the customer's messages).
    team: str | None = None


@runtime_checkable
class Sender(Protocol):
    """Delivers one message, or raises (``DeliveryError``, or any exception)."""

    def send(self, message: OutboundMessage) -> None:
        """Deliver ``message`` (once more, if it was delivered before: see ``key``)."""
