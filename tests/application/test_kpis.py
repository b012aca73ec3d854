"""``ServiceDesk.kpis`` on every store: a hand-built history with known answers, as of two
instants, with filters, and the refusals.

The built-in standard policy measures every request: 24x7 UTC, and an unclassified request
gets 8 h to the first response and 40 h to resolution; deemed acceptance after 40 h of silence.
T0 is the test clock's start, Monday 2026-03-02 09:00 UTC; the period is [T0, T0 + 24 h).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from conftest import FakeClock
from kpi_compare import assert_same_kpis
from servflow import (
    Channel,
    ClockState,
    Kind,
    Kpis,
    ServiceDesk,
    Status,
    ValidationFailedError,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)


def zeros(**counts: int) -> dict[ClockState, int]:
    return {state: counts.get(state.value, 0) for state in ClockState}


def build(desk: ServiceDesk, clock: FakeClock) -> datetime:
    """Seven requests, six in the period; returns T0. The clock ends at T0 + 200 h.

    R1 phone/information, team a: probed 1 h, one action, resolved 3 h, accepted (5) at 4 h.
    R2 email/complaint, team a: acted 2 h after opening, resolved, reopened, acted again,
       resolved 7 h after opening, accepted (3) at T0 + 30 h.
    R3 web/information, team b: probed 10 h after opening (missed), resolved 11 h after
       opening, never answered: deemed accepted at T0 + 53 h.
    R4 chat/complaint, team a: cancelled before any response; two non-conformities, one
       corrected.
    R5 phone/information: transferred from team a to team b 1 h after opening; never resolved.
    R6 web/quote, team b: never answered.
    R7 phone/information, opened at T0 + 24 h: outside the period.
    """
    t0 = clock.now
    clock.now = t0 + 200 * H
    who = "agent:ana"

    def opened(channel: str, kind: str, offset: timedelta) -> UUID:
        request = desk.open(
            customer="ACME",
            channel=channel,
            kind=kind,
            stage="sale",
            symptom="help",
            actor=who,
            occurred_at=t0 + offset,
        )
        # Normal priority: 8 h / 40 h, as the default.
        desk.classify(request, priority="normal", actor=who, occurred_at=t0 + offset)
        return request.id

    r1 = opened("phone", "information", 0 * H)
    desk.assign(r1, team="a", actor=who, occurred_at=t0 + 10 * M)
    desk.probe(r1, questions=["what?"], findings="f", actor=who, occurred_at=t0 + H)
    desk.act(r1, action="fix", effort_minutes=30, cost="10.00", actor=who, occurred_at=t0 + 2 * H)
    desk.complete(r1, outcome="resolved", resolution="ok", actor=who, occurred_at=t0 + 3 * H)
    desk.accept(r1, satisfaction=5, actor=who, occurred_at=t0 + 4 * H)

    r2 = opened("email", "complaint", 1 * H)
    desk.assign(r2, team="a", actor=who, occurred_at=t0 + H + 10 * M)
    desk.act(r2, action="try", effort_minutes=60, cost="20", actor=who, occurred_at=t0 + 3 * H)
    desk.complete(r2, outcome="resolved", resolution="ok", actor=who, occurred_at=t0 + 5 * H)
    desk.reopen(r2, reason="still broken", actor=who, occurred_at=t0 + 6 * H)
    desk.act(r2, action="again", effort_minutes=15, cost="5", actor=who, occurred_at=t0 + 7 * H)
    desk.complete(r2, outcome="resolved", resolution="ok", actor=who, occurred_at=t0 + 8 * H)
    desk.accept(r2, satisfaction=3, actor=who, occurred_at=t0 + 30 * H)

    r3 = opened("web", "information", 2 * H)
    desk.assign(r3, team="b", actor=who, occurred_at=t0 + 3 * H)
    desk.probe(r3, questions=["q"], findings="f", actor=who, occurred_at=t0 + 12 * H)
    desk.complete(r3, outcome="resolved", resolution="ok", actor=who, occurred_at=t0 + 13 * H)

    r4 = opened("chat", "complaint", 3 * H)
    desk.assign(r4, team="a", actor=who, occurred_at=t0 + 3 * H)
    desk.cancel(r4, reason="duplicate", actor=who, occurred_at=t0 + 5 * H)
    nc = desk.log_nonconformity(
        r4, description="late", severity="minor", actor=who, occurred_at=t0 + 6 * H
    )
    desk.correct_nonconformity(r4, nc, correction="fixed", actor=who, occurred_at=t0 + 7 * H)
    desk.log_nonconformity(
        r4, description="rude", severity="major", actor=who, occurred_at=t0 + 8 * H
    )

    r5 = opened("phone", "information", 4 * H)
    desk.assign(r5, team="a", actor=who, occurred_at=t0 + 4 * H)
    desk.complete(
        r5, outcome="transferred", resolution="not ours", to_team="b", actor=who,
        occurred_at=t0 + 5 * H,
    )  # fmt: skip

    r6 = opened("web", "quote", 5 * H)
    desk.assign(r6, team="b", actor=who, occurred_at=t0 + 5 * H)

    r7 = opened("phone", "information", 24 * H)
    desk.assign(r7, team="a", actor=who, occurred_at=t0 + 24 * H)

    actions = desk.run_due()
    assert [(a.action, a.occurred_at) for a in actions] == [("deemed_acceptance", t0 + 53 * H)]
    return t0


def test_kpis_of_a_known_history(desk: ServiceDesk, clock: FakeClock) -> None:
    t0 = build(desk, clock)

    kpis = desk.kpis(since=t0, until=t0 + 24 * H, exact=True)

    # The KPI view says the same (its medians and percentiles from bins, within 0.5%).
    assert_same_kpis(desk.kpis(since=t0, until=t0 + 24 * H), kpis)
    assert kpis == Kpis(
        since=t0,
        until=t0 + 24 * H,
        at=t0 + 200 * H,
        team=None,
        kind=None,
        requests=6,
        # R1, R2, R3 completed (R5's transfer is no completion); the same three closed.
        completed=3,
        closed=3,
        cancelled=1,
        # R5 and R6 still open at T0 + 200 h, opened 196 h and 195 h before: 7-30 days old.
        backlog=2,
        backlog_age={"<1d": 0, "1-3d": 0, "3-7d": 0, "7-30d": 2, ">30d": 0},
        by_status={
            Status.ASSIGNED: 1,
            Status.TRANSFERRED: 1,
            Status.CLOSED: 3,
            Status.CANCELLED: 1,
        },
        by_kind={Kind.INFORMATION: 3, Kind.QUOTE: 1, Kind.COMPLAINT: 2},
        by_channel={Channel.PHONE: 2, Channel.WEB: 2, Channel.EMAIL: 1, Channel.CHAT: 1},
        first_response=zeros(met=3, missed=1, breached=1, cancelled=1),
        resolution=zeros(met=3, breached=2, cancelled=1),
        update=zeros(),  # no rule of this policy sets an update target
        first_response_compliance=0.6,
        sla_compliance=0.6,
        # First responses after 1 h (R1), 2 h (R2), 10 h (R3), 1 h (R5's transfer).
        first_response_time=1.5 * H,
        mean_first_response_time=3.5 * H,
        p90_first_response_time=10 * H,  # nearest rank: the 4th of 4
        business_first_response_time=1.5 * H,  # every hour counts (24x7), no pause
        # Resolutions after 3 h (R1), 7 h (R2, the final completion), 11 h (R3).
        resolution_time=7 * H,
        mean_resolution_time=7 * H,
        p90_resolution_time=11 * H,  # nearest rank: the 3rd of 3
        # Business time on the resolution clocks: R2's hour awaiting acceptance before its
        # reopening does not count (3 h, 6 h, 11 h).
        business_resolution_time=6 * H,
        first_contact_resolution=2 / 3,
        reopen_rate=1 / 3,
        transfer_rate=1 / 6,  # R5
        hold_time_by_reason={},
        mean_satisfaction=4.0,
        satisfaction_count=2,
        satisfaction_distribution={1: 0, 2: 0, 3: 1, 4: 0, 5: 1},
        satisfaction_response_rate=2 / 3,  # two scores; R3's deemed acceptance has none
        deemed_acceptances=1,
        effort_minutes=105,
        cost=Decimal("35.00"),
        nonconformities=2,
        nonconformities_corrected=1,
    )
    assert list(kpis.by_status) == [
        Status.ASSIGNED,
        Status.TRANSFERRED,
        Status.CLOSED,
        Status.CANCELLED,
    ]
    assert Kpis.model_validate_json(kpis.model_dump_json()) == kpis


def test_kpis_as_of_an_earlier_instant_give_the_earlier_answers(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    t0 = build(desk, clock)

    kpis = desk.kpis(since=t0, until=t0 + 24 * H, at=t0 + 20 * H)

    assert kpis.at == t0 + 20 * H
    assert kpis.requests == 6
    # R2 and R3 are completed but not accepted yet; R7 is not open yet.
    assert kpis.by_status == {
        Status.ASSIGNED: 1,
        Status.TRANSFERRED: 1,
        Status.COMPLETED: 2,
        Status.CLOSED: 1,
        Status.CANCELLED: 1,
    }
    assert kpis.first_response == zeros(met=3, missed=1, breached=1, cancelled=1)
    assert kpis.resolution == zeros(met=3, running=2, cancelled=1)
    assert kpis.sla_compliance == 1.0
    assert kpis.resolution_time == 7 * H
    assert kpis.first_contact_resolution == 1.0
    assert kpis.reopen_rate == pytest.approx(1 / 3)
    assert (kpis.mean_satisfaction, kpis.satisfaction_count, kpis.deemed_acceptances) == (5, 1, 0)

    early = desk.kpis(since=t0, until=t0 + 24 * H, at=t0 + 6 * H + 30 * M)
    assert (early.nonconformities, early.nonconformities_corrected) == (1, 0)
    assert early.reopen_rate == 0.5  # R1 completed, R2 reopened (and not completed again yet)
    assert early.effort_minutes == 90

    before = desk.kpis(since=t0, until=t0 + 24 * H, at=t0 + 30 * M)
    assert before.requests == 1
    assert before.first_response == zeros(running=1)
    assert before.first_response_time is None
    assert before.sla_compliance is None
    assert before.first_contact_resolution is None
    assert before.reopen_rate is None
    assert before.mean_satisfaction is None
    assert before.cost == Decimal(0)


def test_kpis_filter_by_team_and_kind(desk: ServiceDesk, clock: FakeClock) -> None:
    t0 = build(desk, clock)
    since, until = t0, t0 + 24 * H

    team_a = desk.kpis(since=since, until=until, team="a")
    assert (team_a.team, team_a.requests) == ("a", 3)  # R5 is team b's since its transfer
    assert team_a.by_status == {Status.CLOSED: 2, Status.CANCELLED: 1}
    assert team_a.effort_minutes == 105

    complaints = desk.kpis(since=since, until=until, kind="complaint")
    assert (complaints.kind, complaints.requests) == (Kind.COMPLAINT, 2)
    assert complaints.nonconformities == 2

    both = desk.kpis(since=since, until=until, team="b", kind=Kind.INFORMATION)
    assert both.requests == 2
    assert both.by_status == {Status.TRANSFERRED: 1, Status.CLOSED: 1}
    assert both.deemed_acceptances == 1

    assert desk.kpis(since=since, until=until, team="nobody").requests == 0
    later = desk.kpis(since=t0 + 24 * H, until=t0 + 48 * H)
    assert later.requests == 1


def test_kpis_refuse_invalid_input(desk: ServiceDesk, clock: FakeClock) -> None:
    t0 = clock.now
    naive = t0.replace(tzinfo=None)
    with pytest.raises(ValidationFailedError, match="naive"):
        desk.kpis(since=naive, until=t0 + H)
    with pytest.raises(ValidationFailedError, match="naive"):
        desk.kpis(since=t0, until=naive + 2 * H)
    with pytest.raises(ValidationFailedError, match="naive"):
        desk.kpis(since=t0, until=t0 + H, at=naive)
    with pytest.raises(ValidationFailedError, match="before"):
        desk.kpis(since=t0, until=t0)
    with pytest.raises(ValidationFailedError, match="before"):
        desk.kpis(since=t0 + H, until=t0)
    with pytest.raises(ValidationFailedError, match="kind"):
        desk.kpis(since=t0, until=t0 + H, kind="gossip")


def test_kpis_count_requests_by_the_exact_instant_they_were_opened(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    """Periods that cut a second: the SLA view keeps whole seconds, the cohort the instant."""
    t0 = clock.now
    half = timedelta(milliseconds=500)
    for offset in (half, 3 * half):  # 09:00:00.5 and 09:00:01.5
        clock.now = t0 + offset
        desk.open(
            customer="ACME",
            channel="web",
            kind="quote",
            stage="sale",
            symptom="s",
            actor="agent:ana",
        )
    clock.now = t0 + H
    ms = timedelta(milliseconds=1)

    assert desk.kpis(since=t0, until=t0 + H).requests == 2
    assert desk.kpis(since=t0 + 300 * ms, until=t0 + 1700 * ms).requests == 2
    assert desk.kpis(since=t0 + 501 * ms, until=t0 + 1500 * ms).requests == 0
    assert desk.kpis(since=t0 + 500 * ms, until=t0 + 1501 * ms).requests == 2
    assert desk.kpis(since=t0 + 700 * ms, until=t0 + 1600 * ms).requests == 1


def test_kpis_grouped_by_team_and_week(desk: ServiceDesk, clock: FakeClock) -> None:
    t0 = build(desk, clock)

    grouped = desk.kpis(since=t0, until=t0 + 24 * H, group_by=["team"])

    assert grouped.total == desk.kpis(since=t0, until=t0 + 24 * H)
    assert [group.key for group in grouped.groups] == [{"team": "a"}, {"team": "b"}]
    team_a, team_b = (group.kpis for group in grouped.groups)
    # Team a as of T0 + 200 h: R1, R2, R4 (R5 went to b with its transfer).
    assert (team_a.requests, team_a.closed, team_a.cancelled, team_a.backlog) == (3, 2, 1, 0)
    assert team_a.mean_satisfaction == 4.0
    assert team_a.nonconformities == 2
    # Team b: R3 (deemed accepted), R5 (transferred in), R6 (never answered).
    assert (team_b.requests, team_b.closed, team_b.backlog) == (3, 1, 2)
    assert team_b.transfer_rate == 1 / 3
    assert team_b.deemed_acceptances == 1
    assert team_b.satisfaction_response_rate == 0.0
    # The groups add up to the total.
    assert team_a.requests + team_b.requests == grouped.total.requests
    assert team_a.effort_minutes + team_b.effort_minutes == grouped.total.effort_minutes

    by_week_and_kind = desk.kpis(since=t0, until=t0 + 24 * H, group_by=["week", "kind"])
    assert [(g.key["week"], g.key["kind"], g.kpis.requests) for g in by_week_and_kind.groups] == [
        ("2026-W10", "complaint", 2),
        ("2026-W10", "information", 3),
        ("2026-W10", "quote", 1),
    ]
    assert desk.kpis(since=t0, until=t0 + 24 * H, group_by="month").groups[0].key == {
        "month": "2026-03"
    }
    unassigned = desk.kpis(since=t0, until=t0 + 24 * H, group_by=["agent"])
    assert [g.key["agent"] for g in unassigned.groups] == ["(none)"]
    with pytest.raises(ValidationFailedError, match="group_by"):
        desk.kpis(since=t0, until=t0 + H, group_by=["weather"])


def test_hold_time_by_reason(desk: ServiceDesk, clock: FakeClock) -> None:
    t0 = clock.now
    clock.now = t0 + 10 * H
    who = "agent:ana"
    request = desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="x", actor=who,
        occurred_at=t0,
    )  # fmt: skip
    desk.classify(request, priority="normal", actor=who, occurred_at=t0)
    desk.assign(request, team="a", actor=who, occurred_at=t0)
    desk.hold(request, reason="vendor", actor=who, occurred_at=t0 + H)
    desk.hold(request, reason="change_window", actor=who, occurred_at=t0 + 3 * H)  # switched
    desk.resume(request, actor=who, occurred_at=t0 + 4 * H)
    desk.wait_on_customer(request, reason="serial?", actor=who, occurred_at=t0 + 5 * H)
    # Still waiting on the customer at T0 + 10 h.
    kpis = desk.kpis(since=t0, until=t0 + H)
    assert kpis.hold_time_by_reason == {"change_window": H, "customer": 5 * H, "vendor": 2 * H}
    earlier = desk.kpis(since=t0, until=t0 + H, at=t0 + 2 * H)
    assert earlier.hold_time_by_reason == {"vendor": H}
