"""A stateful test: random command sequences against a desk and a trivially correct model.

Each step sends one command, often with something wrong with it (the wrong status, bad
input, a malformed actor, an ``occurred_at`` that is naive, in the future or before the
previous event). The model says whether the command must succeed and, if not, which error
it must raise; a refused command must leave the log as it was, and an accepted one must leave
the request in the status the model predicts. The model's lifecycle (which command is accepted
in which status, and where it leads) is ``lifecycle_model``, written by hand from the domain
rules: never servflow's own ``TRANSITIONS``, which would agree with the desk whatever it says.
After every step each request read back from the store (a replay of its events) must match the
model, its history must have one entry per version, and — on SQLite — a second desk on the same
file must read the same state.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from lifecycle_model import COMMANDS, allowed_in, allows, status_after
from servflow import (
    DuplicateExternalRefError,
    HistoryEntry,
    InvalidTransitionError,
    NonConformity,
    NonConformityNotFoundError,
    Note,
    OccurrenceOutOfOrderError,
    Outcome,
    Priority,
    Request,
    ServflowError,
    ServiceDesk,
    Status,
    ValidationFailedError,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEAMS = ("network", "billing", "field")
AGENTS = (None, "ana", "bob")
#: What may be wrong with a command; ``None`` (nothing) is drawn most often.
FAULTS = (*(None,) * 9, "input", "actor", "past", "future", "naive")
OPEN_FAULTS = (None, None, None, "symptom", "kind", "channel", "actor", "future", "naive")
#: Commands that move a request along its lifecycle, drawn often so that requests get far.
FORWARD: dict[Status, tuple[str, ...]] = {
    Status.NEW: ("classify",),
    Status.CLASSIFIED: ("assign",),
    Status.ASSIGNED: ("probe", "act", "wait_on_customer", "hold", "complete", "complete"),
    Status.WAITING_ON_CUSTOMER: ("customer_responded", "assign", "resume", "hold"),
    Status.ON_HOLD: ("resume", "hold", "complete", "unassign"),
    Status.TRANSFERRED: ("assign",),
    Status.COMPLETED: ("accept", "reopen", "close", "assign"),
    Status.CLOSED: ("reopen", "log_nonconformity", "correct_nonconformity"),
    Status.CANCELLED: ("log_nonconformity", "correct_nonconformity"),
}
#: When a faultless command says it happened: now, at the previous event, or in between.
TIMES = ("now", "same", "between")


class ManualClock:
    """The desk's clock; rules move it forward."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Model:
    """What a request must look like: the trivially correct version of the aggregate."""

    code: str
    last_occurred: datetime
    status: Status = Status.NEW
    priority: Priority | None = None
    team: str | None = None
    agent: str | None = None
    probes: int = 0
    actions: int = 0
    progress_reports: int = 0
    reopen_count: int = 0
    reopened_after_closure: int = 0
    transfer_count: int = 0
    #: The reason of a hold other than the customer's, while on it.
    hold_reason: str | None = None
    corrected: list[bool] = field(default_factory=list)
    #: Notes and messages, in order: (visibility, whether the customer's message).
    notes: list[tuple[str, bool]] = field(default_factory=list)
    version: int = 1


class At(TypedDict):
    """Who sends a command and when it happened: every command takes both."""

    actor: str
    occurred_at: datetime | None


@dataclass(frozen=True)
class Draw:
    """The arguments a step drew, whatever the command needs of them."""

    team: str
    agent: str | None
    priority: Priority
    outcome: Outcome
    number: int
    #: For ``hold``: the reason (``customer`` is the customer's hold).
    hold_reason: str = "vendor"


