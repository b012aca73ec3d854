"""SLA policies: which first-response and resolution targets apply to a request, as data.

A policy is versioned configuration, like its calendar: the version that applied is part of every
SLA answer, and a corrected policy is a new version rather than an edit of history. Targets are
amounts of *business* time, counted on the policy's :class:`~servflow.domain.calendar.Calendar`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from servflow.domain.calendar import Calendar, settings_from_file, validate_settings
from servflow.domain.values import Label
from servflow.errors import shown

__all__ = ["DEFAULT_HOLDS", "MAX_DURATION", "SlaPolicy", "SlaRule", "short_duration"]

_SHORT_DURATION = re.compile(r"(-?)(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_SHORT_UNITS = ("weeks", "days", "hours", "minutes", "seconds")
_SECONDS = re.compile(r"-?\d+(?:\.\d+)?")
# What pydantic's own timedelta parser reads from a string: ISO 8601 and "[D day[s], ]HH:MM:SS".
_PYDANTIC_DURATION = re.compile(r"-?P.*|.*:.*", re.IGNORECASE)


def short_duration(value: object) -> object:
    """Read "4h", "30m", "2d", "1h30m"-style durations; leave the forms pydantic reads to it."""
    if not isinstance(value, str):
        return value
    compact = value.replace(" ", "").lower()
    match = _SHORT_DURATION.fullmatch(compact)
    if match is not None and any(match.groups()[1:]):
        sign, *amounts = match.groups()
        duration = timedelta(
            **{
                unit: int(amount)
                for unit, amount in zip(_SHORT_UNITS, amounts, strict=True)
                if amount
            }
        )
        return -duration if sign else duration
    if _SECONDS.fullmatch(compact):
        return float(compact)
    if _PYDANTIC_DURATION.fullmatch(value.strip()):
        return value
    msg = f"expected a duration such as '4h', '1h30m', '2d', 'PT4H' or seconds, got {shown(value)}"
    raise ValueError(msg)


#: The longest target or silence a policy sets: added to any instant servflow accepts (before
#: year 9000), it still names a datetime.
MAX_DURATION = timedelta(days=365_000)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        text = f"-{-value}" if value < timedelta(0) else str(value)
        msg = f"must be a positive duration, got {text}"
        raise ValueError(msg)
    if value > MAX_DURATION:
        msg = f"must be at most {MAX_DURATION.days:,} days (about 999 years), got {value}"
        raise ValueError(msg)
    return value


class SlaRule(BaseModel):
    """The business-time targets for the requests a rule selects (``None`` selects any).

    ``priority``, ``kind`` and ``tier`` are compared with ``==``, so string-valued enums match
    their values. Durations accept timedeltas, seconds, ISO 8601 ("PT4H") and "4h" / "30m" /
    "2d" / "1h30m". ``update`` (optional) is the longest the customer may go without hearing
    from the desk once it first responded: the update clock, which restarts at every
    customer-visible update; without it the requests the rule selects have no update clock.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: Label | None = None
    kind: Label | None = None
    tier: Label | None = None
    first_response: timedelta
    resolution: timedelta
    name: Label | None = None
    #: Since servflow 0.2: rules stored before have none (their requests have no update clock).
    update: timedelta | None = None

    @field_validator("first_response", "resolution", "update", mode="before")
    @classmethod
    def _read_short_duration(cls, value: object) -> object:
        return short_duration(value)

    @field_validator("first_response", "resolution", "update")
    @classmethod
    def _positive_target(cls, value: timedelta | None) -> timedelta | None:
        return None if value is None else _positive(value)

    def matches(self, *, priority: str | None, kind: str | None, tier: str | None) -> bool:
        """Tell whether this rule selects a request with this classification and customer tier."""
        return (
            (self.priority is None or self.priority == priority)
            and (self.kind is None or self.kind == kind)
            and (self.tier is None or self.tier == tier)
        )


