"""A clock's timeline: what each event, and time alone, did to it, told in words.

``SlaTracker.timeline`` asks these helpers for the entries: started, paused, resumed, target
changed, warned, breached, met, met late, cancelled.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from servflow.domain.clocks import (
    LABELS,
    SECOND,
    STOPPED_STATES,
    Clock,
    ClockState,
    SlaFact,
    TimelineEntry,
    TimelineKind,
    UpdateClock,
    whole_seconds,
)
from servflow.domain.policy import SlaPolicy, SlaRule

__all__ = ["event_entries", "human", "kept_target", "show", "time_entries", "update_entries"]

#: What a clock waits for, in a breach's explanation.
_AWAITED = {"first_response": "response", "resolution": "resolution", "update": "update"}


def time_entries(
    clocks: tuple[Clock, ...], start: datetime, end: datetime, zone: ZoneInfo
) -> list[TimelineEntry]:
    """Warnings and breaches that time alone brings about in ``(start, end]``."""
    entries: list[TimelineEntry] = []
    for clock in clocks:
        if clock.state in STOPPED_STATES or clock.state is ClockState.BREACHED:
            continue
        label = LABELS[clock.name]
        warn_from = clock.warn_from
        if clock.state is ClockState.RUNNING and warn_from is not None and start < warn_from <= end:
            entries.append(
                TimelineEntry(
                    clock=clock.name,
                    kind=TimelineKind.WARNED,
                    at=warn_from,
                    cause="time",
                    event_type=None,
                    event_version=None,
                    state=ClockState.WARNING,
                    due=clock.due,
                    message=(
                        f"{label} clock is at risk: its warning threshold of the "
                        f"{human(clock.target)} target was reached at {show(warn_from, zone)}; "
                        f"due {show(clock.due, zone)}"
                    ),
                )
            )
        if clock.due is not None and start <= clock.due < end:
            # A clock is breached once the instant is past its due one (met at the due instant
            # is met): the first breached instant, to the second, is the one after it, and the
            # entry says so, so that asking the state at the entry's instant says breached.
            entries.append(
                TimelineEntry(
                    clock=clock.name,
                    kind=TimelineKind.BREACHED,
                    at=clock.due + SECOND,
                    cause="time",
                    event_type=None,
                    event_version=None,
                    state=ClockState.BREACHED,
                    due=clock.due,
                    message=(
                        f"{label} clock breached: its {human(clock.target)} target was used up "
                        f"at {show(clock.due, zone)} with no {_AWAITED[clock.name]}"
                    ),
                )
            )
    entries.sort(key=lambda entry: entry.at)
    return entries


def event_entries(
    fact: SlaFact,
    before: Clock | None,
    after: Clock,
    policy: SlaPolicy,
    zone: ZoneInfo,
    picked: SlaRule | None = None,
) -> list[TimelineEntry]:
    """What one event did to one clock (``picked``: the rule a ``Classified`` selects)."""
    label = LABELS[after.name]
    due = show(after.due, zone)
    notes: list[tuple[TimelineKind, str]] = []
    if before is None:
        started = (
            f"{label} clock started: target {human(after.target)} of business time "
            f"({rule_of(after)}; policy {policy.name} v{policy.version}, calendar "
            f"{policy.calendar.name} v{policy.calendar.version}); due {due}"
        )
        notes.append((TimelineKind.STARTED, started))
    else:
        notes += changes_of(fact, before, after, label, zone)
        notes += kept_target(before, after, picked, label, zone)
    return [
        TimelineEntry(
            clock=after.name,
            kind=kind,
            at=fact.at,
            cause=f"{fact.event} v{fact.version}",
            event_type=fact.event,
            event_version=fact.version,
            state=after.state,
            due=after.due,
            message=message,
        )
        for kind, message in notes
    ]


def changes_of(
    fact: SlaFact,
    before: Clock,
    after: Clock,
    label: str,
    zone: ZoneInfo,
    origin: str = "the opening",
) -> list[tuple[TimelineKind, str]]:
    """The timeline notes for an event that changed a running (or reopened) clock."""
    due = show(after.due, zone)
    used = f"{human(after.elapsed)} of {human(after.target)} used"
    was_stopped = before.state in STOPPED_STATES
    stopped = after.state in STOPPED_STATES
    notes: list[tuple[TimelineKind, str]] = []
    if was_stopped and not stopped:
        text = (
            f"{label} clock resumed: the request was reopened, so it is no longer met; "
            f"the time spent awaiting acceptance does not count; due {due}"
        )
        notes.append((TimelineKind.RESUMED, text))
    if not stopped and after.target != before.target:
        text = (
            f"{label} target changed from {human(before.target)} to {human(after.target)} "
            f"({rule_of(after)}), counted from {origin}; due {due}"
        )
        notes.append((TimelineKind.TARGET_CHANGED, text))
    if not before.is_paused and after.is_paused:
        why = "waiting on the customer" if fact.event == "WaitingOnCustomer" else "on hold"
        notes.append((TimelineKind.PAUSED, f"{label} clock paused: {why} ({used})"))
    if before.is_paused and not after.is_paused and not stopped:
        why = {
            "CustomerResponded": "the customer responded",
            "Resumed": "the work resumed",
            "Unassigned": "back to the queue",
            "Held": "on a hold that counts",
        }.get(fact.event, fact.event)
        text = (
            f"{label} clock resumed: {why}; {human(after.paused)} of "
            f"business time paused so far; due {due}"
        )
        notes.append((TimelineKind.RESUMED, text))
    if after.state is ClockState.MET and not was_stopped:
        margin = "" if after.due is None else f", {human(after.remaining)} to spare"
        text = f"{label} met by {fact.event} at {show(fact.at, zone)} ({used}{margin})"
        notes.append((TimelineKind.MET, text))
    if after.state is ClockState.MISSED and not was_stopped and after.due is not None:
        text = (
            f"{label} met late by {fact.event} at {show(fact.at, zone)}: "
            f"{human(fact.at - after.due)} after the due instant {due}"
        )
        notes.append((TimelineKind.MISSED, text))
    if after.state is ClockState.CANCELLED and not was_stopped:
        text = f"{label} clock stopped: the request was cancelled ({used})"
        notes.append((TimelineKind.CANCELLED, text))
    if after.state is ClockState.BREACHED and before.state is not ClockState.BREACHED:
        text = f"{label} clock breached at once: after {fact.event} its due instant {due} is past"
        notes.append((TimelineKind.BREACHED, text))
    if after.state is ClockState.WARNING and before.state is ClockState.RUNNING:
        text = (
            f"{label} clock is at risk at once: {fact.event} left {human(after.remaining)} "
            f"of its {human(after.target)} target"
        )
        notes.append((TimelineKind.WARNED, text))
    return notes


def kept_target(
    before: Clock, after: Clock, picked: SlaRule | None, label: str, zone: ZoneInfo
) -> list[tuple[TimelineKind, str]]:
    """The note for a reclassification a breached clock did not follow (``breach_is_final``)."""
    if picked is None or after.state in STOPPED_STATES:
        return []
    wanted = {
        "first_response": picked.first_response,
        "resolution": picked.resolution,
        "update": picked.update,
    }[after.name]
    if wanted is not None and whole_seconds(wanted) == after.target:
        return []
    name = f"rule {picked.name!r}" if picked.name else "an unnamed rule"
    to = "no update target" if wanted is None else human(whole_seconds(wanted))
    text = (
        f"{label} target kept at {human(after.target)} ({rule_of(after)}): the clock breached "
        f"under it (due {show(before.due, zone)}) before this reclassification to "
        f"{to} ({name}); a breach is final"
    )
    return [(TimelineKind.TARGET_KEPT, text)]


def update_entries(
    fact: SlaFact,
    before: UpdateClock | None,
    after: UpdateClock | None,
    policy: SlaPolicy,
    zone: ZoneInfo,
    picked: SlaRule | None = None,
) -> list[TimelineEntry]:
    """What one event did to the update clock: started, restarted (a new cycle), paused, ..."""
    label = LABELS["update"]
    if after is None and before is not None and before.cycle:
        name = f"rule {picked.name!r}" if picked is not None and picked.name else "the new rule"
        text = f"{label} clock withdrawn: {name} sets no update target"
        return [_entry(fact, TimelineKind.TARGET_CHANGED, before.state, None, text)]
    if after is None or after.cycle == 0:
        return []  # no update target, or not started yet (the first response starts it)
    due = show(after.due, zone)
    notes: list[tuple[TimelineKind, str]] = []
    if before is None and fact.event == "Classified":
        text = (
            f"{label} clock applies: {rule_of(after)} sets a target of {human(after.target)}; "
            f"cycle {after.cycle}, started {show(after.cycle_started_at, zone)}, due {due}"
        )
        notes.append((TimelineKind.TARGET_CHANGED, text))
    elif before is None or before.cycle == 0:
        started = (
            f"{label} clock started by {fact.event}, the first response: the customer must hear "
            f"from the desk within {human(after.target)} of business time ({rule_of(after)}; "
            f"policy {policy.name} v{policy.version}); cycle 1 due {due}"
        )
        notes.append((TimelineKind.STARTED, started))
        if after.is_paused:
            notes.append((TimelineKind.PAUSED, f"{label} clock paused: waiting on the customer"))
        if after.state is ClockState.MET:
            text = f"{label} met by {fact.event} at {show(fact.at, zone)}: it started and stopped"
            notes.append((TimelineKind.MET, text))
    elif after.cycle > before.cycle:
        notes += _restarted(fact, before, after, label, zone)
    else:
        notes += changes_of(fact, before, after, label, zone, f"the start of cycle {after.cycle}")
        notes += kept_target(before, after, picked, label, zone)
    return [_entry(fact, kind, after.state, after.due, message) for kind, message in notes]


def _restarted(
    fact: SlaFact, before: UpdateClock, after: UpdateClock, label: str, zone: ZoneInfo
) -> list[tuple[TimelineKind, str]]:
    """The notes for an event that ended an update cycle and started the next."""
    notes: list[tuple[TimelineKind, str]] = []
    due = show(after.due, zone)
    if before.state in STOPPED_STATES:
        why = "the request was reopened"
    elif before.state is ClockState.BREACHED:
        why = (
            f"{fact.event} ended cycle {before.cycle}, which had breached (due "
            f"{show(before.due, zone)})"
        )
    else:
        why = f"{fact.event} ended cycle {before.cycle} on time, {human(before.remaining)} to spare"
    text = (
        f"{label} clock restarted: {why}; cycle {after.cycle}, target "
        f"{human(after.target)}, due {due}"
    )
    notes.append((TimelineKind.RESTARTED, text))
    if after.is_paused:
        why = "waiting on the customer" if fact.event == "WaitingOnCustomer" else "on hold"
        notes.append((TimelineKind.PAUSED, f"{label} clock paused: {why}"))
    return notes


def _entry(
    fact: SlaFact, kind: TimelineKind, state: ClockState, due: datetime | None, message: str
) -> TimelineEntry:
    """An entry of the update clock's timeline, caused by ``fact``."""
    return TimelineEntry(
        clock="update",
        kind=kind,
        at=fact.at,
        cause=f"{fact.event} v{fact.version}",
        event_type=fact.event,
        event_version=fact.version,
        state=state,
        due=due,
        message=message,
    )


def rule_of(clock: Clock) -> str:
    return f"rule {clock.rule!r}" if clock.rule else "an unnamed rule"


def show(moment: datetime | None, zone: ZoneInfo) -> str:
    """An instant as a timeline tells it, in the calendar's zone."""
    if moment is None:
        return "unknown while paused"
    return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z")


def human(duration: timedelta) -> str:
    """A duration as people write it, in hours at most: ``40h``, ``2h 30m``, ``45s``, ``-1h``."""
    seconds = int(duration // SECOND)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("h", 3_600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return sign + (" ".join(parts) or "0s")
