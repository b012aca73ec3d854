"""The desk's clock: what time it is, and the instants commands and queries are given, checked.

Time comes from an injectable source (default UTC now), so tests, simulations and imports of
historical data are deterministic; the domain never reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from servflow.domain.base import refuse
from servflow.domain.request import Moment, ServiceRequest
from servflow.domain.values import aware_instant
from servflow.errors import (
    ConfigurationError,
    OccurrenceOutOfOrderError,
    shown,
)

__all__ = ["DeskClock", "TimeSource", "checked_instant", "given_instant", "utc_now"]

#: Something that says what time it is, as an aware datetime.
TimeSource = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the current instant in UTC."""
    return datetime.now(UTC)


def given_instant(
    value: object, name: str, command: str, request_id: UUID | None = None
) -> datetime:
    """An instant given to a command or query, in UTC: aware and in range, else refused.

    Checked before any maths on it: an aware datetime near ``datetime.max`` may overflow on its
    way to UTC or to the stores' microseconds.
    """
    return checked_instant(value, name, command, request_id).astimezone(UTC)


def checked_instant(
    value: object, name: str, command: str, request_id: UUID | None = None
) -> datetime:
    """``given_instant``, in the zone it was given in (an answer that shows it keeps it)."""
    try:
        return aware_instant(value)
    except ValueError as error:
        refuse(command, name, str(error), request_id=request_id)


class DeskClock:
    """A desk's time source, with the checks every instant given to the desk goes through."""

    def __init__(self, source: TimeSource | None = None) -> None:
        if source is not None and not callable(source):
            msg = f"clock must be a callable returning an aware datetime, not {shown(source)}"
            raise ConfigurationError(msg)
        self.source: TimeSource = source or utc_now

    def now(self) -> datetime:
        """The source's instant in UTC; a naive or out-of-range one is a ``ConfigurationError``."""
        now = self.source()
        try:
            return aware_instant(now).astimezone(UTC)
        except ValueError as error:
            msg = f"the desk's clock returned {shown(now)}: {error}"
            raise ConfigurationError(msg) from None

    def instant(
        self, value: object, name: str, command: str, request_id: UUID | None = None
    ) -> datetime:
        """An instant given to a query (default: the clock's now), in UTC."""
        if value is None:
            return self.now()
        return given_instant(value, name, command, request_id)

    def moment(
        self, occurred_at: object, command: str, request: ServiceRequest | None = None
    ) -> Moment:
        """When a command is recorded (now) and when it happened (``occurred_at``, not later)."""
        now = self.now()
        request_id = request.id if request else None
        if occurred_at is None:
            return Moment(recorded_at=now, occurred_at=now)
        occurred = given_instant(occurred_at, "occurred_at", command, request_id)
        if occurred > now:
            msg = (
                f"refused '{command}': occurred_at {occurred.isoformat()} is after the desk's "
                f"clock ({now.isoformat()}); events cannot be recorded before they happen"
            )
            raise OccurrenceOutOfOrderError(msg, command=command, request_id=request_id)
        return Moment(recorded_at=now, occurred_at=occurred)
