"""The update clock (DESIGN "SLA semantics", Update; issue 16 item 3), on every store.

A rule may set an ``update`` target: once the desk first responded, the customer must hear from
it at least every that much business time. The clock runs in cycles: the first response starts
cycle 1; each customer-visible update (progress report, customer-visible note, hold on the
customer, transfer) ends the running cycle, on time or breached, and starts the next; a
completion ends the last one and stops the clock (met, or missed when late); a reopening starts a
new cycle; a cancellation stops it. Pausing holds pause it. A rule without a target has no
update clock (``SlaStatus.update`` is None).

Every answer below is worked out by hand. The calendar is 24x7 in UTC, so business time is wall
time; the desk clock starts on Monday 2026-03-02 09:00 UTC, when each request is opened.
Targets (first response / resolution / update): urgent 1h / 8h / 2h, normal 4h / 24h / 4h,
low 8h / 40h / none, default 4h / 16h / none; ``warn_at`` 0.8, so an update cycle of 2h warns
after 1h36m. A cycle is breached from the second after its due instant (due 14:30:00 is
breached at 14:30:01), and an update exactly at the due instant is on time.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from conftest import DeskFactory, FakeClock, view_rows
from servflow import (
    Calendar,
    ClockState,
    ConfigurationError,
    PolicyAdoption,
    Request,
    ServiceDesk,
    SlaAlert,
    SlaPolicy,
    SlaRule,
    TimelineKind,
    UpdateClock,
)
from sla_week import BOTH, H, M, at, go, probe, urgent


def policy(*, final: bool = True, version: int = 1) -> SlaPolicy:
    """The 24x7 policy of this module: urgent and normal requests have an update clock."""
    return SlaPolicy(
        name="keep-in-touch",
        version=version,
        calendar=Calendar.always_open(),
        rules=(
            SlaRule(
                name="urgent", priority="urgent", first_response="1h", resolution="8h", update="2h"
            ),
            SlaRule(
                name="normal", priority="normal", first_response="4h", resolution="24h", update="4h"
            ),
            SlaRule(name="low", priority="low", first_response="8h", resolution="40h"),
        ),
        default=SlaRule(name="default", first_response="4h", resolution="16h"),
        holds={"change_window": True, "vendor": False},
        breach_is_final=final,
    )


def progress(desk: ServiceDesk, request: Request) -> None:
    desk.report_progress(request, message="Still on it", actor="agent:ana")


def update_of(desk: ServiceDesk, request: Request, when: str | None = None) -> UpdateClock:
    update = desk.sla(request, at=None if when is None else at(when)).update
    assert update is not None
    return update


def listed(alerts: list[SlaAlert]) -> list[tuple[str, str]]:
    return [(a.ticket_code, a.clock) for a in alerts]


def test_a_rule_without_an_update_target_has_no_update_clock(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Unclassified, the default rule applies (no update target); classified low, neither.
    desk = make_desk(sla=policy())
    request = desk.open(
        customer="acme",
        channel="web",
        kind="information",
        stage="pre_sale",
        symptom="Opening hours?",
        actor="agent:ana",
    )
    status = desk.sla(request)
    assert status.update is None
    assert [c.name for c in status.clocks] == ["first_response", "resolution"]
    desk.classify(request, priority="low", actor="agent:lead")
    go(clock, "Mon 09:30")
    desk.report_progress(request, message="Looking", actor="agent:ana")
    assert desk.sla(request, at=at("Fri 12:00")).update is None
    assert all(a.clock != "update" for a in desk.breaches(at=at("Fri 12:00")))
    (row,) = view_rows(desk)["sf_sla"]
    assert (row["update_done"], row["update_due"], row["update_cycle"]) == ("none", None, 0)
    (queued,) = desk.queue().rows
    assert queued.update_due is None
    # A policy with no update target anywhere answers as before: two clocks.
    plain = SlaPolicy(calendar=Calendar.always_open())
    assert plain.measures_updates is False
    assert policy().measures_updates is True


def test_the_update_clock_starts_at_the_first_response_and_restarts_at_each_update(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Mon 09:00 opened urgent. Before the first response the update clock has not started: no
    # cycle, no due instant, listed nowhere (the first-response clock breaches at 10:00:01).
    # 09:30 probe (the first response): cycle 1 from 09:30, due 11:30.
    # 10:30 an action: no update, cycle 1 still due 11:30.
    # 11:00 progress report: cycle 1 on time (30m to spare); cycle 2 from 11:00, due 13:00.
    # 12:00 an internal note: the customer hears nothing, cycle 2 still due 13:00.
    # 12:30 a note the customer sees: cycle 2 on time; cycle 3 from 12:30, due 14:30, warning
    #       from 14:06 (1h36m of 2h), breached from 14:30:01.
    # 15:00 progress report: cycle 3 ended 30m late (a breached cycle, counted); cycle 4 from
    #       15:00, due 17:00: running again.
    # 16:00 resolved: cycle 4 on time (1h to spare): the clock stops, met.
    # Cycles met: 1, 2, 4 (three); breached: 3 (one). Compliance 3 / 4.
    desk = make_desk(sla=policy())
    request = urgent(desk)
    waiting = update_of(desk, request)
    assert (waiting.state, waiting.cycle, waiting.due, waiting.target) == (
        ClockState.NOT_STARTED,
        0,
        None,
        2 * H,
    )
    assert (waiting.remaining, waiting.cycle_started_at, waiting.rule) == (2 * H, None, "urgent")
    code = request.ticket_code
    assert listed(desk.breaches(at=at("Mon 10:10"))) == [(code, "first_response")]
    go(clock, "Mon 09:30")
    probe(desk, request)
    first = update_of(desk, request)
    assert (first.state, first.cycle, first.cycle_started_at, first.due, first.warn_from) == (
        ClockState.RUNNING,
        1,
        at("Mon 09:30"),
        at("Mon 11:30"),
        at("Mon 11:06"),
    )
    go(clock, "Mon 10:30")
    desk.act(request, action="Reset the line", actor="agent:ana")
    assert update_of(desk, request).due == at("Mon 11:30")
    go(clock, "Mon 11:00")
    progress(desk, request)
    second = update_of(desk, request)
    assert (second.cycle, second.due, second.cycles_met, second.breached_cycles) == (
        2,
        at("Mon 13:00"),
        1,
        0,
    )
    go(clock, "Mon 12:00")
    desk.note(request, text="Line card suspect", actor="agent:ana")
    assert update_of(desk, request).due == at("Mon 13:00")
    go(clock, "Mon 12:30")
    desk.note(request, text="We are replacing a card", visibility="customer", actor="agent:ana")
    third = update_of(desk, request)
    assert (third.cycle, third.due, third.warn_from, third.cycles_met) == (
        3,
        at("Mon 14:30"),
        at("Mon 14:06"),
        2,
    )
    # Time alone: at risk from 14:06 (the resolution clock warns only from 15:24), breached
    # from 14:30:01; the views list the update clock by its due instant.
    assert update_of(desk, request, "Mon 14:06").state is ClockState.WARNING
    assert listed(desk.at_risk(at=at("Mon 14:10"))) == [(code, "update")]
    (risk,) = desk.at_risk(at=at("Mon 14:10"))
    assert (risk.due, risk.warn_from, risk.state) == (
        at("Mon 14:30"),
        at("Mon 14:06"),
        ClockState.WARNING,
    )
    assert update_of(desk, request, "Mon 14:30").state is ClockState.WARNING  # on time
    late = update_of(desk, request, "Mon 14:30:01")
    assert (late.state, late.breached_cycles, late.remaining) == (
        ClockState.BREACHED,
        1,
        -1 * timedelta(seconds=1),
    )
    assert listed(desk.breaches(at=at("Mon 14:30:01"))) == [(code, "update")]
    assert desk.breaches(at=at("Mon 14:30")) == []
    go(clock, "Mon 15:00")
    progress(desk, request)
    again = update_of(desk, request)
    assert (again.state, again.cycle, again.due) == (ClockState.RUNNING, 4, at("Mon 17:00"))
    assert (again.cycles_met, again.breached_cycles) == (2, 1)
    assert desk.breaches(at=at("Mon 15:00")) == []
    (row,) = desk.queue(team="network").rows
    assert row.update_due == at("Mon 17:00")
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before


def cycles(desk: ServiceDesk, clock: FakeClock) -> Request:
    """The history of the test above, resolved at 16:00 (three cycles on time, one breached)."""
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 10:30")
    desk.act(request, action="Reset the line", actor="agent:ana")
    go(clock, "Mon 11:00")
    progress(desk, request)
    go(clock, "Mon 12:00")
    desk.note(request, text="Line card suspect", actor="agent:ana")
    go(clock, "Mon 12:30")
    desk.note(request, text="We are replacing a card", visibility="customer", actor="agent:ana")
    go(clock, "Mon 15:00")
    progress(desk, request)
    return request


def test_a_completion_on_time_stops_the_update_clock_met_and_every_cycle_is_explained(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # The history above, resolved at 16:00: cycle 4 (15:00, due 17:00) ends on time, 1h to
    # spare, and the clock stops, met. The timeline tells each cycle, the breached one too;
    # the KPIs count three cycles on time and one breached (compliance 3 / 4).
    desk = make_desk(sla=policy())
    request = cycles(desk, clock)
    go(clock, "Mon 16:00")
    desk.complete(request, outcome="resolved", resolution="Card replaced", actor="agent:ana")
    done = update_of(desk, request, "Tue 12:00")
    assert (done.state, done.met_at, done.due, done.remaining, done.elapsed) == (
        ClockState.MET,
        at("Mon 16:00"),
        at("Mon 17:00"),
        1 * H,
        1 * H,
    )
    assert (done.cycle, done.cycles_met, done.breached_cycles) == (4, 3, 1)
    assert desk.breaches(at=at("Tue 12:00")) == []
    # The timeline tells every cycle, the breached one included.
    entries = [
        (e.kind, e.at, e.event_type) for e in desk.sla_timeline(request) if e.clock == "update"
    ]
    assert entries == [
        (TimelineKind.STARTED, at("Mon 09:30"), "Probed"),
        (TimelineKind.RESTARTED, at("Mon 11:00"), "ProgressReported"),
        (TimelineKind.RESTARTED, at("Mon 12:30"), "NoteAdded"),
        (TimelineKind.WARNED, at("Mon 14:06"), None),
        (TimelineKind.BREACHED, at("Mon 14:30:01"), None),
        (TimelineKind.RESTARTED, at("Mon 15:00"), "ProgressReported"),
        (TimelineKind.MET, at("Mon 16:00"), "Completed"),
    ]
    restarted = [e.message for e in desk.sla_timeline(request) if e.at == at("Mon 15:00")]
    assert any("ended cycle 3, which had breached" in m for m in restarted), restarted
    # KPIs: one update clock, met; three cycles on time, one breached.
    kpis = desk.kpis(since=at("Mon 00:00"), until=at("Tue 00:00"), at=at("Tue 12:00"))
    assert kpis.update[ClockState.MET] == 1
    assert sum(kpis.update.values()) == 1
    assert (kpis.update_cycles_met, kpis.update_breached_cycles) == (3, 1)
    assert kpis.update_compliance == 0.75
    # As of 14:40 the third cycle is breached and still running: counted already.
    earlier = desk.kpis(since=at("Mon 00:00"), until=at("Tue 00:00"), at=at("Mon 14:40"))
    assert earlier.update[ClockState.BREACHED] == 1
    assert (earlier.update_cycles_met, earlier.update_breached_cycles) == (2, 1)


def test_a_hold_on_the_customer_restarts_the_cycle_and_pausing_holds_pause_it(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Urgent, probed at 09:30: cycle 1 due 11:30.
    # 10:00 waiting on the customer: asking is an update (cycle 1 on time, 1h30m to spare), and
    #       the hold pauses: cycle 2 starts paused at 10:00, no due instant while paused.
    # 13:00 the customer answers: cycle 2 counts from 13:00, due 15:00 (3h paused).
    # 14:00 on hold for a change window (a pausing hold, no update): paused with 1h used.
    # 16:00 resumed: 1h left, due 17:00; breached from 17:00:01.
    # 17:30 on hold for a vendor (does not pause, no update): still breached.
    # 18:00 resolved straight from the hold: cycle 2 ended 1h late: missed.
    # Cycle 2 used 2h (13:00-14:00, 16:00-17:00 ... to 18:00 is 3h counted), paused 5h.
    desk = make_desk(sla=policy())
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 10:00")
    desk.wait_on_customer(request, reason="Which evening suits you?", actor="agent:ana")
    held = update_of(desk, request, "Mon 13:00")
    assert (held.state, held.cycle, held.due, held.is_paused) == (ClockState.PAUSED, 2, None, True)
    assert (held.elapsed, held.paused, held.cycles_met) == (timedelta(0), 3 * H, 1)
    assert desk.breaches(at=at("Mon 13:00")) == []
    go(clock, "Mon 13:00")
    desk.customer_responded(request, note="Tonight", actor="customer:acme")
    resumed = update_of(desk, request)
    assert (resumed.state, resumed.due, resumed.paused) == (
        ClockState.RUNNING,
        at("Mon 15:00"),
        3 * H,
    )
    go(clock, "Mon 14:00")
    desk.hold(request, reason="change_window", actor="agent:ana")
    paused = update_of(desk, request, "Mon 15:30")
    assert (paused.state, paused.cycle, paused.elapsed, paused.due) == (
        ClockState.PAUSED,
        2,
        1 * H,
        None,
    )
    go(clock, "Mon 16:00")
    desk.resume(request, actor="agent:ana")
    assert update_of(desk, request).due == at("Mon 17:00")
    breached = update_of(desk, request, "Mon 17:00:01")
    assert (breached.state, breached.breached_cycles) == (ClockState.BREACHED, 1)
    go(clock, "Mon 17:30")
    desk.hold(request, reason="vendor", actor="agent:ana")
    still = update_of(desk, request)
    assert (still.state, still.cycle, still.due) == (ClockState.BREACHED, 2, at("Mon 17:00"))
    assert listed(desk.breaches(at=at("Mon 17:30"))) == [(request.ticket_code, "update")]
    go(clock, "Mon 18:00")
    desk.complete(request, outcome="resolved", resolution="Fixed", actor="agent:ana")
    missed = update_of(desk, request, "Tue 09:00")
    assert (missed.state, missed.met_at, missed.remaining) == (
        ClockState.MISSED,
        at("Mon 18:00"),
        -1 * H,
    )
    assert (missed.elapsed, missed.paused) == (3 * H, 5 * H)
    assert (missed.cycles_met, missed.breached_cycles) == (1, 1)
    kinds = [(e.kind, e.at) for e in desk.sla_timeline(request) if e.clock == "update"]
    assert kinds == [
        (TimelineKind.STARTED, at("Mon 09:30")),
        (TimelineKind.RESTARTED, at("Mon 10:00")),
        (TimelineKind.PAUSED, at("Mon 10:00")),
        (TimelineKind.RESUMED, at("Mon 13:00")),
        (TimelineKind.PAUSED, at("Mon 14:00")),
        (TimelineKind.RESUMED, at("Mon 16:00")),
        (TimelineKind.WARNED, at("Mon 16:36")),
        (TimelineKind.BREACHED, at("Mon 17:00:01")),
        (TimelineKind.MISSED, at("Mon 18:00")),
    ]
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before


def test_a_transfer_restarts_a_late_completion_misses_a_reopening_restarts_and_cancel_stops(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Urgent, probed at 09:30: cycle 1 due 11:30.
    # 11:00 transferred to billing: the customer is told, so cycle 1 is on time and cycle 2
    #       starts (due 13:00); a transfer does not stop the clock (nor the resolution clock).
    # 14:00 resolved: cycle 2 ended 1h late: the clock stops, missed (1 met, 1 breached).
    # Tue 09:00 the customer reopens: cycle 3 from Tue 09:00, due 11:00, running.
    # Tue 10:00 cancelled: the clock stops, cancelled (cycle 3 has no verdict).
    desk = make_desk(sla=policy())
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 11:00")
    desk.complete(
        request,
        outcome="transferred",
        resolution="Billing issue",
        to_team="billing",
        actor="agent:ana",
    )
    moved = update_of(desk, request)
    assert (moved.state, moved.cycle, moved.due, moved.cycles_met) == (
        ClockState.RUNNING,
        2,
        at("Mon 13:00"),
        1,
    )
    go(clock, "Mon 11:30")
    desk.assign(request, team="billing", agent="bea", actor="agent:lead")  # no update
    assert update_of(desk, request).due == at("Mon 13:00")
    go(clock, "Mon 14:00")
    desk.complete(request, outcome="resolved", resolution="Refunded", actor="agent:bea")
    missed = update_of(desk, request)
    assert (missed.state, missed.cycles_met, missed.breached_cycles) == (ClockState.MISSED, 1, 1)
    assert update_of(desk, request, "Tue 08:00").state is ClockState.MISSED
    go(clock, "Tue 09:00")
    desk.reopen(request, reason="Charged again", actor="customer:acme")
    reopened = update_of(desk, request)
    assert (reopened.state, reopened.cycle, reopened.cycle_started_at, reopened.due) == (
        ClockState.RUNNING,
        3,
        at("Tue 09:00"),
        at("Tue 11:00"),
    )
    assert (reopened.cycles_met, reopened.breached_cycles) == (1, 1)
    restarted = [
        e for e in desk.sla_timeline(request) if e.clock == "update" and e.at == at("Tue 09:00")
    ]
    assert [e.kind for e in restarted] == [TimelineKind.RESTARTED]
    assert "reopened" in restarted[0].message
    go(clock, "Tue 10:00")
    desk.cancel(request, reason="Duplicate", actor="agent:ana")
    cancelled = update_of(desk, request, "Tue 12:00")
    assert (cancelled.state, cancelled.cycle, cancelled.cycles_met) == (ClockState.CANCELLED, 3, 1)
    assert cancelled.breached_cycles == 1
    assert desk.breaches(at=at("Tue 12:00")) == []
    kpis = desk.kpis(since=at("Mon 00:00"), until=at("Tue 00:00"), at=at("Tue 12:00"))
    assert kpis.update[ClockState.CANCELLED] == 1
    assert kpis.update_compliance == 0.5
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before


def test_a_completion_as_first_response_meets_the_update_clock_and_a_cancel_before_stops_it(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Resolved at 09:20 with no response before: the update clock starts and stops there, met
    # (cycle 1, on time). Another request cancelled at 09:20 before any response: cancelled,
    # it never started (cycle 0).
    desk = make_desk(sla=policy())
    quick = urgent(desk)
    gone = urgent(desk)
    go(clock, "Mon 09:20")
    desk.complete(quick, outcome="resolved", resolution="Restarted it", actor="agent:ana")
    desk.cancel(gone, reason="Duplicate", actor="agent:ana")
    met = update_of(desk, quick, "Mon 12:00")
    assert (met.state, met.cycle, met.met_at, met.cycles_met, met.breached_cycles) == (
        ClockState.MET,
        1,
        at("Mon 09:20"),
        1,
        0,
    )
    stopped = update_of(desk, gone, "Mon 12:00")
    assert (stopped.state, stopped.cycle, stopped.due) == (ClockState.CANCELLED, 0, None)
    rows = {r["ticket_code"]: r for r in view_rows(desk)["sf_sla"]}
    assert rows[quick.ticket_code]["update_done"] == "met"
    assert rows[gone.ticket_code]["update_done"] == "cancelled"


@BOTH
def test_a_breached_cycle_keeps_its_target_when_final_and_is_re_timed_when_not(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Urgent, probed at 09:30: cycle 1 due 11:30 (2h), breached from 11:30:01. At 12:00 the
    # request is reclassified normal (4h updates).
    # - final: cycle 1 keeps its 2h target (rule urgent), breached; the progress report at
    #   12:30 ends it late (1 breached cycle); cycle 2 runs under the normal target: due 16:30.
    # - not final: cycle 1 is re-timed from its start: due 13:30, running (2h30m of 4h, below
    #   the 3h12m warning); the progress report at 12:30 ends it on time; cycle 2 due 16:30.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 12:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    now = update_of(desk, request)
    if final:
        assert (now.state, now.rule, now.target, now.due) == (
            ClockState.BREACHED,
            "urgent",
            2 * H,
            at("Mon 11:30"),
        )
        assert listed(desk.breaches()) == [(request.ticket_code, "update")]
    else:
        assert (now.state, now.rule, now.target, now.due) == (
            ClockState.RUNNING,
            "normal",
            4 * H,
            at("Mon 13:30"),
        )
        assert desk.breaches() == []
    go(clock, "Mon 12:30")
    progress(desk, request)
    after = update_of(desk, request)
    assert (after.cycle, after.rule, after.target, after.due) == (
        2,
        "normal",
        4 * H,
        at("Mon 16:30"),
    )
    assert (after.cycles_met, after.breached_cycles) == ((0, 1) if final else (1, 0))
    changed = [
        e.kind
        for e in desk.sla_timeline(request)
        if e.clock == "update" and e.at == at("Mon 12:00")
    ]
    assert changed == [TimelineKind.TARGET_KEPT if final else TimelineKind.TARGET_CHANGED]
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before


@BOTH
def test_a_reclassification_before_a_breach_re_times_the_running_cycle_from_its_start(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Urgent, probed at 09:30 (cycle 1 due 11:30); reclassified normal at 10:00, before any
    # breach: cycle 1 is due 4h after its start, 13:30, under either setting. Reclassified low
    # at 11:00 (no update target): the request has no update clock any more.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 10:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    assert update_of(desk, request).due == at("Mon 13:30")
    go(clock, "Mon 11:00")
    desk.classify(request, priority="low", actor="agent:lead")
    assert desk.sla(request).update is None
    assert desk.breaches(at=at("Mon 16:00")) == []
    (withdrawn,) = [
        e for e in desk.sla_timeline(request) if e.clock == "update" and e.at == at("Mon 11:00")
    ]
    assert withdrawn.kind is TimelineKind.TARGET_CHANGED
    assert "withdrawn: rule 'low' sets no update target" in withdrawn.message


def test_a_reclassification_to_a_rule_with_an_update_target_times_the_running_cycle(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Classified low (no update target), probed at 09:30: no update clock. Reclassified urgent
    # at 10:00: the clock applies, its cycle 1 counted from the first response: due 11:30.
    desk = make_desk(sla=policy())
    request = urgent(desk)
    desk.classify(request, priority="low", actor="agent:lead")
    go(clock, "Mon 09:30")
    probe(desk, request)
    assert desk.sla(request).update is None
    go(clock, "Mon 10:00")
    desk.classify(request, priority="urgent", actor="agent:lead")
    applies = update_of(desk, request)
    assert (applies.state, applies.cycle, applies.cycle_started_at, applies.due) == (
        ClockState.RUNNING,
        1,
        at("Mon 09:30"),
        at("Mon 11:30"),
    )
    (entry,) = [e for e in desk.sla_timeline(request) if e.clock == "update"]
    assert (entry.kind, entry.at, entry.due) == (
        TimelineKind.TARGET_CHANGED,
        at("Mon 10:00"),
        at("Mon 11:30"),
    )
    assert "applies" in entry.message


def test_policies_stored_without_update_targets_read_none_and_still_match(
    make_desk: DeskFactory, store: str
) -> None:
    # A policy adopted before update targets existed has no "update" in its rules: it reads
    # None, so its requests have no update clock and its answers do not change.
    stored = PolicyAdoption(
        policy=SlaPolicy(calendar=Calendar.always_open()),
        effective_from=at("Mon 00:00"),
        adopted_by="system",
        adopted_at=at("Mon 00:00"),
        sequence=1,
    ).model_dump(mode="json")
    for rule in (*stored["policy"]["rules"], stored["policy"]["default"]):
        del rule["update"]
    read = PolicyAdoption.from_stored(json.dumps(stored))
    assert read.policy.default.update is None
    assert read.policy.measures_updates is False
    # The same definition given again keeps the adopted version; one with an update target
    # is a change: refused at the same version, adopted as a new one.
    desk = make_desk(sla=policy(version=1))
    assert len(desk.policies()) == 1
    if store != "memory":
        desk.close()
        again = make_desk(sla=policy(version=1))
        assert len(again.policies()) == 1
        again.close()
        desk = make_desk()
    changed = policy(version=1).model_copy(
        update={
            "default": SlaRule(name="default", first_response="4h", resolution="16h", update="8h")
        }
    )
    with pytest.raises(ConfigurationError, match="already adopted with different content"):
        desk.adopt_policy(changed, actor="agent:admin")
    adopted = desk.adopt_policy(changed.model_copy(update={"version": 2}), actor="agent:admin")
    assert adopted.policy.default.update == 8 * H


def test_an_update_target_is_read_from_settings_and_must_be_positive() -> None:
    rule = {"priority": "urgent", "first_response": "1h", "resolution": "8h", "update": "90m"}
    data: dict[str, object] = {
        "calendar": {"timezone": "UTC", "hours": {"mon": [["00:00", "24:00"]]}},
        "rules": [rule],
    }
    read = SlaPolicy.from_mapping(data)
    assert read.rules[0].update == 90 * M
    bad = {**data, "rules": [{**rule, "update": "-1h"}]}
    with pytest.raises(ConfigurationError, match="positive"):
        SlaPolicy.from_mapping(bad)
