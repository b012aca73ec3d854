"""History replays to the live state: at every version, and as of every instant something happened.

For random command histories (commands the lifecycle refuses are skipped), every request's
``history`` must be enough to rebuild it: folding the entries' changes up to version ``v``
gives exactly ``desk.get(ref, version=v)``. And ``get(ref, as_of=t)`` for the time ``t`` of
any entry equals the request at the last version that happened at or before ``t`` (several
events may share an instant). Positions increase with the log and agree with the audit log.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from conftest import FakeClock
from servflow import HistoryEntry, Request, ServiceDesk
from strategies import START, Step, histories, run_history

#: Random histories, mostly of commands the request's status allows (``run_history``).
steps = histories(min_size=8, max_size=60)


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
    clock = FakeClock(START)
    with ServiceDesk(clock=clock) as desk:
        check(desk, run_history(desk, clock, history))


@settings(max_examples=15)
@given(steps)
def test_history_replays_to_the_state_at_every_version_and_instant_on_sqlite(
    history: list[Step],
) -> None:
    clock = FakeClock(START)
    with tempfile.TemporaryDirectory() as scratch:
        with ServiceDesk.sqlite(str(Path(scratch) / "desk.db"), clock=clock) as desk:
            tickets = run_history(desk, clock, history)
        # A desk that did not write the events reads the same history.
        with ServiceDesk.sqlite(str(Path(scratch) / "desk.db"), clock=clock) as reader:
            check(reader, tickets)
