"""A rebuild shared out by requests: which events of the log each process folds.

A rebuild in several processes gives each one a *share* of the requests (by the last hex digit
of their ids) and every projection: a process decodes, folds and measures only its own
requests' events, so the work is split evenly and each request's tracker is folded and its SLA
status measured once, for the queue and the SLA view together. The events of the log's other
aggregates (the policy book, the erasure ledger, the directories) are the first share's; the
other shares still take the policy book's, which the measured views need to measure their own
requests.

Each share records its position under a key of its own (``Projector.key``); the views' own
positions say "rebuilding" meanwhile (``Projector.rebuild_start``), and are set once every share
has reached the same end (``Projector.rebuild_join``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.utils import get_topic

from servflow.domain.request import ServiceRequest
from servflow.domain.sla import SlaPolicyBook
from servflow.persistence.codec import topic_class

if TYPE_CHECKING:
    from eventsourcing.persistence import Notification

__all__ = ["MAX_SHARES", "Share"]

#: The most shares a rebuild takes: one per value of an id's last hex digit.
MAX_SHARES = 16
_DIGITS = "0123456789abcdef"


@dataclass(frozen=True, slots=True)
class Share:
    """Share ``index`` of ``count``: the requests whose id's last hex digit is ``index`` mod it."""

    index: int
    count: int
    #: What every share's suffix (``suffix``) starts with.
    PREFIX: ClassVar[str] = "#share"

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARES or not 0 <= self.index < self.count:
            msg = f"no share {self.index} of {self.count} (1 to {MAX_SHARES} shares)"
            raise ValueError(msg)

    @property
    def first(self) -> bool:
        """Whether this share also takes the events of aggregates other than requests."""
        return self.index == 0

    def owns(self, request_id: UUID) -> bool:
        """Whether this share's process folds the events of request ``request_id``."""
        return (request_id.int & 0xF) % self.count == self.index

    @property
    def digits(self) -> list[str]:
        """The last hex digits of this share's request ids."""
        return [d for d in _DIGITS if int(d, 16) % self.count == self.index]

    def where(self, column: str) -> tuple[str, list[object]]:
        """An SQL condition true for the rows whose request id (``column``, as text) is ours."""
        digits = self.digits
        marks = ", ".join("?" * len(digits))
        return f"substr({column}, 36, 1) IN ({marks})", list(digits)

    def stored_where(self, last_digit: str) -> tuple[str, list[object]]:
        """An SQL condition on stored events that holds for at least those ``split`` keeps.

        ``last_digit`` is the expression of an event's originator id's last hex digit in the
        store's SQL. The events of other aggregates than requests all pass: ``split`` sorts
        them out by the class their topic names.
        """
        digits = self.digits
        marks = ", ".join("?" * len(digits))
        condition = f"({last_digit} IN ({marks}) OR topic NOT LIKE ?)"
        return condition, [*digits, f"{_REQUEST_TOPICS}%"]

    @property
    def suffix(self) -> str:
        """What a projection's tracking key takes for this share's position."""
        return f"{self.PREFIX}{self.index}of{self.count}"

    def split(
        self, notifications: Sequence[Notification]
    ) -> tuple[list[Notification], list[Notification]]:
        """The notifications of this share: for every projection, and for measured ones only.

        Requests' events go to their share; the other aggregates' to the first share, and
        the policy book's also to every other share's measured projections (the second list).
        An event whose topic names no event class goes by its id, as a request's would: one
        share records it as unreadable.
        """
        own: list[Notification] = []
        book: list[Notification] = []
        for notification in notifications:
            kind = _kind(notification.topic)
            if kind == "request":
                if self.owns(_uuid(notification.originator_id)):
                    own.append(notification)
            elif self.first:
                own.append(notification)
            elif kind == "book":
                book.append(notification)
        return own, book


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _kind(topic: str) -> str:
    """``request``, ``book`` (the SLA policy book) or ``other``, by the class a topic names."""
    kind = _KINDS.get(topic)
    if kind is None:
        found: Any = topic_class(topic)
        if found is None or issubclass(found, ServiceRequest.Event):
            kind = "request"
        elif issubclass(found, SlaPolicyBook.Event):
            kind = "book"
        else:
            kind = "other"
        if len(_KINDS) < _MAX_KINDS:
            _KINDS[topic] = kind
    return kind


#: What the topic of every request event this version of servflow stores starts with.
_REQUEST_TOPICS = get_topic(ServiceRequest.Opened).rpartition(".")[0] + "."

_KINDS: dict[str, str] = {}
#: Topics remembered at most (a log names a few dozen; a corrupt one may name any).
_MAX_KINDS = 1024
