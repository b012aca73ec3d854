"""The outbox read model: the messages each request's events make owed to its customer.

The source documents ask that the customer hear, for every request: that it was received (with
its ticket code and the expected resolution), that it was completed, that it was closed after
their confirmation, and when it was reopened or cancelled; and bad news too. Each fact of the log
that calls for such a message adds one row here, keyed by ``<request id>:<kind>:<position>``, so a
rebuild gives every message the same key again and a delivery already made is not made twice.

The rows hold no personal text (the dispatcher reads what a template needs from the request
itself, when it renders the message), so an erasable store keeps no customer's words here.
What time brings (a resolution clock at risk or breached) is not an event: the dispatcher adds
those messages from the SLA view when their moment comes (``servflow.desk.outbox``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

import orjson

from servflow.domain.request import ServiceRequest
from servflow.domain.values import Outcome
from servflow.persistence.sql import Tx, id_text, micros
from servflow.projections.base import Projection

__all__ = ["MESSAGE_KINDS", "OutboxProjection", "message_key"]

#: Every kind of message the outbox owes, in the order of a request's life.
MESSAGE_KINDS = (
    "receipt",
    "progress",
    "bad_news",
    "completion",
    "closure",
    "reopening",
    "cancellation",
)

_COLUMNS = ("key", "request_id", "kind", "position", "owed_at", "data")


def message_key(request_id: str, kind: str, position: int | str) -> str:
    """The idempotency key of a message: the same for the same fact, after any rebuild."""
    return f"{request_id}:{kind}:{position}"


def _owed(event: object) -> tuple[str, dict[str, object]] | None:  # noqa: PLR0911 - one per kind
    """The kind of message an event makes owed, with the facts it needs (None: none)."""
    if isinstance(event, ServiceRequest.Opened):
        return "receipt", {}
    if isinstance(event, ServiceRequest.Completed):
        if event.outcome is Outcome.TRANSFERRED:
            return None  # between teams: the customer's request goes on
        return "completion", {
            "outcome": event.outcome.value,
            "follow_up_at": None if event.follow_up_at is None else event.follow_up_at.isoformat(),
        }
    if isinstance(event, ServiceRequest.CustomerAccepted):
        return "closure", {"deemed": event.deemed, "by": "acceptance"}
    if isinstance(event, ServiceRequest.Closed):
        return "closure", {"deemed": False, "by": "desk"}
    if isinstance(event, ServiceRequest.Reopened):
        return "reopening", {}
    if isinstance(event, ServiceRequest.Cancelled):
        return "cancellation", {}
    return None


class OutboxProjection(Projection):
    """One row per message a request's events make owed to its customer."""

    name: ClassVar[str] = "outbox"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "sf_outbox"

    def tables(self) -> Sequence[str]:  # noqa: D102
        return (self.table,)

    def create(self, tx: Tx) -> None:  # noqa: D102
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(self.table)} ("
            "key TEXT PRIMARY KEY, request_id TEXT NOT NULL, kind TEXT NOT NULL, "
            "position BIGINT NOT NULL, owed_at BIGINT NOT NULL, data TEXT NOT NULL)"
        )

    def indexes(self) -> Sequence[str]:  # noqa: D102
        index = f'"ix_{self.table}_position"'
        return (f"CREATE INDEX IF NOT EXISTS {index} ON {self.t(self.table)} (position)",)

    def apply(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:  # noqa: D102
        rows: list[tuple[object, ...]] = []
        for position, event in events:
            owed = _owed(event)
            if owed is None:
                continue
            kind, data = owed
            assert isinstance(event, ServiceRequest.Event)  # noqa: S101 - _owed says so
            request = id_text(event.originator_id)
            occurred: datetime = event.occurred_at
            rows.append(
                (
                    message_key(request, kind, position),
                    request,
                    kind,
                    position,
                    micros(occurred),
                    orjson.dumps(data).decode(),
                )
            )
        tx.insert_many(self.t(self.table), _COLUMNS, rows)
