"""The SLA tracker: a request's clock facts, folded from its events, and the clocks they give.

``SlaTracker.fold`` keeps what the clocks need of each event (see ``servflow.domain.sla`` for
the rules the clocks follow); ``status``, ``timeline`` and the update clock measure them under
a policy, to the second, in the policy's business calendar. ``running_state`` decides a running
clock's state from its due and warning instants.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow.domain.clocks import (
    KEPT,
    RESPONSES,
    UPDATES,
    ZERO,
    Clock,
    ClockFacts,
    ClockName,
    ClockState,
    SlaFact,
    SlaStatus,
    Span,
    TimelineEntry,
    UpdateClock,
    add_business,
    aware,
    counted_segments,
    cycle_segments,
    reach,
    stop_kind,
    to_second,
    track_pause,
    warn_amount,
    whole_seconds,
)
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.request import ServiceRequest
from servflow.domain.timeline import event_entries, time_entries, update_entries
from servflow.domain.values import Outcome, Visibility
from servflow.errors import ValidationFailedError

__all__ = ["SlaTracker", "running_state"]


#: Responses that are no customer-visible update: after the first one they tell no clock anything.
_RESPONSES_ONLY = RESPONSES - UPDATES


def _kept_as(event: object, name: str, *, by_customer: bool) -> str | None:
    """The name a tracker keeps an event under; None when it tells the clocks nothing.

    An internal note tells the customer nothing; a note the customer wrote answers nobody (it
    is kept as their message).
    """
    if isinstance(event, ServiceRequest.NoteAdded):
        if event.visibility is not Visibility.CUSTOMER:
            return None
        return "CustomerMessaged" if by_customer else name
    return name if name in KEPT or by_customer else None


def _recorded(event: ServiceRequest.Event, at: datetime) -> datetime | None:
    """The second ``event`` was recorded in, where that is after ``at`` (else None)."""
    recorded = to_second(event.timestamp)
    return recorded if recorded > at else None


class SlaTracker(BaseModel):
    """The SLA-relevant facts of one request, folded from its events in log order.

    It is a plain serialisable value (the SLA projection stores it as JSON): ``fold`` adds an
    event, ``status`` answers for any instant and policy, ``timeline`` explains each clock.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: UUID
    ticket_code: str
    tier: str
    kind: str
    opened_at: AwareDatetime
    facts: tuple[SlaFact, ...]

    # -- folding ----------------------------------------------------------------------------

    @classmethod
    def fold(cls, tracker: SlaTracker | None, event: object) -> SlaTracker | None:
        """The tracker after ``event``; the same object for events it does not keep."""
        if not isinstance(event, ServiceRequest.Event):
            return tracker
        name = type(event).__name__
        if tracker is None or isinstance(event, ServiceRequest.Opened):
            if tracker is not None or not isinstance(event, ServiceRequest.Opened):
                return tracker  # nothing before the opening; one opening per request
            opened = to_second(event.occurred_at)
            return cls(
                request_id=event.originator_id,
                ticket_code=event.ticket_code,
                tier=event.customer.tier.value,
                kind=event.kind.value,
                opened_at=opened,
                facts=(
                    SlaFact(
                        event=name,
                        version=event.originator_version,
                        at=opened,
                        recorded=_recorded(event, opened),
                    ),
                ),
            )
        by_customer = event.actor.startswith("customer:") or isinstance(
            event, ServiceRequest.CustomerMessaged
        )
        kept = _kept_as(event, name, by_customer=by_customer)
        if kept is None:
            return tracker
        name = kept
        if name in _RESPONSES_ONLY and tracker.responded:
            return tracker  # only the first response matters (the others are no update)
        # Occurrence times never go backwards within a request (the aggregate refuses it);
        # clamping keeps the facts ordered even for a log written without that guard.
        at = max(to_second(event.occurred_at), tracker.facts[-1].at)
        fields: dict[str, Any] = {}
        if isinstance(event, ServiceRequest.Classified):
            fields = {"priority": event.priority.value, "kind": event.kind.value}
        elif isinstance(event, ServiceRequest.Held):
            fields = {"pauses": event.pauses}
        elif isinstance(event, ServiceRequest.WaitingOnCustomer) and event.responds:
            fields = {"responds": True}
        elif isinstance(event, ServiceRequest.Completed):
            follow_up = event.follow_up_at
            fields = {
                "outcome": event.outcome.value,
                "follow_up_at": None if follow_up is None else follow_up.astimezone(UTC),
            }
        fact = SlaFact(
            event=name,
            version=event.originator_version,
            at=at,
            by_customer=by_customer,
            recorded=_recorded(event, at),
            **fields,
        )
        return tracker._with_facts((*tracker.facts, fact))  # noqa: SLF001 - its own class

    def _with_facts(self, facts: tuple[SlaFact, ...]) -> SlaTracker:
        """A copy with other facts (every other field is the same, already validated).

        What ``model_copy(update=...)`` does, without its general bookkeeping, which cost more
        than the rest of a fold: the copy shares the (immutable) values of this one.
        """
        copy = SlaTracker.__new__(SlaTracker)
        values = dict(self.__dict__)
        values["facts"] = facts
        object.__setattr__(copy, "__dict__", values)
        object.__setattr__(copy, "__pydantic_fields_set__", self.__pydantic_fields_set__)
        object.__setattr__(copy, "__pydantic_extra__", None)
        object.__setattr__(copy, "__pydantic_private__", None)
        return copy

    @property
    def responded(self) -> bool:
        """Whether a first response (or a completion) has been recorded."""
        return any(fact.event in RESPONSES or fact.responds for fact in self.facts)

    # -- facts a desk acts on -----------------------------------------------------------------

    @property
    def last_at(self) -> datetime:
        """The instant of the last fact: clocks change only with time after it."""
        return self.facts[-1].at

    def _completion(self) -> SlaFact | None:
        """The completion awaiting acceptance (resolved or follow_up, not reopened), if any."""
        pending: SlaFact | None = None
        for fact in self.facts:
            if fact.event == "Completed":
                pending = None if fact.outcome == Outcome.TRANSFERRED else fact
            elif fact.event in {"Reopened", "CustomerAccepted", "Closed", "Cancelled"}:
                pending = None
        return pending

    @property
    def awaiting_acceptance(self) -> bool:
        """Whether the request is completed and waits for the customer's acceptance."""
        return self._completion() is not None

    @property
    def completed_at(self) -> datetime | None:
        """When the completion awaiting acceptance happened, if one does."""
        completion = self._completion()
        return None if completion is None else completion.at

    @property
    def silence_from(self) -> datetime | None:
        """Since when the customer has been silent while the request awaits acceptance."""
        completion = self._completion()
        if completion is None:
            return None
        start = completion.at
        for fact in self.facts:
            if fact.by_customer and fact.at > start:
                start = fact.at
        return start

    @property
    def follow_up_at(self) -> datetime | None:
        """The follow-up date of the completion awaiting acceptance, if it has one."""
        completion = self._completion()
        if completion is None or completion.outcome != Outcome.FOLLOW_UP:
            return None
        return completion.follow_up_at

    @property
    def follow_up_due(self) -> bool:
        """Whether the follow-up of the completion awaiting acceptance was marked due."""
        completion = self._completion()
        if completion is None:
            return False
        index = self.facts.index(completion)
        return any(fact.event == "FollowUpDue" for fact in self.facts[index:])

    def deemed_acceptance_at(self, policy: SlaPolicy) -> datetime | None:
        """When silence while awaiting acceptance becomes a deemed acceptance under ``policy``."""
        start = self.silence_from
        after = policy.deemed_acceptance_after
        if start is None or after is None:
            return None
        return add_business(policy.calendar, start, whole_seconds(after))

    # -- answers ------------------------------------------------------------------------------

    def status(self, at: datetime, policy: SlaPolicy) -> SlaStatus:
        """Both clocks as of ``at`` under ``policy``, from the facts that happened by then."""
        when = aware(at, "at", "sla")
        if when < self.opened_at:
            msg = (
                f"refused 'sla': {self.ticket_code} ({self.request_id}) was opened at "
                f"{self.opened_at.isoformat()}, after {when.isoformat()}"
            )
            raise ValidationFailedError(
                msg, command="sla", request_id=self.request_id, errors=(("at", "before opening"),)
            )
        facts = self._upto(when)
        return SlaStatus(
            request_id=self.request_id,
            ticket_code=self.ticket_code,
            at=when,
            first_response=self._clock("first_response", facts, when, policy),
            resolution=self._clock("resolution", facts, when, policy),
            update=self._update_clock(facts, when, policy),
        )

    def _upto(self, when: datetime) -> tuple[SlaFact, ...]:
        # Facts are in non-decreasing instant order: the ones up to ``when`` are a prefix.
        end = len(self.facts)
        while end and self.facts[end - 1].at > when:
            end -= 1
        return self.facts[:end]

    def _scan(self, name: ClockName, facts: Sequence[SlaFact], policy: SlaPolicy) -> ClockFacts:
        """Walk a prefix of the facts once: the rule, the exclusions and how the clock stopped."""
        rule = policy.default
        exclusions: list[Span] = []
        stopped: ClockFacts | None = None
        kept = False  # the clock breached under ``rule`` and keeps it (``breach_is_final``)
        for fact in facts:
            if fact.event == "Classified" and not kept:
                picked = policy.targets_for(priority=fact.priority, kind=fact.kind, tier=self.tier)
                # A breach is final: a clock past due under ``rule`` keeps it from then on.
                kept = (
                    picked is not rule
                    and policy.breach_is_final
                    and self._breached_before(
                        name,
                        ClockFacts(rule, tuple(exclusions), None, None),
                        stopped,
                        fact.at,
                        policy,
                    )
                )
                if not kept:
                    rule = picked
            track_pause(exclusions, fact)
            if stopped is None:
                kind = stop_kind(name, fact)
                if kind is not None:
                    # A stopped clock keeps the target in force, and the pauses known, then.
                    stopped = ClockFacts(rule, tuple(exclusions), fact.at, kind)
            elif (
                fact.event == "Reopened"
                and stopped.stop_kind == "met"
                and stopped.stop is not None
                and name == "resolution"
            ):
                # Back to work, un-met: the time spent awaiting acceptance does not count.
                exclusions.append(Span(stopped.stop, fact.at))
                stopped = None
        return stopped or ClockFacts(rule, tuple(exclusions), None, None)

    def _breached_before(
        self,
        name: ClockName,
        running: ClockFacts,
        stopped: ClockFacts | None,
        at: datetime,
        policy: SlaPolicy,
    ) -> bool:
        """Whether the clock had breached by ``at`` under the target in force then.

        A running clock: ``at`` is past its due instant (also while paused). A stopped one:
        it was met late (missed), so it had breached before it stopped, and a reopening brings
        it back breached; one met on time or cancelled never breached.
        """
        if stopped is not None:
            if stopped.stop_kind != "met" or stopped.stop is None:
                return False
            running, at = stopped, stopped.stop
        raw = running.rule.first_response if name == "first_response" else running.rule.resolution
        target = whole_seconds(raw)
        segments = counted_segments(self.opened_at, running.exclusions)
        due = reach(policy.calendar, segments, (target, target))[0]
        return due is not None and at > due

    def _clock(
        self, name: ClockName, facts: Sequence[SlaFact], at: datetime, policy: SlaPolicy
    ) -> Clock:
        scan = self._scan(name, facts, policy)
        calendar = policy.calendar
        raw_target = scan.rule.first_response if name == "first_response" else scan.rule.resolution
        target = whole_seconds(raw_target)
        horizon = at if scan.stop is None else min(at, scan.stop)
        segments = counted_segments(self.opened_at, scan.exclusions)
        elapsed = ZERO
        for start, end in segments:
            if start >= horizon:
                break
            elapsed += calendar.between(start, horizon if end is None else min(end, horizon))
        paused = ZERO
        for span in scan.exclusions:
            if span.start >= horizon:
                break
            end = horizon if span.end is None else min(span.end, horizon)
            paused += calendar.between(span.start, end)
        warn = warn_amount(target, policy.warn_at)
        warn_from, due = reach(calendar, segments, (warn, target))
        is_paused = scan.stop is None and bool(segments) and segments[-1][1] is not None
        if scan.stop is not None and scan.stop_kind == "met":
            state = ClockState.MET if due is None or scan.stop <= due else ClockState.MISSED
        elif scan.stop_kind == "cancelled":
            state = ClockState.CANCELLED
        else:
            state = running_state(at=at, due=due, is_paused=is_paused, elapsed=elapsed, warn=warn)
        return Clock(
            name=name,
            state=state,
            target=target,
            due=due,
            warn_from=warn_from,
            elapsed=elapsed,
            remaining=target - elapsed,
            paused=paused,
            is_paused=is_paused,
            met_at=scan.stop if scan.stop_kind == "met" else None,
            rule=scan.rule.name,
            policy=policy.name,
            policy_version=policy.version,
            calendar_version=calendar.version,
        )

    def _update_clock(
        self, facts: Sequence[SlaFact], at: datetime, policy: SlaPolicy
    ) -> UpdateClock | None:
        """The update clock as of ``at`` from a prefix of the facts; None if it does not apply."""
        if not policy.measures_updates:
            return None  # the whole cost of the update clock for a policy without one
        scan = self._update_scan(facts, policy)
        rule, start, stop, how, breached = scan.rule, scan.start, scan.stop, scan.how, scan.breached
        if rule.update is None:
            return None  # the rule in force (for the current cycle) sets no update target
        target = whole_seconds(rule.update)
        calendar = policy.calendar
        elapsed = paused = ZERO
        warn_from = due = None
        is_paused = False
        if start is not None:
            horizon = at if stop is None else min(at, stop)
            segments = cycle_segments(start, scan.exclusions)
            for begin, end in segments:
                if begin >= horizon:
                    break
                elapsed += calendar.between(begin, horizon if end is None else min(end, horizon))
            paused = calendar.between(start, horizon) - elapsed
            warn_from, due = reach(
                calendar, segments, (warn_amount(target, policy.warn_at), target)
            )
            is_paused = stop is None and bool(segments) and segments[-1][1] is not None
        if start is None:
            state = ClockState.CANCELLED if how == "cancelled" else ClockState.NOT_STARTED
        elif how == "met":
            state = ClockState.MISSED if scan.late else ClockState.MET
        elif how == "cancelled":
            state = ClockState.CANCELLED
        else:
            warn = warn_amount(target, policy.warn_at)
            state = running_state(at=at, due=due, is_paused=is_paused, elapsed=elapsed, warn=warn)
            breached += state is ClockState.BREACHED  # the current cycle, breached as of ``at``
        return UpdateClock(
            state=state,
            target=target,
            due=due,
            warn_from=warn_from,
            elapsed=elapsed,
            remaining=target - elapsed,
            paused=paused,
            is_paused=is_paused,
            met_at=stop if how == "met" else None,
            rule=rule.name,
            policy=policy.name,
            policy_version=policy.version,
            calendar_version=calendar.version,
            cycle=scan.cycle,
            cycle_started_at=start,
            cycles_met=scan.met,
            breached_cycles=breached,
        )

    def _update_scan(self, facts: Sequence[SlaFact], policy: SlaPolicy) -> _Cycles:  # noqa: C901, PLR0912 - one walk, in cycles
        """Walk a prefix of the facts once for the update clock: its cycles and how it stopped.

        One walk: the first response starts cycle 1; each customer-visible update ends the
        cycle (with its verdict, under the target it ran under) and starts the next; a
        completion (no transfer) ends the last one and stops the clock, a reopening starts a new
        cycle, a cancellation stops it. Reclassifying re-times the running cycle from its start,
        unless it already breached and ``breach_is_final`` keeps its target.
        """
        latest = policy.default  # the latest classification's rule
        rule = latest  # the rule of the current cycle (kept while it breached under it)
        exclusions: list[Span] = []
        start: datetime | None = None
        stop: datetime | None = None
        how: Literal["met", "cancelled"] | None = None  # how it stopped
        late = False  # the cycle that ended at ``stop`` went past its due instant
        cycle = met = breached = 0
        for fact in facts:
            if fact.event == "Classified":
                latest = policy.targets_for(priority=fact.priority, kind=fact.kind, tier=self.tier)
                # A breach is final: a cycle past due under ``rule`` keeps it until it ends.
                keep = (
                    start is not None
                    and latest is not rule
                    and policy.breach_is_final
                    and _cycle_late(rule, start, exclusions, fact.at, policy)
                )
                if stop is None and not keep:
                    rule = latest
            track_pause(exclusions, fact)
            if stop is not None:
                if fact.event == "Reopened" and how == "met":
                    start, stop, how, rule = fact.at, None, None, latest
                    cycle += 1
                continue
            if start is None:
                if fact.event == "Cancelled":
                    stop, how = fact.at, "cancelled"
                if not (fact.event in RESPONSES or fact.responds):
                    continue
                start, cycle = fact.at, 1
                if not _completes(fact):
                    continue  # a completion as the first response starts and stops it at once
            elif fact.event not in UPDATES and fact.event != "Cancelled":
                continue
            # The current cycle ends here, with a verdict if it ran under a target.
            late = _cycle_late(rule, start, exclusions, fact.at, policy)
            if late:
                breached += 1
            elif fact.event != "Cancelled" and rule.update is not None:
                met += 1
            if fact.event == "Cancelled":
                stop, how = fact.at, "cancelled"
            elif _completes(fact):
                stop, how = fact.at, "met"
            else:
                start, rule = fact.at, latest
                cycle += 1
        return _Cycles(rule, tuple(exclusions), start, stop, how, late, cycle, met, breached)

    # -- explanations -------------------------------------------------------------------------

    def timeline(self, policy: SlaPolicy, until: datetime | None = None) -> list[TimelineEntry]:
        """Explain the clocks: started, paused, resumed, target changed, warned, breached, met.

        The update clock (where the rule sets an update target) also says when it restarted,
        and every cycle that breached has its breached entry. Events after ``until`` are left
        out. Without ``until`` the timeline ends at the last event, since only a caller knows
        what time it is now; with it, the warnings and breaches that time alone brought about by
        ``until`` are included.
        """
        limit = None if until is None else aware(until, "until", "sla_timeline")
        zone = ZoneInfo(policy.calendar.timezone)
        entries: list[TimelineEntry] = []
        previous: tuple[Clock, ...] | None = None
        previous_at = self.opened_at
        update_before: UpdateClock | None = None
        for index, fact in enumerate(self.facts):
            if limit is not None and fact.at > limit:
                break
            prefix = self.facts[:index]
            upto = self.facts[: index + 1]
            if previous is not None:
                entries += time_entries(previous, previous_at, fact.at, zone)
                before: tuple[Clock, Clock] | None = (
                    self._clock("first_response", prefix, fact.at, policy),
                    self._clock("resolution", prefix, fact.at, policy),
                )
                update_before = self._update_clock(prefix, fact.at, policy)
            else:
                before = None
            after = (
                self._clock("first_response", upto, fact.at, policy),
                self._clock("resolution", upto, fact.at, policy),
            )
            update_after = self._update_clock(upto, fact.at, policy)
            picked = (
                policy.targets_for(priority=fact.priority, kind=fact.kind, tier=self.tier)
                if fact.event == "Classified"
                else None
            )
            for position, clock in enumerate(after):
                prior = None if before is None else before[position]
                entries += event_entries(fact, prior, clock, policy, zone, picked)
            entries += update_entries(fact, update_before, update_after, policy, zone, picked)
            previous = after if update_after is None else (*after, update_after)
            previous_at = fact.at
        if previous is not None and limit is not None and limit > previous_at:
            entries += time_entries(previous, previous_at, limit, zone)
        return entries


