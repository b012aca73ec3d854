"""The values SLA clocks are made of, and the business-time maths that measures them.

A clock's state, its answer (``Clock``, ``SlaStatus``), the facts it is folded from
(``SlaFact``), the entries of its timeline, and the pure functions that turn facts, a calendar
and a target into a due instant. ``servflow.domain.sla`` folds and measures with them. Also
what the KPIs take of measured clocks (``ClockFigures``), kept with each queue row and carried to
a later instant by time alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal, NamedTuple
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow.domain.base import refuse
from servflow.domain.calendar import Calendar
from servflow.domain.choices import ClockState
from servflow.domain.policy import SlaRule
from servflow.domain.values import Outcome, aware_instant

__all__ = [
    "CLOCK_NAMES",
    "KEPT",
    "LABELS",
    "RESPONSES",
    "SECOND",
    "STOPPED_STATES",
    "UPDATES",
    "ZERO",
    "Clock",
    "ClockFacts",
    "ClockFigure",
    "ClockFigures",
    "ClockName",
    "ClockState",
    "SlaFact",
    "SlaStatus",
    "Span",
    "TimelineEntry",
    "TimelineKind",
    "UpdateClock",
    "add_business",
    "aware",
    "counted_segments",
    "cycle_segments",
    "reach",
    "stop_kind",
    "to_second",
    "track_pause",
    "warn_amount",
    "whole_seconds",
]

#: Which clock: the time to the first response, the time to resolution, or the time between
#: two customer-visible updates (only where the rule in force sets an update target).
ClockName = Literal["first_response", "resolution", "update"]
#: The clocks every request has (the update clock only where its rule sets a target).
CLOCK_NAMES: tuple[ClockName, ClockName] = ("first_response", "resolution")

SECOND = timedelta(seconds=1)
ZERO = timedelta(0)
LABELS: dict[str, str] = {
    "first_response": "First response",
    "resolution": "Resolution",
    "update": "Update",
}
#: The events whose first occurrence meets the first-response clock (a ``NoteAdded`` is kept
#: only when the customer sees it).
RESPONSES = frozenset({"Probed", "ActionTaken", "ProgressReported", "Completed", "NoteAdded"})
#: The customer-visible updates: each ends the update clock's cycle and starts the next (a
#: completion that is no transfer stops the clock instead). A ``NoteAdded`` is kept only when
#: the customer sees it and the desk wrote it.
UPDATES = frozenset({"ProgressReported", "NoteAdded", "WaitingOnCustomer", "Completed"})
#: The events the tracker keeps, whoever records them.
KEPT = frozenset(
    {
        "Opened",
        "Classified",
        "Probed",
        "ActionTaken",
        "ProgressReported",
        "Completed",
        "WaitingOnCustomer",
        "CustomerResponded",
        "Reopened",
        "Cancelled",
        "CustomerAccepted",
        "FollowUpDue",
        "NoteAdded",
        "Held",
        "Resumed",
        "Unassigned",
        "Closed",
    }
)
#: The events that end a hold (and the pause it opened): a resumption, a reply, the request
#: going back to a queue, completed straight from the hold, cancelled or closed.
_HOLD_ENDS = frozenset(
    {"CustomerResponded", "Resumed", "Unassigned", "Completed", "Cancelled", "Closed"}
)


def to_second(moment: datetime) -> datetime:
    """An aware instant in UTC truncated to the whole second: the SLA maths' resolution."""
    return moment.astimezone(UTC).replace(microsecond=0)


def aware(moment: object, name: str, command: str) -> datetime:
    """An aware instant given to an SLA question, to the second (typed errors if not)."""
    try:
        return to_second(aware_instant(moment))
    except ValueError as error:
        refuse(command, name, str(error))


