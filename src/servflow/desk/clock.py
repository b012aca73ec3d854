"""The desk's clock: what time it is, and the instants commands and queries are given, checked.

Time comes from an injectable source (default UTC now), so tests, simulations and imports of
historical data are deterministic; the domain never reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from servflow.domain.request import Moment, ServiceRequest
from servflow.errors import ConfigurationError, OccurrenceOutOfOrderError, ValidationFailedError

__all__ = ["DeskClock", "TimeSource", "utc_now"]

#: Something that says what time it is, as an aware datetime.
TimeSource = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: the current instant in UTC."""
    return datetime.now(UTC)


class DeskClock:
    """A desk's time source, with the checks every instant given to the desk goes through."""

    def __init__(self, source: TimeSource | None = None) -> None:
        self.source: TimeSource = source or utc_now

    def now(self) -> datetime:
        """The source's instant in UTC; a naive one is a ``ConfigurationError``."""
        now = self.source()
        if now.tzinfo is None or now.utcoffset() is None:
            msg = "the desk's clock returned a naive datetime; it must return an aware one"
            raise ConfigurationError(msg)
        return now.astimezone(UTC)

    def instant(
        self, value: object, name: str, command: str, request_id: UUID | None = None
    ) -> datetime:
        """An aware instant given to a query (default: the clock's now), in UTC."""
        if value is None:
            return self.now()
        if not isinstance(value, datetime):
            msg = f"refused '{command}': {name} must be a datetime, not {value!r}"
            raise ValidationFailedError(
                msg, command=command, request_id=request_id, errors=((name, "not a datetime"),)
            )
        if value.tzinfo is None or value.utcoffset() is None:
            msg = (
                f"refused '{command}': {name} {value.isoformat()} is naive; "
                "give a timezone-aware datetime"
            )
            raise ValidationFailedError(
                msg, command=command, request_id=request_id, errors=((name, "must be aware"),)
            )
        return value.astimezone(UTC)

    def moment(
        self, occurred_at: datetime | None, command: str, request: ServiceRequest | None = None
    ) -> Moment:
        """When a command is recorded (now) and when it happened (``occurred_at``, not later)."""
        now = self.now()
        request_id = request.id if request else None
        if occurred_at is None:
            return Moment(recorded_at=now, occurred_at=now)
        if not isinstance(occurred_at, datetime):
            msg = f"refused '{command}': occurred_at must be a datetime, not {occurred_at!r}"
            raise ValidationFailedError(msg, command=command, request_id=request_id)
        if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
            msg = (
                f"refused '{command}': occurred_at {occurred_at.isoformat()} is naive; "
                "give a timezone-aware datetime"
            )
            raise ValidationFailedError(
                msg,
                command=command,
                request_id=request_id,
                errors=(("occurred_at", "must be timezone-aware"),),
            )
        occurred = occurred_at.astimezone(UTC)
        if occurred > now:
            msg = (
                f"refused '{command}': occurred_at {occurred.isoformat()} is after the desk's "
                f"clock ({now.isoformat()}); events cannot be recorded before they happen"
            )
            raise OccurrenceOutOfOrderError(msg, command=command, request_id=request_id)
        return Moment(recorded_at=now, occurred_at=occurred)
