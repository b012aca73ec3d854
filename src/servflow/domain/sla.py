"""SLA clocks: the first-response and resolution timers of a request, folded from its events.

An :class:`SlaTracker` keeps the *facts* a request's clocks depend on (its opening, its
classifications, pauses, responses, completions, reopenings, cancellation), each with the
instant it happened, and never a computed due time. So :meth:`SlaTracker.status` is a pure
function of (the facts up to ``at``, the policy, its calendar, ``at``): an auditor gets the same
answer at any later date, and a what-if under another policy is the same call with another policy.

Rules (``docs/explanation/sla.md`` tells them with a worked example):

* Both clocks start at ``Opened``. Their targets come from the *latest* classification (before
  the first one, from the policy's ``default``) and always count from the opening, so a
  reclassification recomputes the due instants. A clock that has stopped keeps the target in
  force when it stopped. Under ``breach_is_final`` (the default) a clock that breached keeps
  the target it breached under too: a later reclassification does not un-breach it, also
  across a reopening (off, the latest classification re-times it from the opening).
* The first response is met by the first ``Probed``, ``ActionTaken``, ``ProgressReported`` or
  ``Completed``; the resolution by a ``Completed`` whose outcome is resolved or follow_up (a
  transfer does not stop it).
* Business time on a pausing hold does not count: from ``WaitingOnCustomer`` (always) or a
  ``Held`` whose ``pauses`` the desk's catalogue set, to the end of the hold (``CustomerResponded``,
  ``Resumed``, ``Unassigned``, ``Completed``, ``Cancelled``, ``Closed``, or a ``Held`` that does
  not pause). After ``Reopened`` the resolution clock runs
  again, un-met, and the time spent awaiting acceptance (completion to reopening) does not
  count. ``Cancelled`` stops the clocks that are still running (state cancelled, neither met nor
  breached); a clock already met (or missed) keeps that outcome.
* ``due`` is the earliest instant at which counted business time reaches the target; a clock is
  breached once ``at`` is past it, also outside business hours and while paused. Met exactly at
  the due instant is met; met later is missed.
* Arithmetic is to the second: event instants and ``at`` are truncated to the whole second (UTC)
  before anything else, targets are rounded up to whole seconds. Events with equal instants keep
  their order in the log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from servflow.domain.adoptions import (
    DEFAULT_POLICY,
    SINCE_EVER,
    SLA_POLICY_BOOK_ID,
    ClockPolicies,
    PolicyAdoption,
    clock_policies,
    is_correction,
    known_by,
    policy_at,
    policy_in_force,
    same_policy,
    status_under,
    timeline_under,
    upcast_policy,
)
from servflow.domain.base import EventSourced, refused
from servflow.domain.clocks import (
    CLOCK_NAMES,
    STOPPED_STATES,
    Clock,
    ClockName,
    ClockState,
    SlaFact,
    SlaStatus,
    TimelineEntry,
    TimelineKind,
    UpdateClock,
    to_second,
)
from servflow.domain.policy import SlaPolicy
from servflow.domain.request import Moment
from servflow.domain.tracker import SlaTracker
from servflow.domain.values import Actor
from servflow.errors import ConfigurationError

__all__ = [
    "CLOCK_NAMES",
    "DEFAULT_POLICY",
    "SINCE_EVER",
    "SLA_POLICY_BOOK_ID",
    "STOPPED_STATES",
    "Clock",
    "ClockName",
    "ClockPolicies",
    "ClockState",
    "DueAction",
    "DueActionKind",
    "PolicyAdoption",
    "SlaFact",
    "SlaPolicyBook",
    "SlaStatus",
    "SlaTracker",
    "TimelineEntry",
    "TimelineKind",
    "UpdateClock",
    "WhatIfFlip",
    "clock_policies",
    "compare",
    "is_correction",
    "known_by",
    "policy_at",
    "policy_in_force",
    "same_policy",
    "status_under",
    "timeline_under",
    "to_second",
    "upcast_policy",
]


# -- versioned policies -------------------------------------------------------------------------


class SlaPolicyBook(EventSourced):
    """The versioned SLA policies a store adopted, in the log like everything else.

    Answers name the policy version they used; a request is measured with the version in force
    at its opening, so adopting a new version never changes an answer already given.
    """

    class Event(EventSourced.Event):
        """Base of the book's events: who recorded it and when it happened."""

        actor: Actor
        occurred_at: AwareDatetime

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401 - the library's signature
            """Fold this event into the book."""
            self.apply_to(aggregate)

        def apply_to(self, book: SlaPolicyBook) -> None:
            """Assign the event's state changes; never raise (it runs on every replay)."""

    class Started(Event, EventSourced.Created):
        """The store's policy book was created (with its first adoption)."""

        def apply_to(self, book: SlaPolicyBook) -> None:  # noqa: D102
            book.adoptions = []

    class PolicyAdopted(Event):
        """An SLA policy version was adopted, in force from ``effective_from``."""

        policy: SlaPolicy
        effective_from: AwareDatetime
        #: 2: the policy says ``breach_is_final``; a policy adopted before reads ``False``.
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A policy adopted before breaches were final re-timed breached clocks: still so."""
            upcast_policy(state.get("policy"))

        def apply_to(self, book: SlaPolicyBook) -> None:  # noqa: D102
            book.adoptions.append(
                PolicyAdoption(
                    policy=self.policy,
                    effective_from=self.effective_from,
                    adopted_by=self.actor,
                    adopted_at=self.occurred_at,
                    sequence=self.originator_version,
                )
            )

    # Declared for type checkers only (see ServiceRequest): the events assign it.
    if TYPE_CHECKING:
        adoptions: list[PolicyAdoption]

    @classmethod
    def start(cls, *, actor: str, at: Moment) -> Self:
        """Create a store's (empty) policy book."""
        try:
            return cls._create(
                cls.Started,
                id=SLA_POLICY_BOOK_ID,
                timestamp=at.recorded_at,
                occurred_at=at.occurred_at,
                actor=actor,
            )
        except ValidationError as error:
            raise refused(error, "adopt_policy") from None

    @property
    def latest(self) -> PolicyAdoption | None:
        """The adoption recorded last."""
        return self.adoptions[-1] if self.adoptions else None

    def check(self, policy: SlaPolicy) -> None:
        """Refuse a policy (or calendar) reusing an adopted name and version, or going back."""
        for adoption in self.adoptions:
            old = adoption.policy
            calendar = policy.calendar
            if (
                old.calendar.name == calendar.name
                and old.calendar.version == calendar.version
                and old.calendar.model_dump(mode="json") != calendar.model_dump(mode="json")
            ):
                msg = (
                    f"calendar {calendar.name!r} v{calendar.version} was already adopted with "
                    "different content; a corrected calendar (a forgotten holiday) is a new "
                    "version: give it a higher version"
                )
                raise ConfigurationError(msg)
            if old.name != policy.name:
                continue
            if old.version == policy.version and not same_policy(old, policy):
                msg = (
                    f"SLA policy {policy.name!r} v{policy.version} was already adopted with "
                    "different content; adopted versions are history and never change: give "
                    f"the corrected policy a new version (version={self._next(policy.name)})"
                )
                raise ConfigurationError(msg)
            if old.version > policy.version:
                msg = (
                    f"SLA policy {policy.name!r} v{policy.version} is older than the adopted "
                    f"v{old.version}; to go back to it, adopt its content as "
                    f"version={self._next(policy.name)}"
                )
                raise ConfigurationError(msg)

    def _next(self, name: str) -> int:
        versions = [a.policy.version for a in self.adoptions if a.policy.name == name]
        return max(versions, default=0) + 1

    def adopt(
        self, policy: SlaPolicy, *, effective_from: datetime, actor: str, at: Moment
    ) -> PolicyAdoption:
        """Record the adoption of ``policy`` from ``effective_from`` (checked with ``check``)."""
        self.check(policy)
        try:
            self.trigger_event(
                self.PolicyAdopted,
                timestamp=at.recorded_at,
                occurred_at=at.occurred_at,
                actor=actor,
                policy=policy,
                effective_from=effective_from,
            )
        except ValidationError as error:
            raise refused(error, "adopt_policy") from None
        return self.adoptions[-1]

    def in_force(self, instant: datetime) -> PolicyAdoption | None:
        """The adoption in force at ``instant`` (see ``policy_in_force``)."""
        return policy_in_force(self.adoptions, to_second(instant))

    def policy_at(self, instant: datetime) -> SlaPolicy:
        """The policy that measures a request opened at ``instant``."""
        return policy_at(self.adoptions, to_second(instant))


