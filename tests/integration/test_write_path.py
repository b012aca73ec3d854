"""The write path's shortcuts change nothing: a desk reuses the requests it saved and the hash
chain links it wrote, but what it records, and the chain over it, are what a fresh load and a
read of the chain table would have given, with other writers and refusals in between.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from conftest import DeskFactory, FakeClock
from servflow import (
    ConcurrencyConflictError,
    InvalidTransitionError,
    Request,
    ServiceDesk,
)


def open_one(desk: ServiceDesk, customer: str = "acme") -> Request:
    return desk.open(
        customer=customer,
        channel="web",
        kind="complaint",
        stage="post_sale",
        symptom="The line drops",
        actor="agent:ana",
    )


SHARED = pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)


class MeddlingClock:
    """A clock that, the first time it is read, lets another writer record an event first.

    A desk reads its clock after reading the request and before saving, so the meddler's
    event lands exactly between the two.
    """

    def __init__(self, base: FakeClock, meddle: Callable[[], object]) -> None:
        self._base = base
        self._meddle: Callable[[], object] | None = meddle

    def __call__(self) -> datetime:
        meddle, self._meddle = self._meddle, None
        if meddle is not None:
            meddle()
        return self._base()


@SHARED
def test_a_desk_sees_what_another_desk_wrote_since_its_own_last_command(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    first, second = make_desk(), make_desk()
    request = open_one(first)
    first.classify(request, priority="high", actor="agent:lead")
    clock.advance(minutes=1)
    second.assign(request, team="network", agent="bob", actor="agent:lead")
    second.report_progress(request, message="On it", actor="agent:bob")
    clock.advance(minutes=1)
    probed = first.probe(request, questions=["Since when?"], findings="Monday", actor="agent:ana")
    assert probed.version == 5
    assert (probed.team, probed.agent, probed.progress_reports) == ("network", "bob", 1)
    assert probed == first.get(request) == second.get(request)
    for desk in (first, second):
        assert desk.verify().intact


def test_a_refused_command_leaves_the_next_one_working_on_the_stored_request(
    desk: ServiceDesk,
) -> None:
    request = open_one(desk)
    with pytest.raises(InvalidTransitionError):
        desk.probe(request, questions=[], findings="too early", actor="agent:ana")
    classified = desk.classify(request, priority="low", actor="agent:ana")
    assert classified.version == 2
    assert classified == desk.get(request)
    assert len(desk.history(request)) == 2
    assert desk.verify().intact


@SHARED
def test_the_chain_stays_intact_across_a_lost_race_and_interleaved_desks(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    first, second = make_desk(), make_desk()
    request = open_one(first)
    other = open_one(second, "globex")
    first.classify(request, priority="high", actor="agent:lead")
    second.assign(request, team="network", actor="agent:lead")  # first's copy is now old
    loser = make_desk(
        clock=MeddlingClock(
            clock, lambda: first.report_progress(request, message="won", actor="agent:ana")
        )
    )
    with pytest.raises(ConcurrencyConflictError):
        loser.report_progress(request, message="lost", actor="agent:bob")
    for n in range(5):
        first.report_progress(other, message=f"first {n}", actor="agent:ana")
        second.report_progress(other, message=f"second {n}", actor="agent:bob")
    assert first.get(request).version == 4
    head = first.audit_head()
    assert head is not None
    assert head.events == 2 + 3 + 10
    for desk in (first, second, loser):
        report = desk.verify(expected=head)
        assert report.intact, report.problem


def test_an_in_memory_chain_written_in_batches_verifies_at_any_point(
    memory_desk: ServiceDesk, clock: FakeClock
) -> None:
    requests = [open_one(memory_desk, f"c{n}") for n in range(40)]
    assert memory_desk.verify().intact
    for round_number in range(15):
        clock.advance(minutes=1)
        for request in requests:
            memory_desk.report_progress(request, message=f"{round_number}", actor="agent:ana")
        head = memory_desk.audit_head()
        assert head is not None
        assert head.events == 40 * (round_number + 2)
    report = memory_desk.verify()
    assert report.intact, report.problem
    assert report.events_checked == 40 * 16


def test_a_desk_reloads_a_request_whose_newest_event_was_removed_behind_its_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "removed.db"
    with ServiceDesk.sqlite(str(path), clock=clock) as desk:
        request = open_one(desk)
        desk.classify(request, priority="high", actor="agent:lead")
        desk.report_progress(request, message="first", actor="agent:ana")
        with sqlite3.connect(path) as connection:  # the event and its link, as in a truncation
            connection.execute(
                "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 3",
                (request.id.hex,),
            )
            connection.execute(
                "DELETE FROM sf_chain WHERE request_id = ? AND version = 3", (str(request.id),)
            )
        again = desk.report_progress(request, message="again", actor="agent:ana")
        assert again.version == 3
        assert again.progress_reports == 1
        assert again == desk.get(request)
        assert desk.verify().intact


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_reads_in_autocommit_hand_back_connections_as_they_came(desk: ServiceDesk) -> None:
    """PostgreSQL reads skip BEGIN and ROLLBACK; each connection goes back as it came.

    The library's pool makes its connections autocommit (its transactions say BEGIN
    themselves). A read that fails half way (a statement the server refuses) leaves nothing
    behind either: the commands after it record in their own transactions, and reads work.
    """
    views = desk._stores.projector.views
    datastore = views._recorder.datastore

    def pooled() -> list[bool]:
        stats = datastore.pool.get_stats()
        with contextlib.ExitStack() as stack:
            connections = [
                stack.enter_context(datastore.get_connection()) for _ in range(stats["pool_size"])
            ]
            return [connection.autocommit for connection in connections]

    before = pooled()
    with views.transaction(commit=False) as tx:
        # Each statement is its own transaction: none is open between them.
        assert tx.query("SELECT now() = statement_timestamp() AS alone")[0]["alone"] is True
    with pytest.raises(Exception, match="no_such_table"), views.transaction(commit=False) as tx:
        tx.query("SELECT * FROM no_such_table")
    assert pooled() == before
    request = open_one(desk)
    desk.classify(request, priority="high", actor="agent:ana")
    assert desk.get(request).version == 2
    assert [row.ticket_code for row in desk.queue().rows] == [request.ticket_code]