#: The hold reasons a policy knows unless it says otherwise, and whether each pauses the SLA
#: clocks. Only the customer's does: a clock measures the time the provider answers for, and
#: waiting on its own vendors, implementers, change windows or problem management is the
#: provider's time (JSM's default "pause on: waiting for customer"; RT and Zammad pause only on
#: the states a desk lists). A desk that agreed otherwise with its customers says so in ``holds``.
DEFAULT_HOLDS: Mapping[str, bool] = MappingProxyType(
    {
        "customer": True,
        "vendor": False,
        "implementation": False,
        "change_window": False,
        "problem": False,
        "other": False,
    }
)


class HoldCatalogue(dict[str, bool]):
    """A policy's hold reasons and whether each pauses the clocks.

    A dict, hashable like the frozen policy holding it (never changed once validated).
    """

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))


#: Used when no rule matches, including before classification: one 8-hour business day to a first
#: response and one 40-hour business week to resolution (five days of 09:00-17:00).
_DEFAULT_RULE = SlaRule(
    name="default", first_response=timedelta(hours=8), resolution=timedelta(hours=40)
)


#: ``SlaPolicy.targets_for`` answers, by policy object and classification.
_TARGETS: dict[tuple[int, str | None, str | None, str | None], tuple[SlaPolicy, SlaRule]] = {}
_MAX_TARGETS = 4096
#: ``SlaPolicy.measures_updates`` answers, by policy object (asked for every status measured).
_UPDATES: dict[int, tuple[SlaPolicy, bool]] = {}


