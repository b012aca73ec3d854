"""Corrections that reach open requests, and bitemporal answers (DESIGN "SLA semantics"; issue 16
item 4), on every store.

A correction is a higher version of an adopted policy adopted ``effective_from`` a past instant.
It re-times, from their opening, the clocks of the requests opened from ``effective_from`` on that
still ran when it was recorded; a clock stopped before keeps the version it stopped under; a
request opened before ``effective_from`` keeps its version. ``sla(ref, at=T, known_at=K)``
answers with what the desk had recorded by K.

Every answer below is worked out by hand. The calendar is Madrid's office, Monday to Friday
09:00-17:00 local time (8 business hours a day); in early March 2026 Madrid is UTC+1, so a
business day is 08:00-16:00 UTC. Version 1 forgot a holiday, Thursday 2026-03-05; version 2 (the
correction) has it. The policy's one rule: first response 4h, resolution 24h, ``warn_at`` 0.8
(the resolution clock warns from 19h12 of business time). The desk clock starts on Monday
2026-03-02 09:00 UTC (10:00 in Madrid). All instants below are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest

from conftest import DeskFactory, FakeClock, view_rows
from servflow import (
    Calendar,
    ClockState,
    ConfigurationError,
    Request,
    RequestNotFoundError,
    ServiceDesk,
    SlaPolicy,
    SlaRule,
    ValidationFailedError,
)
from servflow.domain.request import Moment, ServiceRequest
from servflow.domain.sla import SINCE_EVER, PolicyAdoption, SlaTracker, clock_policies

S = timedelta(seconds=1)


def at(text: str) -> datetime:
    """An instant (UTC) in the week of 2026-03-02, a Monday: ``at("Thu 15:00")``."""
    day, clock = text.split()
    days = ("Mon", "Tue", "Wed", "Thu", "Fri").index(day)
    hours, minutes = (int(part) for part in clock.split(":"))
    return datetime(2026, 3, 2 + days, hours, minutes, tzinfo=UTC)


def madrid(*, version: int) -> SlaPolicy:
    """v1 forgot Thursday's holiday; v2 (the correction) has it."""
    holidays = [] if version == 1 else ["2026-03-05"]
    return SlaPolicy(
        name="madrid",
        version=version,
        calendar=Calendar(
            name="madrid-office",
            version=version,
            timezone="Europe/Madrid",
            hours={day: [("09:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri")},
            holidays=holidays,
        ),
        rules=(),
        default=SlaRule(name="default", first_response="4h", resolution="24h"),
    )


def open_one(desk: ServiceDesk, clock: FakeClock, when: str) -> Request:
    """Opened, classified normal (the one rule applies) and assigned at ``when``."""
    clock.now = at(when)
    request = desk.open(
        customer="acme",
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The line drops every evening",
        actor="agent:ana",
    )
    desk.classify(request, priority="normal", actor="agent:lead")
    return desk.assign(request, team="network", agent="ana", actor="agent:lead")


def probe(desk: ServiceDesk, clock: FakeClock, request: Request, when: str) -> None:
    clock.now = at(when)
    desk.probe(request, questions=["Since when?"], findings="since Friday", actor="agent:ana")


def resolve(desk: ServiceDesk, clock: FakeClock, request: Request, when: str) -> None:
    clock.now = at(when)
    desk.complete(request, outcome="resolved", resolution="fixed", actor="agent:ana")


def test_a_correction_re_times_running_clocks_and_keeps_verdicts(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # v1 is adopted on the empty store (in force since ever). The correction v2 is recorded on
    # Thu 15:00, effective from Mon 09:30.
    # First responses are all met by probes at Mon 11:00 (due Mon 13:00 and 14:00).
    # - A, opened Mon 09:00 (before effective_from), keeps v1: resolution 24h from Mon 09:00 =
    #   Mon 7h (09:00-16:00) + Tue 8h + Wed 8h + Thu 1h: due Thu 09:00, breached from Thu 09:00:01.
    # - B, opened Mon 10:00: under v1, Mon 6h + Tue 8h + Wed 8h + Thu 2h: due Thu 10:00. Resolved
    #   Thu 11:00, before the correction: missed, and it stays missed under v1 (under v2 it would
    #   have been met: due Fri 10:00).
    # - C, opened Mon 10:00, first response met by a probe at Mon 11:00 (due Mon 14:00), still
    #   unresolved at the correction: its resolution clock is re-timed under v2. Thursday is a
    #   holiday: Mon 6h + Tue 8h + Wed 8h = 22h by Wed 16:00, none on Thursday, the last 2h on
    #   Friday: due Fri 10:00. At Thu 15:00 it has counted 22h of 24h, past the 19h12 warning:
    #   warning, not breached. Its first response, stopped before, stays met under v1.
    desk = make_desk(sla=madrid(version=1))
    a = open_one(desk, clock, "Mon 09:00")
    b = open_one(desk, clock, "Mon 10:00")
    c = open_one(desk, clock, "Mon 10:00")
    probe(desk, clock, a, "Mon 11:00")
    probe(desk, clock, b, "Mon 11:00")
    probe(desk, clock, c, "Mon 11:00")
    resolve(desk, clock, b, "Thu 11:00")
    clock.now = at("Thu 15:00")
    before = {ref.ticket_code: desk.sla(ref) for ref in (a, b, c)}
    assert before[c.ticket_code].resolution.state is ClockState.BREACHED
    assert before[c.ticket_code].resolution.due == at("Thu 10:00")
    assert [x.ticket_code for x in desk.breaches()] == [a.ticket_code, c.ticket_code]

    # Before adopting it, a what-if lists B's verdict among those the correction would flip
    # (missed -> met), and C's due moving by a day (Thu 10:00 -> Fri 10:00).
    flips = {
        (f.ticket_code, f.clock): (f.before, f.after, f.due_delta)
        for f in desk.sla_whatif(
            policy=madrid(version=2), period=(at("Mon 00:00"), at("Fri 00:00"))
        )
    }
    assert flips[b.ticket_code, "resolution"][:2] == (ClockState.MISSED, ClockState.MET)
    assert flips[c.ticket_code, "resolution"] == (
        ClockState.BREACHED,
        ClockState.WARNING,
        timedelta(days=1),
    )

    clock.now = at("Thu 15:00") + 30 * S
    correction = desk.adopt_policy(
        madrid(version=2), actor="agent:admin", effective_from=at("Mon 09:30")
    )
    assert correction.effective_from == at("Mon 09:30")
    assert correction.adopted_at == at("Thu 15:00") + 30 * S

    clock.now = at("Thu 15:01")
    now_a, now_b, now_c = desk.sla(a), desk.sla(b), desk.sla(c)
    # A: opened before effective_from, untouched.
    assert (now_a.resolution.state, now_a.resolution.due) == (ClockState.BREACHED, at("Thu 09:00"))
    assert now_a.resolution.policy_version == 1
    # B: stopped before the correction: its verdict and version stand.
    assert (now_b.resolution.state, now_b.resolution.due) == (ClockState.MISSED, at("Thu 10:00"))
    assert now_b.resolution.policy_version == 1
    # C: re-timed from its opening under v2; its first response keeps v1.
    assert (now_c.resolution.state, now_c.resolution.due) == (ClockState.WARNING, at("Fri 10:00"))
    assert (now_c.resolution.policy_version, now_c.resolution.calendar_version) == (2, 2)
    assert now_c.first_response.state is ClockState.MET
    assert now_c.first_response.policy_version == 1

    # Known at Thu 15:00 (before the correction was recorded): what the desk answered then.
    for ref in (a, b, c):
        assert (
            desk.sla(ref, at=at("Thu 15:00"), known_at=at("Thu 15:00")) == before[ref.ticket_code]
        )
    # known_at may be before at: the correction is not known yet, the clock runs on under v1.
    later = desk.sla(c, at=at("Fri 09:00"), known_at=at("Thu 15:00"))
    assert (later.resolution.state, later.resolution.policy_version) == (ClockState.BREACHED, 1)
    # Before C was recorded, the desk knew nothing of it.
    with pytest.raises(RequestNotFoundError):
        desk.sla(c, at=at("Thu 15:00"), known_at=at("Mon 09:59"))

    # The views: C is no longer breached, it is at risk under v2; and they equal a rebuild.
    assert [(x.ticket_code, x.policy_version) for x in desk.breaches()] == [(a.ticket_code, 1)]
    risky = desk.at_risk()
    assert [(x.ticket_code, x.due, x.policy_version) for x in risky] == [
        (c.ticket_code, at("Fri 10:00"), 2)
    ]
    followed = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == followed

    # Resolved on Friday at 09:30, before its corrected due: met under v2.
    resolve(desk, clock, c, "Fri 09:30")
    done = desk.sla(c).resolution
    assert (done.state, done.policy_version) == (ClockState.MET, 2)
    # The timeline explains each clock under its own version.
    timeline = desk.sla_timeline(c)
    assert {e.due for e in timeline if e.clock == "resolution" and e.due} == {at("Fri 10:00")}
    old = desk.sla_timeline(c, until=at("Thu 15:00"), known_at=at("Thu 15:00"))
    assert any(e.clock == "resolution" and e.state is ClockState.BREACHED for e in old)


def test_a_request_opened_after_a_correction_is_measured_by_it(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Opened Thu 15:30, after the correction: v2, Thursday is a holiday, so the first response
    # (4h) counts from Fri 08:00: due Fri 12:00.
    desk = make_desk(sla=madrid(version=1))
    clock.now = at("Thu 15:00")
    desk.adopt_policy(madrid(version=2), actor="agent:admin", effective_from=at("Mon 09:30"))
    request = open_one(desk, clock, "Thu 15:30")
    first = desk.sla(request).first_response
    assert (first.due, first.policy_version) == (at("Fri 12:00"), 2)


def test_what_a_correction_may_not_do(make_desk: DeskFactory, clock: FakeClock) -> None:
    # v1 is adopted after a request was opened: it is in force from Mon 09:00:01 on.
    desk = make_desk()
    open_one(desk, clock, "Mon 09:00")
    first = desk.adopt_policy(madrid(version=1), actor="agent:admin")
    assert first.effective_from == at("Mon 09:00") + S
    head = len(desk.policies())
    clock.now = at("Tue 09:00")
    # Back-dated before v1 was in force: it would reach requests v1 never measured.
    with pytest.raises(ValidationFailedError, match="before 'madrid' was first in force"):
        desk.adopt_policy(madrid(version=2), actor="agent:admin", effective_from=at("Mon 08:00"))
    # A policy never adopted is not a correction: it cannot be back-dated.
    other = madrid(version=2).model_copy(update={"name": "other"})
    with pytest.raises(ValidationFailedError, match="in the past"):
        desk.adopt_policy(other, actor="agent:admin", effective_from=at("Mon 10:00"))
    # The same version with other content is refused, as ever (a correction is a new version).
    changed = madrid(version=2).model_copy(update={"version": 1})
    with pytest.raises(ConfigurationError):
        desk.adopt_policy(changed, actor="agent:admin", effective_from=at("Mon 10:00"))
    # known_at must be an instant.
    with pytest.raises(ValidationFailedError):
        desk.sla("SR-000001", known_at=datetime(2026, 3, 2, 9))  # noqa: DTZ001 - naive on purpose
    assert len(desk.policies()) == head
    # Effective from exactly when v1 was: allowed.
    corrected = desk.adopt_policy(
        madrid(version=2), actor="agent:admin", effective_from=first.effective_from
    )
    assert corrected.effective_from == first.effective_from


def test_history_recorded_after_a_correction_is_measured_by_it_whatever_its_dates() -> None:
    # Request D happened like B (opened Mon 10:00, probed Mon 11:00, resolved Thu 11:00) but was
    # recorded after the correction (imported on Thu 15:10): the desk never reported anything on
    # it under v1, so all its clocks follow v2, and its resolution (due Fri 10:00) is met. The
    # same history recorded as it happened keeps v1 for the clocks stopped before the correction.
    imported = at("Thu 15:10")
    v1 = PolicyAdoption(
        policy=madrid(version=1),
        effective_from=SINCE_EVER,
        adopted_by="system",
        adopted_at=at("Mon 08:00"),
        sequence=2,
    )
    v2 = PolicyAdoption(
        policy=madrid(version=2),
        effective_from=at("Mon 09:30"),
        adopted_by="agent:admin",
        adopted_at=at("Thu 15:00"),
        sequence=3,
    )

    def tracker(*, late: bool) -> SlaTracker:
        def moment(when: str) -> Moment:
            return Moment(recorded_at=imported if late else at(when), occurred_at=at(when))

        request = ServiceRequest.open(
            ticket_code="SR-000004",
            customer="acme",
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom="s",
            synthesis=None,
            actor="agent:ana",
            at=moment("Mon 10:00"),
        )
        request.classify(
            priority="normal", kind=None, category=None, actor="agent:lead", at=moment("Mon 10:00")
        )
        request.assign(team="network", agent="ana", actor="agent:lead", at=moment("Mon 10:00"))
        request.probe(
            questions=["?"], findings="f", diagnosis=None, actor="agent:ana", at=moment("Mon 11:00")
        )
        request.complete(
            outcome="resolved",
            resolution="fixed",
            follow_up_at=None,
            to_team=None,
            actor="agent:ana",
            at=moment("Thu 11:00"),
        )
        found = reduce(SlaTracker.fold, request.collect_events(), None)
        assert found is not None
        return found

    late = tracker(late=True)
    policies = clock_policies([v1, v2], late)
    assert policies.single
    assert policies.resolution.version == 2
    resolution = late.status(at("Fri 12:00"), policies.resolution).resolution
    assert (resolution.state, resolution.due) == (ClockState.MET, at("Fri 10:00"))

    on_time = tracker(late=False)
    kept = clock_policies([v1, v2], on_time)
    assert (kept.first_response.version, kept.resolution.version) == (1, 1)
