"""Pydantic-based aggregate and event bases on top of ``eventsourcing.domain``.

``eventsourcing`` 9.5 ships its aggregates with dataclass events only; servflow's events are
pydantic models so that every field is validated before anything is recorded, and stored
payloads are plain JSON an auditor can read. This is the only module that knows how the
library's base classes are put together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from servflow.errors import MAX_SHOWN, ValidationFailedError, shown

__all__ = ["DomainEvent", "EventSourced", "refuse", "refused"]


class DomainEvent(BaseModel):
    """A recorded fact: immutable, validated, identified by originator id and version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    originator_id: UUID
    originator_version: int
    #: When the event was recorded (from the desk's clock).
    timestamp: AwareDatetime

    def _as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class EventSourced(BaseAggregate[UUID]):
    """Base of servflow aggregates: UUID ids and pydantic events."""

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        """Base of every event of an aggregate."""

    class Created(Event, CanInitAggregate[UUID]):
        """Base of the event that starts an aggregate."""

        originator_topic: str

    @property
    def recorded_on(self) -> datetime:
        """When the last event was recorded."""
        return self.modified_on


def refused(
    error: ValidationError, command: str, *, where: str = "", request_id: UUID | None = None
) -> ValidationFailedError:
    """The typed refusal of a command whose fields pydantic did not accept, field by field."""
    problems = tuple(
        (".".join(_part(part) for part in detail["loc"]) or "input", detail["msg"])
        for detail in error.errors(include_url=False)
    )
    listed = "; ".join(f"{field}: {problem}" for field, problem in problems[:_LISTED])
    if len(problems) > _LISTED:
        listed += f"; and {len(problems) - _LISTED:,} more"
    return ValidationFailedError(
        f"{where}{': ' if where else ''}refused '{command}': {listed}",
        command=command,
        request_id=request_id,
        errors=problems,
    )


#: The most field problems a refusal's message lists (``errors`` holds them all).
_LISTED = 10


def _part(part: object) -> str:
    """A part of a field's location; a key of a refused mapping may be any text, of any size."""
    text = str(part)
    return text if len(text) <= MAX_SHOWN else shown(text)


def refuse(command: str, name: str, problem: str, *, request_id: UUID | None = None) -> NoReturn:
    """Raise the typed refusal of one argument of a command or query: what it is, and why."""
    msg = f"refused '{command}': {name} {problem}"
    raise ValidationFailedError(
        msg, command=command, request_id=request_id, errors=((name, problem),)
    )
