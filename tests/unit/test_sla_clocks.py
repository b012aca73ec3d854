"""SLA clocks folded from hand-made event histories, checked against answers worked out by hand.

No desk and no store: a ``Story`` drives a ``ServiceRequest`` with explicit moments and folds its
events into an ``SlaTracker``.

Offsets used in the reasoning: Madrid is CET (UTC+1) until 2026-03-29 02:00, CEST (UTC+2) until
2026-10-25 03:00, then CET again. New York is EST (UTC-5) until 2026-03-08 02:00, EDT (UTC-4)
until 2026-11-01 02:00, then EST again. 2026-03-02 is a Monday; 2026-01-02 a Friday.
The Madrid office is open Mon-Fri 09:00-13:00 and 14:00-18:00 (8 h a day, a split shift).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from zoneinfo import ZoneInfo

import pytest

from servflow.domain.calendar import Calendar
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.request import Moment, ServiceRequest
from servflow.domain.sla import (
    DEFAULT_POLICY,
    Clock,
    ClockState,
    PolicyAdoption,
    SlaTracker,
    TimelineKind,
    compare,
    policy_at,
    policy_in_force,
)
from servflow.errors import ValidationFailedError

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)


def madrid(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MADRID)


def new_york(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def office(*holidays: str, version: int = 1) -> Calendar:
    return Calendar(
        name="madrid-office",
        version=version,
        timezone="Europe/Madrid",
        hours={day: [("09:00", "13:00"), ("14:00", "18:00")] for day in WORKDAYS},
        holidays=list(holidays),
    )


NEW_YORK_OFFICE = Calendar(
    name="new-york-office",
    timezone="America/New_York",
    hours={day: [("09:00", "17:00")] for day in WORKDAYS},
)

#: default 4 h / 16 h; urgent 1 h / 4 h; normal 8 h / 24 h; low 16 h / 40 h.
RULES = (
    SlaRule(name="urgent", priority="urgent", first_response="1h", resolution="4h"),
    SlaRule(name="normal", priority="normal", first_response="8h", resolution="24h"),
    SlaRule(name="low", priority="low", first_response="16h", resolution="40h"),
)
DEFAULT = SlaRule(name="default", first_response="4h", resolution="16h")


def policy(
    calendar: Calendar | None = None,
    *,
    warn_at: float = 0.8,
    deemed: str | None = "16h",
    version: int = 1,
) -> SlaPolicy:
    return SlaPolicy(
        name="madrid",
        version=version,
        calendar=calendar or office(),
        rules=RULES,
        default=DEFAULT,
        warn_at=warn_at,
        deemed_acceptance_after=deemed,
    )


MADRID_POLICY = policy()


class Story:
    """A request driven by hand: each command happens at the instant given."""

    def __init__(self, opened: datetime, *, tier: str = "standard") -> None:
        self.request = ServiceRequest.open(
            ticket_code="SR-000001",
            customer={"id": "acme", "tier": tier},
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom="The line drops",
            synthesis=None,
            actor="agent:ana",
            at=Moment(opened, opened),
        )
        self.events: list[object] = list(self.request.collect_events())

    def _did(self) -> Story:
        self.events += self.request.collect_events()
        return self

    def classify(self, at: datetime, priority: str) -> Story:
        self.request.classify(
            priority=priority, kind=None, category=None, actor="agent:lead", at=Moment(at, at)
        )
        return self._did()

    def assign(self, at: datetime, team: str = "network") -> Story:
        if self.request.status.value == "new":
            # "high" matches no rule of RULES: the default targets stay.
            self.classify(at, "high")
        self.request.assign(team=team, agent="ana", actor="agent:lead", at=Moment(at, at))
        return self._did()

    def probe(self, at: datetime) -> Story:
        self.request.probe(
            questions=["When?"], findings="f", diagnosis=None, actor="agent:ana", at=Moment(at, at)
        )
        return self._did()

    def progress(self, at: datetime) -> Story:
        self.request.report_progress(message="on it", actor="agent:ana", at=Moment(at, at))
        return self._did()

    def wait(self, at: datetime) -> Story:
        self.request.wait_on_customer(reason="serial?", actor="agent:ana", at=Moment(at, at))
        return self._did()

    def respond(self, at: datetime) -> Story:
        self.request.customer_responded(note="here", actor="customer:acme", at=Moment(at, at))
        return self._did()

    def complete(
        self, at: datetime, outcome: str = "resolved", *, follow_up_at: datetime | None = None
    ) -> Story:
        self.request.complete(
            outcome=outcome,
            resolution="done",
            follow_up_at=follow_up_at,
            to_team="billing" if outcome == "transferred" else None,
            actor="agent:ana",
            at=Moment(at, at),
        )
        return self._did()

    def reopen(self, at: datetime) -> Story:
        self.request.reopen(reason="still broken", actor="customer:acme", at=Moment(at, at))
        return self._did()

    def cancel(self, at: datetime) -> Story:
        self.request.cancel(reason="duplicate", actor="agent:ana", at=Moment(at, at))
        return self._did()

    def complain(self, at: datetime) -> Story:
        self.request.log_nonconformity(
            description="late",
            severity="minor",
            category=None,
            root_cause=None,
            corrective_action=None,
            actor="customer:acme",
            at=Moment(at, at),
        )
        return self._did()

    @property
    def tracker(self) -> SlaTracker:
        tracker = reduce(SlaTracker.fold, self.events, None)
        assert tracker is not None
        return tracker


def clocks(story: Story, at: datetime, sla: SlaPolicy = MADRID_POLICY) -> tuple[Clock, Clock]:
    status = story.tracker.status(at, sla)
    return status.first_response, status.resolution


# -- targets, due instants and business hours ---------------------------------------------------


def test_a_friday_afternoon_opening_skips_the_weekend_and_two_holidays() -> None:
    # Opened Fri 2026-01-02 16:30 CET; Mon 5 (a bridge day) and Tue 6 (Epiphany) are holidays.
    # Default targets 4 h / 16 h. First response: Fri 16:30-18:00 = 1h30; Sat, Sun, Mon, Tue
    # closed; Wed 7: 2h30 more from 09:00 -> Wed 11:30 CET.
    # Resolution: Fri 1h30 + Wed 8h = 9h30; Thu 8: 6h30 more -> 09-13 (4h) + 14:00-16:30.
    sla = policy(office("2026-01-05", "2026-01-06"))
    story = Story(madrid("2026-01-02 16:30"))
    status = story.tracker.status(madrid("2026-01-06 12:00"), sla)
    assert status.first_response.due == madrid("2026-01-07 11:30")
    assert status.resolution.due == madrid("2026-01-08 16:30")
    # On the holiday nothing more counts: 1h30 used, 2h30 left, still running.
    assert status.first_response.elapsed == 90 * M
    assert status.first_response.remaining == 150 * M
    assert status.first_response.state is ClockState.RUNNING


def test_a_split_shift_day_does_not_count_the_lunch_break() -> None:
    # Opened Mon 2026-03-02 12:00 CET with the default 4 h first response:
    # 12:00-13:00 (1h), lunch closed, 14:00-17:00 (3h) -> due 17:00 CET.
    # At 13:30 (lunch) 1h is used and 3h remain.
    story = Story(madrid("2026-03-02 12:00"))
    first, _ = clocks(story, madrid("2026-03-02 13:30"))
    assert first.due == madrid("2026-03-02 17:00")
    assert first.elapsed == H
    assert first.remaining == 3 * H


def test_a_target_used_up_at_closing_time_is_due_at_closing_not_at_the_next_opening() -> None:
    # Opened Mon 2026-03-02 14:00 CET, urgent: the 4 h resolution target is exactly
    # 14:00-18:00, so it is due at 18:00 Monday, not at 09:00 Tuesday.
    story = Story(madrid("2026-03-02 14:00")).classify(madrid("2026-03-02 14:00"), "urgent")
    _, resolution = clocks(story, madrid("2026-03-02 15:00"))
    assert resolution.due == madrid("2026-03-02 18:00")


def test_a_clock_breaches_outside_business_hours_once_past_its_due_instant() -> None:
    # Same request: resolution due Mon 18:00. At 18:00 exactly it is not yet past due; at
    # 18:00:01 (the office is closed, no business time passes) it is breached, with 4h used,
    # 0 left, and still breached at 22:00.
    story = Story(madrid("2026-03-02 14:00")).classify(madrid("2026-03-02 14:00"), "urgent")
    at_due = story.tracker.status(madrid("2026-03-02 18:00"), MADRID_POLICY).resolution
    assert at_due.state is ClockState.WARNING
    later = story.tracker.status(madrid("2026-03-02 18:00:01"), MADRID_POLICY).resolution
    assert later.state is ClockState.BREACHED
    night = story.tracker.status(madrid("2026-03-02 22:00"), MADRID_POLICY).resolution
    assert night.state is ClockState.BREACHED
    assert night.elapsed == 4 * H
    assert night.remaining == timedelta(0)

    # The timeline agrees at every instant: its resolution clock is not breached up to 18:00,
    # and breached from 18:00:01.
    def breaches(until: datetime) -> list[datetime]:
        entries = story.tracker.timeline(MADRID_POLICY, until=until)
        return [
            e.at for e in entries if e.clock == "resolution" and e.kind is TimelineKind.BREACHED
        ]

    assert breaches(madrid("2026-03-02 18:00")) == []
    assert breaches(madrid("2026-03-02 18:00:01")) == [madrid("2026-03-02 18:00:01")]


def test_before_classification_the_default_targets_apply() -> None:
    # Unclassified: default rule, 4 h / 16 h, named in the answer.
    story = Story(madrid("2026-03-02 09:00"))
    first, resolution = clocks(story, madrid("2026-03-02 09:30"))
    assert (first.target, resolution.target) == (4 * H, 16 * H)
    assert first.rule == "default"


def test_every_clock_names_the_policy_and_calendar_versions_that_measured_it() -> None:
    sla = policy(office(version=3), version=7)
    status = Story(madrid("2026-03-02 09:00")).tracker.status(madrid("2026-03-02 10:00"), sla)
    for clock in status.clocks:
        assert (clock.policy, clock.policy_version, clock.calendar_version) == ("madrid", 7, 3)


# -- met, missed, warning -------------------------------------------------------------------------


def test_a_clock_met_exactly_at_its_due_instant_is_met() -> None:
    # Opened Mon 09:00 CET, urgent first response 1 h: due 10:00; probed at 10:00:00 -> met,
    # with nothing to spare.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .probe(madrid("2026-03-02 10:00"))
    )
    first, _ = clocks(story, madrid("2026-03-02 12:00"))
    assert first.state is ClockState.MET
    assert first.met_at == madrid("2026-03-02 10:00")
    assert first.remaining == timedelta(0)


def test_a_clock_met_one_second_after_its_due_instant_is_missed() -> None:
    # Same, probed at 10:00:01: one second late -> missed (met late), 1 s overdue.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .probe(madrid("2026-03-02 10:00:01"))
    )
    first, _ = clocks(story, madrid("2026-03-02 12:00"))
    assert first.state is ClockState.MISSED
    assert first.remaining == -S


def test_a_clock_warns_once_the_warning_fraction_of_its_target_is_used() -> None:
    # Opened Mon 09:00 CET, default first response 4 h, warn_at 0.8: 3h12m -> warns from 12:12.
    story = Story(madrid("2026-03-02 09:00"))
    before = story.tracker.status(madrid("2026-03-02 12:11:59"), MADRID_POLICY).first_response
    at = story.tracker.status(madrid("2026-03-02 12:12"), MADRID_POLICY).first_response
    assert before.state is ClockState.RUNNING
    assert at.state is ClockState.WARNING
    assert at.warn_from == madrid("2026-03-02 12:12")


def test_the_warning_threshold_skips_closed_hours_like_the_due_instant() -> None:
    # Opened Mon 12:00 CET, default first response 4 h, warn_at 0.5 -> 2 h of business time:
    # 12:00-13:00 (1h), lunch, 14:00-15:00 -> warns from 15:00 (not 14:00).
    story = Story(madrid("2026-03-02 12:00"))
    first, _ = clocks(story, madrid("2026-03-02 12:30"), policy(warn_at=0.5))
    assert first.warn_from == madrid("2026-03-02 15:00")


def test_the_first_of_probe_action_progress_or_completion_meets_the_first_response() -> None:
    # A progress report at 10:30 meets the first response; the later probe changes nothing.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:10"))
        .progress(madrid("2026-03-02 10:30"))
        .probe(madrid("2026-03-02 11:00"))
    )
    first, _ = clocks(story, madrid("2026-03-02 12:00"))
    assert first.state is ClockState.MET
    assert first.met_at == madrid("2026-03-02 10:30")
    assert first.elapsed == 90 * M


# -- pauses ----------------------------------------------------------------------------------------


def test_a_pause_across_a_night_does_not_count_its_business_hours() -> None:
    # Opened Mon 09:00 CET (default resolution 16 h). Waiting from Mon 17:00 to Tue 10:00: the
    # paused business time is Mon 17-18 (1h) + Tue 09-10 (1h) = 2h. Used before the pause:
    # 09-13 + 14-17 = 7h, so 9h remain from Tue 10:00: Tue 10-13 (3h) + 14-18 (4h) = 7h,
    # then Wed 09:00-11:00 -> due Wed 11:00 CET.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:05"))
        .wait(madrid("2026-03-02 17:00"))
        .respond(madrid("2026-03-03 10:00"))
    )
    during = story.tracker.status(madrid("2026-03-02 22:00"), MADRID_POLICY).resolution
    assert during.state is ClockState.PAUSED
    assert during.due is None  # unknown until the customer answers
    assert during.elapsed == 7 * H
    assert during.paused == H  # Mon 17:00-18:00 so far
    after = story.tracker.status(madrid("2026-03-03 12:00"), MADRID_POLICY).resolution
    assert after.due == madrid("2026-03-04 11:00")
    assert after.paused == 2 * H
    assert after.elapsed == 9 * H  # 7h + Tue 10:00-12:00
    assert after.elapsed + after.paused == MADRID_POLICY.calendar.between(
        madrid("2026-03-02 09:00"), madrid("2026-03-03 12:00")
    )


def test_a_clock_paused_after_its_due_instant_stays_breached() -> None:
    # Urgent, opened Mon 09:00 CET: first response due 10:00, resolution 4 h -> 09:00-13:00,
    # due 13:00. Waiting on the customer from 13:30: asking them is the first response, 3h30
    # late (missed); the resolution clock is still breached while paused (its due stays known).
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .wait(madrid("2026-03-02 13:30"))
    )
    first, resolution = clocks(story, madrid("2026-03-02 15:00"))
    assert (first.state, first.met_at) == (ClockState.MISSED, madrid("2026-03-02 13:30"))
    assert resolution.state is ClockState.BREACHED
    assert resolution.is_paused
    assert resolution.due == madrid("2026-03-02 13:00")


def test_a_clock_paused_exactly_at_its_due_instant_breaches_right_after() -> None:
    # Urgent resolution due 13:00 (09:00-13:00); the pause starts at 13:00. At 13:00 it is
    # paused (not past due), at 13:00:01 breached: its whole target was used before the pause.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .wait(madrid("2026-03-02 13:00"))
    )
    _, at_due = clocks(story, madrid("2026-03-02 13:00"))
    _, after = clocks(story, madrid("2026-03-02 13:00:01"))
    assert at_due.state is ClockState.PAUSED
    assert after.state is ClockState.BREACHED


def test_a_paused_clock_shows_paused_even_past_its_warning_threshold() -> None:
    # Urgent resolution 4 h, warns from 12:12 (80 %: 3h12 from 09:00); waiting from 12:30 ->
    # paused, not warning, with 30 min left. The wait answered the customer: first response
    # missed (due 10:00).
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .wait(madrid("2026-03-02 12:30"))
    )
    first, resolution = clocks(story, madrid("2026-03-02 15:00"))
    assert resolution.state is ClockState.PAUSED
    assert resolution.remaining == 30 * M
    assert first.state is ClockState.MISSED


def test_asking_the_customer_is_the_first_response_when_the_wait_says_so() -> None:
    # Default first response 4 h from 09:00, due 13:00. Waiting on the customer at 10:00 meets
    # it (with 1 h used). A hold on the customer recorded before servflow 0.2 (``responds``
    # False, as its upcast reads it) only paused the clock: it stays paused, as reported then.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:01"))
        .wait(madrid("2026-03-02 10:00"))
    )
    first, _ = clocks(story, madrid("2026-03-02 15:00"))
    assert (first.state, first.met_at, first.elapsed) == (
        ClockState.MET,
        madrid("2026-03-02 10:00"),
        H,
    )
    old = None
    for event in story.events:
        as_read = event
        if isinstance(event, ServiceRequest.WaitingOnCustomer):
            as_read = event.model_copy(update={"responds": False})  # as a pre-0.2 event reads
        old = SlaTracker.fold(old, as_read)
    assert old is not None
    first_old = old.status(madrid("2026-03-02 15:00"), MADRID_POLICY).first_response
    assert (first_old.state, first_old.met_at) == (ClockState.PAUSED, None)


def test_a_progress_report_while_waiting_meets_the_first_response() -> None:
    # Waiting from 10:00 (1h used); a progress report at 11:00 meets the first response with 1h
    # used; its due instant was unknown (paused short of the target), so it is met.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:01"))
        .wait(madrid("2026-03-02 10:00"))
        .progress(madrid("2026-03-02 11:00"))
    )
    first, resolution = clocks(story, madrid("2026-03-02 12:00"))
    assert first.state is ClockState.MET
    assert first.elapsed == H
    assert resolution.state is ClockState.PAUSED


# -- reclassification, transfer, cancel, reopen ---------------------------------------------------


def test_reclassifying_from_normal_to_urgent_recomputes_the_due_times_from_the_opening() -> None:
    # Opened Mon 09:00 CET, classified normal at 09:05 (8 h / 24 h): first response due 18:00.
    # At 11:00 it becomes urgent (1 h / 4 h) counted from the opening: first response was due
    # at 10:00 -> breached at once; resolution due 13:00, 2h used, 2h left, running.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:05"), "normal")
        .assign(madrid("2026-03-02 09:10"))
    )
    first, _ = clocks(story, madrid("2026-03-02 10:59"))
    assert first.due == madrid("2026-03-02 18:00")
    assert first.state is ClockState.RUNNING
    story.classify(madrid("2026-03-02 11:00"), "urgent")
    first, resolution = clocks(story, madrid("2026-03-02 11:00"))
    assert first.due == madrid("2026-03-02 10:00")
    assert first.state is ClockState.BREACHED
    assert resolution.due == madrid("2026-03-02 13:00")
    assert resolution.remaining == 2 * H
    assert resolution.state is ClockState.RUNNING
    # Asked about 10:59 after the fact, the answer is still the one given then.
    first_then, _ = clocks(story, madrid("2026-03-02 10:59"))
    assert first_then.due == madrid("2026-03-02 18:00")


def test_a_clock_that_has_stopped_keeps_the_target_it_stopped_under() -> None:
    # First response met at 10:30 under the default 4 h; reclassified urgent at 11:00 (1 h):
    # the met clock keeps its 4 h target and stays met; the running resolution clock follows.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:05"))
        .probe(madrid("2026-03-02 10:30"))
        .classify(madrid("2026-03-02 11:00"), "urgent")
    )
    first, resolution = clocks(story, madrid("2026-03-02 11:30"))
    assert first.state is ClockState.MET
    assert first.target == 4 * H
    assert resolution.target == 4 * H


def test_a_transfer_meets_the_first_response_but_does_not_stop_resolution() -> None:
    # Completed as transferred at 10:00 (1h used): the first response is met; resolution keeps
    # running on the receiving team's watch: at 12:00, 3h of 16h used.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:05"))
        .complete(madrid("2026-03-02 10:00"), "transferred")
        .assign(madrid("2026-03-02 11:00"), team="billing")
    )
    first, resolution = clocks(story, madrid("2026-03-02 12:00"))
    assert first.state is ClockState.MET
    assert resolution.state is ClockState.RUNNING
    assert resolution.elapsed == 3 * H


def test_a_cancellation_stops_the_running_clocks_neither_met_nor_breached() -> None:
    # Urgent, cancelled at 09:30 (30 min used). A week later both clocks are cancelled, not
    # breached, with their usage frozen at the cancellation.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .cancel(madrid("2026-03-02 09:30"))
    )
    first, resolution = clocks(story, madrid("2026-03-09 09:00"))
    for clock in (first, resolution):
        assert clock.state is ClockState.CANCELLED
        assert clock.elapsed == 30 * M
        assert clock.met_at is None


def test_a_cancellation_after_the_first_response_leaves_it_met() -> None:
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:05"))
        .probe(madrid("2026-03-02 09:30"))
        .cancel(madrid("2026-03-02 11:00"))
    )
    first, resolution = clocks(story, madrid("2026-03-03 09:00"))
    assert first.state is ClockState.MET
    assert resolution.state is ClockState.CANCELLED


def test_a_cancellation_while_waiting_ends_the_pause() -> None:
    # Waiting from 10:00 (1h used), cancelled Tue 09:00: paused business time Mon 10-13, 14-18
    # = 7h; the resolution clock stops with 1h used and is not paused.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:05"))
        .wait(madrid("2026-03-02 10:00"))
        .cancel(madrid("2026-03-03 09:00"))
    )
    _, resolution = clocks(story, madrid("2026-03-04 09:00"))
    assert resolution.state is ClockState.CANCELLED
    assert resolution.elapsed == H
    assert resolution.paused == 7 * H
    assert not resolution.is_paused


def test_a_reopened_request_resumes_resolution_without_the_time_awaiting_acceptance() -> None:
    # Urgent (4 h resolution), opened Mon 09:00 CET, completed Mon 12:00 (3h used: met, 1h to
    # spare). Reopened Tue 10:00: the awaiting time (Mon 12-13, 14-18 = 5h; Tue 09-10 = 1h,
    # 6h in all) does not count; 1h remains from Tue 10:00 -> due Tue 11:00.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .complete(madrid("2026-03-02 12:00"))
    )
    _, met = clocks(story, madrid("2026-03-03 09:30"))
    assert met.state is ClockState.MET
    story.reopen(madrid("2026-03-03 10:00"))
    _, resolution = clocks(story, madrid("2026-03-03 10:30"))
    assert resolution.state is ClockState.WARNING  # 3h30 of 4h used: past 0.8 x 4h = 3h12
    assert resolution.met_at is None
    assert resolution.due == madrid("2026-03-03 11:00")
    assert resolution.paused == 6 * H
    # Completed again at 10:45: 3h45 used in all -> met.
    story.complete(madrid("2026-03-03 10:45"))
    _, again = clocks(story, madrid("2026-03-04 09:00"))
    assert again.state is ClockState.MET
    assert again.elapsed == 225 * M


def test_a_request_reopened_past_its_target_is_breached_at_once() -> None:
    # Urgent (4 h), opened Mon 09:00 CET: 09:00-13:00 uses the whole target, so it is due at
    # 13:00, the lunch closing. Completed at 13:30, during lunch: no more business time was
    # used, but it is after the due instant -> missed. Reopened Tue 09:00: nothing left and
    # past due -> breached at once, with the same due instant.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .complete(madrid("2026-03-02 13:30"))
    )
    _, missed = clocks(story, madrid("2026-03-02 15:00"))
    assert missed.state is ClockState.MISSED
    story.reopen(madrid("2026-03-03 09:00"))
    _, resolution = clocks(story, madrid("2026-03-03 09:00"))
    assert resolution.state is ClockState.BREACHED
    assert resolution.due == madrid("2026-03-02 13:00")


# -- DST -------------------------------------------------------------------------------------------


def test_spring_forward_in_madrid_on_a_24x7_calendar_counts_real_hours() -> None:
    # Opened Sat 2026-03-28 20:00 CET (19:00 UTC), 24x7 Madrid, resolution 24 h of real time
    # -> Sun 19:00 UTC, which the wall clock shows as 21:00 CEST (an hour was skipped at 02:00).
    sla = policy(Calendar.always_open("Europe/Madrid"))
    story = Story(madrid("2026-03-28 20:00")).classify(madrid("2026-03-28 20:00"), "normal")
    _, resolution = clocks(story, madrid("2026-03-28 21:00"), sla)
    assert resolution.due == utc("2026-03-29 19:00")
    assert resolution.due.astimezone(MADRID).hour == 21


def test_spring_forward_in_madrid_keeps_office_hours_in_local_time() -> None:
    # Opened Fri 2026-03-27 17:00 CET (16:00 UTC), default first response 4 h: Fri 17-18 (1h);
    # the clocks go forward on Sunday; Mon 30 09:00 CEST (07:00 UTC) + 3h -> 12:00 CEST
    # = 10:00 UTC.
    story = Story(madrid("2026-03-27 17:00"))
    first, _ = clocks(story, madrid("2026-03-27 17:30"))
    assert first.due == utc("2026-03-30 10:00")


def test_fall_back_in_madrid_on_a_24x7_calendar_counts_the_repeated_hour() -> None:
    # Opened Sat 2026-10-24 12:00 CEST (10:00 UTC), 24x7: 24 h later is Sun 10:00 UTC, shown as
    # 11:00 CET because 02:00-03:00 happened twice.
    sla = policy(Calendar.always_open("Europe/Madrid"))
    story = Story(madrid("2026-10-24 12:00")).classify(madrid("2026-10-24 12:00"), "normal")
    _, resolution = clocks(story, madrid("2026-10-24 13:00"), sla)
    assert resolution.due == utc("2026-10-25 10:00")
    assert resolution.due.astimezone(MADRID).hour == 11


def test_spring_forward_in_new_york_keeps_office_hours_in_local_time() -> None:
    # New York office Mon-Fri 09-17. Opened Fri 2026-03-06 16:00 EST (21:00 UTC), default
    # first response 4 h: Fri 16-17 (1h); DST starts Sunday; Mon 9 09:00 EDT (13:00 UTC) + 3h
    # -> 12:00 EDT = 16:00 UTC.
    sla = policy(NEW_YORK_OFFICE)
    story = Story(new_york("2026-03-06 16:00"))
    first, _ = clocks(story, new_york("2026-03-06 16:30"), sla)
    assert first.due == utc("2026-03-09 16:00")


def test_fall_back_in_new_york_keeps_office_hours_in_local_time() -> None:
    # Opened Fri 2026-10-30 15:00 EDT (19:00 UTC), 4 h: Fri 15-17 (2h); DST ends Sunday;
    # Mon 2 Nov 09:00 EST (14:00 UTC) + 2h -> 11:00 EST = 16:00 UTC.
    sla = policy(NEW_YORK_OFFICE)
    story = Story(new_york("2026-10-30 15:00"))
    first, _ = clocks(story, new_york("2026-10-30 15:30"), sla)
    assert first.due == utc("2026-11-02 16:00")


def test_fall_back_in_new_york_on_a_24x7_calendar_due_lands_in_the_repeated_hour() -> None:
    # Opened Sat 2026-10-31 23:00 EDT (Sun 03:00 UTC), 24x7 New York, default first response
    # 4 h -> 07:00 UTC, which is 02:00 EST: the wall clock moved only 3 h because 01:00-02:00
    # happened twice.
    sla = policy(Calendar.always_open("America/New_York"))
    story = Story(new_york("2026-10-31 23:00"))
    first, _ = clocks(story, new_york("2026-10-31 23:30"), sla)
    assert first.due == utc("2026-11-01 07:00")
    assert first.due.astimezone(NEW_YORK).hour == 2


# -- deemed acceptance and follow-ups ---------------------------------------------------------


def test_deemed_acceptance_comes_after_the_silence_in_business_time() -> None:
    # Completed Thu 2026-03-05 16:00 CET; 16 h of silence: Thu 16-18 (2h) + Fri 8h = 10h;
    # weekend closed; Mon 9: 09-13 (4h) + 14-16 (2h) -> Mon 2026-03-09 16:00 CET.
    story = (
        Story(madrid("2026-03-05 09:00"))
        .assign(madrid("2026-03-05 09:05"))
        .complete(madrid("2026-03-05 16:00"))
    )
    assert story.tracker.awaiting_acceptance
    assert story.tracker.deemed_acceptance_at(MADRID_POLICY) == madrid("2026-03-09 16:00")


def test_a_customer_s_word_while_awaiting_acceptance_restarts_the_silence() -> None:
    # Completed Thu 16:00; the customer logs a complaint Fri 2026-03-06 10:00: silence counts
    # from there: Fri 10-13, 14-18 (7h) + Mon 8h = 15h; Tue 09:00-10:00 -> Tue 10:00 CET.
    story = (
        Story(madrid("2026-03-05 09:00"))
        .assign(madrid("2026-03-05 09:05"))
        .complete(madrid("2026-03-05 16:00"))
        .complain(madrid("2026-03-06 10:00"))
    )
    assert story.tracker.deemed_acceptance_at(MADRID_POLICY) == madrid("2026-03-10 10:00")


def test_no_deemed_acceptance_when_the_policy_disables_it_or_nothing_awaits_acceptance() -> None:
    story = Story(madrid("2026-03-05 09:00")).assign(madrid("2026-03-05 09:05"))
    assert story.tracker.deemed_acceptance_at(MADRID_POLICY) is None
    story.complete(madrid("2026-03-05 16:00"))
    assert story.tracker.deemed_acceptance_at(policy(deemed=None)) is None
    story.reopen(madrid("2026-03-06 09:00"))
    assert not story.tracker.awaiting_acceptance


def test_a_follow_up_completion_exposes_its_date_until_marked_due() -> None:
    follow = madrid("2026-03-10 09:00")
    story = (
        Story(madrid("2026-03-05 09:00"))
        .assign(madrid("2026-03-05 09:05"))
        .complete(madrid("2026-03-05 16:00"), "follow_up", follow_up_at=follow)
    )
    assert story.tracker.follow_up_at == follow
    assert not story.tracker.follow_up_due
    story.request.mark_follow_up_due(actor="system", at=Moment(follow, follow))
    story.events += story.request.collect_events()
    assert story.tracker.follow_up_due
    assert story.request.follow_up_due


# -- time, order and purity ----------------------------------------------------------------------


def test_arithmetic_is_to_the_second() -> None:
    # Opened at 09:00:00.900 and asked at 09:00:59.999: both truncate, so 59 s are used.
    story = Story(madrid("2026-03-02 09:00:00.900"))
    first, _ = clocks(story, madrid("2026-03-02 09:00:59.999"))
    assert first.elapsed == 59 * S
    assert story.tracker.opened_at == madrid("2026-03-02 09:00:00")


def test_events_at_the_same_instant_keep_their_log_order() -> None:
    # Opened, assigned and probed within the same second: met with nothing used. A pause and
    # the reply in the same second pause nothing.
    at = madrid("2026-03-02 09:00")
    story = Story(at).assign(at).probe(at).wait(at).respond(at)
    first, resolution = clocks(story, madrid("2026-03-02 10:00"))
    assert first.state is ClockState.MET
    assert first.elapsed == timedelta(0)
    assert resolution.paused == timedelta(0)
    assert resolution.elapsed == H


def test_events_after_the_instant_asked_about_do_not_count() -> None:
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:05"))
        .probe(madrid("2026-03-02 11:00"))
    )
    first, _ = clocks(story, madrid("2026-03-02 10:00"))
    assert first.state is ClockState.RUNNING
    assert first.met_at is None


def test_an_instant_must_be_aware_and_not_before_the_opening() -> None:
    tracker = Story(madrid("2026-03-02 09:00")).tracker
    with pytest.raises(ValidationFailedError, match="naive"):
        tracker.status(datetime(2026, 3, 2, 10, 0), MADRID_POLICY)  # noqa: DTZ001 - the point
    with pytest.raises(ValidationFailedError, match="opened"):
        tracker.status(madrid("2026-03-02 08:00"), MADRID_POLICY)


def test_the_tracker_round_trips_through_json() -> None:
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:01"), "normal")
        .assign(madrid("2026-03-02 09:02"))
        .wait(madrid("2026-03-02 10:00"))
        .respond(madrid("2026-03-02 11:00"))
        .complete(madrid("2026-03-02 12:00"), "follow_up", follow_up_at=madrid("2026-03-09 09:00"))
        .complain(madrid("2026-03-03 09:00"))
    )
    tracker = story.tracker
    again = SlaTracker.model_validate_json(tracker.model_dump_json())
    assert again == tracker
    assert again.model_dump_json() == tracker.model_dump_json()
    at = madrid("2026-03-05 09:00")
    assert again.status(at, MADRID_POLICY) == tracker.status(at, MADRID_POLICY)


def test_the_tracker_ignores_events_it_does_not_use() -> None:
    story = Story(madrid("2026-03-02 09:00"))
    tracker = story.tracker
    story.assign(madrid("2026-03-02 09:05"))
    assert SlaTracker.fold(tracker, story.events[-1]) is tracker
    assert SlaTracker.fold(None, story.events[-1]) is None
    assert SlaTracker.fold(tracker, object()) is tracker


# -- timelines -----------------------------------------------------------------------------------


def test_the_timeline_explains_a_breach_step_by_step() -> None:
    # Opened 09:00, normal at 09:05, waiting on the customer 10:00-11:00, urgent at 11:30. Asking
    # the customer at 10:00 is the first response (met under normal's 8 h, and a met clock keeps
    # its verdict and target when urgent comes); resolution (4 h: 09-10 + 11-13 + 14:00-15:00 ->
    # due 15:00) pauses while waiting, warns at 14:12 (3h12 used) and is breached from 15:00:01,
    # the first second past its due instant (at 15:00 itself it is still at risk).
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:05"), "normal")
        .assign(madrid("2026-03-02 09:10"))
        .wait(madrid("2026-03-02 10:00"))
        .respond(madrid("2026-03-02 11:00"))
        .classify(madrid("2026-03-02 11:30"), "urgent")
    )
    entries = story.tracker.timeline(MADRID_POLICY, until=madrid("2026-03-02 16:00"))
    first = [(e.kind, e.at, e.cause) for e in entries if e.clock == "first_response"]
    assert first == [
        (TimelineKind.STARTED, madrid("2026-03-02 09:00"), "Opened v1"),
        (TimelineKind.TARGET_CHANGED, madrid("2026-03-02 09:05"), "Classified v2"),
        (TimelineKind.MET, madrid("2026-03-02 10:00"), "WaitingOnCustomer v4"),
    ]
    resolution = [(e.kind, e.at, e.cause) for e in entries if e.clock == "resolution"]
    assert resolution[2:4] == [
        (TimelineKind.PAUSED, madrid("2026-03-02 10:00"), "WaitingOnCustomer v4"),
        (TimelineKind.RESUMED, madrid("2026-03-02 11:00"), "CustomerResponded v5"),
    ]
    assert resolution[-2:] == [
        (TimelineKind.WARNED, madrid("2026-03-02 14:12"), "time"),
        (TimelineKind.BREACHED, madrid("2026-03-02 15:00:01"), "time"),
    ]
    assert all(e.message for e in entries)
    assert [e.at for e in entries] == sorted(e.at for e in entries)


def test_the_timeline_without_an_end_stops_at_the_last_event() -> None:
    story = Story(madrid("2026-03-02 09:00")).assign(madrid("2026-03-02 09:05"))
    kinds = [e.kind for e in story.tracker.timeline(MADRID_POLICY)]
    assert kinds == [TimelineKind.STARTED, TimelineKind.STARTED]


def test_the_timeline_shows_met_missed_reopened_and_cancelled() -> None:
    story = (
        Story(madrid("2026-03-02 09:00"))
        .classify(madrid("2026-03-02 09:00"), "urgent")
        .assign(madrid("2026-03-02 09:01"))
        .probe(madrid("2026-03-02 10:30"))
        .complete(madrid("2026-03-02 12:00"))
        .reopen(madrid("2026-03-03 09:00"))
        .cancel(madrid("2026-03-03 09:30"))
    )
    entries = story.tracker.timeline(MADRID_POLICY, until=madrid("2026-03-04 09:00"))
    kinds = [(e.clock, e.kind) for e in entries if e.cause != "time"]
    assert ("first_response", TimelineKind.MISSED) in kinds
    assert ("resolution", TimelineKind.MET) in kinds
    assert ("resolution", TimelineKind.RESUMED) in kinds
    assert ("resolution", TimelineKind.CANCELLED) in kinds
    assert ("first_response", TimelineKind.CANCELLED) not in kinds


# -- versioned policies -----------------------------------------------------------------------


def adoption(sla: SlaPolicy, effective: datetime, sequence: int) -> PolicyAdoption:
    return PolicyAdoption(
        policy=sla, effective_from=effective, adopted_by="system", adopted_at=effective,
        sequence=sequence,
    )  # fmt: skip


def test_a_request_is_measured_with_the_policy_in_force_at_its_opening() -> None:
    v1 = adoption(policy(version=1), utc("2026-01-01 00:00"), 2)
    v2 = adoption(policy(version=2), utc("2026-03-01 00:00"), 3)
    assert policy_in_force([v1, v2], utc("2026-02-15 00:00")) == v1
    assert policy_in_force([v1, v2], utc("2026-03-01 00:00")) == v2
    assert policy_in_force([v1, v2], utc("2025-12-31 00:00")) is None
    assert policy_at([v1, v2], utc("2025-12-31 00:00")) == DEFAULT_POLICY


def test_a_forgotten_holiday_flips_an_outcome_in_a_what_if() -> None:
    # Opened Mon 2026-03-02 09:00 CET, default resolution 16 h: due Tue 18:00. Resolved Wed
    # 12:00 -> missed. Had Tue 3 been a holiday, due would be Wed 18:00 -> met, 24 h later.
    story = (
        Story(madrid("2026-03-02 09:00"))
        .assign(madrid("2026-03-02 09:05"))
        .complete(madrid("2026-03-04 12:00"))
    )
    corrected = policy(office("2026-03-03", version=2), version=2)
    flips = compare(story.tracker, madrid("2026-03-05 09:00"), MADRID_POLICY, corrected)
    assert [(f.clock, f.before, f.after, f.due_delta) for f in flips] == [
        ("resolution", ClockState.MISSED, ClockState.MET, 24 * H)
    ]
