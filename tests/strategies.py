"""Random request histories, shared by the property and integration tests.

A history is a list of small integer tuples, which hypothesis shrinks well. The drivers here
turn each step into one command with valid input, on a desk (``send``) or on a bare
``ServiceRequest`` (``send_to_request``), in one vocabulary of *story commands*: the lifecycle's
commands, with ``complete`` split into its three outcomes (``resolve``, ``transfer``,
``follow_up``). A step that picks "a command the request accepts now" asks the hand-written
lifecycle model (``lifecycle_model``), never servflow's own table.

Import it as ``from strategies import ...``: ``tests/`` is on ``sys.path`` the way it is for
``from conftest import ...`` (pytest puts a rootdir ``conftest.py``'s folder there).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hypothesis import strategies as st

from lifecycle_model import allows
from servflow import (
    DirectoryConflictError,
    DuplicateExternalRefError,
    ServflowError,
    ServiceDesk,
    Status,
)
from servflow.domain.policy import DEFAULT_HOLDS
from servflow.domain.request import Moment, ServiceRequest

__all__ = [
    "HOLD_REASONS",
    "PAUSING_HOLDS",
    "PRIORITIES",
    "START",
    "STORY",
    "TEAMS",
    "MovingClock",
    "Step",
    "accepted_stories",
    "histories",
    "open_request",
    "run_history",
    "send",
    "send_to_request",
]

#: When histories start: Monday 2026-03-02 09:00 UTC (also ``conftest.FakeClock``'s start).
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEAMS = ("frontline", "billing", "field")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("phone", "web", "email", "chat")
KINDS = ("complaint", "claim", "quote", "warranty")
STAGES = ("pre_sale", "sale", "post_sale", "sale")

#: Each story command and the lifecycle command it is (the one the model is asked about).
STORY: Mapping[str, str] = {
    "classify": "classify",
    "assign": "assign",
    "probe": "probe",
    "act": "act",
    "wait": "wait_on_customer",
    "respond": "customer_responded",
    "progress": "report_progress",
    "resolve": "complete",
    "transfer": "complete",
    "follow_up": "complete",
    "accept": "accept",
    "reopen": "reopen",
    "cancel": "cancel",
    "nonconformity": "log_nonconformity",
    "correct": "correct_nonconformity",
    "note": "note",
    "reply": "note",
    "message": "customer_message",
    "hold": "hold",
    "resume": "resume",
    "unassign": "unassign",
    "close": "close",
}
#: A catalogue where some holds pause: what ``send_to_request`` holds with.
PAUSING_HOLDS: Mapping[str, bool] = {
    **DEFAULT_HOLDS,
    "change_window": True,
    "implementation": True,
}
#: The hold reasons a story's ``hold`` picks by ``choice``: pausing or not under
#: ``DEFAULT_HOLDS`` (vendor, problem do not; change_window does under ``PAUSING_HOLDS``).
HOLD_REASONS = ("vendor", "problem", "change_window", "implementation")

#: (what to do, which request, a small number the command uses). ``what`` is a number in
#: random histories (0 opens a request), or, in histories written by hand, a story command or
#: ``"open"``.
Step = tuple[int | str, int, int]


def histories(*, min_size: int = 1, max_size: int = 40) -> st.SearchStrategy[list[Step]]:
    """Random histories of numbered steps (see ``run_history`` for what a step does)."""
    return st.lists(
        st.tuples(st.integers(0, len(STORY)), st.integers(0, 7), st.integers(0, 3)),
        min_size=min_size,
        max_size=max_size,
    )


class MovingClock(Protocol):
    """A desk's clock that a history moves by hand (``conftest.FakeClock`` is one)."""

    now: datetime


def accepted_stories(status: Status) -> list[str]:
    """The story commands the lifecycle model accepts in ``status``, in ``STORY`` order."""
    return [story for story, command in STORY.items() if allows(command, status)]


