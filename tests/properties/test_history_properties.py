"""History replays to the live state: at every version, and as of every instant something happened.

For random command histories (commands the lifecycle refuses are skipped), every request's
``history`` must be enough to rebuild it: folding the entries' changes up to version ``v``
gives exactly ``desk.get(ref, version=v)``. And ``get(ref, as_of=t)`` for the time ``t`` of
any entry equals the request at the last version that happened at or before ``t`` (several
events may share an instant). Positions increase with the log and agree with the audit log.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import TRANSITIONS, HistoryEntry, Request, ServflowError, ServiceDesk

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEAMS = ("frontline", "billing", "field")
#: The commands a step may send, and the lifecycle command each one is (for ``TRANSITIONS``).
COMMANDS = {
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
}

#: (what to do, which request, a small number the command uses); what 0 opens a request.
Step = tuple[int, int, int]
steps = st.lists(
    st.tuples(st.integers(0, 15), st.integers(0, 7), st.integers(0, 3)), min_size=8, max_size=60
)


class Clock:
    """Moved by the history itself; a step of 0 minutes gives events that share an instant."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def run_history(
    desk: ServiceDesk, clock: Clock, history: Sequence[Step], tickets: list[str] | None = None
) -> list[str]:
    """Apply a random history, mostly of commands the request's status allows.

    Adapted from ``tests/integration/test_projections.py``: a step picks among the commands
    the lifecycle allows now, so histories go far; the few refusals left are skipped.
    Returns the tickets opened, after ``tickets`` (requests of an earlier history to go on
    with).
    """
    tickets = [] if tickets is None else tickets
    for what, target, choice in history:
        clock.now += timedelta(minutes=3 * choice)
        if what == 0 or not tickets:
            request = desk.open(
                customer=f"cust-{choice}",
                channel=("phone", "web", "email", "chat")[choice],
                kind=("complaint", "claim", "quote", "warranty")[choice],
                stage=("pre_sale", "sale", "post_sale", "sale")[choice],
                symptom=f"symptom {len(tickets)}",
                actor="agent:ana",
            )
            tickets.append(request.ticket_code)
            continue
        ref = tickets[target % len(tickets)]
        status = desk.get(ref).status
        allowed = [name for name, base in COMMANDS.items() if status in TRANSITIONS[base]]
        with contextlib.suppress(ServflowError):
            _command(desk, clock, allowed[what % len(allowed)], ref, choice)
    return tickets


def _command(desk: ServiceDesk, clock: Clock, command: str, ref: str, choice: int) -> None:
    actor = "agent:ana"
    commands: dict[str, Callable[[], object]] = {
        "classify": lambda: desk.classify(
            ref, priority=("low", "normal", "high", "urgent")[choice], actor=actor
        ),
        "assign": lambda: desk.assign(
            ref, team=TEAMS[choice % 3], agent=f"agent{choice}", actor=actor
        ),
        "probe": lambda: desk.probe(ref, questions=["q?"], findings="f", actor=actor),
        "act": lambda: desk.act(ref, action="a", effort_minutes=choice * 5, actor=actor),
        "wait": lambda: desk.wait_on_customer(ref, reason="need the serial", actor=actor),
        "respond": lambda: desk.customer_responded(ref, note="here", actor="customer:c"),
        "progress": lambda: desk.report_progress(ref, message="working on it", actor=actor),
        "resolve": lambda: desk.complete(ref, outcome="resolved", resolution="done", actor=actor),
        "transfer": lambda: desk.complete(
            ref, outcome="transferred", resolution="billing", to_team="billing", actor=actor
        ),
        "follow_up": lambda: desk.complete(
            ref, outcome="follow_up", resolution="call back", follow_up_at=clock.now, actor=actor
        ),
        "accept": lambda: desk.accept(ref, satisfaction=1 + choice, actor="customer:c"),
        "reopen": lambda: desk.reopen(ref, reason="still broken", actor="customer:c"),
        "cancel": lambda: desk.cancel(ref, reason="duplicate", actor=actor),
        "nonconformity": lambda: desk.log_nonconformity(
            ref, description="late", severity="minor", actor="auditor:eva"
        ),
        "correct": lambda: desk.correct_nonconformity(
            ref, 1 + choice % 2, correction="apologised", actor="agent:ana"
        ),
    }
    commands[command]()


def replay(entries: Sequence[HistoryEntry]) -> Request:
    """The request rebuilt from nothing but its history entries (what changed, and when)."""
    state: dict[str, Any] = dict.fromkeys(Request.model_fields)
    for entry in entries:
        for change in entry.changes:
            state[change.field] = change.after
    last = entries[-1]
    state.update(version=last.version, updated_at=last.occurred_at, recorded_at=last.recorded_at)
    return Request.model_validate(state)


def check(desk: ServiceDesk, tickets: Sequence[str]) -> None:
    logged = {(r.request_id, r.version): r.position for r in desk.audit_log(limit=10_000).rows}
    positions: list[int] = []
    for ticket in tickets:
        history = desk.history(ticket)
        assert [e.version for e in history] == list(range(1, len(history) + 1))
        assert [e.position for e in history] == sorted({e.position for e in history})
        assert all(logged[(e.request_id, e.version)] == e.position for e in history)
        positions.extend(e.position for e in history)
        for entry in history:
            version = entry.version
            assert replay(history[:version]) == desk.get(ticket, version=version)
            last = max(e.version for e in history if e.occurred_at <= entry.occurred_at)
            assert desk.get(ticket, as_of=entry.occurred_at) == desk.get(ticket, version=last)
        assert desk.get(ticket) == desk.get(ticket, version=len(history))
    assert len(positions) == len(set(positions))


@given(steps)
def test_history_replays_to_the_state_at_every_version_and_instant_in_memory(
    history: list[Step],
) -> None:
    clock = Clock()
    with ServiceDesk(clock=clock) as desk:
        check(desk, run_history(desk, clock, history))


@settings(max_examples=15)
@given(steps)
def test_history_replays_to_the_state_at_every_version_and_instant_on_sqlite(
    history: list[Step],
) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as scratch:
        with ServiceDesk.sqlite(str(Path(scratch) / "desk.db"), clock=clock) as desk:
            tickets = run_history(desk, clock, history)
        # A desk that did not write the events reads the same history.
        with ServiceDesk.sqlite(str(Path(scratch) / "desk.db"), clock=clock) as reader:
            check(reader, tickets)