def expected_error(  # noqa: PLR0911 - one return per rule, in the order the desk checks them
    m: Model, command: str, fault: str | None, draw: Draw
) -> type[ServflowError] | None:
    """The error the desk must raise, or None when the command must succeed."""
    if fault == "naive":
        return ValidationFailedError
    if fault == "future":
        return OccurrenceOutOfOrderError
    # The customer's hold is a wait on the customer, with that command's lifecycle.
    if not allows(command if fault == "input" else model_command(command, draw), m.status):
        return InvalidTransitionError
    if fault == "past":
        return OccurrenceOutOfOrderError
    if (
        command == "hold"
        and fault != "input"
        and m.status is Status.ON_HOLD
        and draw.hold_reason == m.hold_reason
    ):
        return InvalidTransitionError  # already on that hold
    if command == "correct_nonconformity":
        number = len(m.corrected) + 1 if fault == "input" else draw.number
        if number > len(m.corrected):
            return NonConformityNotFoundError
        if m.corrected[number - 1]:
            return InvalidTransitionError
    if fault in {"input", "actor"}:
        return ValidationFailedError
    return None


def model_command(command: str, draw: Draw) -> str:
    """The lifecycle command a step is: ``hold`` for the customer is ``wait_on_customer``."""
    return "wait_on_customer" if command == "hold" and draw.hold_reason == "customer" else command


def unassign_team(draw: Draw) -> str | None:
    """The queue an ``unassign`` step sends the request back to (None: nobody's)."""
    return None if draw.agent == "bob" else draw.team


def apply(m: Model, command: str, draw: Draw) -> None:  # noqa: C901, PLR0912 - a branch per command
    """Fold an accepted command into the model (its status from the lifecycle model)."""
    m.version += 1
    before = m.status
    outcome = draw.outcome if command == "complete" else None
    m.status = status_after(model_command(command, draw), m.status, outcome)
    if command in {"wait_on_customer", "resume", "unassign", "complete", "cancel"}:
        m.hold_reason = None
    if command == "classify":
        m.priority = draw.priority
    elif command == "assign":
        if m.team is not None and m.team != draw.team:
            m.transfer_count += 1
        m.team, m.agent = draw.team, draw.agent
    elif command == "probe":
        m.probes += 1
    elif command == "act":
        m.actions += 1
    elif command == "reopen":
        m.reopen_count += 1
        if before is Status.CLOSED:
            m.reopened_after_closure += 1
    elif command == "hold":
        m.hold_reason = None if draw.hold_reason == "customer" else draw.hold_reason
    elif command == "unassign":
        team = unassign_team(draw)
        if team is not None and m.team not in {None, team}:
            m.transfer_count += 1
        m.team, m.agent = team, None
    elif command == "report_progress":
        m.progress_reports += 1
    elif command == "complete" and outcome is Outcome.TRANSFERRED:
        m.team, m.agent = draw.team, None
        m.transfer_count += 1
    elif command == "log_nonconformity":
        m.corrected.append(False)
    elif command == "correct_nonconformity":
        m.corrected[draw.number - 1] = True
    elif command == "note":
        m.notes.append(("customer" if draw.number % 2 else "internal", False))
    elif command == "customer_message":
        m.notes.append(("customer", True))