class _Cycles(NamedTuple):
    """What a prefix of the facts says about the update clock."""

    #: The rule of the current (or last) cycle.
    rule: SlaRule
    exclusions: tuple[Span, ...]
    #: When the current (or last) cycle started; None before the first response.
    start: datetime | None
    stop: datetime | None
    how: Literal["met", "cancelled"] | None
    #: The cycle that ended at ``stop`` went past its due instant.
    late: bool
    cycle: int
    #: Ended cycles with a verdict: on time, and late.
    met: int
    breached: int


def _completes(fact: SlaFact) -> bool:
    """Whether ``fact`` is a completion that stops the clocks (a transfer does not)."""
    return fact.event == "Completed" and fact.outcome != Outcome.TRANSFERRED


def _cycle_late(
    rule: SlaRule, start: datetime, exclusions: Sequence[Span], end: datetime, policy: SlaPolicy
) -> bool:
    """Whether an update cycle that started at ``start`` under ``rule`` is past due at ``end``."""
    if rule.update is None:
        return False
    target = whole_seconds(rule.update)
    due = reach(policy.calendar, cycle_segments(start, exclusions), (target, target))[0]
    return due is not None and end > due


def running_state(
    *, at: datetime, due: datetime | None, is_paused: bool, elapsed: timedelta, warn: timedelta
) -> ClockState:
    """The state of a clock that has not stopped, as of ``at``.

    Breached once ``at`` is past the due instant (also while paused), else paused, else in its
    warning window once the time counted reaches ``warn``, else running.
    """
    if due is not None and at > due:
        return ClockState.BREACHED
    if is_paused:
        return ClockState.PAUSED
    if elapsed >= warn:
        return ClockState.WARNING
    return ClockState.RUNNING