class SlaPolicy(BaseModel):
    """The versioned SLA configuration a desk applies: a calendar, rules and warning thresholds.

    ``rules`` are tried in order and the first that matches wins; ``default`` applies when none
    does (also before a request is classified). A clock warns once ``warn_at`` of its target is
    used. ``deemed_acceptance_after`` is the business time of customer silence, while a request
    awaits acceptance, after which ``system`` records a deemed acceptance (``None``, or ``false`` /
    ``"never"`` in a file, disables it).

    ``holds`` is the desk's catalogue of hold reasons and, per reason, whether a hold for it
    pauses the SLA clocks (default ``DEFAULT_HOLDS``: only ``customer`` does; ``customer`` is
    always in it and always pauses). The answer is recorded with each hold, so a later
    version of the catalogue changes only later holds. ``reopen_window`` is how long after its
    closure a request may be reopened (``None``, or ``"forever"`` in a file: any time; zero:
    never), in wall-clock time from the closure's ``occurred_at``.

    ``breach_is_final`` (default ``True``): once a clock has breached under the target then in
    force, a later reclassification does not change that target, so a downgrade never
    un-breaches it (it stays breached, and is missed when met). ``False`` re-computes the due
    instant from the opening under the latest classification whatever happened before, as most
    helpdesks do. Policies stored before the option existed read ``False``: their answers stay as
    reported.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Label = Field(default="default", min_length=1)
    #: Stored in the SLA view's 32-bit INTEGER columns.
    version: int = Field(default=1, ge=1, le=2**31 - 1)
    calendar: Calendar
    rules: tuple[SlaRule, ...] = ()
    default: SlaRule = _DEFAULT_RULE
    warn_at: float = Field(default=0.8, gt=0, le=1)
    deemed_acceptance_after: timedelta | None = timedelta(hours=40)
    holds: Mapping[Label, bool] = Field(default_factory=lambda: HoldCatalogue(DEFAULT_HOLDS))
    reopen_window: timedelta | None = None
    #: Since servflow 0.2 (``SlaPolicyBook.PolicyAdopted`` v2); older stored policies read False.
    breach_is_final: bool = True

    @field_validator("holds")
    @classmethod
    def _customer_pauses(cls, value: Mapping[str, bool]) -> Mapping[str, bool]:
        if value.get("customer", True) is not True:
            msg = "the hold on the customer always pauses the SLA clocks (customer = true)"
            raise ValueError(msg)
        bad = [name for name in value if not name.strip() or name != name.strip()]
        if bad:
            msg = f"hold reasons must be names without surrounding blanks, not {bad[0]!r}"
            raise ValueError(msg)
        return HoldCatalogue({"customer": True, **value})

    @field_validator("reopen_window", mode="before")
    @classmethod
    def _read_window(cls, value: object) -> object:
        # TOML has no null: "forever" (or ``false``) is no limit; 0 / "never" forbids reopening.
        if isinstance(value, str) and value.strip().lower() == "never":
            return timedelta(0)
        if value is False or (isinstance(value, str) and value.strip().lower() == "forever"):
            return None
        return short_duration(value)

    @field_validator("reopen_window")
    @classmethod
    def _window_in_range(cls, value: timedelta | None) -> timedelta | None:
        if value is None or not value:
            return value
        return _positive(value)

    @field_validator("deemed_acceptance_after", mode="before")
    @classmethod
    def _read_silence(cls, value: object) -> object:
        # TOML has no null: ``false`` or "never" switch deemed acceptance off there.
        if value is False or (isinstance(value, str) and value.strip().lower() == "never"):
            return None
        return short_duration(value)

    @field_validator("deemed_acceptance_after")
    @classmethod
    def _positive_silence(cls, value: timedelta | None) -> timedelta | None:
        return None if value is None else _positive(value)

    @classmethod
    def standard(cls) -> Self:
        """Build a reasonable starting policy: 24x7 in UTC, targets by priority alone.

        urgent 1 h / 4 h, high 4 h / 24 h, normal 8 h / 40 h, low 24 h / 120 h (first response /
        resolution); anything else, and an unclassified request, gets the 8 h / 40 h default.
        """
        targets = {"urgent": (1, 4), "high": (4, 24), "normal": (8, 40), "low": (24, 120)}
        return cls(
            name="standard",
            calendar=Calendar.always_open(),
            rules=tuple(
                SlaRule(
                    name=priority,
                    priority=priority,
                    first_response=timedelta(hours=first_response),
                    resolution=timedelta(hours=resolution),
                )
                for priority, (first_response, resolution) in targets.items()
            ),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Self:
        """Load a policy from configuration data, reporting problems as ConfigurationError."""
        return validate_settings(cls, data, what="SLA policy")

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Load a policy from a ``.toml``, ``.json`` or ``.yaml`` file (``servflow.settings``)."""
        return settings_from_file(cls, path, what="SLA policy")

    def hold_pauses(self, reason: str) -> bool | None:
        """Whether a hold for ``reason`` pauses the SLA clocks; None if the catalogue lacks it."""
        return self.holds.get(reason)

    @property
    def measures_updates(self) -> bool:
        """Whether any of its rules (or its default) sets an update target."""
        found = _UPDATES.get(id(self))
        if found is not None and found[0] is self:
            return found[1]
        answer = self.default.update is not None or any(r.update is not None for r in self.rules)
        if len(_UPDATES) >= _MAX_TARGETS:
            _UPDATES.clear()
        _UPDATES[id(self)] = (self, answer)
        return answer

    def targets_for(self, *, priority: str | None, kind: str | None, tier: str | None) -> SlaRule:
        """Pick the targets for a request: the first matching rule, else the default."""
        # Asked for every clock of every request measured: remembered per policy object (a
        # frozen value) and classification, of which there are a handful.
        key = (id(self), priority, kind, tier)
        found = _TARGETS.get(key)
        if found is not None and found[0] is self:
            return found[1]
        if len(_TARGETS) >= _MAX_TARGETS:
            _TARGETS.clear()
        rule = self._first_match(priority=priority, kind=kind, tier=tier)
        _TARGETS[key] = (self, rule)
        return rule

    def _first_match(self, *, priority: str | None, kind: str | None, tier: str | None) -> SlaRule:
        for rule in self.rules:
            if rule.matches(priority=priority, kind=kind, tier=tier):
                return rule
        return self.default