def send(  # noqa: C901, PLR0911, PLR0912 - one branch per command
    desk: ServiceDesk,
    m: Model,
    command: str,
    draw: Draw,
    *,
    bad_input: bool,
    actor: str,
    occurred_at: datetime | None,
) -> Request | NonConformity | Note:
    """Send ``command`` to the desk, with bad input if asked."""
    at = At(actor=actor, occurred_at=occurred_at)
    text = "  " if bad_input else "Some words"
    code = m.code
    if command == "classify":
        return desk.classify(code, priority="whenever" if bad_input else draw.priority, **at)
    if command == "assign":
        return desk.assign(code, team=" " if bad_input else draw.team, agent=draw.agent, **at)
    if command == "probe":
        return desk.probe(code, questions=["Since when?"], findings=text, **at)
    if command == "act":
        return desk.act(code, action="Reset", effort_minutes=-1 if bad_input else 15, **at)
    if command == "wait_on_customer":
        return desk.wait_on_customer(code, reason=text, **at)
    if command == "customer_responded":
        return desk.customer_responded(code, note=text, **at)
    if command == "report_progress":
        return desk.report_progress(code, message=text, **at)
    if command == "complete":
        outcome = Outcome.TRANSFERRED if bad_input else draw.outcome
        transfer = outcome is Outcome.TRANSFERRED and not bad_input
        return desk.complete(
            code,
            outcome=outcome,
            resolution="Done",
            to_team=draw.team if transfer else None,
            follow_up_at=START + timedelta(days=30) if outcome is Outcome.FOLLOW_UP else None,
            **at,
        )
    if command == "accept":
        return desk.accept(code, satisfaction=7 if bad_input else 4, **at)
    if command == "reopen":
        return desk.reopen(code, reason=text, **at)
    if command == "close":
        return desk.close(code, reason=text, **at)
    if command == "hold":
        return desk.hold(code, reason="??" if bad_input else draw.hold_reason, note="Patch", **at)
    if command == "resume":
        return desk.resume(code, note=text, **at)
    if command == "unassign":
        return desk.unassign(code, team=" " if bad_input else unassign_team(draw), **at)
    if command == "cancel":
        return desk.cancel(code, reason=text, **at)
    if command == "log_nonconformity":
        severity = "huge" if bad_input else "minor"
        return desk.log_nonconformity(code, description="Late", severity=severity, **at)
    if command == "correct_nonconformity":
        number = len(m.corrected) + 1 if bad_input else draw.number
        return desk.correct_nonconformity(code, number, correction="Fixed", **at)
    if command == "note":
        visibility = "customer" if draw.number % 2 else "internal"
        return desk.note(code, text=text, visibility=visibility, **at)
    if command == "customer_message":
        return desk.customer_message(code, text=text, **at)
    pytest.fail(f"unknown command {command!r}")


def assert_matches(view: Request, m: Model) -> None:
    """The request read back from the store is in the state the model says."""
    assert (view.ticket_code, view.status, view.priority, view.team, view.agent) == (
        m.code,
        m.status,
        m.priority,
        m.team,
        m.agent,
    )
    assert (
        len(view.probes),
        len(view.actions),
        view.progress_reports,
        view.reopen_count,
        view.reopened_after_closure,
        view.transfer_count,
        view.hold_reason,
        [nc.is_corrected for nc in view.nonconformities],
        [nc.number for nc in view.nonconformities],
        [(n.visibility.value, n.by_customer) for n in view.notes],
    ) == (
        m.probes,
        m.actions,
        m.progress_reports,
        m.reopen_count,
        m.reopened_after_closure,
        m.transfer_count,
        m.hold_reason,
        m.corrected,
        list(range(1, len(m.corrected) + 1)),
        m.notes,
    ), m.code
    assert (view.version, view.updated_at) == (m.version, m.last_occurred), m.code


