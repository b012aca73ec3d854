"""The checks on the arguments of the desk's queries, made where they enter.

Commands are checked by the domain (its value types, before anything is recorded). Queries take
filters, pages, files and callbacks the domain never sees, so they are checked here, before any
SQL is built: a refused argument is a ``ValidationFailedError`` naming the query and the
argument, never a driver's error (a list bound as a parameter, a NUL byte PostgreSQL cannot
take, an offset past 64 bits). Instants are checked by ``desk.clock``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from servflow.domain.base import refuse
from servflow.domain.calendar import validate_settings
from servflow.domain.values import MAX_NAME, storable
from servflow.errors import OccurrenceOutOfOrderError, shown

if TYPE_CHECKING:
    from servflow.domain.automation import AutomationRules

__all__ = [
    "MAX_INTEGER",
    "MAX_PAGE",
    "callback",
    "member",
    "members",
    "names",
    "not_after_now",
    "number",
    "page",
    "refuse",
    "rules",
    "text_filter",
    "whole",
]

#: The most rows a page holds.
MAX_PAGE = 10_000
#: The largest offset, position or version a query takes: the stores' integers have 64 bits.
MAX_INTEGER = 2**63 - 1

_F = TypeVar("_F", bound=Callable[..., object])
_E = TypeVar("_E", bound=StrEnum)


def text_filter(value: object, name: str, command: str, *, longest: int = MAX_NAME) -> str | None:
    """A text a query filters on (a team, an actor): a string any store can compare, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        refuse(command, name, f"must be a string or None, not {shown(value)}")
    if len(value) > longest:
        refuse(command, name, f"must be at most {longest} characters, not {len(value):,}")
    try:
        return storable(value)
    except ValueError as error:
        refuse(command, name, str(error))


def names(value: object, name: str, command: str) -> tuple[str, ...]:
    """One string or a collection of strings (event types, projection names), once each."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence | set | frozenset) or not all(
        isinstance(item, str) for item in value
    ):
        refuse(command, name, f"must be a string or a list of strings, not {shown(value)}")
    return tuple(dict.fromkeys(value))


def whole(value: object, name: str, command: str, *, low: int, high: int = MAX_INTEGER) -> int:
    """An ``int`` (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        refuse(
            command, name, f"must be a whole number from {low:,} to {high:,}, not {shown(value)}"
        )
    return value


def number(value: object, name: str, command: str, *, low: float, high: float) -> float:
    """A finite real number (not a bool) in ``[low, high]``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= value <= high  # first: an int too large for a float is simply out
        or not math.isfinite(value)
    ):
        refuse(command, name, f"must be a number from {low:g} to {high:g}, not {shown(value)}")
    return float(value)


def page(limit: object, offset: object, command: str, offset_name: str = "offset") -> None:
    """Refuse a page size outside ``1-MAX_PAGE`` or an offset (position) outside 64 bits."""
    whole(limit, "limit", command, low=1, high=MAX_PAGE)
    whole(offset, offset_name, command, low=0)


def callback(value: _F | None, name: str, command: str) -> _F | None:
    """A callable, or None."""
    if value is not None and not callable(value):
        refuse(command, name, f"must be callable or None, not {shown(value)}")
    return value


def member(enum: type[_E], value: object, name: str, command: str) -> _E:
    """The member of ``enum`` whose value ``value`` is (a member is its own value)."""
    if not isinstance(value, str) or value not in enum._value2member_map_:
        allowed = ", ".join(m.value for m in enum)
        refuse(command, name, f"must be one of {allowed}, not {shown(value)}")
    return enum(value)


def members(enum: type[_E], value: object, name: str, command: str) -> tuple[_E, ...]:
    """One member of ``enum``, or a collection of them (each once); None for none."""
    if value is None or isinstance(value, str):
        values: tuple[object, ...] = () if value is None else (value,)
    elif isinstance(value, Sequence | set | frozenset):
        values = tuple(value)
    else:
        refuse(command, name, f"must be a value or a list of values, not {shown(value)}")
    return tuple(dict.fromkeys(member(enum, v, name, command) for v in values))


def rules(value: object, name: str, command: str) -> AutomationRules:
    """Automation rules: a set, or a sequence of rules or their data (``ConfigurationError``)."""
    from servflow.domain.automation import AutomationRule, AutomationRules  # noqa: PLC0415

    if isinstance(value, AutomationRules):
        return value
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        refuse(command, name, f"must be AutomationRules or a list of rules, not {shown(value)}")
    items = [r.model_dump() if isinstance(r, AutomationRule) else r for r in value]
    if not all(isinstance(item, Mapping) for item in items):
        refuse(command, name, "each rule must be an AutomationRule or a mapping of its settings")
    return validate_settings(AutomationRules, {"rules": items}, what="automation rule")


def not_after_now(when: datetime, now: datetime, command: str) -> None:
    """Refuse an instant after the desk's clock: nothing is recorded before it happens."""
    if when > now:
        msg = (
            f"refused {command!r}: at {when.isoformat()} is after the desk's clock "
            f"({now.isoformat()}); events cannot be recorded before they happen"
        )
        raise OccurrenceOutOfOrderError(msg, command=command)
