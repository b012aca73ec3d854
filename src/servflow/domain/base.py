"""Pydantic-based aggregate and event bases on top of ``eventsourcing.domain``.

``eventsourcing`` 9.5 ships its aggregates with dataclass events only; servflow's events are
pydantic models so that every field is validated before anything is recorded, and stored
payloads are plain JSON an auditor can read. This is the only module that knows how the
library's base classes are put together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from servflow.errors import ValidationFailedError

__all__ = ["DomainEvent", "EventSourced", "refused"]


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
        (".".join(str(part) for part in detail["loc"]) or "input", detail["msg"])
        for detail in error.errors(include_url=False)
    )
    listed = "; ".join(f"{field}: {problem}" for field, problem in problems)
    return ValidationFailedError(
        f"{where}{': ' if where else ''}refused '{command}': {listed}",
        command=command,
        request_id=request_id,
        errors=problems,
    )