class RequestMachine(RuleBasedStateMachine):
    """Drives one desk with random commands and checks it against the model."""

    requests = Bundle[str]("requests")

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.desk = self.open_desk()
        self.model: dict[str, Model] = {}
        #: Each request as last read back from the store.
        self.views: dict[str, Request] = {}
        #: The request the last step sent a command to: the invariants look at it.
        self.touched: str | None = None
        #: External reference (``ext:...`` text) -> the ticket code of the request that has it.
        self.external: dict[str, str] = {}

    def open_desk(self) -> ServiceDesk:
        """The desk under test; subclasses choose the store."""
        return ServiceDesk(clock=self.clock)

    def teardown(self) -> None:
        try:
            self.check_all(self.desk)
        finally:
            self.desk.close()

    def check_all(self, desk: ServiceDesk) -> None:
        """Every request the store holds is the one the model and the last reads expect."""
        assert [desk.get(i).ticket_code for i in desk.request_ids()] == list(self.model)
        for code, m in self.model.items():
            view = desk.get(code)
            assert view == self.views[code]
            assert_matches(view, m)
        for external, code in self.external.items():
            assert desk.get(external).ticket_code == code

    def remember(self, code: str) -> Request:
        """Read a request back from the store (a replay of its events) and keep the view."""
        self.touched = code
        view = self.views[code] = self.desk.get(code)
        return view

    # -- rules ---------------------------------------------------------------------------------

    @initialize(target=requests)
    def first_request(self) -> str:
        view = self.desk.open(
            customer="acme",
            channel="email",
            kind="claim",
            stage="sale",
            symptom="Wrong invoice",
            actor="customer:acme",
        )
        assert view.ticket_code == "SR-000001"
        self.model[view.ticket_code] = Model(code=view.ticket_code, last_occurred=START)
        assert self.remember(view.ticket_code) == view
        return view.ticket_code

    @precondition(lambda self: len(self.model) < 4)
    @rule(
        target=requests,
        fault=st.sampled_from(OPEN_FAULTS),
        minutes=st.integers(0, 60),
        imported=st.booleans(),
        external=st.sampled_from([None, None, ("INC1", None), ("INC1", "bpi"), ("INC2", "BPI")]),
    )
    def open_request(
        self,
        fault: str | None,
        minutes: int,
        *,
        imported: bool,
        external: tuple[str, str | None] | None,
    ) -> str | MultipleResults[str]:
        now = self.clock.now = self.clock.now + timedelta(minutes=minutes)
        occurred_at = now - timedelta(hours=1) if imported else None
        fields: dict[str, object] = {
            "customer": "acme",
            "channel": "phone",
            "kind": "complaint",
            "stage": "post_sale",
            "symptom": "The line drops",
            "actor": "agent:ana",
            "occurred_at": occurred_at,
        }
        taken: str | None = None
        if external is not None:
            ref, source = external
            fields["external_ref"], fields["external_source"] = ref, source
            taken = f"ext:{source.lower()}:{ref}" if source else f"ext:{ref}"
        if fault is None and taken in self.external:
            before = list(self.desk.request_ids())
            with pytest.raises(DuplicateExternalRefError) as duplicate:
                self.desk.open(**fields)  # type: ignore[arg-type]
            assert duplicate.value.ticket_code == self.external[taken]
            assert list(self.desk.request_ids()) == before
            return multiple()
        if fault is None:
            view = self.desk.open(**fields)  # type: ignore[arg-type]
            code = f"SR-{len(self.model) + 1:06d}"
            assert view.ticket_code == code
            assert view.opened_at == (occurred_at or now)
            self.model[code] = Model(code=code, last_occurred=occurred_at or now)
            assert self.remember(code) == view
            if taken is not None:
                self.external[taken] = code
                assert str(view.external) == taken
            return code
        faults: dict[str, dict[str, object]] = {
            "symptom": {"symptom": " "},
            "kind": {"kind": "gadget"},
            "channel": {"channel": "pigeon"},
            "actor": {"actor": "robot:x"},
            "future": {"occurred_at": now + timedelta(seconds=1)},
            "naive": {"occurred_at": now.replace(tzinfo=None)},
        }
        bad = faults[fault]
        error = OccurrenceOutOfOrderError if fault == "future" else ValidationFailedError
        before = list(self.desk.request_ids())
        with pytest.raises(error) as caught:
            self.desk.open(**{**fields, **bad})  # type: ignore[arg-type]
        assert type(caught.value) is error
        assert list(self.desk.request_ids()) == before
        return multiple()

    @rule(
        code=requests,
        data=st.data(),
        fault=st.sampled_from(FAULTS),
        time=st.sampled_from(TIMES),
        minutes=st.integers(0, 90),
        draw=st.builds(
            Draw,
            team=st.sampled_from(TEAMS),
            agent=st.sampled_from(AGENTS),
            priority=st.sampled_from(Priority),
            outcome=st.sampled_from(Outcome),
            number=st.integers(1, 3),
            hold_reason=st.sampled_from(("vendor", "problem", "customer")),
        ),
    )
    def command(
        self,
        code: str,
        data: st.DataObject,
        fault: str | None,
        time: str,
        minutes: int,
        draw: Draw,
    ) -> None:
        m = self.model[code]
        # Mostly a command the lifecycle allows (else requests would rarely get far), often any.
        # ``import`` is no desk command: ``import_events`` records it (test_import.py).
        allowed = [c for c in allowed_in(m.status) if c != "import"]
        command = data.draw(
            st.sampled_from(FORWARD[m.status])
            | st.sampled_from(allowed)
            | st.sampled_from([c for c in COMMANDS if c != "import"]),
            label="command",
        )
        now = self.clock.now = self.clock.now + timedelta(minutes=minutes)
        occurred_at = {
            "naive": now.replace(tzinfo=None),
            "future": now + timedelta(seconds=1),
            "past": m.last_occurred - timedelta(seconds=1),
        }.get(fault or "") or {
            "now": None,
            "same": m.last_occurred,
            "between": m.last_occurred + (now - m.last_occurred) / 2,
        }[time]
        before = self.views[code]
        error = expected_error(m, command, fault, draw)
        event(f"{command}: {'accepted' if error is None else error.__name__}")

        def call() -> Request | NonConformity | Note:
            return send(
                self.desk,
                m,
                command,
                draw,
                bad_input=fault == "input",
                actor="robot:x" if fault == "actor" else "agent:ana",
                occurred_at=occurred_at,
            )

        if error is not None:
            with pytest.raises(ServflowError) as caught:
                call()
            assert type(caught.value) is error, (command, fault, m.status, caught.value)
            assert self.remember(code) == before
            return
        live = call()
        predicted = status_after(
            model_command(command, draw),
            m.status,
            draw.outcome if command == "complete" else None,
        )
        apply(m, command, draw)
        m.last_occurred = occurred_at or now
        after = self.remember(code)
        # Accepted exactly when the model allows it, and it lands where the model says.
        assert after.status is predicted, (command, before.status, after.status, predicted)
        if isinstance(live, Request):
            assert live == after
        elif isinstance(live, Note):
            assert live == after.notes[-1]
        else:
            assert live == after.nonconformities[live.number - 1]
        assert after.updated_at == m.last_occurred
        assert after.recorded_at == now

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def the_request_just_touched_replays_to_the_model(self) -> None:
        if self.touched is None:
            return
        view = self.views[self.touched]
        assert_matches(view, self.model[self.touched])
        history = self.desk.history(self.touched)
        assert [entry.version for entry in history] == list(range(1, view.version + 1))
        self.check_replay(self.touched, view, history)

    def check_replay(self, code: str, view: Request, history: list[HistoryEntry]) -> None:
        """Subclasses with a shared store also read the request through another desk."""


