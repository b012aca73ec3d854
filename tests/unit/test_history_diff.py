"""``history_of`` diffs field by field; it must say exactly what diffing whole views said.

The reference below is the straightforward definition (dump a ``Request`` view after every
event and compare the dumps); random histories of every event type, with instants in odd
zones and amounts written with trailing zeros, must give identical entries, in the same order,
with the same JSON values. ``Request.of`` is checked against its field-by-field definition.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle_model import allows
from servflow.domain.history import Change, HistoryEntry, history_of
from servflow.domain.policy import DEFAULT_HOLDS
from servflow.domain.request import Moment, ServiceRequest, Status
from servflow.domain.view import Request

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ZONES = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-3)))
QUIET = frozenset({"version", "updated_at", "recorded_at"})
BASE = {"originator_id", "originator_version", "timestamp", "actor", "occurred_at"}


def reference_history(events: list[tuple[int, ServiceRequest.Event]]) -> list[HistoryEntry]:
    """What a history is: every event with the diff of the views before and after it."""
    entries: list[HistoryEntry] = []
    request: ServiceRequest | None = None
    before: dict[str, Any] = {}
    for position, event in events:
        request = event.mutate(request)
        assert request is not None
        after = reference_view(request).model_dump(mode="json")
        entries.append(
            HistoryEntry(
                position=position,
                request_id=request.id,
                ticket_code=request.ticket_code,
                version=event.originator_version,
                event_type=type(event).__name__,
                recorded_at=event.timestamp,
                occurred_at=event.occurred_at,
                actor=event.actor,
                data=event.model_dump(mode="json", exclude={*BASE, "originator_topic"}),
                changes=tuple(
                    Change(field=name, before=before.get(name), after=value)
                    for name, value in after.items()
                    if name not in QUIET and before.get(name) != value
                ),
            )
        )
        before = after
    return entries


def reference_view(request: ServiceRequest) -> Request:
    """``Request.of`` written out field by field."""
    return Request(
        id=request.id,
        ticket_code=request.ticket_code,
        version=request.version,
        status=request.status,
        customer=request.customer,
        channel=request.channel,
        kind=request.kind,
        stage=request.stage,
        symptom=request.symptom,
        synthesis=request.synthesis,
        priority=request.priority,
        category=request.category,
        team=request.team,
        agent=request.agent,
        probes=tuple(request.probes),
        actions=tuple(request.actions),
        progress_reports=request.progress_reports,
        outcome=request.outcome,
        resolution=request.resolution,
        follow_up_at=request.follow_up_at,
        waiting_reason=request.waiting_reason,
        hold_reason=request.hold_reason,
        hold_note=request.hold_note,
        satisfaction=request.satisfaction,
        acceptance_comment=request.acceptance_comment,
        deemed_acceptance=request.deemed_acceptance,
        reopen_count=request.reopen_count,
        transfer_count=request.transfer_count,
        nonconformities=tuple(request.nonconformities),
        opened_at=request.opened_at,
        opened_by=request.opened_by,
        completed_at=request.completed_at,
        closed_at=request.closed_at,
        close_reason=request.close_reason,
        reopened_after_closure=request.reopened_after_closure,
        cancelled_at=request.cancelled_at,
        cancel_reason=request.cancel_reason,
        external_ref=request.external_ref,
        external_source=request.external_source,
        updated_at=request.last_occurred_at,
        recorded_at=request.modified_on,
    )


class Walk:
    """A request driven by random steps: each picks among the commands its status allows.

    Which ones the lifecycle allows comes from the tests' own model; the inputs vary more than
    ``strategies.send_to_request``'s (instants in odd zones, amounts with trailing zeros,
    optional fields left out), which is what a history diff must get right.
    """

    def __init__(self, zone: int) -> None:
        self.now = START
        self.zone = ZONES[zone]
        self.request = ServiceRequest.open(
            ticket_code="SR-000001",
            customer={"id": "acme", "tier": "vip"},
            channel="chat",
            kind="claim",
            stage="post_sale",
            symptom="The line drops",
            synthesis=None,
            actor="customer:acme",
            at=self.at(0),
        )

    def at(self, minutes: int) -> Moment:
        self.now += timedelta(minutes=minutes)
        return Moment(recorded_at=self.now, occurred_at=self.now.astimezone(self.zone))

    def step(self, what: int, choice: int) -> None:
        request = self.request
        # Cancelling ends a walk and the non-conformity commands are always allowed: keep them
        # rare, so that walks go through the whole lifecycle.
        rare = {"cancel": choice == 11, "log_nonconformity": choice % 5 == 0}
        commands = [
            (name, run)
            for name, run in self.commands(choice)
            if allows(name, request.status) and rare.get(name, True)
        ]
        if not commands:
            return
        name, run = commands[what % len(commands)]
        if name == "correct_nonconformity" and not any(
            not nc.is_corrected for nc in request.nonconformities
        ):
            return
        run(self.at(choice))

    def commands(self, choice: int) -> list[tuple[str, Callable[[Moment], object]]]:
        r = self.request
        agent = "agent:ana"
        follow_up = (self.now + timedelta(days=1)).astimezone(ZONES[choice % len(ZONES)])
        return [
            (
                "classify",
                lambda at: r.classify(
                    priority=("low", "high", "urgent")[choice % 3],
                    kind=None if choice % 2 else "warranty",
                    category=None if choice % 3 else f"cat-{choice}",
                    actor=agent,
                    at=at,
                ),
            ),
            (
                "assign",
                lambda at: r.assign(
                    team=("network", "billing")[choice % 2],
                    agent=None if choice % 3 == 0 else f"a{choice % 2}",
                    actor=agent,
                    at=at,
                ),
            ),
            (
                "probe",
                lambda at: r.probe(
                    questions=["Since?"] * (choice % 3),
                    findings="f",
                    diagnosis=None if choice % 2 else "d",
                    actor=agent,
                    at=at,
                ),
            ),
            (
                "act",
                lambda at: r.act(
                    action="a",
                    effort_minutes=choice,
                    cost=(None, Decimal("12.3400"), Decimal("12.34"), Decimal(0))[choice % 4],
                    actor=agent,
                    at=at,
                ),
            ),
            ("wait_on_customer", lambda at: r.wait_on_customer(reason="S/N?", actor=agent, at=at)),
            (
                "customer_responded",
                lambda at: r.customer_responded(note="42", actor="customer:acme", at=at),
            ),
            ("report_progress", lambda at: r.report_progress(message="m", actor=agent, at=at)),
            (
                "complete",
                lambda at: r.complete(
                    outcome=("resolved", "transferred", "follow_up")[choice % 3],
                    resolution="done",
                    follow_up_at=follow_up if choice % 3 == 2 else None,
                    to_team="billing" if choice % 3 == 1 else None,
                    actor=agent,
                    at=at,
                ),
            ),
            (
                "accept",
                lambda at: r.accept(
                    satisfaction=1 + choice % 5, comment=None, actor="customer:acme", at=at
                ),
            ),
            ("reopen", lambda at: r.reopen(reason="again", actor="customer:acme", at=at)),
            ("close", lambda at: r.close(reason="auto-closed", actor="system", at=at)),
            (
                "hold",
                lambda at: r.hold(
                    reason=hold_reasons(r)[choice % len(hold_reasons(r))],
                    note=None if choice % 2 else "n",
                    holds=DEFAULT_HOLDS,
                    actor=agent,
                    at=at,
                ),
            ),
            ("resume", lambda at: r.resume(note=None, actor=agent, at=at)),
            (
                "unassign",
                lambda at: r.unassign(
                    team=(None, "network", "billing")[choice % 3], actor=agent, at=at
                ),
            ),
            ("cancel", lambda at: r.cancel(reason="duplicate", actor=agent, at=at)),
            (
                "log_nonconformity",
                lambda at: r.log_nonconformity(
                    description="late",
                    severity="minor",
                    category=None,
                    root_cause=None,
                    corrective_action=None,
                    actor="auditor:eva",
                    at=at,
                ),
            ),
            (
                "correct_nonconformity",
                lambda at: r.correct_nonconformity(
                    number=next(nc.number for nc in r.nonconformities if not nc.is_corrected),
                    correction="fixed",
                    actor="auditor:eva",
                    at=at,
                ),
            ),
        ]


def hold_reasons(request: ServiceRequest) -> list[str]:
    """The reasons a request may be held for now (not the hold it is on)."""
    waiting = request.status is Status.WAITING_ON_CUSTOMER
    return [
        reason
        for reason in ("vendor", "problem", "customer")
        if reason != request.hold_reason and not (waiting and reason == "customer")
    ]


steps = st.lists(st.tuples(st.integers(0, 16), st.integers(0, 11)), min_size=1, max_size=50)


@settings(deadline=None, max_examples=150)
@given(zone=st.integers(0, len(ZONES) - 1), history=steps)
def test_a_history_is_the_diff_of_the_views_after_each_event(
    zone: int, history: list[tuple[int, int]]
) -> None:
    walk = Walk(zone)
    for what, choice in history:
        walk.step(what, choice)
    events = [e for e in walk.request.collect_events() if isinstance(e, ServiceRequest.Event)]
    pairs = [(10 * n + 3, e) for n, e in enumerate(events, 1)]
    entries = history_of(pairs)
    expected = reference_history(pairs)
    assert entries == expected
    # Same JSON, in the same order (equality of dicts would not see the order).
    assert [e.model_dump_json() for e in entries] == [e.model_dump_json() for e in expected]
    request: ServiceRequest | None = None
    for event in events:
        request = event.mutate(request)
        assert request is not None
        assert Request.of(request) == reference_view(request)


def test_a_replaced_item_and_an_equal_instant_in_another_zone_are_changes() -> None:
    walk = Walk(0)
    r = walk.request
    r.classify(priority="high", kind=None, category=None, actor="agent:ana", at=walk.at(1))
    r.assign(team="network", agent=None, actor="agent:ana", at=walk.at(1))
    r.log_nonconformity(
        description="late",
        severity="minor",
        category=None,
        root_cause=None,
        corrective_action=None,
        actor="auditor:eva",
        at=walk.at(1),
    )
    r.correct_nonconformity(number=1, correction="fixed", actor="auditor:eva", at=walk.at(1))
    due = walk.now + timedelta(days=1)
    r.complete(
        outcome="follow_up",
        resolution="later",
        follow_up_at=due,
        to_team=None,
        actor="agent:ana",
        at=walk.at(1),
    )
    r.reopen(reason="no", actor="customer:acme", at=walk.at(1))
    r.complete(
        outcome="follow_up",
        resolution="later",
        follow_up_at=due.astimezone(ZONES[1]),
        to_team=None,
        actor="agent:ana",
        at=walk.at(1),
    )
    pairs = list(enumerate(r.collect_events(), 1))
    entries = history_of(pairs)  # type: ignore[arg-type]
    assert entries == reference_history(pairs)  # type: ignore[arg-type]
    corrected = entries[4].changes
    assert [c.field for c in corrected] == ["nonconformities"]
    assert corrected[0].after[0]["correction"] == "fixed"
    # The follow-up set again after the reopening (the same instant, in another zone).
    assert [c.field for c in entries[-1].changes] == [
        "status",
        "outcome",
        "resolution",
        "follow_up_at",
        "completed_at",
    ]