def whole_seconds(duration: timedelta) -> timedelta:
    """Round a (positive) target up to whole seconds."""
    return -((-duration) // SECOND) * SECOND


@lru_cache(maxsize=256)
def warn_amount(target: timedelta, warn_at: float) -> timedelta:
    """The business time after which a clock warns: ``warn_at`` of its target, to the second.

    ``warn_at`` is read through its decimal text so that 0.8 of 8 h is exactly 6 h 24 min.
    """
    seconds = Decimal(target // SECOND) * Decimal(repr(warn_at))
    return timedelta(seconds=max(1, math.ceil(seconds)))


#: States in which a clock no longer changes with time.
STOPPED_STATES = frozenset({ClockState.MET, ClockState.MISSED, ClockState.CANCELLED})


class Clock(BaseModel):
    """One SLA clock of a request as of an instant: its target, due time, usage and state.

    ``elapsed`` is the business time counted so far (up to the instant, or to the moment the
    clock stopped); ``remaining`` is ``target - elapsed`` and goes negative when overdue.
    ``paused`` is the *business* time that did not count because the request was waiting on the
    customer (and, for resolution, awaiting acceptance before a reopening), so ``elapsed +
    paused`` is the business time since the opening. ``due`` is ``None`` while the clock is
    paused short of its target: the instant is unknown until it resumes. ``is_paused`` says
    whether it is paused right now (a clock that was already overdue shows ``breached``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClockName
    state: ClockState
    target: timedelta
    due: AwareDatetime | None
    warn_from: AwareDatetime | None
    elapsed: timedelta
    remaining: timedelta
    paused: timedelta
    is_paused: bool
    met_at: AwareDatetime | None
    rule: str | None
    policy: str
    policy_version: int
    calendar_version: int


class UpdateClock(Clock):
    """The update clock as of an instant: the state of its current cycle, and its cycles so far.

    It runs in cycles: the first starts at the first response, and each customer-visible update
    (a progress report, a customer-visible note, a hold on the customer, a transfer) ends one
    and starts the next; a completion stops it, a reopening starts a new cycle. Every field of
    :class:`Clock` describes the current cycle (the last one once the clock stopped): ``due`` is
    ``target`` of business time after ``cycle_started_at`` (pauses left out), ``elapsed`` and
    ``paused`` are counted from there. ``cycles_met`` and ``breached_cycles`` count the cycles
    with a verdict: ended by an update or the completion at or before their due instant, or
    gone past it (ended late, or the current one breached as of the instant).
    """

    name: Literal["update"] = "update"
    #: The current (or last) cycle, counted from 1 at the first response; 0 before it.
    cycle: int
    #: When the current (or last) cycle started; None before the first response.
    cycle_started_at: AwareDatetime | None
    #: Cycles ended by an update or the completion at or before their due instant.
    cycles_met: int
    #: Cycles that went past their due instant: ended late, or running past it as of now.
    breached_cycles: int


class SlaStatus(BaseModel):
    """The SLA clocks of a request as of the instant ``at``.

    ``update`` is None when the rule in force sets no update target (the request has no update
    clock then).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: UUID
    ticket_code: str
    at: AwareDatetime
    first_response: Clock
    resolution: Clock
    update: UpdateClock | None = None

    @property
    def clocks(self) -> tuple[Clock, ...]:
        """The clocks, first response first, then resolution, then update when it applies."""
        if self.update is None:
            return (self.first_response, self.resolution)
        return (self.first_response, self.resolution, self.update)


class TimelineKind(StrEnum):
    """What happened to a clock at a timeline entry."""

    STARTED = "started"
    TARGET_CHANGED = "target_changed"
    TARGET_KEPT = "target_kept"
    """A reclassification left a breached clock's target as it was (``breach_is_final``)."""
    RESTARTED = "restarted"
    """The update clock ended a cycle and started the next (a customer-visible update, or a
    reopening)."""
    PAUSED = "paused"
    RESUMED = "resumed"
    WARNED = "warned"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"
    CANCELLED = "cancelled"


class TimelineEntry(BaseModel):
    """One step in the life of a clock, with what caused it: so a breach can be explained.

    ``cause`` is ``"<EventType> v<version>"`` for an event of the request, or ``"time"`` when
    the clock warned or breached only because time passed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    clock: ClockName
    kind: TimelineKind
    at: AwareDatetime
    cause: str
    event_type: str | None
    event_version: int | None
    state: ClockState
    due: AwareDatetime | None
    message: str


@dataclass(frozen=True, slots=True)
class SlaFact:
    """One event of a request as the SLA tracker keeps it: what, which version, when.

    A plain frozen dataclass, not a pydantic model: a tracker keeps one per event, and a
    rebuild keeps thousands of trackers in memory (a fact takes about 200 bytes so, against
    850 as a model). ``SlaTracker`` validates its facts when it is parsed, refusing unknown
    fields as before, and writes them as the same JSON.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    event: str
    version: int
    at: AwareDatetime
    priority: str | None = None
    kind: str | None = None
    outcome: str | None = None
    follow_up_at: AwareDatetime | None = None
    by_customer: bool = False
    #: For ``Held``: whether the hold pauses the clocks (recorded in the event).
    pauses: bool = False
    #: For ``WaitingOnCustomer``: whether asking the customer met the first response (recorded
    #: in the event: holds recorded before servflow 0.2 did not).
    responds: bool = False
    #: When the event was recorded, to the second, where that was after it happened (imported
    #: history, a back-dated ``occurred_at``); None when the two agree. A correction re-times a
    #: clock by what the desk had recorded when it was adopted.
    recorded: AwareDatetime | None = None


class Span(NamedTuple):
    """A wall-clock interval during which a clock does not count (end ``None``: still open)."""

    start: datetime
    end: datetime | None


class ClockFacts(NamedTuple):
    """What a prefix of the facts says about one clock."""

    rule: SlaRule
    exclusions: tuple[Span, ...]
    stop: datetime | None
    stop_kind: Literal["met", "cancelled"] | None


# -- clock maths --------------------------------------------------------------------------------


def counted_segments(
    opened: datetime, exclusions: Sequence[Span]
) -> list[tuple[datetime, datetime | None]]:
    """The wall-clock intervals during which a clock counts; the last may be open-ended."""
    segments: list[tuple[datetime, datetime | None]] = []
    cursor: datetime | None = opened
    for span in exclusions:
        assert cursor is not None  # noqa: S101 - only the last exclusion may be open
        segments.append((cursor, span.start))
        cursor = span.end
        if cursor is None:
            break
    if cursor is not None:
        segments.append((cursor, None))
    return segments


def cycle_segments(
    start: datetime, exclusions: Sequence[Span]
) -> list[tuple[datetime, datetime | None]]:
    """The intervals during which a clock that started at ``start`` counts (pauses left out)."""
    clipped = [
        Span(max(span.start, start), span.end)
        for span in exclusions
        if span.end is None or span.end > start
    ]
    return counted_segments(start, clipped)


def track_pause(exclusions: list[Span], fact: SlaFact) -> None:
    """Open a pause at a pausing hold; close it when the hold ends or turns into one that counts.

    ``WaitingOnCustomer`` always pauses, a ``Held`` as it recorded; a switch between two
    pausing holds keeps the one pause.
    """
    is_open = bool(exclusions) and exclusions[-1].end is None
    pausing = fact.event == "WaitingOnCustomer" or (fact.event == "Held" and fact.pauses)
    if pausing:
        if not is_open:
            exclusions.append(Span(fact.at, None))
    elif is_open and (fact.event in _HOLD_ENDS or fact.event == "Held"):
        exclusions[-1] = Span(exclusions[-1].start, fact.at)


def stop_kind(name: ClockName, fact: SlaFact) -> Literal["met", "cancelled"] | None:
    """Whether ``fact`` stops a running clock, and how."""
    if name == "first_response" and (fact.event in RESPONSES or fact.responds):
        return "met"
    if name == "resolution" and fact.event == "Completed" and fact.outcome != Outcome.TRANSFERRED:
        return "met"
    return "cancelled" if fact.event == "Cancelled" else None


def add_business(calendar: Calendar, start: datetime, amount: timedelta) -> datetime | None:
    """``calendar.add``, or None when the calendar never opens again."""
    try:
        return calendar.add(start, amount)
    except ValueError:
        return None  # the calendar never opens again: the amount is never reached


def reach(
    calendar: Calendar,
    segments: Sequence[tuple[datetime, datetime | None]],
    amounts: tuple[timedelta, timedelta],
) -> tuple[datetime | None, datetime | None]:
    """The earliest instants at which counted business time reaches each of two amounts.

    ``amounts`` are ascending; ``None`` where an amount is not reached (the clock is paused short
    of it, or the calendar never opens again). One walk serves both: the second amount is added
    from where the first was reached, since business time is additive.
    """
    found: list[datetime | None] = []
    used = ZERO  # business time counted before the current segment
    for start, end in segments:
        available = None if end is None else calendar.between(start, end)
        cursor, counted = start, used
        while len(found) < len(amounts):
            amount = amounts[len(found)]
            if available is not None and amount - used > available:
                break
            reached = add_business(calendar, cursor, amount - counted)
            found.append(reached)
            if reached is None:
                return (None, None) if len(found) == 1 else (found[0], None)
            cursor, counted = reached, amount
        if len(found) == len(amounts) or available is None:
            break
        used += available
    found += [None] * (len(amounts) - len(found))
    return found[0], found[1]


# -- what the KPIs take of the clocks -------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
#: The states of a clock that time alone still moves (the others stay as they are).
_TIMED = frozenset({ClockState.RUNNING, ClockState.WARNING, ClockState.PAUSED, ClockState.BREACHED})


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - _EPOCH) // _US


#: Clock states by value (a dictionary is faster than calling the enum, row after row).
_STATES = {state.value: state for state in ClockState}


class ClockFigure(NamedTuple):
    """What the KPIs take of one clock as of an instant, and what time alone makes of it.

    ``due`` and ``warn_from`` (microseconds since the epoch) are the instants at which a clock
    that has not stopped breaches and starts warning: the earliest at which the business time
    it counts reaches its target and its warning share (``domain.tracker.running_state``).
    ``cycles_met`` and ``breached_cycles`` are the update clock's (0 for the others).
    """

    state: ClockState
    due: int | None
    warn_from: int | None
    is_paused: bool
    met_at: datetime | None
    elapsed: timedelta
    cycles_met: int = 0
    breached_cycles: int = 0

    @classmethod
    def of(cls, clock: Clock) -> ClockFigure:
        """The figures of a measured clock."""
        cycles = (clock.cycles_met, clock.breached_cycles) if isinstance(clock, UpdateClock) else ()
        return cls(
            clock.state, _us(clock.due), _us(clock.warn_from), clock.is_paused, clock.met_at,
            clock.elapsed, *cycles,
        )  # fmt: skip

    def at(self, when: int, *, cycles: bool = False) -> ClockFigure:
        """The same clock at a later instant ``when`` (us, whole seconds), no event between.

        As ``running_state`` decides: breached once past its due instant (paused or not),
        else paused, else warning from its warning instant on, else running. Breaching then
        counts one more breached cycle if the clock counts ``cycles`` (the update clock).
        """
        state = self.state
        if state not in _TIMED:
            return self
        if self.due is not None and when > self.due:
            now = ClockState.BREACHED
        elif self.is_paused:
            now = ClockState.PAUSED
        elif state is ClockState.WARNING or (self.warn_from is not None and when >= self.warn_from):
            now = ClockState.WARNING
        else:
            now = ClockState.RUNNING
        if now is state:
            return self
        return ClockFigure(
            now, self.due, self.warn_from, self.is_paused, self.met_at, self.elapsed,
            self.cycles_met, self.breached_cycles + (cycles and now is ClockState.BREACHED),
        )  # fmt: skip

    def state_data(self) -> list[Any]:
        """Plain data (``from_data`` reads it back)."""
        return [
            self.state.value, self.due, self.warn_from, int(self.is_paused), _us(self.met_at),
            self.elapsed // _US, self.cycles_met, self.breached_cycles,
        ]  # fmt: skip

    @classmethod
    def from_data(cls, data: list[Any]) -> ClockFigure:
        """The figure ``state_data`` wrote."""
        state, due, warn_from, paused, met_at, elapsed, met, breached = data
        return cls(
            _STATES[state], due, warn_from, bool(paused),
            None if met_at is None else _EPOCH + timedelta(0, 0, met_at),
            timedelta(0, 0, elapsed), met, breached,
        )  # fmt: skip


class ClockFigures(NamedTuple):
    """What the KPIs take of a request's SLA clocks (``SlaStatus``) as of ``as_of`` (us).

    Stored with each queue row as of its tracker's last fact, so that the KPI view counts a
    request's clocks at any later instant (``at``) with no calendar maths.
    """

    as_of: int
    first_response: ClockFigure
    resolution: ClockFigure
    update: ClockFigure | None

    @classmethod
    def of(cls, status: SlaStatus) -> ClockFigures:
        """The figures of measured clocks."""
        update = status.update
        return cls(
            _us(status.at) or 0,
            ClockFigure.of(status.first_response),
            ClockFigure.of(status.resolution),
            None if update is None else ClockFigure.of(update),
        )

    @property
    def clocks(self) -> tuple[ClockFigure, ...]:
        """The clocks, first response first, then resolution, then update when it applies."""
        if self.update is None:
            return (self.first_response, self.resolution)
        return (self.first_response, self.resolution, self.update)

    def at(self, when: datetime) -> ClockFigures:
        """The clocks at ``when``, no later than ``as_of``'s events' next one (time alone)."""
        moment = (to_second(when) - _EPOCH) // _US
        if moment < self.as_of:
            msg = f"clock figures as of {self.as_of} us asked for the earlier {moment} us"
            raise ValueError(msg)
        update = self.update
        return ClockFigures(
            moment,
            self.first_response.at(moment),
            self.resolution.at(moment),
            None if update is None else update.at(moment, cycles=True),
        )

    def state_data(self) -> list[Any]:
        """Plain data (``from_data`` reads it back)."""
        update = self.update
        return [
            self.as_of,
            self.first_response.state_data(),
            self.resolution.state_data(),
            None if update is None else update.state_data(),
        ]

    @classmethod
    def from_data(cls, data: list[Any]) -> ClockFigures:
        """The figures ``state_data`` wrote."""
        as_of, first, resolution, update = data
        return cls(
            as_of,
            ClockFigure.from_data(first),
            ClockFigure.from_data(resolution),
            None if update is None else ClockFigure.from_data(update),
        )
