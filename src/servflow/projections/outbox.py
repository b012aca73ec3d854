"""What the outbox owes: the messages each request's events make owed to its customer.

The source documents ask that the customer hear, for every request: that it was received (with
its ticket code and the expected resolution), that it was completed, that it was closed after
their confirmation, and when it was reopened or cancelled; and bad news too (an automation rule
that notifies a team owes the team a ``team_alert``). Each fact of the log that calls for such a
message owes one, keyed by ``<request id>:<kind>:<position>``, so the same log always owes the
same messages under the same keys, and a delivery made is not made twice.

The outbox keeps no view of its own: the audit view already holds one row per event, indexed
by event type and position, so what became owed since a position is a range read there
(``owed``), and the write path pays nothing for the outbox. What time brings (a resolution clock
at risk or breached, an update clock warning) is not an event: the dispatcher takes those from
the SLA view when their moment comes (``servflow.desk.outbox``).
"""

from __future__ import annotations

from collections.abc import Mapping

from servflow.domain.values import Outcome

__all__ = ["MESSAGE_KINDS", "OWING_EVENTS", "message_key", "owed"]

#: Every kind of message the outbox owes, in the order of a request's life.
MESSAGE_KINDS = (
    "receipt",
    "progress",
    "bad_news",
    "completion",
    "closure",
    "reopening",
    "cancellation",
    "team_alert",
)

#: The event types (as the audit view names them) that may owe a message.
OWING_EVENTS = (
    "Opened",
    "Completed",
    "CustomerAccepted",
    "Closed",
    "Reopened",
    "Cancelled",
    "AutomationFired",
)


def message_key(request_id: str, kind: str, position: int | str) -> str:
    """The idempotency key of a message: the same for the same fact, after any rebuild."""
    return f"{request_id}:{kind}:{position}"


def owed(  # noqa: PLR0911 - one return per kind
    event_type: str, data: Mapping[str, object]
) -> tuple[str, dict[str, object]] | None:
    """The kind of message an event owes, with the facts it needs (None: none).

    ``data`` is the event's fields as the audit view holds them; only facts that are not
    personal are read (an erasable store seals the others).
    """
    if event_type == "Opened":
        return "receipt", {}
    if event_type == "Completed":
        if data.get("outcome") == Outcome.TRANSFERRED.value:
            return None  # between teams: the customer's request goes on
        return "completion", {
            "outcome": data.get("outcome"),
            "follow_up_at": data.get("follow_up_at"),
        }
    if event_type == "CustomerAccepted":
        return "closure", {"deemed": bool(data.get("deemed", False)), "by": "acceptance"}
    if event_type == "Closed":
        return "closure", {"deemed": False, "by": "desk"}
    if event_type == "Reopened":
        return "reopening", {}
    if event_type == "Cancelled":
        return "cancellation", {}
    if event_type == "AutomationFired":
        # Not the customer's: an automation rule told a team (``notify:<team>``).
        actions = data.get("actions")
        notified = [
            str(a).removeprefix("notify:")
            for a in (actions if isinstance(actions, list) else [])
            if str(a).startswith("notify:")
        ]
        if not notified:
            return None
        return "team_alert", {
            "team": notified[0],
            "rule": data.get("rule"),
            "condition": data.get("condition"),
        }
    return None
