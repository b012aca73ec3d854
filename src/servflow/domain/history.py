"""The history of a request: each event with who, when, what, and what changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from itertools import compress
from operator import attrgetter, is_not
from typing import Any, get_args
from uuid import UUID

from pydantic import AwareDatetime, TypeAdapter

from servflow.domain.request import ServiceRequest
from servflow.domain.values import Value
from servflow.domain.view import SNAPSHOT_FIELDS, SOURCES, Request

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


# Immutable types whose equal values have the same JSON (unlike datetimes in other zones, or
# decimals with other exponents). Enum members are singletons: the identity test covers them.
_PLAIN: frozenset[type] = frozenset({str, int, bool, type(None)})


def _dumper(annotation: Any) -> Callable[[Any], Any]:  # noqa: ANN401 - any type
    """The JSON form of a value of this type, as ``Request.model_dump(mode="json")`` writes it."""
    return partial(TypeAdapter(annotation).serializer.to_python, mode="json")


#: The fields of ``Request`` an auditor sees change, in the view's order.
_TRACKED = tuple(name for name in Request.model_fields if name not in _QUIET_FIELDS)
_ANNOTATIONS = tuple(Request.model_fields[name].annotation for name in _TRACKED)
_DUMPS = tuple(_dumper(annotation) for annotation in _ANNOTATIONS)
#: The list fields (``tuple[Item, ...]`` in the view), each with the JSON form of one item.
_SNAPSHOTS = tuple(
    (index, _dumper(get_args(_ANNOTATIONS[index])[0]))
    for index, name in enumerate(_TRACKED)
    if name in SNAPSHOT_FIELDS
)
_SNAPSHOT_INDEXES = frozenset(index for index, _ in _SNAPSHOTS)
_INDEXES = range(len(_TRACKED))
#: Reads every tracked field from the aggregate in one call, as ``Request.of`` reads it.
_READ = attrgetter(*(SOURCES.get(name, name) for name in _TRACKED))
_ENTRIES: TypeAdapter[list[HistoryEntry]] = TypeAdapter(list[HistoryEntry])
#: The value of a field before the first event: unlike any value, even None.
_UNSET: Any = object()


class _Differ:
    """What each event changed on the request, without building a ``Request`` view per event.

    Dumping a whole view per event to diff it cost more than the rest of a history. This keeps
    the last value read for each field and its JSON form: a value that is the same object as
    before, or an equal plain value, has the same JSON; the others are dumped (with the view's
    own serializers) and compared as JSON, exactly as a diff of two dumps would. A list that
    only grew gets its new items dumped after the JSON it had.
    """

    __slots__ = ("_items", "_json", "_values")

    def __init__(self) -> None:
        # Before the first event nothing is set: every field reads as JSON null.
        self._values: tuple[Any, ...] = tuple(_UNSET for _ in _TRACKED)
        self._json: list[Any] = [None] * len(_TRACKED)
        # The items of each list field after the last event: the aggregate appends to its
        # lists (or replaces an item) in place, so the list itself stays the same object.
        self._items: list[tuple[Any, ...]] = [() for _ in _SNAPSHOTS]

    def changes(self, request: ServiceRequest) -> list[dict[str, Any]]:
        """The fields that changed since the last call, as ``Change`` fields, in view order."""
        values: tuple[Any, ...] = _READ(request)
        previous, self._values = self._values, values
        json = self._json
        # Most events touch a field or two: find them with one pass over identities (in C).
        moved = list(compress(_INDEXES, map(is_not, values, previous)))
        dumped = self._lists(values, previous)
        if dumped:
            moved = sorted({*moved, *dumped})
        found: list[dict[str, Any]] = []
        for index in moved:
            if index in dumped:
                after = dumped[index]
            elif index in _SNAPSHOT_INDEXES:
                continue  # the same items, in another list
            else:
                value, before = values[index], previous[index]
                if type(value) is type(before) and type(value) in _PLAIN and value == before:
                    continue
                after = _DUMPS[index](value)
            if after != json[index]:
                found.append({"field": _TRACKED[index], "before": json[index], "after": after})
                json[index] = after
        return found

    def _lists(self, values: tuple[Any, ...], previous: tuple[Any, ...]) -> dict[int, Any]:
        """The JSON of the list fields whose items changed, by field index."""
        dumped: dict[int, Any] = {}
        for slot, (index, dump_item) in enumerate(_SNAPSHOTS):
            items, known = values[index], self._items[slot]
            first = previous[index] is _UNSET
            if not first and len(items) == len(known) and not any(map(is_not, items, known)):
                continue
            if not first and len(items) > len(known) and not any(map(is_not, items, known)):
                # Appended: the same JSON as dumping the whole list, without redoing the rest.
                dumped[index] = [*self._json[index], *map(dump_item, items[len(known) :])]
            else:
                dumped[index] = list(map(dump_item, items))
            self._items[slot] = tuple(items)
        return dumped


def history_of(events: Iterable[tuple[int, ServiceRequest.Event]]) -> list[HistoryEntry]:
    """Replay a request's ``(position, event)`` pairs, recording what each event changed."""
    differ = _Differ()
    entries: list[dict[str, Any]] = []
    request: ServiceRequest | None = None
    for position, event in events:
        request = event.mutate(request)
        if request is None:  # pragma: no cover - an Opened event always creates one
            continue
        changes = differ.changes(request)
        entries.append(
            {
                "position": position,
                "request_id": request.id,
                "ticket_code": request.ticket_code,
                "version": event.originator_version,
                "event_type": type(event).__name__,
                "recorded_at": event.timestamp,
                "occurred_at": event.occurred_at,
                "actor": event.actor,
                # ``model_dump(mode="json", exclude=...)`` without its keyword handling.
                "data": event.__pydantic_serializer__.to_python(
                    event, mode="json", exclude=_BASE_FIELDS
                ),
                "changes": changes,
            }
        )
    # One validation of the whole list: the same checks as building each entry, in one call.
    return _ENTRIES.validate_python(entries)