def open_request(desk: ServiceDesk, choice: int, number: int) -> str:
    """Open the ``number``-th request of a history (its fields vary with ``choice``, 0-3).

    Requests of choice 1 and 2 carry an external reference (with a source, without one), so
    that their records are in the log; customer ``cust-3`` is registered in the directory
    (tier vip) before its first request, whose tier then comes from the record.
    """
    if choice == 3:
        with contextlib.suppress(DirectoryConflictError):
            desk.register_customer("cust-3", name="Customer Three", tier="vip", actor="agent:ana")
    fields: dict[str, Any] = {
        "customer": f"cust-{choice}",
        "channel": CHANNELS[choice],
        "kind": KINDS[choice],
        "stage": STAGES[choice],
        "symptom": f"symptom {number}",
        "actor": "agent:ana",
    }
    try:
        request = desk.open(
            **fields,
            external_ref=f"EXT-{number}" if choice in {1, 2} else None,
            external_source="bpi" if choice == 1 else None,
        )
    except DuplicateExternalRefError:  # a second history on the same desk: numbers restart
        request = desk.open(**fields)
    return request.ticket_code


def send(desk: ServiceDesk, story: str, ref: str, choice: int, now: datetime) -> None:
    """Send one story command with valid input through the desk; the lifecycle may refuse it.

    ``choice`` (0-3) varies the input; ``now`` is the desk clock's instant.
    """
    agent, customer = "agent:ana", "customer:c"
    commands: dict[str, Callable[[], object]] = {
        "classify": lambda: desk.classify(ref, priority=PRIORITIES[choice], actor=agent),
        "assign": lambda: desk.assign(
            ref, team=TEAMS[choice % 3], agent=f"agent{choice}", actor=agent
        ),
        "probe": lambda: desk.probe(ref, questions=["q?"], findings="f", actor=agent),
        "act": lambda: desk.act(ref, action="a", effort_minutes=choice * 5, actor=agent),
        "wait": lambda: desk.wait_on_customer(ref, reason="need the serial", actor=agent),
        "respond": lambda: desk.customer_responded(ref, note="here", actor=customer),
        "progress": lambda: desk.report_progress(ref, message="working on it", actor=agent),
        "resolve": lambda: desk.complete(ref, outcome="resolved", resolution="done", actor=agent),
        "transfer": lambda: desk.complete(
            ref, outcome="transferred", resolution="billing", to_team="billing", actor=agent
        ),
        "follow_up": lambda: desk.complete(
            ref,
            outcome="follow_up",
            resolution="call back",
            follow_up_at=now + timedelta(hours=choice),
            actor=agent,
        ),
        "accept": lambda: desk.accept(ref, satisfaction=1 + choice, actor=customer),
        "reopen": lambda: desk.reopen(ref, reason="still broken", actor=customer),
        "cancel": lambda: desk.cancel(ref, reason="duplicate", actor=agent),
        # Logged by the customer: a customer's word while a completion awaits acceptance
        # restarts the silence before a deemed acceptance (the SLA properties need it).
        "nonconformity": lambda: desk.log_nonconformity(
            ref, description="late", severity="minor", actor=customer
        ),
        "correct": lambda: desk.correct_nonconformity(
            ref, 1 + choice % 2, correction="apologised", actor=agent
        ),
        "note": lambda: desk.note(ref, text="checked the logs", actor=agent),
        # A reply the customer sees: a first response.
        "reply": lambda: desk.note(ref, text="we are on it", visibility="customer", actor=agent),
        "message": lambda: desk.customer_message(ref, text="any news?", actor=customer),
        "hold": lambda: desk.hold(ref, reason=HOLD_REASONS[choice], note="waiting", actor=agent),
        "resume": lambda: desk.resume(ref, actor=agent),
        "unassign": lambda: desk.unassign(
            ref, team=None if choice == 3 else TEAMS[choice], actor=agent
        ),
        "close": lambda: desk.close(ref, reason="closed by the source", actor="system"),
    }
    commands[story]()