# -- what-if and time-based actions ---------------------------------------------------------------


class WhatIfFlip(BaseModel):
    """A clock whose outcome or due instant would differ under a candidate policy.

    ``flipped`` says the state differs (met and missed, breached and running, ...); without it
    only the due instant moves, by ``due_delta``. Nothing is rewritten.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: UUID
    ticket_code: str
    clock: ClockName
    before: ClockState
    after: ClockState
    #: Whether the state differs; False when only the due instant moves.
    flipped: bool
    due_before: AwareDatetime | None
    due_after: AwareDatetime | None
    #: ``due_after - due_before`` (negative: the candidate is stricter); None if either is unknown.
    due_delta: timedelta | None
    #: The policies compared, ``name vN``: the one that measured the request, and the candidate.
    policy_before: str
    policy_after: str
    #: Their calendars, ``name vN`` (a corrected calendar is a new calendar version).
    calendar_before: str
    calendar_after: str


def compare(
    tracker: SlaTracker, at: datetime, current: SlaPolicy, candidate: SlaPolicy
) -> list[WhatIfFlip]:
    """The clocks of one request whose state or due instant as of ``at`` differ between policies."""
    before = tracker.status(at, current)
    after = tracker.status(at, candidate)
    flips: list[WhatIfFlip] = []
    pairs: list[tuple[Clock, Clock]] = [
        (before.first_response, after.first_response),
        (before.resolution, after.resolution),
    ]
    if before.update is not None and after.update is not None:
        pairs.append((before.update, after.update))
    for old, new in pairs:
        if old.state is new.state and old.due == new.due:
            continue
        delta = None if old.due is None or new.due is None else new.due - old.due
        flips.append(
            WhatIfFlip(
                request_id=tracker.request_id,
                ticket_code=tracker.ticket_code,
                clock=old.name,
                before=old.state,
                after=new.state,
                flipped=old.state is not new.state,
                due_before=old.due,
                due_after=new.due,
                due_delta=delta,
                policy_before=f"{current.name} v{current.version}",
                policy_after=f"{candidate.name} v{candidate.version}",
                calendar_before=f"{current.calendar.name} v{current.calendar.version}",
                calendar_after=f"{candidate.calendar.name} v{candidate.calendar.version}",
            )
        )
    return flips


#: The time-based events ``ServiceDesk.run_due`` records.
DueActionKind = Literal["follow_up_due", "deemed_acceptance"]


class DueAction(BaseModel):
    """A time-based event recorded by ``system`` because its moment had come."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: UUID
    ticket_code: str
    action: DueActionKind
    #: When the moment came (the event's ``occurred_at``), not when it was recorded.
    occurred_at: AwareDatetime
