"""The ``ServiceRequest`` aggregate on its own: the transition table, input rules, state changes.

No desk and no store: moments are made by hand, one minute apart, as a clock moving forward
would hand them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import pytest

import lifecycle_model as model
from servflow.domain.policy import DEFAULT_HOLDS
from servflow.domain.request import (
    COMMANDS,
    OPEN_STATUSES,
    SYSTEM_TRANSITIONS,
    TRANSITIONS,
    Moment,
    ServiceRequest,
    Status,
    request_id_for,
)
from servflow.domain.values import Channel, Kind, Outcome, Priority, Severity, Stage
from servflow.errors import (
    InvalidTransitionError,
    NonConformityNotFoundError,
    OccurrenceOutOfOrderError,
    ValidationFailedError,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CODE = "SR-000042"
E = TypeVar("E", bound=Exception)


class Timeline:
    """Hands out moments one minute apart; ``occurred_at`` equals ``recorded_at``."""

    def __init__(self) -> None:
        self.now = START

    def next(self) -> Moment:
        self.now += timedelta(minutes=1)
        return Moment(recorded_at=self.now, occurred_at=self.now)


def open_request(t: Timeline, **overrides: object) -> ServiceRequest:
    fields: dict[str, object] = {
        "ticket_code": CODE,
        "customer": "acme",
        "channel": "phone",
        "kind": "complaint",
        "stage": "post_sale",
        "symptom": "The router drops the line every evening",
        "synthesis": None,
        "actor": "agent:ana",
    }
    fields.update(overrides)
    return ServiceRequest.open(at=t.next(), **fields)  # type: ignore[arg-type]


Command = Callable[[ServiceRequest, Moment], object]

#: Each command with valid input, so that only the lifecycle can refuse it. ``transfer`` is
#: ``complete`` with the transferred outcome: the one way into TRANSFERRED.
VALID: dict[str, Command] = {
    "classify": lambda r, at: r.classify(
        priority="high", kind=None, category=None, actor="agent:ana", at=at
    ),
    "assign": lambda r, at: r.assign(team="network", agent="ana", actor="agent:ana", at=at),
    "probe": lambda r, at: r.probe(
        questions=["Since when?"], findings="Since Monday", diagnosis=None, actor="agent:ana", at=at
    ),
    "act": lambda r, at: r.act(
        action="Reset the line", effort_minutes=5, cost=None, actor="agent:ana", at=at
    ),
    "wait_on_customer": lambda r, at: r.wait_on_customer(
        reason="Needs the serial number", actor="agent:ana", at=at
    ),
    "customer_responded": lambda r, at: r.customer_responded(
        note="Serial is 123", actor="customer:acme", at=at
    ),
    "report_progress": lambda r, at: r.report_progress(
        message="We are on it", actor="agent:ana", at=at
    ),
    "complete": lambda r, at: r.complete(
        outcome="resolved",
        resolution="Firmware updated",
        follow_up_at=None,
        to_team=None,
        actor="agent:ana",
        at=at,
    ),
    "transfer": lambda r, at: r.complete(
        outcome="transferred",
        resolution="Billing problem",
        follow_up_at=None,
        to_team="billing",
        actor="agent:ana",
        at=at,
    ),
    "accept": lambda r, at: r.accept(satisfaction=4, comment=None, actor="customer:acme", at=at),
    "close": lambda r, at: r.close(reason="Resolved 5 days ago", actor="system", at=at),
    "hold": lambda r, at: r.hold(
        reason="problem" if r.hold_reason == "vendor" else "vendor",
        note="Waiting for the vendor's patch",
        holds=DEFAULT_HOLDS,
        actor="agent:ana",
        at=at,
    ),
    "resume": lambda r, at: r.resume(note=None, actor="agent:ana", at=at),
    "unassign": lambda r, at: r.unassign(team="network", actor="agent:ana", at=at),
    "reopen": lambda r, at: r.reopen(reason="Still dropping", actor="customer:acme", at=at),
    "cancel": lambda r, at: r.cancel(reason="Duplicate", actor="agent:ana", at=at),
    "log_nonconformity": lambda r, at: r.log_nonconformity(
        description="Receipt not confirmed",
        severity="minor",
        category=None,
        root_cause=None,
        corrective_action=None,
        actor="auditor:eva",
        at=at,
    ),
    "correct_nonconformity": lambda r, at: r.correct_nonconformity(
        number=1, correction="Receipt sent", actor="auditor:eva", at=at
    ),
    "note": lambda r, at: r.note(
        text="Router model noted", visibility="internal", actor="agent:ana", at=at
    ),
    "customer_message": lambda r, at: r.customer_message(
        text="It dropped again", actor="customer:acme", at=at
    ),
    "import": lambda r, at: r.mark_imported(
        source="bpi", rows=r.imported_rows + 1, digest="0" * 64, actor="integration:bpi", at=at
    ),
}


def do(request: ServiceRequest, command: str, at: Moment) -> None:
    """Send ``command`` with valid input."""
    VALID[command](request, at)


@dataclass(frozen=True)
class Path:
    """A sequence of commands after ``open`` and the status it leads to."""

    status: Status
    commands: tuple[str, ...]

    @property
    def name(self) -> str:
        return " > ".join(("open", *self.commands))


PATHS = (
    Path(Status.NEW, ()),
    Path(Status.NEW, ("report_progress",)),
    Path(Status.CLASSIFIED, ("classify",)),
    Path(Status.CLASSIFIED, ("classify", "classify")),
    Path(Status.ASSIGNED, ("classify", "assign")),
    Path(Status.ASSIGNED, ("classify", "assign", "wait_on_customer", "customer_responded")),
    Path(Status.ASSIGNED, ("classify", "assign", "complete", "reopen")),
    Path(Status.ASSIGNED, ("classify", "assign", "transfer", "assign")),
    Path(Status.WAITING_ON_CUSTOMER, ("classify", "assign", "wait_on_customer")),
    Path(Status.WAITING_ON_CUSTOMER, ("classify", "assign", "wait_on_customer", "assign")),
    Path(Status.WAITING_ON_CUSTOMER, ("classify", "assign", "hold", "wait_on_customer")),
    Path(Status.ON_HOLD, ("classify", "assign", "hold")),
    Path(Status.ON_HOLD, ("classify", "assign", "wait_on_customer", "hold")),
    Path(Status.ON_HOLD, ("classify", "assign", "hold", "hold", "assign")),
    Path(Status.ASSIGNED, ("classify", "assign", "hold", "resume")),
    Path(Status.CLASSIFIED, ("classify", "assign", "hold", "unassign")),
    Path(Status.COMPLETED, ("classify", "assign", "hold", "complete", "unassign", "assign")),
    Path(Status.CLOSED, ("classify", "assign", "complete", "close")),
    Path(Status.CLOSED, ("classify", "assign", "complete", "unassign", "close")),
    Path(Status.ASSIGNED, ("classify", "assign", "complete", "accept", "reopen")),
    Path(Status.TRANSFERRED, ("classify", "assign", "transfer")),
    Path(Status.COMPLETED, ("classify", "assign", "complete")),
    Path(Status.COMPLETED, ("classify", "assign", "complete", "reopen", "complete")),
    Path(Status.CLOSED, ("classify", "assign", "complete", "accept")),
    Path(Status.CANCELLED, ("cancel",)),
    Path(Status.CANCELLED, ("classify", "assign", "wait_on_customer", "cancel")),
)


def follow(path: Path, t: Timeline) -> ServiceRequest:
    request = open_request(t)
    for command in path.commands:
        do(request, command, t.next())
    return request


def reach(status: Status, t: Timeline) -> ServiceRequest:
    """A request driven into ``status`` by the first real command path that leads there."""
    path = next(p for p in PATHS if p.status is status)
    return follow(path, t)


def refused(request: ServiceRequest, error: type[E], change: Callable[[], object]) -> E:
    """Run ``change``, expect ``error``, and check that nothing was recorded."""
    version = request.version
    pending = len(request.pending_events)
    status = request.status
    with pytest.raises(error) as caught:
        change()
    assert request.version == version
    assert len(request.pending_events) == pending
    assert request.status is status
    return caught.value


# -- the transition table ---------------------------------------------------------------------


def test_the_paths_reach_every_status_and_each_path_ends_where_it_says() -> None:
    assert {path.status for path in PATHS} == set(Status)
    for path in PATHS:
        assert follow(path, Timeline()).status is path.status, path.name


def test_the_table_has_a_row_for_every_command_and_only_known_statuses() -> None:
    assert set(COMMANDS) == set(TRANSITIONS)
    for allowed in TRANSITIONS.values():
        assert allowed <= set(Status)
        assert allowed


def test_the_tables_are_the_lifecycle_of_the_design() -> None:
    # The code's tables against the tests' model, written by hand from the domain rules.
    assert {command: set(allowed) for command, allowed in TRANSITIONS.items()} == {
        command: set(allowed) for command, allowed in model.ALLOWED.items()
    }
    assert {command: set(allowed) for command, allowed in SYSTEM_TRANSITIONS.items()} == {
        command: set(allowed) for command, allowed in model.SYSTEM_ALLOWED.items()
    }
    assert set(OPEN_STATUSES) == set(model.OPEN)


@pytest.mark.parametrize("command", model.COMMANDS)
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_a_command_is_accepted_exactly_in_the_statuses_the_lifecycle_allows(
    path: Path, command: str
) -> None:
    t = Timeline()
    request = follow(path, t)
    if command == "correct_nonconformity":
        do(request, "log_nonconformity", t.next())
    status = request.status
    assert request.allows(command) is model.allows(command, status)
    version = request.version
    pending = len(request.pending_events)

    if model.allows(command, status):
        do(request, command, t.next())
        assert request.version == version + 1
        assert len(request.pending_events) == pending + 1
        assert request.status is model.status_after(command, status)  # ``complete``: resolved
        return

    error = refused(request, InvalidTransitionError, lambda: do(request, command, t.next()))
    assert error.request_id == request.id
    assert error.ticket_code == CODE
    assert error.status == status.value
    assert error.command == command
    assert error.allowed == tuple(s.value for s in Status if model.allows(command, s))
    assert CODE in str(error)
    assert status.value in str(error)
    assert f"'{command}'" in str(error)
    assert error.code == "invalid_transition"


# -- input refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("symptom", ""),
        ("symptom", "   \n\t"),
        ("kind", "gadget"),
        ("channel", "pigeon"),
        ("stage", "someday"),
        ("actor", "ana"),
        ("actor", "robot:x"),
        ("actor", ""),
    ],
)
def test_opening_with_bad_input_is_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        open_request(Timeline(), **{field: value})
    error = caught.value
    assert type(error) is ValidationFailedError
    assert error.command == "open"
    assert error.request_id is None
    assert field in [name for name, _ in error.errors]
    assert CODE in str(error)
    assert field in str(error)


def test_the_enumerations_accept_their_string_values_and_members() -> None:
    request = open_request(Timeline(), channel=Channel.WEB, kind="quote", stage=Stage.SALE)
    assert request.channel is Channel.WEB
    assert request.kind is Kind.QUOTE
    assert request.stage is Stage.SALE


@pytest.mark.parametrize("actor", ["ana", "robot:x", "", "agent:", "agent:a b", "System"])
def test_a_command_from_a_malformed_actor_is_refused_and_records_nothing(actor: str) -> None:
    t = Timeline()
    request = reach(Status.CLASSIFIED, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.assign(team="network", agent=None, actor=actor, at=t.next()),
    )
    assert error.command == "assign"
    assert error.request_id == request.id
    assert [name for name, _ in error.errors] == ["actor"]


def test_classifying_with_an_unknown_priority_or_kind_is_refused() -> None:
    t = Timeline()
    request = reach(Status.NEW, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.classify(
            priority="whenever", kind=None, category=None, actor="agent:ana", at=t.next()
        ),
    )
    assert [name for name, _ in error.errors] == ["priority"]
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.classify(
            priority="high", kind="gadget", category=None, actor="agent:ana", at=t.next()
        ),
    )
    assert [name for name, _ in error.errors] == ["kind"]
    assert request.priority is None


def test_a_non_conformity_of_unknown_severity_is_refused() -> None:
    t = Timeline()
    request = reach(Status.CLOSED, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.log_nonconformity(
            description="Late",
            severity="apocalyptic",
            category=None,
            root_cause=None,
            corrective_action=None,
            actor="auditor:eva",
            at=t.next(),
        ),
    )
    assert [name for name, _ in error.errors] == ["severity"]
    assert request.nonconformities == []


@pytest.mark.parametrize(
    ("effort", "cost", "field"),
    [(-1, None, "effort_minutes"), (0, Decimal("-0.01"), "cost"), (0, "-5", "cost")],
)
def test_an_action_with_negative_effort_or_cost_is_refused(
    effort: int, cost: object, field: str
) -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.act(
            action="Reset", effort_minutes=effort, cost=cost, actor="agent:ana", at=t.next()
        ),
    )
    assert [name for name, _ in error.errors] == [field]
    assert request.actions == []


@pytest.mark.parametrize(
    ("command", "change"),
    [
        (
            "probe",
            lambda r, at: r.probe(
                questions=[], findings="  ", diagnosis=None, actor="agent:ana", at=at
            ),
        ),
        (
            "act",
            lambda r, at: r.act(action="", effort_minutes=0, cost=None, actor="agent:ana", at=at),
        ),
        (
            "wait_on_customer",
            lambda r, at: r.wait_on_customer(reason=" ", actor="agent:ana", at=at),
        ),
        ("report_progress", lambda r, at: r.report_progress(message="", actor="agent:ana", at=at)),
        ("cancel", lambda r, at: r.cancel(reason="\n", actor="agent:ana", at=at)),
        ("assign", lambda r, at: r.assign(team=" ", agent=None, actor="agent:ana", at=at)),
    ],
)
def test_blank_text_is_refused_by_every_command_that_takes_text(
    command: str, change: Command
) -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    error = refused(request, ValidationFailedError, lambda: change(request, t.next()))
    assert error.command == command


@pytest.mark.parametrize("satisfaction", [0, 7, -1, 6])
def test_a_satisfaction_outside_one_to_five_is_refused(satisfaction: int) -> None:
    t = Timeline()
    request = reach(Status.COMPLETED, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.accept(
            satisfaction=satisfaction, comment=None, actor="customer:acme", at=t.next()
        ),
    )
    assert [name for name, _ in error.errors] == ["satisfaction"]


@pytest.mark.parametrize("satisfaction", [1, 5])
def test_a_satisfaction_at_either_end_of_the_scale_is_accepted(satisfaction: int) -> None:
    t = Timeline()
    request = reach(Status.COMPLETED, t)
    request.accept(satisfaction=satisfaction, comment=None, actor="customer:acme", at=t.next())
    assert request.satisfaction == satisfaction


@pytest.mark.parametrize(
    ("outcome", "to_team", "follow_up", "field"),
    [
        ("transferred", None, False, "to_team"),
        ("resolved", "billing", False, "to_team"),
        ("follow_up", None, False, "follow_up_at"),
        ("resolved", None, True, "follow_up_at"),
        ("transferred", "billing", True, "follow_up_at"),
        ("abandoned", None, False, "outcome"),
    ],
)
def test_a_completion_whose_outcome_and_details_disagree_is_refused(
    outcome: str, to_team: str | None, *, follow_up: bool, field: str
) -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    follow_up_at = START + timedelta(days=3) if follow_up else None
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.complete(
            outcome=outcome,
            resolution="Done",
            follow_up_at=follow_up_at,
            to_team=to_team,
            actor="agent:ana",
            at=t.next(),
        ),
    )
    assert error.command == "complete"
    assert [name for name, _ in error.errors] == [field]
    assert CODE in str(error)


def test_the_system_cannot_explicitly_accept_for_the_customer() -> None:
    t = Timeline()
    request = reach(Status.COMPLETED, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.accept(satisfaction=5, comment=None, actor="system", at=t.next()),
    )
    assert [name for name, _ in error.errors] == ["actor"]


def test_only_the_system_records_a_deemed_acceptance() -> None:
    t = Timeline()
    request = reach(Status.COMPLETED, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.accept(
            satisfaction=None, comment=None, actor="customer:acme", at=t.next(), deemed=True
        ),
    )
    assert [name for name, _ in error.errors] == ["actor"]


def test_an_explicit_acceptance_needs_a_score() -> None:
    t = Timeline()
    request = reach(Status.COMPLETED, t)
    error = refused(
        request,
        ValidationFailedError,
        lambda: request.accept(satisfaction=None, comment=None, actor="customer:acme", at=t.next()),
    )
    assert [name for name, _ in error.errors] == ["satisfaction"]


def test_correcting_an_unknown_non_conformity_is_refused_with_its_number() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    do(request, "log_nonconformity", t.next())
    error = refused(
        request,
        NonConformityNotFoundError,
        lambda: request.correct_nonconformity(
            number=2, correction="Fixed", actor="auditor:eva", at=t.next()
        ),
    )
    assert isinstance(error, LookupError)
    assert error.number == 2
    assert error.ticket_code == CODE
    assert error.request_id == request.id
    assert "#2" in str(error)
    assert CODE in str(error)


def test_a_non_conformity_is_corrected_only_once() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    do(request, "log_nonconformity", t.next())
    do(request, "correct_nonconformity", t.next())
    error = refused(
        request,
        InvalidTransitionError,
        lambda: request.correct_nonconformity(
            number=1, correction="Fixed again", actor="auditor:eva", at=t.next()
        ),
    )
    assert error.command == "correct_nonconformity"
    assert "already corrected" in str(error)
    assert request.nonconformity(1).correction == "Receipt sent"


def test_an_event_that_happened_before_the_previous_one_is_refused() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    previous = request.last_occurred_at
    earlier = previous - timedelta(seconds=1)
    error = refused(
        request,
        OccurrenceOutOfOrderError,
        lambda: request.act(
            action="Reset",
            effort_minutes=0,
            cost=None,
            actor="agent:ana",
            at=Moment(recorded_at=t.next().recorded_at, occurred_at=earlier),
        ),
    )
    assert isinstance(error, ValidationFailedError)
    assert error.command == "act"
    assert error.request_id == request.id
    assert CODE in str(error)
    assert error.code == "occurrence_out_of_order"


def test_an_event_at_the_same_instant_as_the_previous_one_is_accepted() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    same = Moment(recorded_at=t.next().recorded_at, occurred_at=request.last_occurred_at)
    request.report_progress(message="Still on it", actor="agent:ana", at=same)
    assert request.progress_reports == 1


def test_the_lifecycle_is_checked_before_the_input() -> None:
    t = Timeline()
    request = reach(Status.CLOSED, t)
    error = refused(
        request,
        InvalidTransitionError,
        lambda: request.accept(satisfaction=9, comment=None, actor="system", at=t.next()),
    )
    assert error.status == "closed"


# -- state after each event -------------------------------------------------------------------


def test_opening_records_who_what_and_when_under_an_id_derived_from_the_code() -> None:
    t = Timeline()
    request = open_request(t, synthesis="Line drops", customer={"id": "acme", "tier": "vip"})
    assert request.id == request_id_for(CODE)
    assert request.version == 1
    assert len(request.pending_events) == 1
    assert isinstance(request.pending_events[0], ServiceRequest.Opened)
    assert request.ticket_code == CODE
    assert request.customer.id == "acme"
    assert request.customer.tier == "vip"
    assert request.status is Status.NEW
    assert request.opened_at == t.now
    assert request.opened_by == "agent:ana"
    assert request.synthesis == "Line drops"
    assert (request.priority, request.team, request.agent, request.outcome) == (
        None,
        None,
        None,
        None,
    )
    assert request.probes == []
    assert request.actions == []
    assert request.nonconformities == []
    assert (request.reopen_count, request.transfer_count, request.progress_reports) == (0, 0, 0)


def test_classifying_sets_the_priority_and_keeps_kind_and_category_unless_given() -> None:
    t = Timeline()
    request = reach(Status.NEW, t)
    request.classify(
        priority="urgent", kind="claim", category="network", actor="agent:ana", at=t.next()
    )
    assert (request.status, request.priority, request.kind, request.category) == (
        Status.CLASSIFIED,
        Priority.URGENT,
        Kind.CLAIM,
        "network",
    )
    request.classify(
        priority=Priority.LOW, kind=None, category=None, actor="agent:ana", at=t.next()
    )
    assert (request.status, request.priority, request.kind, request.category) == (
        Status.CLASSIFIED,
        Priority.LOW,
        Kind.CLAIM,
        "network",
    )


def test_assigning_sets_team_and_agent_and_starts_the_work() -> None:
    t = Timeline()
    request = reach(Status.CLASSIFIED, t)
    request.assign(team="network", agent=None, actor="agent:lead", at=t.next())
    assert (request.status, request.team, request.agent) == (Status.ASSIGNED, "network", None)
    assert request.transfer_count == 0
    request.assign(team="network", agent="ana", actor="agent:lead", at=t.next())
    assert (request.team, request.agent) == ("network", "ana")
    assert request.transfer_count == 0


def test_assigning_to_another_team_counts_as_a_transfer() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    request.assign(team="billing", agent=None, actor="agent:lead", at=t.next())
    assert (request.team, request.agent, request.transfer_count) == ("billing", None, 1)


def test_a_transfer_requeues_the_request_for_the_new_team_without_an_agent() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    assert (request.team, request.agent) == ("network", "ana")
    request.complete(
        outcome=Outcome.TRANSFERRED,
        resolution="A billing matter",
        follow_up_at=None,
        to_team="billing",
        actor="agent:ana",
        at=t.next(),
    )
    assert (request.status, request.team, request.agent, request.transfer_count) == (
        Status.TRANSFERRED,
        "billing",
        None,
        1,
    )
    assert request.outcome is Outcome.TRANSFERRED
    assert request.completed_at is None
    request.assign(team="billing", agent="bob", actor="agent:lead", at=t.next())
    assert (request.status, request.team, request.agent) == (Status.ASSIGNED, "billing", "bob")
    assert request.transfer_count == 1


def test_the_star_steps_are_kept_in_order_with_their_actor_and_time() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    first = t.next()
    request.probe(
        questions=("Since when?", "Which lamp?"),
        findings="Since Monday",
        diagnosis="Bad firmware",
        actor="agent:ana",
        at=first,
    )
    second = t.next()
    request.act(action="Update", effort_minutes=30, cost="12.50", actor="agent:bob", at=second)
    request.act(action="Reboot", effort_minutes=5, cost=None, actor="agent:ana", at=t.next())
    request.report_progress(message="Nearly there", actor="agent:ana", at=t.next())
    assert [p.questions for p in request.probes] == [("Since when?", "Which lamp?")]
    assert request.probes[0].diagnosis == "Bad firmware"
    assert request.probes[0].at == first.occurred_at
    assert [(a.action, a.effort_minutes, a.cost, a.actor) for a in request.actions] == [
        ("Update", 30, Decimal("12.50"), "agent:bob"),
        ("Reboot", 5, None, "agent:ana"),
    ]
    assert request.actions[0].at == second.occurred_at
    assert request.progress_reports == 1
    assert request.status is Status.ASSIGNED


def test_waiting_on_the_customer_survives_a_reassignment_until_the_customer_responds() -> None:
    t = Timeline()
    request = reach(Status.WAITING_ON_CUSTOMER, t)
    assert request.waiting_reason == "Needs the serial number"
    request.assign(team="network", agent="bob", actor="agent:lead", at=t.next())
    assert (request.status, request.agent, request.waiting_reason) == (
        Status.WAITING_ON_CUSTOMER,
        "bob",
        "Needs the serial number",
    )
    request.customer_responded(note="Serial 123", actor="customer:acme", at=t.next())
    assert request.status is Status.ASSIGNED
    assert request.waiting_reason is None


def test_completing_with_a_follow_up_keeps_its_date() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    when = START + timedelta(days=7)
    at = t.next()
    request.complete(
        outcome="follow_up",
        resolution="Call back next week",
        follow_up_at=when,
        to_team=None,
        actor="agent:ana",
        at=at,
    )
    assert request.status is Status.COMPLETED
    assert request.outcome is Outcome.FOLLOW_UP
    assert request.follow_up_at == when
    assert request.completed_at == at.occurred_at


def test_reopening_goes_back_to_the_same_team_and_agent_and_clears_the_outcome() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    request.complete(
        outcome="follow_up",
        resolution="Call back",
        follow_up_at=START + timedelta(days=2),
        to_team=None,
        actor="agent:ana",
        at=t.next(),
    )
    request.reopen(reason="Still broken", actor="customer:acme", at=t.next())
    assert request.status is Status.ASSIGNED
    assert (request.team, request.agent) == ("network", "ana")
    assert request.outcome is None
    assert request.resolution is None
    assert request.follow_up_at is None
    assert request.completed_at is None
    assert request.reopen_count == 1
    do(request, "complete", t.next())
    do(request, "reopen", t.next())
    assert request.reopen_count == 2


def test_an_explicit_acceptance_closes_the_request_with_the_score() -> None:
    t = Timeline()
    request = reach(Status.COMPLETED, t)
    at = t.next()
    request.accept(satisfaction=5, comment="Great", actor="customer:acme", at=at)
    assert request.status is Status.CLOSED
    assert (request.satisfaction, request.acceptance_comment) == (5, "Great")
    assert request.deemed_acceptance is False
    assert request.closed_at == at.occurred_at


def test_a_deemed_acceptance_by_the_system_closes_without_a_score() -> None:
    t = Timeline()
    request = reach(Status.COMPLETED, t)
    request.accept(satisfaction=None, comment=None, actor="system", at=t.next(), deemed=True)
    assert request.status is Status.CLOSED
    assert request.satisfaction is None
    assert request.deemed_acceptance is True


def test_cancelling_stops_the_request_and_clears_the_wait() -> None:
    t = Timeline()
    request = reach(Status.WAITING_ON_CUSTOMER, t)
    at = t.next()
    request.cancel(reason="Duplicate of SR-000041", actor="agent:ana", at=at)
    assert request.status is Status.CANCELLED
    assert request.cancel_reason == "Duplicate of SR-000041"
    assert request.cancelled_at == at.occurred_at
    assert request.waiting_reason is None


@pytest.mark.parametrize("status", [Status.CLOSED, Status.CANCELLED])
def test_non_conformities_are_logged_and_corrected_even_after_the_request_ended(
    status: Status,
) -> None:
    t = Timeline()
    request = reach(status, t)
    logged_at = t.next()
    first = request.log_nonconformity(
        description="Receipt not confirmed",
        severity=Severity.MAJOR,
        category="communication",
        root_cause="Template missing",
        corrective_action="Add the template",
        actor="auditor:eva",
        at=logged_at,
    )
    second = request.log_nonconformity(
        description="Late first response",
        severity="critical",
        category=None,
        root_cause=None,
        corrective_action=None,
        actor="auditor:eva",
        at=t.next(),
    )
    assert (first.number, second.number) == (1, 2)
    assert first.logged_by == "auditor:eva"
    assert first.logged_at == logged_at.occurred_at
    assert not first.is_corrected
    corrected_at = t.next()
    corrected = request.correct_nonconformity(
        number=2, correction="Shift rota fixed", actor="auditor:eva", at=corrected_at
    )
    assert corrected.is_corrected
    assert (corrected.correction, corrected.corrected_by) == ("Shift rota fixed", "auditor:eva")
    assert corrected.corrected_at == corrected_at.occurred_at
    assert request.nonconformity(1).is_corrected is False
    assert request.status is status


def test_an_imported_event_keeps_when_it_happened_apart_from_when_it_was_recorded() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    recorded = t.now + timedelta(days=1)
    happened = t.now + timedelta(minutes=5)
    request.report_progress(
        message="Imported", actor="integration:crm", at=Moment(recorded, happened)
    )
    assert request.last_occurred_at == happened
    assert request.modified_on == recorded
    event = request.pending_events[-1]
    assert isinstance(event, ServiceRequest.ProgressReported)
    assert (event.timestamp, event.occurred_at) == (recorded, happened)


def test_a_follow_up_cannot_be_due_before_the_completion() -> None:
    t = Timeline()
    request = reach(Status.ASSIGNED, t)
    version = request.version
    with pytest.raises(ValidationFailedError, match="follow_up_at"):
        request.complete(
            outcome="follow_up",
            resolution="call back",
            follow_up_at=START - timedelta(days=1),
            to_team=None,
            actor="agent:ana",
            at=t.next(),
        )
    assert request.version == version
    assert not request.pending_events[version:]
