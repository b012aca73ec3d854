"""Value types of the service process: kinds, stages, channels, priorities, customers, actors.

Enum values are stored in events: never change a value, only add new members.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from servflow.domain.choices import (
    Channel,
    Kind,
    Outcome,
    Priority,
    Severity,
    Stage,
    Tier,
    Visibility,
)
from servflow.errors import shown

__all__ = [
    "ACTOR_KINDS",
    "EARLIEST",
    "LATEST",
    "MAX_ACTOR",
    "MAX_ITEMS",
    "MAX_NAME",
    "MAX_TEXT",
    "Actor",
    "Channel",
    "Customer",
    "Instant",
    "Kind",
    "Label",
    "Money",
    "OptionalText",
    "Outcome",
    "Priority",
    "Severity",
    "ShortText",
    "Stage",
    "Text",
    "Tier",
    "Value",
    "Visibility",
    "aware_instant",
    "in_range",
    "is_aware",
    "storable",
]

#: The most characters a free text holds (a symptom, a resolution, a note).
MAX_TEXT = 20_000
#: The most characters a name or label holds (a team, an agent, a customer id, an actor's name).
MAX_NAME = 200
#: The most items a list in an event holds (a probe's questions).
MAX_ITEMS = 50

_SURROGATES = re.compile("[\ud800-\udfff]")


def storable(value: str) -> str:
    """``value`` if every store can keep it as text, else ``ValueError``: no NUL, no lone surrogate.

    PostgreSQL text cannot hold NUL (a view fed one stops for good) and a lone surrogate is not
    UTF-8 at all; SQLite and memory would take them, so refusing them here, before anything is
    recorded, keeps every store alike.
    """
    if "\x00" in value:
        msg = "must not contain NUL (\\x00) characters: PostgreSQL cannot store them as text"
        raise ValueError(msg)
    if not value.isascii() and _SURROGATES.search(value):
        msg = "must not contain unpaired surrogates (\\ud800-\\udfff): they are not UTF-8 text"
        raise ValueError(msg)
    return value


class Value(BaseModel):
    """Base of immutable value objects: frozen, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


#: Kinds of actor an event may be recorded by.
ACTOR_KINDS = ("agent", "supervisor", "customer", "system", "auditor", "integration")

_ACTOR = re.compile(rf"^(system|({'|'.join(ACTOR_KINDS)}):[^\s:][^\s]{{0,{MAX_NAME - 1}}})$")
#: The most characters an actor holds: the longest kind, a colon and a name.
MAX_ACTOR = max(map(len, ACTOR_KINDS)) + 1 + MAX_NAME


def _check_actor(value: str) -> str:
    # Every event read back is checked again: the actors seen valid are remembered (a desk
    # has a few hundred), which costs less than the regular expression.
    if value in _VALID_ACTORS:
        return value
    if len(value) > MAX_ACTOR or not _ACTOR.fullmatch(value):
        msg = (
            f"actor {shown(value)} must be 'system' or '<kind>:<name>' with kind one of "
            f"{', '.join(ACTOR_KINDS)} and a name of 1-{MAX_NAME} characters without blanks "
            "(e.g. 'agent:ana')"
        )
        raise ValueError(msg)
    storable(value)
    if len(_VALID_ACTORS) >= _MAX_VALID_ACTORS:
        _VALID_ACTORS.clear()
    _VALID_ACTORS.add(value)
    return value


_VALID_ACTORS: set[str] = set()
_MAX_VALID_ACTORS = 10_000


#: Who recorded an event: ``agent:ana``, ``customer:acme``, ``system``, ``auditor:eva``.
Actor = Annotated[str, AfterValidator(_check_actor)]

#: Free text that must say something (surrounding blanks are trimmed).
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT),
    AfterValidator(storable),
]
#: A name or label: a team, an agent, a category.
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME),
    AfterValidator(storable),
]
OptionalText = Text | None
#: A name in configuration (a policy, a calendar, a rule): kept as given, storable, bounded.
Label = Annotated[str, StringConstraints(max_length=MAX_NAME), AfterValidator(storable)]
#: A non-negative amount of money, kept exact.
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]


class Customer(Value):
    """Who the request is for. Only ``id`` is required; ``tier`` selects SLA targets."""

    id: ShortText
    name: ShortText | None = None
    tier: Tier = Tier.STANDARD
    language: (
        Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None
    ) = None


def is_aware(value: datetime) -> bool:
    """True when ``value`` names a single instant (it has a working UTC offset)."""
    return value.tzinfo is not None and value.utcoffset() is not None


#: The first instant servflow records or answers for.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
#: The end (excluded) of the instants servflow records or answers for: far enough for any due
#: time, and far enough from ``datetime.max`` that the SLA maths never overflows.
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def in_range(value: datetime) -> datetime:
    """``value`` (aware) if it lies in ``[EARLIEST, LATEST)``, else ``ValueError``.

    An aware datetime near ``datetime.min`` or ``datetime.max`` may not even exist in UTC
    (9999-12-31T23:59-12:00 is in year 10000 there); one that gets recorded stops every view that
    turns it into microseconds, so it is refused before anything is recorded.
    """
    if EARLIEST.year < value.year < LATEST.year - 1:
        return value  # within a day of its UTC instant, so in range (the common case, cheap)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        msg = (
            f"{value.isoformat()} is out of range: instants lie from {EARLIEST.isoformat()} "
            f"to {LATEST.isoformat()} (excluded)"
        )
        raise ValueError(msg)
    return value


#: An aware instant within ``[EARLIEST, LATEST)``: when something happened or is due.
Instant = Annotated[AwareDatetime, AfterValidator(in_range)]


def aware_instant(value: object) -> datetime:
    """``value`` if it is an ``Instant`` (aware, in range), else a ``ValueError`` saying why.

    For the instants commands and queries take as arguments, checked before any maths on them.
    """
    if not isinstance(value, datetime):
        msg = f"must be a timezone-aware datetime, not {shown(value)}"
        raise ValueError(msg)  # noqa: TRY004 - callers turn it into a ValidationFailedError
    if not is_aware(value):
        msg = f"{value.isoformat()} is naive; give a timezone-aware datetime"
        raise ValueError(msg)
    return in_range(value)
