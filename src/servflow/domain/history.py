"""The history of a request: each event with who, when, what, and what changed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime

from servflow.domain.request import ServiceRequest
from servflow.domain.values import Value
from servflow.domain.view import Request

__all__ = ["Change", "HistoryEntry", "history_of"]

_BASE_FIELDS = {
    "originator_id",
    "originator_version",
    "timestamp",
    "actor",
    "occurred_at",
    "originator_topic",
}
# Bookkeeping fields that change on every event and say nothing an auditor asked for.
_QUIET_FIELDS = frozenset({"version", "updated_at", "recorded_at"})


class Change(Value):
    """One field of the request that an event changed, as JSON values."""

    field: str
    before: Any
    after: Any


class HistoryEntry(Value):
    """One event of a request's history, as an auditor reads it."""

    #: The event's position in the whole log (its notification id): increases with every event.
    position: int
    request_id: UUID
    ticket_code: str
    version: int
    event_type: str
    recorded_at: AwareDatetime
    occurred_at: AwareDatetime
    actor: str
    #: The event's own fields (what was said), as JSON values.
    data: dict[str, Any]
    #: What the event changed on the request (before -> after), as JSON values.
    changes: tuple[Change, ...]


def history_of(events: Iterable[tuple[int, ServiceRequest.Event]]) -> list[HistoryEntry]:
    """Replay a request's ``(position, event)`` pairs, recording what each event changed."""
    entries: list[HistoryEntry] = []
    request: ServiceRequest | None = None
    before: dict[str, Any] = {}
    for position, event in events:
        request = event.mutate(request)
        if request is None:  # pragma: no cover - an Opened event always creates one
            continue
        after = Request.of(request).model_dump(mode="json")
        changes = tuple(
            Change(field=name, before=before.get(name), after=value)
            for name, value in after.items()
            if name not in _QUIET_FIELDS and before.get(name) != value
        )
        entries.append(
            HistoryEntry(
                position=position,
                request_id=request.id,
                ticket_code=request.ticket_code,
                version=event.originator_version,
                event_type=type(event).__name__,
                recorded_at=event.timestamp,
                occurred_at=event.occurred_at,
                actor=event.actor,
                data=event.model_dump(mode="json", exclude=_BASE_FIELDS),
                changes=changes,
            )
        )
        before = after
    return entries
