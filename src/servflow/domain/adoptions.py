"""Which SLA policy version measures what: adoptions, corrections, and what the desk knew when.

A store's policies are versioned data, adopted into its policy book (``SlaPolicyBook``, in
``servflow.domain.sla``): each adoption says which policy, from when it is in force, by whom
and when it was recorded. This module answers the questions asked of those adoptions: the
version in force at an instant (``policy_in_force``), the adoptions known at an instant
(``known_by``: bitemporal answers), which version measures each clock of a request when a
correction came while it ran (``clock_policies``: a clock stopped before it keeps its version),
and whether a policy given to a desk says what the adopted one says (``same_policy``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import NAMESPACE_URL, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, TypeAdapter

from servflow.domain.clocks import (
    STOPPED_STATES,
    Clock,
    SlaFact,
    SlaStatus,
    TimelineEntry,
    to_second,
)
from servflow.domain.policy import SlaPolicy

if TYPE_CHECKING:
    from servflow.domain.tracker import SlaTracker

__all__ = [
    "DEFAULT_POLICY",
    "SINCE_EVER",
    "SLA_POLICY_BOOK_ID",
    "ClockPolicies",
    "PolicyAdoption",
    "clock_policies",
    "is_correction",
    "known_by",
    "policy_at",
    "policy_in_force",
    "same_policy",
    "status_under",
    "timeline_under",
    "upcast_policy",
]


_BOOK_NAMESPACE = uuid5(NAMESPACE_URL, "https://servflow.dev/sla-policy-book")
#: The id of a store's one policy book: deterministic, so every process finds the same one.
SLA_POLICY_BOOK_ID = uuid5(_BOOK_NAMESPACE, "default")
#: The policy in force before any adoption (a store whose desks were never given ``sla=``).
DEFAULT_POLICY = SlaPolicy.standard()
#: ``effective_from`` of a first adoption made before any request was opened: it measures every
#: request, including history imported afterwards with older occurrence times.
SINCE_EVER = datetime(1, 1, 1, tzinfo=UTC)


class PolicyAdoption(BaseModel):
    """One adopted SLA policy version: what, from when, by whom, recorded when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: SlaPolicy
    effective_from: AwareDatetime
    adopted_by: str
    adopted_at: AwareDatetime
    #: The book's version that recorded it (its position in the book).
    sequence: int

    @property
    def label(self) -> str:
        """``name vN``, as answers print it."""
        return f"{self.policy.name} v{self.policy.version}"

    @classmethod
    def from_stored(cls, text: str | bytes) -> PolicyAdoption:
        """An adoption read back from its JSON (a projection's table of policies).

        A policy written before ``breach_is_final`` existed reads ``False``, as its event does.
        """
        data = _JSON_OBJECT.validate_json(text)
        upcast_policy(data.get("policy"))
        return cls.model_validate(data)


_JSON_OBJECT = TypeAdapter(dict[str, Any])


def upcast_policy(policy: object) -> None:
    """Complete a stored policy's data written before ``breach_is_final`` existed.

    Such a policy re-timed a breached clock when a request was reclassified: it reads
    ``breach_is_final = False`` and keeps doing so, so what it reported is never rewritten.
    """
    if isinstance(policy, dict):
        policy.setdefault("breach_is_final", False)


def is_correction(adoption: PolicyAdoption) -> bool:
    """Whether ``adoption`` was effective from before it was recorded (a correction).

    Only a correction can reach requests opened before it was recorded; an ordinary adoption is
    effective from (at least) the second after it was recorded.
    """
    return adoption.effective_from <= adoption.adopted_at


def known_by(adoptions: Sequence[PolicyAdoption], known_at: datetime) -> list[PolicyAdoption]:
    """The adoptions recorded at or before ``known_at``: what the desk knew then."""
    return [a for a in adoptions if a.adopted_at <= known_at]


def _superseded(
    adoption: PolicyAdoption, later: Sequence[PolicyAdoption], instant: datetime
) -> bool:
    """Whether a correction recorded after ``adoption`` replaces it for a request opened then."""
    return any(
        is_correction(other)
        and other.policy.name == adoption.policy.name
        and other.policy.version > adoption.policy.version
        and other.effective_from <= instant
        for other in later
    )


def policy_in_force(
    adoptions: Sequence[PolicyAdoption], instant: datetime
) -> PolicyAdoption | None:
    """The adoption in force at ``instant``: the one effective latest at or before it.

    A correction (see ``is_correction``) replaces the versions of its policy recorded before it,
    for the instants from its ``effective_from`` on. ``None`` when none was in force yet: the
    built-in ``DEFAULT_POLICY`` applies then.
    """
    chosen: PolicyAdoption | None = None
    corrections = any(is_correction(a) for a in adoptions)
    for index, adoption in enumerate(adoptions):
        if (
            adoption.effective_from <= instant
            and (chosen is None or adoption.effective_from >= chosen.effective_from)
            and not (corrections and _superseded(adoption, adoptions[index + 1 :], instant))
        ):
            chosen = adoption
    return chosen


def policy_at(adoptions: Sequence[PolicyAdoption], instant: datetime) -> SlaPolicy:
    """The policy that measures a request opened at ``instant``."""
    adoption = policy_in_force(adoptions, instant)
    return DEFAULT_POLICY if adoption is None else adoption.policy


