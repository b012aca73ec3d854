"""Holds, closures, reopenings after closure and unassignment through ``ServiceDesk``, on every
store: what each records, what the SLA clocks make of it, what the queues and KPIs show, and
that a refused command appends nothing.

The desk clock starts on Monday 2026-03-02 09:00 UTC; the policy is open 24x7 with a 4 h / 16 h
default, so elapsed business time is wall time.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from conftest import DeskFactory, FakeClock
from servflow import (
    Calendar,
    ClockState,
    HistoryEntry,
    InvalidTransitionError,
    PermissionDeniedError,
    Request,
    ServiceDesk,
    SlaPolicy,
    SlaRule,
    Status,
    ValidationFailedError,
)
from servflow.desk.export import ExportFormat, read_export

H = timedelta(hours=1)


def policy(**changes: object) -> SlaPolicy:
    """24x7, 4 h / 16 h; vendor holds pause, change-window holds do not (unless ``changes``)."""
    fields: dict[str, object] = {
        "name": "lifecycle",
        "calendar": Calendar.always_open(),
        "default": SlaRule(name="default", first_response="4h", resolution="16h"),
        "deemed_acceptance_after": None,
        "holds": {"vendor": True, "change_window": False, "problem": False},
    }
    fields.update(changes)
    return SlaPolicy.model_validate(fields)


def working(desk: ServiceDesk) -> Request:
    request = desk.open(
        customer="acme",
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The line drops every evening",
        actor="agent:ana",
    )
    return desk.assign(
        desk.classify(request, priority="normal", actor="agent:ana"),
        team="network",
        agent="ana",
        actor="agent:ana",
    )


def refused_appends_nothing(desk: ServiceDesk, ref: Request, call: object) -> None:
    """``call`` (already refused by the caller) left the request as it was."""
    assert desk.get(ref).version == ref.version, call


def test_a_pausing_hold_stops_the_clocks_and_a_counting_one_does_not(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    clock.advance(hours=1)
    held = desk.hold(
        request, reason="vendor", note="Waiting for the modem maker", actor="agent:ana"
    )
    assert (held.status, held.hold_reason, held.hold_note) == (
        Status.ON_HOLD,
        "vendor",
        "Waiting for the modem maker",
    )
    assert desk.history(request)[-1].data["pauses"] is True
    clock.advance(hours=2)
    assert desk.sla(request).resolution.state is ClockState.PAUSED
    # A switch to a hold that counts ends the pause; the time on the vendor did not count.
    switched = desk.hold(request, reason="change_window", actor="agent:ana")
    assert (switched.status, switched.hold_reason) == (Status.ON_HOLD, "change_window")
    assert desk.history(request)[-1].data["pauses"] is False
    clock.advance(hours=1)
    resolution = desk.sla(request).resolution
    assert resolution.state is ClockState.RUNNING
    assert (resolution.elapsed, resolution.paused) == (2 * H, 2 * H)
    assert desk.queue(special="on_hold").total == 1
    rows = desk.queue(special="on_hold", hold_reason="change_window").rows
    assert [(r.ticket_code, r.hold_reason) for r in rows] == [
        (request.ticket_code, "change_window")
    ]
    assert desk.queue(hold_reason="vendor").total == 0
    then = desk.queue_as_of(clock.now - timedelta(minutes=90), hold_reason="vendor").rows
    assert [r.ticket_code for r in then] == [request.ticket_code]
    resumed = desk.resume(request, note="Window open", actor="agent:ana")
    assert (resumed.status, resumed.hold_reason, resumed.hold_note) == (Status.ASSIGNED, None, None)
    assert desk.queue(special="on_hold").total == 0
    assert desk.queue(status="assigned").rows[0].hold_reason is None


def test_the_customer_hold_is_a_wait_on_the_customer_and_any_hold_may_switch(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    waiting = desk.hold(request, reason="customer", note="Need the serial", actor="agent:ana")
    assert (waiting.status, waiting.waiting_reason) == (
        Status.WAITING_ON_CUSTOMER,
        "Need the serial",
    )
    assert desk.history(request)[-1].event_type == "WaitingOnCustomer"
    assert desk.queue(hold_reason="customer").total == 1
    with pytest.raises(InvalidTransitionError):
        desk.hold(request, reason="customer", actor="agent:ana")
    clock.advance(hours=1)
    on_vendor = desk.hold(request, reason="vendor", actor="agent:ana")
    assert (on_vendor.status, on_vendor.waiting_reason) == (Status.ON_HOLD, None)
    with pytest.raises(InvalidTransitionError, match="already on hold: vendor"):
        desk.hold(request, reason="vendor", actor="agent:ana")
    refused_appends_nothing(desk, on_vendor, "hold vendor again")
    back = desk.wait_on_customer(request, reason="Still need the serial", actor="agent:ana")
    assert (back.status, back.hold_reason) == (Status.WAITING_ON_CUSTOMER, None)
    clock.advance(hours=1)
    # The customer's hold and the vendor's both paused: one pause of two hours.
    assert desk.sla(request).resolution.paused == 2 * H
    resumed = desk.resume(request, actor="agent:ana")
    assert (resumed.status, resumed.waiting_reason) == (Status.ASSIGNED, None)


def test_a_hold_reason_not_in_the_catalogue_or_a_hold_before_work_is_refused(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    with pytest.raises(ValidationFailedError, match="not a hold reason") as caught:
        desk.hold(request, reason="implementation", actor="agent:ana")
    assert "change_window, customer, problem, vendor" in str(caught.value)
    refused_appends_nothing(desk, request, "unknown reason")
    fresh = desk.open(
        customer="acme", channel="web", kind="quote", stage="sale", symptom="?", actor="agent:ana"
    )
    with pytest.raises(InvalidTransitionError) as error:
        desk.hold(fresh, reason="vendor", actor="agent:ana")
    assert error.value.allowed == ("assigned", "waiting_on_customer", "on_hold")
    with pytest.raises(InvalidTransitionError):
        desk.resume(request, actor="agent:ana")


def test_work_is_completed_straight_from_a_hold_and_the_pause_ends_there(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    clock.advance(hours=1)
    desk.hold(request, reason="vendor", actor="agent:ana")
    clock.advance(hours=3)
    done = desk.complete(request, outcome="resolved", resolution="Patched", actor="agent:ana")
    assert (done.status, done.hold_reason) == (Status.COMPLETED, None)
    resolution = desk.sla(request).resolution
    assert (resolution.state, resolution.elapsed, resolution.paused) == (
        ClockState.MET,
        1 * H,
        3 * H,
    )


def test_unassign_returns_the_request_to_a_queue_and_ends_a_hold(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    desk.hold(request, reason="vendor", actor="agent:ana")
    clock.advance(hours=1)
    queued = desk.unassign(request, team="field", actor="agent:ana")
    assert (queued.status, queued.team, queued.agent, queued.hold_reason) == (
        Status.CLASSIFIED,
        "field",
        None,
        None,
    )
    assert queued.transfer_count == 1
    assert not desk.sla(request).resolution.is_paused
    assert [r.ticket_code for r in desk.queue(special="unassigned", team="field").rows] == [
        queued.ticket_code
    ]
    nobody = desk.unassign(request, actor="agent:ana")
    assert (nobody.status, nobody.team) == (Status.CLASSIFIED, None)
    fresh = desk.open(
        customer="acme", channel="web", kind="quote", stage="sale", symptom="?", actor="agent:ana"
    )
    assert desk.unassign(fresh, team="sales", actor="agent:ana").status is Status.NEW


def test_assignment_changes_after_completion_are_recorded_without_reopening(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    desk.complete(request, outcome="resolved", resolution="Done", actor="agent:ana")
    moved = desk.assign(request, team="network", agent="bob", actor="agent:lead")
    assert (moved.status, moved.agent, moved.reopen_count) == (Status.COMPLETED, "bob", 0)
    returned = desk.unassign(request, team="field", actor="agent:lead")
    assert (returned.status, returned.team, returned.agent) == (Status.COMPLETED, "field", None)
    assert desk.sla(request).resolution.state is ClockState.MET
    closed = desk.close(request, reason="Confirmed by phone", actor="agent:lead")
    with pytest.raises(InvalidTransitionError):
        desk.assign(request, team="network", agent="ana", actor="agent:lead")
    with pytest.raises(InvalidTransitionError):
        desk.unassign(request, team="network", actor="agent:lead")
    refused_appends_nothing(desk, closed, "assignment after closure")


def test_close_by_system_at_the_histories_own_time_is_never_an_acceptance(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    desk.complete(request, outcome="resolved", resolution="Done", actor="agent:ana")
    clock.advance(days=5)
    when = clock.now - timedelta(days=1)
    closed = desk.close(
        request, reason="Auto-closed 4 days after resolution", actor="system", occurred_at=when
    )
    assert (closed.status, closed.closed_at, closed.close_reason) == (
        Status.CLOSED,
        when,
        "Auto-closed 4 days after resolution",
    )
    assert (closed.satisfaction, closed.deemed_acceptance) == (None, False)
    entry = desk.history(request)[-1]
    assert (entry.event_type, entry.actor, entry.occurred_at) == ("Closed", "system", when)
    assert desk.run_due() == []  # nothing awaits acceptance any more
    kpis = desk.kpis(since=clock.now - timedelta(days=30), until=clock.now)
    assert (kpis.closures, kpis.deemed_acceptances, kpis.satisfaction_count) == (1, 0, 0)


def test_close_is_refused_before_completion_and_to_a_customer(make_desk: DeskFactory) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    with pytest.raises(InvalidTransitionError) as caught:
        desk.close(request, reason="Done", actor="system")
    assert (caught.value.command, caught.value.allowed) == ("close", ("completed",))
    desk.complete(request, outcome="resolved", resolution="Done", actor="agent:ana")
    with pytest.raises(PermissionDeniedError):
        desk.close(request, reason="Done", actor="customer:acme")
    with pytest.raises(ValidationFailedError, match="needs reason"):
        desk.close(request, actor="system")  # type: ignore[call-overload]
    assert desk.get(request).status is Status.COMPLETED


def test_a_closed_request_reopens_within_the_policys_window_and_kpis_count_it(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(sla=policy(reopen_window="7d"))
    request = working(desk)
    desk.complete(request, outcome="resolved", resolution="Done", actor="agent:ana")
    desk.accept(request, satisfaction=4, actor="customer:acme")
    clock.advance(days=2)
    reopened = desk.reopen(request, reason="It dropped again", actor="customer:acme")
    assert (reopened.status, reopened.team, reopened.agent) == (Status.ASSIGNED, "network", "ana")
    assert (reopened.reopen_count, reopened.reopened_after_closure) == (1, 1)
    assert (reopened.closed_at, reopened.satisfaction) == (None, None)
    clock.advance(hours=2)
    desk.complete(request, outcome="resolved", resolution="Line card", actor="agent:ana")
    resolution = desk.sla(request).resolution
    # The two days closed (and awaiting acceptance) do not count against the resolution.
    assert resolution.elapsed == 2 * H
    desk.close(request, reason="Auto-closed", actor="system")
    clock.advance(days=7, seconds=1)
    with pytest.raises(InvalidTransitionError, match="allows reopening for 7 days") as caught:
        desk.reopen(request, reason="Again", actor="customer:acme")
    assert caught.value.status == "closed"
    assert desk.get(request).status is Status.CLOSED
    kpis = desk.kpis(since=clock.now - timedelta(days=30), until=clock.now)
    assert (kpis.reopened_after_closure, kpis.closures, kpis.reopen_rate) == (1, 1, 1.0)


def test_a_zero_window_forbids_reopening_after_closure_but_not_before(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk(sla=policy(reopen_window="never"))
    request = working(desk)
    desk.complete(request, outcome="resolved", resolution="Done", actor="agent:ana")
    assert desk.reopen(request, reason="Not yet", actor="customer:acme").status is Status.ASSIGNED
    desk.complete(request, outcome="resolved", resolution="Done", actor="agent:ana")
    closed = desk.close(request, reason="Done", actor="system")
    with pytest.raises(InvalidTransitionError, match="no reopening after closure"):
        desk.reopen(request, reason="Again", actor="customer:acme")
    refused_appends_nothing(desk, closed, "reopen with a zero window")


def test_the_desk_still_closes_its_connections_with_close() -> None:
    desk = ServiceDesk()
    assert desk.close() is None


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_holds_closures_and_unassignments_appear_in_the_audit_log_and_exports(
    make_desk: DeskFactory, fmt: ExportFormat
) -> None:
    desk = make_desk(sla=policy())
    request = working(desk)
    desk.hold(request, reason="vendor", note="Patch", actor="agent:ana")
    desk.unassign(request, team="field", actor="agent:lead")
    desk.assign(request, team="field", agent="bob", actor="agent:bob")
    desk.complete(request, outcome="resolved", resolution="Done", actor="agent:bob")
    desk.close(request, reason="Auto-closed", actor="system")
    wanted = ["Held", "Unassigned", "Closed"]
    rows = desk.audit_log(event_type=wanted).rows
    assert [(r.event_type, r.actor) for r in rows] == [
        ("Held", "agent:ana"),
        ("Unassigned", "agent:lead"),
        ("Closed", "system"),
    ]
    assert rows[0].data == {"reason": "vendor", "note": "Patch", "pauses": True}
    buffer = io.StringIO()
    assert desk.export(buffer, format=fmt, request=request) == 8
    buffer.seek(0)
    entries = [e for e in read_export(buffer, format=fmt) if isinstance(e, HistoryEntry)]
    assert [e.event_type for e in entries][3:] == [
        "Held",
        "Unassigned",
        "Assigned",
        "Completed",
        "Closed",
    ]
    closing = entries[-1]
    assert {c.field: c.after for c in closing.changes}["close_reason"] == "Auto-closed"
