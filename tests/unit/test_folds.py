"""The projections' folds on their own: events in, rows out, without a database.

Each read model is a pure fold of a request's events: ``QueueProjection.fold`` and ``measure``
(the work queues), ``SlaTracker.fold`` with ``SlaProjection.fold`` and ``measure`` (the SLA
view), and the audit log's row of one event. Here they get events recorded by a bare
``ServiceRequest``, at instants chosen by hand, and their rows are checked field by field
against answers worked out by hand; the queue's status is checked against the tests' own
lifecycle model too. No desk, no store, no transaction.

The policy measures on a 24x7 calendar, so a due instant is the opening plus the target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson
import pytest
from pydantic import ValidationError

import lifecycle_model as model
from servflow import Status
from servflow.domain.calendar import Calendar
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.request import Moment, ServiceRequest, request_id_for
from servflow.domain.sla import ClockPolicies, SlaFact, SlaPolicyBook, SlaTracker
from servflow.domain.values import Priority
from servflow.persistence.sql import micros
from servflow.projections import audit, queue_rows
from servflow.projections.audit import AuditFilter, AuditRow, event_type_of
from servflow.projections.queues import QueueProjection
from servflow.projections.sla import SlaProjection

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CODE = "SR-000007"
ID = request_id_for(CODE)
H = timedelta(hours=1)
M = timedelta(minutes=1)
#: Unclassified and "high": 4 h / 16 h; urgent: 1 h / 4 h. Warns at half the target.
POLICY = SlaPolicy(
    name="round-the-clock",
    version=3,
    calendar=Calendar.always_open(),
    rules=(SlaRule(priority="urgent", first_response="1h", resolution="4h"),),
    default=SlaRule(first_response="4h", resolution="16h"),
    warn_at=0.5,
    deemed_acceptance_after="8h",
)
#: How a queue row sorts when no running resolution clock orders it: after every instant.
NO_DUE = queue_rows.NO_DUE


def minute(n: float) -> datetime:
    return START + n * M


def at(n: float) -> Moment:
    """The moment ``n`` minutes after the start (recorded when it happened)."""
    return Moment(minute(n), minute(n))


class Story:
    """One request driven by hand, a command at a time; ``events`` are the facts it recorded.

    Each method records one command ``n`` minutes after the start and returns its event.
    """

    def __init__(self, *, opened: Moment | None = None) -> None:
        self.request = ServiceRequest.open(
            ticket_code=CODE,
            customer={"id": "acme", "tier": "premium"},
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom="The line drops",
            synthesis=None,
            actor="customer:acme",
            at=opened or at(0),
        )
        self.events: list[ServiceRequest.Event] = []
        self.commands: list[str] = []
        self._did("open")

    def _did(self, command: str) -> ServiceRequest.Event:
        new = [e for e in self.request.collect_events() if isinstance(e, ServiceRequest.Event)]
        self.events += new
        self.commands.append(command)
        return new[-1]

    def classify(self, n: float, priority: str = "urgent") -> ServiceRequest.Event:
        self.request.classify(
            priority=priority, kind="claim", category="lines", actor="agent:lead", at=at(n)
        )
        return self._did("classify")

    def assign(
        self, n: float, team: str = "network", agent: str | None = "ana"
    ) -> ServiceRequest.Event:
        self.request.assign(team=team, agent=agent, actor="agent:lead", at=at(n))
        return self._did("assign")

    def probe(self, n: float) -> ServiceRequest.Event:
        self.request.probe(
            questions=["Since when?"], findings="f", diagnosis=None, actor="agent:ana", at=at(n)
        )
        return self._did("probe")

    def wait(self, n: float) -> ServiceRequest.Event:
        self.request.wait_on_customer(reason="serial?", actor="agent:ana", at=at(n))
        return self._did("wait_on_customer")

    def respond(self, n: float) -> ServiceRequest.Event:
        self.request.customer_responded(note="42", actor="customer:acme", at=at(n))
        return self._did("customer_responded")

    def complete(
        self,
        n: float,
        outcome: str = "resolved",
        *,
        follow_up_at: datetime | None = None,
        to_team: str | None = None,
    ) -> ServiceRequest.Event:
        self.request.complete(
            outcome=outcome,
            resolution="done",
            follow_up_at=follow_up_at,
            to_team=to_team,
            actor="agent:ana",
            at=at(n),
        )
        return self._did("complete")

    def accept(self, n: float) -> ServiceRequest.Event:
        self.request.accept(satisfaction=5, comment=None, actor="customer:acme", at=at(n))
        return self._did("accept")

    def reopen(self, n: float) -> ServiceRequest.Event:
        self.request.reopen(reason="still dropping", actor="customer:acme", at=at(n))
        return self._did("reopen")

    def cancel(self, n: float) -> ServiceRequest.Event:
        self.request.cancel(reason="duplicate", actor="agent:ana", at=at(n))
        return self._did("cancel")

    def nonconformity(self, n: float, actor: str = "auditor:eva") -> ServiceRequest.Event:
        self.request.log_nonconformity(
            description="late",
            severity="minor",
            category=None,
            root_cause=None,
            corrective_action=None,
            actor=actor,
            at=at(n),
        )
        return self._did("log_nonconformity")

    def follow_up_due(self, n: float) -> ServiceRequest.Event:
        self.request.mark_follow_up_due(actor="system", at=at(n))
        return self._did("mark_follow_up_due")


RowT = TypeVar("RowT")
Fold = Callable[[RowT | None, object], RowT | None]


def rows_after_each(fold: Fold[RowT], events: Sequence[object]) -> list[RowT]:
    """The row after each event, folding from nothing (the first event is the opening)."""
    rows: list[RowT] = []
    row: RowT | None = None
    for event in events:
        row = fold(row, event)
        assert row is not None
        rows.append(row)
    return rows


def last_row(fold: Fold[RowT], events: Sequence[object]) -> RowT:
    return rows_after_each(fold, events)[-1]


# -- the work queue -------------------------------------------------------------------------------


def test_an_opening_makes_a_new_open_unclassified_queue_row() -> None:
    story = Story(opened=Moment(minute(5), minute(0)))  # recorded 5 minutes after it happened
    row = QueueProjection().fold(None, story.events[0])
    assert row is not None
    assert (row.request_id, row.ticket_code, row.status, row.is_open) == (str(ID), CODE, "new", 1)
    assert (row.customer_id, row.tier, row.kind, row.stage, row.channel) == (
        "acme",
        "premium",
        "complaint",
        "post_sale",
        "phone",
    )
    assert (row.priority, row.category, row.team, row.agent, row.outcome) == (None,) * 5
    assert row.priority_rank > max(p.rank for p in Priority)  # unclassified sorts last
    assert row.opened_at == row.updated_at == micros(START)  # when it happened
    assert (row.follow_up_at, row.first_response_due, row.resolution_due) == (None,) * 3
    assert (row.due_sort, row.sla_policy) == (NO_DUE, None)
    assert row.sla_tracker == SlaTracker.fold(None, story.events[0])


def test_nothing_but_an_opening_starts_a_queue_row() -> None:
    story = Story()
    story.classify(1)
    queue = QueueProjection()
    assert queue.fold(None, story.events[1]) is None
    assert queue.fold(None, object()) is None


def test_the_queue_row_follows_a_request_through_its_lifecycle() -> None:
    story = Story()
    follow_up = minute(3 * 24 * 60)
    story.classify(10, "high")
    story.assign(20, "network", "ana")
    story.wait(30)
    story.assign(40, "billing", "bob")  # reassigned while waiting: still waiting
    story.respond(50)
    story.complete(60, "follow_up", follow_up_at=follow_up)
    story.reopen(70)
    story.complete(80, "transferred", to_team="field")
    story.assign(90, "field", "carla")
    story.complete(100)
    story.accept(110)
    rows = rows_after_each(QueueProjection().fold, story.events)
    seen = [(r.status, r.team, r.agent, r.outcome, r.follow_up_at, r.is_open) for r in rows]
    assert seen == [
        ("new", None, None, None, None, 1),
        ("classified", None, None, None, None, 1),
        ("assigned", "network", "ana", None, None, 1),
        ("waiting_on_customer", "network", "ana", None, None, 1),
        ("waiting_on_customer", "billing", "bob", None, None, 1),
        ("assigned", "billing", "bob", None, None, 1),
        ("completed", "billing", "bob", "follow_up", micros(follow_up), 1),
        ("assigned", "billing", "bob", None, None, 1),
        ("transferred", "field", None, "transferred", None, 1),
        ("assigned", "field", "carla", "transferred", None, 1),
        ("completed", "field", "carla", "resolved", None, 1),
        ("closed", "field", "carla", "resolved", None, 0),
    ]
    # The same statuses as the lifecycle model walks through for these commands.
    status = Status.NEW
    for command, event, row in zip(story.commands[1:], story.events[1:], rows[1:], strict=True):
        outcome = event.outcome if isinstance(event, ServiceRequest.Completed) else None
        status = model.status_after(command, status, outcome)
        assert row.status == status.value, command
        assert row.is_open == (status in model.OPEN), command
        assert row.updated_at == micros(event.occurred_at), command
    assert [r.priority for r in rows[1:]] == ["high"] * 11
    assert rows[-1].sla_tracker == last_row(SlaTracker.fold, story.events)


def test_a_reclassification_at_work_changes_priority_kind_and_category_but_not_the_status() -> None:
    story = Story()
    story.classify(1, "low")
    story.assign(2)
    story.classify(3, "urgent")
    row = last_row(QueueProjection().fold, story.events)
    assert (row.status, row.priority, row.priority_rank) == (
        "assigned",
        "urgent",
        Priority.URGENT.rank,
    )
    assert (row.kind, row.category) == ("claim", "lines")


@pytest.mark.parametrize("wait_first", [False, True])
def test_a_cancelled_request_leaves_the_open_queues(*, wait_first: bool) -> None:
    story = Story()
    story.classify(1)
    story.assign(2)
    if wait_first:
        story.wait(3)
    story.cancel(4)
    row = last_row(QueueProjection().fold, story.events)
    assert (row.status, row.is_open, row.updated_at) == ("cancelled", 0, micros(minute(4)))
    assert (row.team, row.agent) == ("network", "ana")


def test_events_the_queue_does_not_use_leave_the_row_or_move_only_its_clocks() -> None:
    story = Story()
    story.classify(1)
    story.assign(2)
    queue = QueueProjection()
    row = last_row(queue.fold, story.events)
    # An auditor's non-conformity: the queue shows nothing of it, the KPIs count it.
    logged = queue.fold(row, story.nonconformity(3))
    assert logged is not None
    assert (logged.ncs, logged.sla_tracker) == (1, row.sla_tracker)
    assert (logged.status, logged.updated_at) == (row.status, row.updated_at)
    assert queue.fold(row, object()) is row
    # A probe is the first response: the tracker moves, what the queue shows does not.
    probed = queue.fold(row, story.probe(4))
    assert probed is not None
    assert probed is not row
    assert probed.sla_tracker != row.sla_tracker
    assert probed.sla_tracker is not None
    assert probed.sla_tracker.responded
    assert (probed.status, probed.updated_at) == (row.status, row.updated_at)


def test_the_queue_orders_by_the_running_resolution_clock_and_puts_stopped_ones_last() -> None:
    story = Story()
    queue = QueueProjection()
    opened = queue.measure(last_row(queue.fold, story.events), ClockPolicies.of(POLICY))
    assert (opened.first_response_due, opened.resolution_due) == (
        micros(START + 4 * H),
        micros(START + 16 * H),
    )
    assert opened.due_sort == opened.resolution_due
    assert opened.sla_policy == "round-the-clock v3"
    story.classify(10, "urgent")  # targets follow the latest classification, from the opening
    urgent = queue.measure(last_row(queue.fold, story.events), ClockPolicies.of(POLICY))
    assert (urgent.first_response_due, urgent.resolution_due, urgent.due_sort) == (
        micros(START + H),
        micros(START + 4 * H),
        micros(START + 4 * H),
    )
    story.assign(20)
    story.complete(30)
    done = queue.measure(last_row(queue.fold, story.events), ClockPolicies.of(POLICY))
    assert done.resolution_due == micros(START + 4 * H)  # met, and no longer what orders work
    assert done.due_sort == NO_DUE
    story.reopen(40)
    again = queue.measure(last_row(queue.fold, story.events), ClockPolicies.of(POLICY))
    assert again.due_sort == again.resolution_due is not None  # running again
    story.cancel(50)
    cancelled = queue.measure(last_row(queue.fold, story.events), ClockPolicies.of(POLICY))
    assert cancelled.due_sort == NO_DUE


def test_a_queue_row_reads_back_as_it_was_written() -> None:
    story = Story()
    story.classify(1)
    story.assign(2)
    story.wait(3)
    queue = QueueProjection()
    row = queue.measure(last_row(queue.fold, story.events), ClockPolicies.of(POLICY))
    values = queue.to_values(row)
    assert len(values) == len(queue.columns)
    assert queue.from_record(dict(zip(queue.columns, values, strict=True))) == row


# -- the SLA tracker ------------------------------------------------------------------------------


def facts(tracker: SlaTracker) -> list[tuple[str, int, datetime, bool]]:
    return [(f.event, f.version, f.at, f.by_customer) for f in tracker.facts]


def test_an_opening_starts_a_tracker_at_the_second_it_happened() -> None:
    opened = START + timedelta(seconds=30, microseconds=999_999)
    story = Story(opened=Moment(opened + H, opened))
    tracker = SlaTracker.fold(None, story.events[0])
    assert tracker == SlaTracker(
        request_id=ID,
        ticket_code=CODE,
        tier="premium",
        kind="complaint",
        opened_at=START + timedelta(seconds=30),
        facts=(
            SlaFact(
                event="Opened",
                version=1,
                at=START + timedelta(seconds=30),
                # Recorded an hour after it happened: kept, to the second (corrections use it).
                recorded=START + H + timedelta(seconds=30),
            ),
        ),
    )
    # Nothing before an opening, and one opening per request.
    assert SlaTracker.fold(None, object()) is None
    assert SlaTracker.fold(tracker, story.events[0]) is tracker


def test_the_tracker_keeps_the_facts_its_clocks_depend_on_and_nothing_else() -> None:
    story = Story()
    story.classify(1, "urgent")
    story.assign(2)  # the clocks do not depend on who works on it
    story.probe(3)  # the first response
    story.probe(4)  # not the first
    story.wait(5)
    story.respond(6)
    story.nonconformity(7)  # an auditor's: not the clocks' business
    story.nonconformity(8, actor="customer:acme")  # the customer's word: kept
    story.complete(9, "transferred", to_team="field")
    story.assign(10, "field")
    story.complete(11)
    story.reopen(12)
    story.cancel(13)
    tracker = last_row(SlaTracker.fold, story.events)
    assert facts(tracker) == [
        ("Opened", 1, minute(0), False),
        ("Classified", 2, minute(1), False),
        ("Probed", 4, minute(3), False),
        ("WaitingOnCustomer", 6, minute(5), False),
        ("CustomerResponded", 7, minute(6), True),
        ("NonConformityLogged", 9, minute(8), True),
        ("Completed", 10, minute(9), False),
        ("Completed", 12, minute(11), False),
        ("Reopened", 13, minute(12), True),
        ("Cancelled", 14, minute(13), False),
    ]
    classified, transferred, resolved = tracker.facts[1], tracker.facts[6], tracker.facts[7]
    assert (classified.priority, classified.kind) == ("urgent", "claim")
    assert (transferred.outcome, resolved.outcome) == ("transferred", "resolved")


def test_a_follow_up_date_is_kept_in_utc_and_its_due_mark_is_a_fact() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    follow_up = datetime(2026, 3, 5, 10, 0, tzinfo=madrid)
    story = Story()
    story.classify(1)
    story.assign(2)
    story.complete(3, "follow_up", follow_up_at=follow_up)
    tracker = last_row(SlaTracker.fold, story.events)
    completed = tracker.facts[-1]
    assert completed.follow_up_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert completed.follow_up_at is not None
    assert completed.follow_up_at.tzinfo is UTC
    assert (tracker.follow_up_at, tracker.follow_up_due) == (follow_up, False)
    story.follow_up_due(3 * 24 * 60)
    marked = last_row(SlaTracker.fold, story.events)
    assert marked.facts[-1].event == "FollowUpDue"
    assert marked.follow_up_due


def test_a_fact_never_goes_back_before_the_previous_one() -> None:
    # The aggregate refuses such an event; a log written without that guard still folds in
    # order (the occurrence is clamped to the previous fact's second).
    story = Story()
    story.classify(10)
    story.assign(15)  # not a fact of the tracker's
    tracker = last_row(SlaTracker.fold, story.events)
    early = story.probe(20).model_copy(update={"occurred_at": minute(5)})
    folded = SlaTracker.fold(tracker, early)
    assert folded is not None
    assert [(f.event, f.at) for f in folded.facts[-2:]] == [
        ("Classified", minute(10)),
        ("Probed", minute(10)),
    ]


def test_a_tracker_is_stored_without_its_facts_unset_fields_and_parsed_back_checked() -> None:
    story = Story()
    story.classify(10)
    story.assign(15)
    story.probe(20)
    tracker = last_row(SlaTracker.fold, story.events)
    assert tracker is not None
    text = tracker.model_dump_json(exclude_defaults=True)
    facts = orjson.loads(text)["facts"]
    assert facts[1] == {
        "event": "Classified",
        "version": 2,
        "at": "2026-03-02T09:10:00Z",
        "priority": "urgent",
        "kind": "claim",
    }
    assert SlaTracker.model_validate_json(text) == tracker
    # What the stored text may not hold: a field no fact has, a time without its zone.
    unknown = text.replace('"version":2,', '"version":2,"colour":"red",', 1)
    naive = text.replace('"at":"2026-03-02T09:10:00Z"', '"at":"2026-03-02T09:10:00"', 1)
    for wrong in (unknown, naive):
        assert wrong != text
        with pytest.raises(ValidationError):
            SlaTracker.model_validate_json(wrong)


# -- the SLA view ---------------------------------------------------------------------------------


def test_an_opening_makes_an_sla_row_with_nothing_measured_yet() -> None:
    story = Story()
    row = SlaProjection().fold(None, story.events[0])
    assert row is not None
    assert (row.request_id, row.ticket_code, row.opened_at) == (str(ID), CODE, micros(START))
    assert (row.team, row.agent, row.priority, row.policy_name) == (None,) * 4
    assert (row.first_response_due, row.resolution_due, row.deemed_acceptance_at) == (None,) * 3
    assert (row.paused, row.awaiting_acceptance, row.follow_up_due) == (0, 0, 0)
    assert row.tracker == SlaTracker.fold(None, story.events[0])
    assert SlaProjection().fold(None, object()) is None


def test_the_sla_row_keeps_who_works_on_the_request_and_its_priority() -> None:
    story = Story()
    story.classify(1, "high")
    story.assign(2, "network", "ana")
    sla = SlaProjection()
    row = last_row(sla.fold, story.events)
    assert (row.team, row.agent, row.priority) == ("network", "ana", "high")
    # A transfer hands it to the team it goes to, with nobody yet.
    story.complete(3, "transferred", to_team="field")
    row = last_row(sla.fold, story.events)
    assert (row.team, row.agent) == ("field", None)
    # What neither the row nor the tracker uses leaves the very same row.
    assert sla.fold(row, story.nonconformity(4)) is row


def measured(story: Story) -> Any:
    sla = SlaProjection()
    return sla.measure(last_row(sla.fold, story.events), ClockPolicies.of(POLICY))


def test_the_due_rows_of_running_clocks() -> None:
    story = Story()
    story.classify(10, "urgent")
    row = measured(story)
    assert (row.policy_name, row.policy_version, row.calendar_version) == (
        "round-the-clock",
        3,
        POLICY.calendar.version,
    )
    # Urgent: 1 h and 4 h from the opening, warning at half of each.
    assert (row.first_response_due, row.first_response_warn_from) == (
        micros(START + H),
        micros(START + 30 * M),
    )
    assert (row.resolution_due, row.resolution_warn_from) == (
        micros(START + 4 * H),
        micros(START + 2 * H),
    )
    assert (row.first_response_done, row.resolution_done) == (None, None)
    assert (row.first_response_window, row.resolution_window) == (
        30 * 60 * 1_000_000,
        2 * 60 * 60 * 1_000_000,
    )
    assert (row.paused, row.awaiting_acceptance, row.completed_at) == (0, 0, None)
    assert (row.deemed_acceptance_at, row.follow_up_at, row.follow_up_due) == (None, None, 0)


def test_a_met_clock_is_done_and_has_no_warning_window() -> None:
    story = Story()
    story.classify(10, "urgent")
    story.assign(20)
    story.probe(30)
    row = measured(story)
    assert (row.first_response_done, row.first_response_window) == ("met", None)
    assert row.first_response_due == micros(START + H)
    assert (row.resolution_done, row.resolution_due) == (None, micros(START + 4 * H))


def test_a_clock_paused_short_of_its_target_has_no_due_instant_and_is_not_breached() -> None:
    story = Story()
    story.classify(10, "urgent")
    story.assign(20)
    story.wait(30)
    row = measured(story)
    assert row.paused == 1
    assert (row.first_response_due, row.resolution_due) == (None, None)
    assert (row.first_response_window, row.resolution_window) == (None, None)
    assert row.first_response_breached_while_paused == 0
    assert row.resolution_breached_while_paused == 0


def test_a_clock_paused_past_its_due_instant_stays_breached() -> None:
    story = Story()
    story.classify(10, "urgent")
    story.assign(20)
    story.wait(270)  # the resolution was due at 240; asking the customer answers them, late
    row = measured(story)
    assert row.paused == 1
    assert row.resolution_due == micros(START + 4 * H)
    assert row.first_response_done == "missed"
    assert (row.first_response_breached_while_paused, row.resolution_breached_while_paused) == (
        0,
        1,
    )


def test_a_completion_awaits_acceptance_until_the_customer_has_been_silent_long_enough() -> None:
    story = Story()
    story.classify(10, "urgent")
    story.assign(20)
    story.complete(30)
    row = measured(story)
    assert (row.first_response_done, row.resolution_done) == ("met", "met")
    assert (row.awaiting_acceptance, row.completed_at) == (1, micros(minute(30)))
    assert row.deemed_acceptance_at == micros(minute(30) + 8 * H)
    # The customer's word restarts the silence; an auditor's does not.
    story.nonconformity(40)
    assert measured(story).deemed_acceptance_at == micros(minute(30) + 8 * H)
    story.nonconformity(50, actor="customer:acme")
    assert measured(story).deemed_acceptance_at == micros(minute(50) + 8 * H)
    story.accept(60)
    closed = measured(story)
    assert (closed.awaiting_acceptance, closed.completed_at, closed.deemed_acceptance_at) == (
        0,
        None,
        None,
    )


def test_a_follow_up_completion_shows_its_date_until_marked_due() -> None:
    follow_up = minute(3 * 24 * 60)
    story = Story()
    story.classify(10)
    story.assign(20)
    story.complete(30, "follow_up", follow_up_at=follow_up)
    row = measured(story)
    assert (row.follow_up_at, row.follow_up_due, row.awaiting_acceptance) == (
        micros(follow_up),
        0,
        1,
    )
    story.follow_up_due(3 * 24 * 60)
    assert measured(story).follow_up_due == 1
    story.reopen(3 * 24 * 60 + 1)
    reopened = measured(story)
    assert (reopened.follow_up_at, reopened.follow_up_due, reopened.awaiting_acceptance) == (
        None,
        0,
        0,
    )


def test_a_cancellation_stops_the_clocks_still_running() -> None:
    story = Story()
    story.classify(10, "urgent")
    story.assign(20)
    story.probe(30)
    story.cancel(40)
    row = measured(story)
    assert (row.first_response_done, row.resolution_done) == ("met", "cancelled")
    assert (row.first_response_window, row.resolution_window, row.paused) == (None, None, 0)


def test_an_sla_row_reads_back_as_it_was_written() -> None:
    story = Story()
    story.classify(10)
    story.assign(20)
    story.complete(30, "follow_up", follow_up_at=minute(600))
    sla = SlaProjection()
    row = measured(story)
    values = sla.to_values(row)
    assert len(values) == len(sla.columns)
    assert sla.from_record(dict(zip(sla.columns, values, strict=True))) == row


# -- the audit log --------------------------------------------------------------------------------

#: What the audit view knows of each request: its ticket code and customer.
KNOWN = {str(ID): (CODE, "acme")}


def audit_row(position: int, event: object, known: dict[str, tuple[str, str]]) -> AuditRow:
    """The audit row of one event, as written and read back (without the table in between)."""
    values = audit._values(position, event, known)  # type: ignore[arg-type]
    (row,) = audit._rows([values])
    return row


def test_an_audit_row_carries_the_event_and_the_request_it_belongs_to() -> None:
    story = Story(opened=Moment(minute(90), minute(0)))  # an imported opening
    story.classify(100, "urgent")
    opened = audit_row(41, story.events[0], KNOWN)
    assert opened == AuditRow(
        position=41,
        request_id=ID,
        ticket_code=CODE,
        version=1,
        event_type="Opened",
        occurred_at=START,
        recorded_at=minute(90),
        actor="customer:acme",
        customer_id="acme",
        data={
            "ticket_code": CODE,
            "customer": {"id": "acme", "name": None, "tier": "premium", "language": None},
            "channel": "phone",
            "kind": "complaint",
            "stage": "post_sale",
            "symptom": "The line drops",
            "synthesis": None,
            "external_ref": None,
            "external_source": None,
        },
    )
    classified = audit_row(42, story.events[1], KNOWN)
    assert (classified.version, classified.event_type, classified.actor) == (
        2,
        "Classified",
        "agent:lead",
    )
    assert classified.occurred_at == classified.recorded_at == minute(100)
    assert classified.data == {"priority": "urgent", "kind": "claim", "category": "lines"}


def test_the_data_of_an_audit_row_is_the_events_own_fields_as_json() -> None:
    story = Story()
    event = story.events[0]
    values = audit._values(1, event, KNOWN)
    assert isinstance(values[-1], str)
    expected = event.model_dump(
        mode="json",
        exclude={
            "originator_id",
            "originator_version",
            "timestamp",
            "actor",
            "occurred_at",
            "originator_topic",
        },
    )
    assert orjson.loads(values[-1]) == expected


def test_an_event_of_a_request_the_view_does_not_know_has_no_ticket_or_customer() -> None:
    story = Story()
    story.classify(1)
    row = audit_row(7, story.events[1], {})
    assert (row.request_id, row.ticket_code, row.customer_id) == (ID, None, None)


def test_a_store_level_event_belongs_to_no_request() -> None:
    book = SlaPolicyBook.start(actor="system", at=at(0))
    book.adopt(POLICY, effective_from=START, actor="agent:admin", at=at(1))
    started, adopted = book.collect_events()
    known = {str(book.id): ("SR-999999", "somebody")}  # even if an id were known
    rows = [audit_row(1, started, known), audit_row(2, adopted, known)]
    assert [r.event_type for r in rows] == ["SlaPolicyBook.Started", "SlaPolicyBook.PolicyAdopted"]
    assert [(r.ticket_code, r.customer_id) for r in rows] == [(None, None), (None, None)]
    assert rows[1].actor == "agent:admin"
    assert rows[1].data["policy"]["name"] == "round-the-clock"
    assert rows[0].request_id == book.id


def test_a_requests_event_types_keep_their_short_names() -> None:
    assert event_type_of(ServiceRequest.Opened) == "Opened"
    assert event_type_of(ServiceRequest.NonConformityCorrected) == "NonConformityCorrected"
    assert event_type_of(SlaPolicyBook.PolicyAdopted) == "SlaPolicyBook.PolicyAdopted"


def test_an_audit_filter_selects_rows_by_every_criterion_given() -> None:
    story = Story(opened=Moment(minute(90), minute(0)))
    story.classify(100)
    opened, classified = (audit_row(n, e, KNOWN) for n, e in enumerate(story.events, 1))
    other = UUID(int=1)
    cases: list[tuple[AuditFilter, list[AuditRow]]] = [
        (AuditFilter(), [opened, classified]),
        (AuditFilter(actor="agent:lead"), [classified]),
        (AuditFilter(request_id=ID, event_types=("Opened",)), [opened]),
        (AuditFilter(request_id=other), []),
        (AuditFilter(customer="acme", since=minute(0), until=minute(100)), [opened]),
        # The range is half open, on when it happened unless asked to use when it was recorded.
        (AuditFilter(since=minute(90)), [classified]),
        (AuditFilter(since=minute(90), by="recorded"), [opened, classified]),
        (AuditFilter(until=minute(100), by="recorded"), [opened]),
    ]
    for selected, expected in cases:
        assert [r for r in (opened, classified) if selected.matches(r)] == expected, selected