@settings(max_examples=20, stateful_step_count=30, deadline=None)
class SqliteRequestMachine(RequestMachine):
    """The same machine on an SQLite file, read back through a second desk after every step."""

    def open_desk(self) -> ServiceDesk:
        self.directory = Path(tempfile.mkdtemp(prefix="servflow-machine-"))
        self.path = str(self.directory / "desk.db")
        desk = ServiceDesk.sqlite(self.path, clock=self.clock)
        self.reader = ServiceDesk.sqlite(self.path, clock=self.clock)
        return desk

    def check_replay(self, code: str, view: Request, history: list[HistoryEntry]) -> None:
        assert self.reader.get(code) == view
        assert self.reader.history(code) == history

    def teardown(self) -> None:
        try:
            with ServiceDesk.sqlite(self.path) as fresh:
                self.check_all(fresh)
            self.check_all(self.desk)
        finally:
            self.reader.close()
            self.desk.close()
            shutil.rmtree(self.directory, ignore_errors=True)


@settings(max_examples=30, stateful_step_count=40, deadline=None)
class MemoryRequestMachine(RequestMachine):
    """The machine on an in-memory desk."""


TestTheDeskInMemoryFollowsTheModel = MemoryRequestMachine.TestCase
TestTheDeskOnSqliteFollowsTheModelAndReplaysFromTheFile = SqliteRequestMachine.TestCase