class ClockPolicies(NamedTuple):
    """The policy version that measures each clock of one request.

    One version measures them all, unless a correction came while some had stopped: those
    keep the version they stopped under (verdicts are final), the others follow the correction.
    The resolution clock's version also decides deemed acceptance, and names the request's.
    """

    first_response: SlaPolicy
    resolution: SlaPolicy
    update: SlaPolicy

    @classmethod
    def of(cls, policy: SlaPolicy) -> ClockPolicies:
        """One policy for every clock."""
        return cls(policy, policy, policy)

    @property
    def single(self) -> bool:
        """Whether one policy measures every clock."""
        return self.first_response is self.resolution and self.update is self.resolution


_JUST_BEFORE = timedelta(microseconds=1)


def _recorded_at(fact: SlaFact) -> datetime:
    """When the desk knew of ``fact``: when it was recorded (to the second)."""
    return fact.at if fact.recorded is None else fact.recorded


def _stopped(
    tracker: SlaTracker,
    at: datetime,
    policy: SlaPolicy,
    name: str,
    statuses: dict[int, SlaStatus],
) -> bool:
    """Whether clock ``name`` had stopped by ``at`` under ``policy`` (statuses kept by policy)."""
    status = statuses.get(id(policy))
    if status is None:
        status = statuses[id(policy)] = tracker.status(at, policy)
    clock: Clock | None = getattr(status, name)
    return clock is not None and clock.state in STOPPED_STATES


def clock_policies(adoptions: Sequence[PolicyAdoption], tracker: SlaTracker) -> ClockPolicies:
    """The version measuring each clock of ``tracker``'s request, given the adoptions (in order).

    Adoptions are taken in the order they were recorded. Each one that changes the policy in
    force at the request's opening re-times every clock not yet stopped (met, missed,
    cancelled) at the instant it was recorded; a stopped clock keeps its version.
    """
    opened = tracker.opened_at
    if not any(is_correction(a) and a.adopted_at >= opened for a in adoptions):
        return ClockPolicies.of(policy_at(adoptions, opened))
    policies = ClockPolicies.of(DEFAULT_POLICY)
    for count, adoption in enumerate(adoptions, 1):
        chosen = policy_at(adoptions[:count], opened)
        if all(p is chosen for p in policies):
            continue
        # To the second, as the clocks are: what happened in the adoption's own second counts
        # as after it (a request opened then follows it, a clock stopped then is re-timed).
        recorded = to_second(adoption.adopted_at)
        if _recorded_at(tracker.facts[0]) >= recorded:
            policies = ClockPolicies.of(chosen)  # the desk did not know the request yet
            continue
        before = recorded - _JUST_BEFORE
        known = tracker
        if any(fact.recorded is not None for fact in tracker.facts):
            # What the desk knew then: facts recorded later (imported history) do not count.
            facts = tuple(f for f in tracker.facts if _recorded_at(f) < recorded)
            known = tracker._with_facts(facts)  # noqa: SLF001 - same module, a valid prefix set
        statuses: dict[int, SlaStatus] = {}
        policies = ClockPolicies(
            *(
                old if old is chosen or _stopped(known, before, old, name, statuses) else chosen
                for name, old in zip(ClockPolicies._fields, policies, strict=True)
            )
        )
    return policies


def status_under(
    policies: ClockPolicies,
    status: Callable[[SlaPolicy], SlaStatus],
) -> SlaStatus:
    """The request's status with each clock measured under its own version (``status(policy)``)."""
    whole = status(policies.resolution)
    if policies.single:
        return whole
    return whole.model_copy(
        update={
            "first_response": status(policies.first_response).first_response,
            "update": status(policies.update).update,
        }
    )


def timeline_under(
    tracker: SlaTracker, policies: ClockPolicies, until: datetime | None
) -> list[TimelineEntry]:
    """The timeline with each clock's entries under its own version."""
    if policies.single:
        return tracker.timeline(policies.resolution, until=until)
    entries: list[tuple[int, int, TimelineEntry]] = []
    for rank, (name, policy) in enumerate(zip(ClockPolicies._fields, policies, strict=True)):
        entries += [
            (index, rank, entry)
            for index, entry in enumerate(tracker.timeline(policy, until=until))
            if entry.clock == name
        ]
    entries.sort(key=lambda item: (item[2].at, item[1], item[0]))
    return [entry for _, _, entry in entries]


def same_policy(adopted: SlaPolicy, given: SlaPolicy) -> bool:
    """Whether ``given`` says what ``adopted`` says (compared as the JSON they are stored as).

    A ``given`` policy that leaves ``breach_is_final`` unset says nothing about it, so it
    matches an adopted policy that differs only there: a store whose policy was adopted before
    the option existed (it reads ``False``) keeps measuring with it when a desk is given the same
    definition again. Set it explicitly to change it, in a new version.
    """
    stored = adopted.model_dump(mode="json")
    other = given.model_dump(mode="json")
    if "breach_is_final" not in given.model_fields_set:
        other["breach_is_final"] = stored["breach_is_final"]
    return stored == other
