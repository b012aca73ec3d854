"""Automation rules, as data: when a condition holds and the request passes, act once.

A rule reads "when <condition> and <filters> then <actions>":

- conditions (``when``): an SLA clock at risk (``sla = "warning"``), past due and still running
  (``"breached"``) or stopped late (``"missed"``), optionally of one clock; a hold lasting
  longer than a duration (``held_for = "4h"``, optionally for one reason; waits on the
  customer are holds too); a reopening (``reopened = true``);
- filters (``where``): teams, priorities, tiers, kinds (empty: any);
- actions (``then``): notify a team (a message the outbox owes the team), reassign to a team,
  raise the priority to at least a level, log a non-conformity.

Each firing is recorded on the request by ``system`` as ``AutomationFired`` (the rule's name,
the condition that held and its key, the actions taken and those that did not apply), followed
in the same transaction by the events of its actions, also by ``system``: an auditor reads why
a request was reassigned from the log. The condition's key (``condition_key``) names one
occurrence of the condition (a clock's breach in one cycle, one hold, one reopening), so a rule
fires once per occurrence, whatever runs it and however often.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from servflow.domain.calendar import settings_from_file
from servflow.domain.clocks import ClockName
from servflow.domain.policy import MAX_DURATION, short_duration
from servflow.domain.values import Kind, Priority, Severity, ShortText, Text, Tier

__all__ = [
    "AutomationRule",
    "AutomationRules",
    "NonConformityAction",
    "RuleActions",
    "RuleCondition",
    "RuleFilter",
    "SlaTrigger",
]

#: The states of an SLA clock a rule may react to.
SlaTrigger = Literal["warning", "breached", "missed"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
#: The most rules one set holds (each run looks at every rule's candidates).
MAX_RULES = 200


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleCondition(_Data):
    """``when``: exactly one of ``sla``, ``held_for`` or ``reopened``."""

    #: An SLA clock's state: ``warning`` (at risk), ``breached`` (past due, running) or
    #: ``missed`` (stopped after its due instant).
    sla: SlaTrigger | None = None
    #: Only this clock (default: any of first response, resolution, update).
    clock: ClockName | None = None
    #: A hold (or wait on the customer) lasting longer than this (wall-clock time).
    held_for: timedelta | None = None
    #: Only holds for this reason (``customer`` for a wait on the customer).
    reason: ShortText | None = None
    #: The request was reopened (fires once per reopening, while the request is open).
    reopened: bool = False

    @field_validator("held_for", mode="before")
    @classmethod
    def _read_duration(cls, value: object) -> object:
        return short_duration(value)

    @field_validator("held_for")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(0) < value <= MAX_DURATION:
            msg = f"must be a positive duration of at most {MAX_DURATION.days:,} days"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> Self:
        chosen = [
            name
            for name, given in (
                ("sla", self.sla is not None),
                ("held_for", self.held_for is not None),
                ("reopened", self.reopened),
            )
            if given
        ]
        if len(chosen) != 1:
            msg = (
                "give exactly one condition: sla = 'warning' | 'breached' | 'missed', "
                f"held_for = '<duration>' or reopened = true (got {', '.join(chosen) or 'none'})"
            )
            raise ValueError(msg)
        if self.clock is not None and self.sla is None:
            msg = "'clock' goes with an 'sla' condition"
            raise ValueError(msg)
        if self.reason is not None and self.held_for is None:
            msg = "'reason' goes with a 'held_for' condition"
            raise ValueError(msg)
        return self

    def describe(self) -> str:
        """The condition as a person reads it (``resolution clock breached``)."""
        if self.sla is not None:
            clock = f"{self.clock.replace('_', ' ')} clock" if self.clock else "an SLA clock"
            return f"{clock} {'at risk' if self.sla == 'warning' else self.sla}"
        if self.held_for is not None:
            why = f" ({self.reason})" if self.reason else ""
            return f"held{why} longer than {_duration(self.held_for)}"
        return "reopened"


class RuleFilter(_Data):
    """``where``: which requests a rule acts on (each list empty: any)."""

    teams: tuple[ShortText, ...] = ()
    priorities: tuple[Priority, ...] = ()
    tiers: tuple[Tier, ...] = ()
    kinds: tuple[Kind, ...] = ()

    def admits(
        self, *, team: str | None, priority: Priority | None, tier: Tier, kind: Kind
    ) -> bool:
        """Whether a request with these facts passes (an unassigned one passes no team list)."""
        return (
            (not self.teams or team in self.teams)
            and (not self.priorities or priority in self.priorities)
            and (not self.tiers or tier in self.tiers)
            and (not self.kinds or kind in self.kinds)
        )


class NonConformityAction(_Data):
    """A non-conformity to log (its description defaults to the rule and its condition)."""

    severity: Severity
    category: ShortText | None = None
    description: Text | None = None


class RuleActions(_Data):
    """``then``: at least one action; they run in this order."""

    #: Tell this team (the outbox owes it a ``team_alert`` message).
    notify: ShortText | None = None
    #: Give the request to this team (no agent): a transfer, recorded as ``Assigned``.
    reassign: ShortText | None = None
    #: Raise the priority to at least this level (never lowers it): ``Classified``.
    raise_priority: Priority | None = None
    #: Log a non-conformity: ``NonConformityLogged``.
    nonconformity: NonConformityAction | None = None

    @model_validator(mode="after")
    def _some_action(self) -> Self:
        if (
            self.notify is None
            and self.reassign is None
            and self.raise_priority is None
            and self.nonconformity is None
        ):
            msg = "give at least one action: notify, reassign, raise_priority or nonconformity"
            raise ValueError(msg)
        return self


class AutomationRule(_Data):
    """One rule: a name (kept in every event it causes), a condition, filters, actions."""

    name: str
    description: Text | None = None
    when: RuleCondition
    where: RuleFilter = Field(default_factory=RuleFilter)
    then: RuleActions

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            msg = (
                "must be 1-80 characters of lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit (it is kept in the events the rule causes)"
            )
            raise ValueError(msg)
        return value


class AutomationRules(_Data):
    """A desk's rules (names unique), as a file holds them: ``[[rules]]`` tables.

    ``max_age``: a reopening, or a clock stopped late (``missed``), older than this when a
    run first sees it does not fire: rules act on what is happening, not on history (running
    clocks and holds are current by nature).
    """

    rules: tuple[AutomationRule, ...] = Field(default=(), max_length=MAX_RULES)
    max_age: timedelta = timedelta(days=7)

    @field_validator("max_age", mode="before")
    @classmethod
    def _read_age(cls, value: object) -> object:
        return short_duration(value)

    @field_validator("max_age")
    @classmethod
    def _positive_age(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= MAX_DURATION:
            msg = f"must be a positive duration of at most {MAX_DURATION.days:,} days"
            raise ValueError(msg)
        return value

    @field_validator("rules")
    @classmethod
    def _unique(cls, value: tuple[AutomationRule, ...]) -> tuple[AutomationRule, ...]:
        seen: set[str] = set()
        for rule in value:
            if rule.name in seen:
                msg = f"two rules are named {rule.name!r}: a name says which rule acted"
                raise ValueError(msg)
            seen.add(rule.name)
        return value

    @classmethod
    def of(cls, rules: AutomationRules | Sequence[AutomationRule | Mapping[str, Any]]) -> Self:
        """Rules from a set, or a list of rules (or their data)."""
        if isinstance(rules, cls):
            return rules
        return cls.model_validate({"rules": list(rules)})

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Load rules from a ``.toml``, ``.json`` or ``.yaml`` file (``ConfigurationError``)."""
        return settings_from_file(cls, path, what="automation rules")


def condition_key(kind: str, *parts: object) -> str:
    """The key of one occurrence of a condition (``sla:breached:resolution:0``)."""
    return ":".join((kind, *(str(p) for p in parts)))


def _duration(value: timedelta) -> str:
    days, rest = divmod(value, timedelta(days=1))
    hours, rest = divmod(rest, timedelta(hours=1))
    minutes = rest // timedelta(minutes=1)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes else []
    return "".join(parts) or f"{value.total_seconds():g}s"
