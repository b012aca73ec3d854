"""SLA clocks through ``ServiceDesk`` on every store: answers, explanations, what-ifs, due events,
listings from the SLA projection, and versioned policies in the log.

The desk clock starts on Monday 2026-03-02 09:00 UTC, 10:00 in Madrid (CET, UTC+1). The office
calendar is open Mon-Fri 09:00-13:00 and 14:00-18:00 Madrid time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import FakeClock
from servflow import (
    Calendar,
    ClockState,
    ConfigurationError,
    Request,
    RequestNotFoundError,
    ServiceDesk,
    SlaPolicy,
    SlaRule,
    Status,
    TimelineKind,
    ValidationFailedError,
)

DeskFactory = Callable[..., ServiceDesk]
MADRID = ZoneInfo("Europe/Madrid")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
H = timedelta(hours=1)


def madrid(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MADRID)


def office(*holidays: str, version: int = 1) -> Calendar:
    return Calendar(
        name="madrid-office",
        version=version,
        timezone="Europe/Madrid",
        hours={day: [("09:00", "13:00"), ("14:00", "18:00")] for day in WORKDAYS},
        holidays=list(holidays),
    )


def office_policy(
    *, version: int = 1, calendar: Calendar | None = None, deemed: str = "16h"
) -> SlaPolicy:
    """default 4h / 16h; urgent 1h / 4h; normal 8h / 24h."""
    return SlaPolicy(
        name="madrid",
        version=version,
        calendar=calendar or office(),
        rules=(
            SlaRule(name="urgent", priority="urgent", first_response="1h", resolution="4h"),
            SlaRule(name="normal", priority="normal", first_response="8h", resolution="24h"),
        ),
        default=SlaRule(name="default", first_response="4h", resolution="16h"),
        deemed_acceptance_after=deemed,
    )


def open_one(desk: ServiceDesk, customer: str = "acme") -> Request:
    return desk.open(
        customer=customer,
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The line drops every evening",
        actor="agent:ana",
    )


def worked(desk: ServiceDesk, priority: str = "urgent") -> Request:
    request = open_one(desk)
    desk.classify(request, priority=priority, actor="agent:lead")
    return desk.assign(request, team="network", agent="ana", actor="agent:lead")


# -- answers ---------------------------------------------------------------------------------------


def test_the_desk_answers_both_clocks_of_a_request(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Opened Mon 10:00 CET, urgent: first response 1 h -> 11:00; resolution 4 h -> 10-13 (3h)
    # + 14:00-15:00 -> 15:00. At 10:30: 30 min used of each.
    desk = make_desk(sla=office_policy())
    request = worked(desk)
    clock.advance(minutes=30)
    status = desk.sla(request)
    assert status.at == clock.now
    assert status.ticket_code == request.ticket_code
    assert status.first_response.due == madrid("2026-03-02 11:00")
    assert status.resolution.due == madrid("2026-03-02 15:00")
    assert status.first_response.elapsed == timedelta(minutes=30)
    assert status.first_response.state is ClockState.RUNNING
    assert (status.resolution.policy, status.resolution.policy_version) == ("madrid", 1)
    # Asked by ticket code and at a later instant: breached at 11:00:01, nothing recorded.
    later = desk.sla(request.ticket_code, at=madrid("2026-03-02 11:00:01"))
    assert later.first_response.state is ClockState.BREACHED


def test_the_answer_for_an_instant_never_changes_as_history_grows(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=office_policy())
    request = worked(desk)
    clock.advance(minutes=20)
    asked_at = clock.now
    before = desk.sla(request, at=asked_at)
    clock.advance(minutes=20)
    desk.probe(request, questions=["When?"], findings="at night", actor="agent:ana")
    clock.advance(hours=2)
    desk.wait_on_customer(request, reason="the serial number", actor="agent:ana")
    assert desk.sla(request, at=asked_at) == before
    assert desk.sla(request).first_response.state is ClockState.MET


def test_the_desk_refuses_naive_instants_and_instants_before_the_opening(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    request = open_one(desk)
    with pytest.raises(ValidationFailedError, match="naive"):
        desk.sla(request, at=datetime(2026, 3, 2, 12, 0))  # noqa: DTZ001 - the point
    with pytest.raises(RequestNotFoundError, match="opened after"):
        desk.sla(request, at=clock.now - timedelta(hours=1))
    with pytest.raises(RequestNotFoundError):
        desk.sla("SR-999999")
    with pytest.raises(ValidationFailedError):
        desk.breaches(at=datetime(2026, 3, 2, 12, 0))  # noqa: DTZ001 - the point


def test_without_a_policy_the_built_in_standard_applies_and_nothing_is_recorded(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    request = open_one(desk)
    desk.classify(request, priority="urgent", actor="agent:lead")
    assert desk.policies() == []
    assert desk.projection_status()[0].head == 2  # just the two request events
    status = desk.sla(request)
    # standard: 24x7 UTC, urgent 1 h / 4 h.
    assert status.first_response.due == clock.now + H
    assert (status.first_response.policy, status.first_response.policy_version) == (
        "standard",
        1,
    )


def test_the_timeline_explains_why_a_clock_breached(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Urgent first response due 11:00 CET; nobody answers; asked at 12:00 CET.
    desk = make_desk(sla=office_policy())
    request = worked(desk)
    clock.now = madrid("2026-03-02 12:00").astimezone(UTC)
    entries = desk.sla_timeline(request)
    first = [(e.kind, e.cause) for e in entries if e.clock == "first_response"]
    assert first == [
        (TimelineKind.STARTED, "Opened v1"),
        (TimelineKind.TARGET_CHANGED, "Classified v2"),
        (TimelineKind.WARNED, "time"),
        (TimelineKind.BREACHED, "time"),
    ]
    breach = next(e for e in entries if e.kind is TimelineKind.BREACHED)
    # Breached from the first second past its due instant; the message names the due instant.
    assert breach.at == madrid("2026-03-02 11:00:01")
    assert "1h target" in breach.message
    assert desk.sla(request, at=breach.at).first_response.state is ClockState.BREACHED
    before = breach.at - timedelta(seconds=1)
    assert desk.sla(request, at=before).first_response.state is not ClockState.BREACHED


# -- what-if ---------------------------------------------------------------------------------------


def test_a_what_if_shows_the_outcome_a_forgotten_holiday_flips_without_recording_anything(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Opened Mon 10:00 CET, default resolution 16 h -> 10-13, 14-18 (7h) + Tue 8h + Wed
    # 09:00-10:00 -> due Wed 10:00. Resolved Wed 12:00 -> missed. Had Tue 3 March been a
    # holiday, due Thu 10:00 -> met, 24 h later.
    desk = make_desk(sla=office_policy())
    request = open_one(desk)
    desk.classify(request, priority="high", actor="agent:lead")  # no rule: the default
    desk.assign(request, team="network", agent="ana", actor="agent:lead")
    clock.now = madrid("2026-03-04 12:00").astimezone(UTC)
    desk.complete(request, outcome="resolved", resolution="fixed", actor="agent:ana")
    other = worked(desk)  # opened Wed, not in the period below
    head = desk.projection_status()[0].head
    corrected = office_policy(version=2, calendar=office("2026-03-03", version=2))
    flips = desk.sla_whatif(
        policy=corrected, period=(madrid("2026-03-02 00:00"), madrid("2026-03-03 00:00"))
    )
    changed = [(f.ticket_code, f.clock, f.before, f.after, f.flipped, f.due_delta) for f in flips]
    assert (request.ticket_code, "resolution", ClockState.MISSED, ClockState.MET, True, 24 * H) in (
        changed
    )
    # Every other entry is a due instant that moves without a flip.
    assert all(f.flipped == (f.before is not f.after) for f in flips)
    assert all(f.due_delta for f in flips if not f.flipped)
    flip = next(f for f in flips if f.flipped)
    assert (flip.policy_before, flip.policy_after) == ("madrid v1", "madrid v2")
    assert (flip.calendar_before, flip.calendar_after) == ("madrid-office v1", "madrid-office v2")
    assert desk.projection_status()[0].head == head  # nothing recorded
    assert desk.sla(request).resolution.state is ClockState.MISSED  # what was reported stays
    assert other.ticket_code not in {f.ticket_code for f in flips}
    with pytest.raises(ValidationFailedError):
        desk.sla_whatif(policy=corrected, period=(clock.now, clock.now - H))
    # A candidate labelled like the adopted version would compare "madrid v1 -> madrid v1".
    same_label = office_policy(version=1, calendar=office("2026-03-03", version=2))
    period = (madrid("2026-03-02 00:00"), madrid("2026-03-03 00:00"))
    with pytest.raises(ValidationFailedError, match="madrid v1 is adopted already"):
        desk.sla_whatif(policy=same_label, period=period)
    assert desk.projection_status()[0].head == head


# -- time-based events ---------------------------------------------------------------------------


def test_run_due_records_a_deemed_acceptance_at_the_instant_silence_reached_its_limit(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Completed Mon 2026-03-02 16:00 CET; 16 h of silence: Mon 16-18 (2h) + Tue 8h + Wed
    # 09:00-13:00, 14:00-16:00 (6h) -> deemed accepted Wed 2026-03-04 16:00 CET.
    desk = make_desk(sla=office_policy())
    request = worked(desk)
    clock.now = madrid("2026-03-02 16:00").astimezone(UTC)
    desk.complete(request, outcome="resolved", resolution="fixed", actor="agent:ana")
    clock.now = madrid("2026-03-04 15:59:59").astimezone(UTC)
    assert desk.run_due() == []
    clock.now = madrid("2026-03-05 09:00").astimezone(UTC)
    actions = desk.run_due()
    assert [(a.ticket_code, a.action, a.occurred_at) for a in actions] == [
        (request.ticket_code, "deemed_acceptance", madrid("2026-03-04 16:00"))
    ]
    closed = desk.get(request)
    assert closed.status is Status.CLOSED
    last = desk.history(request)[-1]
    assert (last.event_type, last.actor, last.occurred_at) == (
        "CustomerAccepted",
        "system",
        madrid("2026-03-04 16:00"),
    )
    assert last.data["deemed"] is True
    assert desk.run_due() == []  # idempotent
    assert len(desk.history(request)) == 5


def test_run_due_marks_a_follow_up_due_once_and_leaves_the_status(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=office_policy(deemed="40h"))
    request = worked(desk)
    follow_up = clock.now + timedelta(days=1)
    desk.complete(
        request,
        outcome="follow_up",
        resolution="call back tomorrow",
        follow_up_at=follow_up,
        actor="agent:ana",
    )
    assert desk.run_due() == []
    clock.advance(days=2)
    actions = desk.run_due()
    assert [(a.action, a.occurred_at) for a in actions] == [("follow_up_due", follow_up)]
    assert desk.get(request).status is Status.COMPLETED
    assert desk.run_due() == []
    assert desk.history(request)[-1].event_type == "FollowUpDue"
    with pytest.raises(ValidationFailedError):
        desk.run_due(at=clock.now + H)  # cannot record what has not happened yet


# -- listings from the projection ------------------------------------------------------------------


def build_a_mixed_desk(desk: ServiceDesk, clock: FakeClock) -> list[Request]:
    """Requests in every state, opened over a few hours (urgent ones breach quickly)."""
    requests = []
    for n, priority in enumerate(("urgent", "normal", "urgent", "low", "urgent", "normal")):
        clock.advance(minutes=25)
        request = open_one(desk, customer=f"c{n}")
        desk.classify(request, priority=priority, actor="agent:lead")
        desk.assign(request, team=("network", "billing")[n % 2], agent=f"a{n}", actor="agent:l")
        requests.append(request)
    clock.advance(minutes=10)
    desk.probe(requests[0], questions=["q"], findings="f", actor="agent:a0")
    desk.wait_on_customer(requests[2], reason="serial", actor="agent:a2")
    desk.cancel(requests[3], reason="duplicate", actor="agent:a3")
    clock.advance(minutes=30)
    desk.complete(
        requests[4], outcome="transferred", resolution="r", to_team="field", actor="agent:a"
    )
    requests.append(open_one(desk, customer="late"))  # unclassified
    return requests


def test_breaches_and_at_risk_from_the_projection_agree_with_the_desk(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=office_policy())
    requests = build_a_mixed_desk(desk, clock)
    for hours in (0, 0.5, 1, 2, 4, 8, 30):
        at = clock.now + timedelta(hours=hours)
        expected_breaches, expected_risks = set(), set()
        for request in requests:
            for clock_state in desk.sla(request, at=at).clocks:
                key = (request.ticket_code, clock_state.name, clock_state.due)
                if clock_state.state is ClockState.BREACHED:
                    expected_breaches.add(key)
                if clock_state.state is ClockState.WARNING:
                    expected_risks.add(key)
        breaches = desk.breaches(at=at)
        risks = desk.at_risk(at=at)
        assert {(a.ticket_code, a.clock, a.due) for a in breaches} == expected_breaches
        assert {(a.ticket_code, a.clock, a.due) for a in risks} == expected_risks
        assert [a.due for a in breaches] == sorted(a.due for a in breaches)
    alerts = desk.breaches(at=clock.now + timedelta(hours=30))
    assert alerts
    assert all(a.state is ClockState.BREACHED for a in alerts)
    # Asking its customer was the waiting request's first response (late: missed, not breached),
    # and its resolution clock paused well short of its target: it raises no alert.
    waiting = requests[2]
    assert waiting.ticket_code not in {a.ticket_code for a in alerts}
    assert desk.sla(waiting).first_response.state is ClockState.MISSED
    first = next(a for a in alerts if a.ticket_code == requests[1].ticket_code)
    assert (first.team, first.agent, first.priority) == ("billing", "a1", "normal")
    assert len(desk.breaches(at=clock.now + timedelta(hours=30), limit=2)) == 2
    # A clock paused after its due instant stays breached, and the alert says it is paused.
    late = worked(desk, "urgent")
    clock.advance(hours=30)
    desk.wait_on_customer(late, reason="serial", actor="agent:a")
    resolution = next(
        a for a in desk.breaches() if a.ticket_code == late.ticket_code and a.clock == "resolution"
    )
    assert resolution.is_paused


def test_the_work_queue_orders_by_the_resolution_due_time(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=office_policy())
    normal = worked(desk, "normal")
    clock.advance(hours=2)
    urgent = worked(desk, "urgent")  # opened later, due sooner
    rows = desk.queue().rows
    assert [r.ticket_code for r in rows] == [urgent.ticket_code, normal.ticket_code]
    assert rows[0].resolution_due == desk.sla(urgent).resolution.due
    assert rows[0].first_response_due == desk.sla(urgent).first_response.due
    assert desk.rebuild_projections() > 0
    assert [r.model_dump() for r in desk.queue().rows] == [r.model_dump() for r in rows]


# -- versioned policies ---------------------------------------------------------------------------


def test_a_restarted_desk_with_a_new_policy_version_keeps_answers_for_older_requests(
    make_desk: DeskFactory, clock: FakeClock, store: str
) -> None:
    desk = make_desk(sla=office_policy(version=1))
    old = worked(desk)
    old_answer = desk.sla(old, at=clock.now + H)
    stricter = office_policy(version=2, calendar=office("2026-03-02", version=2))
    if store == "memory":  # an in-memory store cannot be reopened: adopt instead
        desk.adopt_policy(stricter, actor="agent:admin")
        second = desk
    else:
        desk.close()
        second = make_desk(sla=stricter)
    clock.advance(seconds=1)
    new = worked(second)
    assert second.sla(old, at=clock.now + H - timedelta(seconds=1)) == old_answer
    assert second.sla(new).resolution.policy_version == 2
    assert [(p.policy.name, p.policy.version, p.adopted_by) for p in second.policies()] == [
        ("madrid", 1, "system"),
        ("madrid", 2, "agent:admin" if store == "memory" else "system"),
    ]
    # The projection measured each request with its own version too.
    versions = {a.ticket_code: a.policy_version for a in second.breaches(at=clock.now + 48 * H)}
    assert versions[old.ticket_code] == 1
    assert versions[new.ticket_code] == 2


def test_a_changed_policy_under_an_adopted_version_must_bump_the_version(
    make_desk: DeskFactory, store: str
) -> None:
    desk = make_desk(sla=office_policy(version=1))
    changed = office_policy(version=1, deemed="8h")
    with pytest.raises(ConfigurationError, match="version=2"):
        desk.adopt_policy(changed, actor="agent:admin")
    with pytest.raises(ConfigurationError, match="calendar 'madrid-office' v1"):
        desk.adopt_policy(
            office_policy(version=2, calendar=office("2026-03-03")), actor="agent:admin"
        )
    desk.adopt_policy(office_policy(version=2), actor="agent:admin")
    with pytest.raises(ConfigurationError, match="older"):
        desk.adopt_policy(office_policy(version=1), actor="agent:admin")
    if store != "memory":
        desk.close()
        with pytest.raises(ConfigurationError, match="new version"):
            make_desk(sla=changed)
        # No sla given: the adopted policies stay as they are.
        again = make_desk()
        assert [p.policy.version for p in again.policies()] == [1, 2]


def test_adopting_the_latest_policy_again_records_nothing(desk: ServiceDesk) -> None:
    first = desk.adopt_policy(office_policy(), actor="agent:admin")
    head = desk.projection_status()[0].head
    assert desk.adopt_policy(office_policy(), actor="agent:admin") == first
    assert desk.projection_status()[0].head == head


def test_an_adoption_cannot_be_back_dated_but_can_be_scheduled(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    desk.adopt_policy(office_policy(version=1), actor="agent:admin")
    # Only a correction (a higher version of an adopted policy) may be back-dated.
    other = office_policy(version=2).model_copy(update={"name": "other"})
    with pytest.raises(ValidationFailedError, match="past"):
        desk.adopt_policy(other, actor="agent:admin", effective_from=clock.now - H)
    adoption = desk.adopt_policy(
        office_policy(version=2), actor="agent:admin", effective_from=clock.now + 24 * H
    )
    assert adoption.effective_from == clock.now + 24 * H
    today = worked(desk)
    clock.advance(days=2)
    tomorrow = worked(desk)
    assert desk.sla(today).first_response.policy_version == 1
    assert desk.sla(tomorrow).first_response.policy_version == 2


def test_the_first_adoption_on_an_empty_store_measures_imported_history_too(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    desk.adopt_policy(office_policy(), actor="agent:admin")
    imported = desk.open(
        customer="acme",
        channel="email",
        kind="claim",
        stage="sale",
        symptom="old ticket",
        actor="integration:crm",
        occurred_at=clock.now - timedelta(days=30),
    )
    assert desk.sla(imported).resolution.policy == "madrid"


def test_sla_queries_refuse_bad_input_with_typed_errors(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    with pytest.raises(ValidationFailedError, match="SlaPolicy"):
        desk.sla_whatif(policy="standard", period=(clock.now - H, clock.now))  # type: ignore[arg-type]
    with pytest.raises(ValidationFailedError, match="naive"):
        desk.sla_whatif(policy=office_policy(), period=(datetime(2026, 3, 1), clock.now))  # noqa: DTZ001
    with pytest.raises(ValidationFailedError, match="limit"):
        desk.breaches(limit=0)
    with pytest.raises(ValidationFailedError, match="SlaPolicy"):
        desk.adopt_policy("standard", actor="agent:admin")  # type: ignore[arg-type]
    with pytest.raises(ValidationFailedError, match="actor"):
        desk.adopt_policy(office_policy(), actor="nobody")
    with pytest.raises(ConfigurationError, match="SlaPolicy"):
        ServiceDesk(clock=clock, sla="standard")  # type: ignore[arg-type]
    assert desk.policies() == []