def send_to_request(request: ServiceRequest, story: str, choice: int, at: Moment) -> None:
    """``send`` on a bare aggregate (no desk, no store), at the moment ``at``."""
    agent, customer = "agent:ana", "customer:c"
    commands: dict[str, Callable[[], object]] = {
        "classify": lambda: request.classify(
            priority=PRIORITIES[choice], kind=None, category=None, actor=agent, at=at
        ),
        "assign": lambda: request.assign(
            team=TEAMS[choice % 3], agent=f"agent{choice}", actor=agent, at=at
        ),
        "probe": lambda: request.probe(
            questions=["q?"], findings="f", diagnosis=None, actor=agent, at=at
        ),
        "act": lambda: request.act(
            action="a", effort_minutes=choice * 5, cost=None, actor=agent, at=at
        ),
        "wait": lambda: request.wait_on_customer(reason="need the serial", actor=agent, at=at),
        "respond": lambda: request.customer_responded(note="here", actor=customer, at=at),
        "progress": lambda: request.report_progress(message="working on it", actor=agent, at=at),
        "resolve": lambda: request.complete(
            outcome="resolved",
            resolution="done",
            follow_up_at=None,
            to_team=None,
            actor=agent,
            at=at,
        ),
        "transfer": lambda: request.complete(
            outcome="transferred",
            resolution="billing",
            follow_up_at=None,
            to_team="billing",
            actor=agent,
            at=at,
        ),
        "follow_up": lambda: request.complete(
            outcome="follow_up",
            resolution="call back",
            follow_up_at=at.occurred_at + timedelta(days=choice),
            to_team=None,
            actor=agent,
            at=at,
        ),
        "accept": lambda: request.accept(
            satisfaction=1 + choice, comment=None, actor=customer, at=at
        ),
        "reopen": lambda: request.reopen(reason="still broken", actor=customer, at=at),
        "cancel": lambda: request.cancel(reason="duplicate", actor=agent, at=at),
        "nonconformity": lambda: request.log_nonconformity(
            description="late",
            severity="minor",
            category=None,
            root_cause=None,
            corrective_action=None,
            actor=customer,
            at=at,
        ),
        "correct": lambda: request.correct_nonconformity(
            number=1 + choice % 2, correction="apologised", actor=agent, at=at
        ),
        "note": lambda: request.note(
            text="checked the logs", visibility="internal", actor=agent, at=at
        ),
        "reply": lambda: request.note(
            text="we are on it", visibility="customer", actor=agent, at=at
        ),
        "message": lambda: request.customer_message(text="any news?", actor=customer, at=at),
        "hold": lambda: request.hold(
            reason=HOLD_REASONS[choice], note="waiting", holds=PAUSING_HOLDS, actor=agent, at=at
        ),
        "resume": lambda: request.resume(note=None, actor=agent, at=at),
        "unassign": lambda: request.unassign(
            team=None if choice == 3 else TEAMS[choice], actor=agent, at=at
        ),
        "close": lambda: request.close(reason="closed by the source", actor="system", at=at),
    }
    commands[story]()


def run_history(
    desk: ServiceDesk,
    clock: MovingClock,
    history: Sequence[Step],
    tickets: list[str] | None = None,
    *,
    any_command: bool = False,
    minutes: tuple[int, int] = (0, 3),
) -> list[str]:
    """Apply a random history to the desk and return the tickets opened, after ``tickets``.

    A step ``(what, target, choice)`` first moves the clock by ``minutes[0] + minutes[1] *
    choice`` minutes (0 minutes gives events that share an instant). ``what`` 0 or ``"open"``
    (or no request yet) opens a request; a story command's name sends that command to request
    ``target``; any other number picks a story command: among those the lifecycle model
    accepts in the request's status now, so that histories go far, or, with ``any_command``,
    among all of them. Commands the desk refuses are skipped. ``tickets`` (requests of an
    earlier history) lets a history go on where another stopped.
    """
    tickets = [] if tickets is None else tickets
    every = list(STORY)
    base, per_choice = minutes
    for what, target, choice in history:
        clock.now += timedelta(minutes=base + per_choice * choice)
        if what in {0, "open"} or not tickets:
            tickets.append(open_request(desk, choice, len(tickets)))
            continue
        ref = tickets[target % len(tickets)]
        if isinstance(what, str):
            story = what
        else:
            stories = every if any_command else accepted_stories(desk.get(ref).status)
            story = stories[what % len(stories)]
        with contextlib.suppress(ServflowError):
            send(desk, story, ref, choice, clock.now)
    return tickets
