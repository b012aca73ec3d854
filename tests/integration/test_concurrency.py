"""Several writers on one store (SQLite file or PostgreSQL schema): no lost events, unique codes.

An in-memory store cannot be shared, so these run on SQLite and PostgreSQL only.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import POSTGRES_DSN, FakeClock, drop_schema, require_postgres
from processes import together
from servflow import (
    ConcurrencyConflictError,
    DirectoryConflictError,
    DuplicateExternalRefError,
    Request,
    ServiceDesk,
    Status,
)

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

Clock = Callable[[], datetime]


def connect(kind: str, target: str, schema: str | None, clock: Clock | None = None) -> ServiceDesk:
    """A new desk on the shared store; also used by the child processes."""
    if kind == "sqlite":
        return ServiceDesk.sqlite(target, clock=clock)
    return ServiceDesk.postgres(target, schema=schema, clock=clock)


@dataclass
class SharedStore:
    """One store that several desks (threads, processes) open at once."""

    kind: str
    target: str
    schema: str | None
    desks: list[ServiceDesk] = field(default_factory=list)

    def open_desk(self, clock: Clock | None = None) -> ServiceDesk:
        desk = connect(self.kind, self.target, self.schema, clock)
        self.desks.append(desk)
        return desk


@pytest.fixture(params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedStore]:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        require_postgres()
        store = SharedStore("postgres", POSTGRES_DSN, f"t_{uuid.uuid4().hex[:12]}")
    else:
        store = SharedStore("sqlite", str(tmp_path / "shared.db"), None)
    yield store
    for desk in store.desks:
        desk.close()
    if store.schema is not None:
        drop_schema(store.schema)


def open_one(desk: ServiceDesk, symptom: str = "The line drops") -> Request:
    return desk.open(
        customer="acme",
        channel="web",
        kind="complaint",
        stage="post_sale",
        symptom=symptom,
        actor="agent:ana",
    )


class MeddlingClock:
    """A clock that, the first time it is read, lets another writer record an event first.

    A desk reads its clock after loading the request and before saving the new event, so
    the meddler's event lands exactly between this desk's read and its write.
    """

    def __init__(self, base: Clock, meddle: Callable[[], object]) -> None:
        self._base = base
        self._meddle: Callable[[], object] | None = meddle

    def __call__(self) -> datetime:
        meddle, self._meddle = self._meddle, None
        if meddle is not None:
            meddle()
        return self._base()


def test_the_second_writer_gets_a_conflict_and_nothing_of_it_is_stored(
    shared: SharedStore, clock: FakeClock
) -> None:
    first = shared.open_desk(clock=clock)
    request = open_one(first)
    first.classify(request, priority="high", actor="agent:lead")
    first.assign(request, team="network", agent="ana", actor="agent:lead")
    second = shared.open_desk(
        clock=MeddlingClock(
            clock,
            lambda: first.act(request, action="Reset", effort_minutes=5, actor="agent:ana"),
        )
    )
    assert first.get(request) == second.get(request)
    assert second.get(request).version == 3

    with pytest.raises(ConcurrencyConflictError) as caught:
        second.probe(request, questions=["Since when?"], findings="Monday", actor="agent:bob")
    error = caught.value
    assert (error.request_id, error.ticket_code, error.command) == (
        request.id,
        "SR-000001",
        "probe",
    )
    assert "SR-000001" in str(error)
    assert error.code == "concurrency_conflict"
    for desk in (first, second):
        history = desk.history(request)
        assert [e.event_type for e in history][-1] == "ActionTaken"
        assert "agent:bob" not in {e.actor for e in history}
        assert desk.get(request).version == 4
        assert desk.get(request).probes == ()

    retried = second.probe(request, questions=["Since when?"], findings="Monday", actor="agent:bob")
    assert retried.version == 5
    assert [p.actor for p in first.get(request).probes] == ["agent:bob"]
    assert [a.action for a in first.get(request).actions] == ["Reset"]


def test_a_conflicting_completion_does_not_close_a_request_someone_else_cancelled(
    shared: SharedStore, clock: FakeClock
) -> None:
    first = shared.open_desk(clock=clock)
    request = open_one(first)
    first.classify(request, priority="low", actor="agent:lead")
    first.assign(request, team="network", actor="agent:lead")
    second = shared.open_desk(
        clock=MeddlingClock(
            clock, lambda: first.cancel(request, reason="Withdrawn", actor="customer:acme")
        )
    )
    with pytest.raises(ConcurrencyConflictError):
        second.complete(request, outcome="resolved", resolution="Fixed", actor="agent:ana")
    assert second.get(request).status is Status.CANCELLED
    assert second.get(request).version == 4


def test_concurrent_writers_on_one_request_lose_no_event(shared: SharedStore) -> None:
    writers = [shared.open_desk() for _ in range(4)]
    request = open_one(writers[0])
    start = threading.Barrier(len(writers))
    conflicts: list[int] = []

    def write(desk: ServiceDesk) -> None:
        start.wait()
        for n in range(8):
            while True:
                try:
                    desk.report_progress(request, message=f"Update {n}", actor="agent:ana")
                    break
                except ConcurrencyConflictError:
                    conflicts.append(1)

    with ThreadPoolExecutor(len(writers)) as pool:
        for future in [pool.submit(write, desk) for desk in writers]:
            future.result()
    final = writers[0].get(request)
    assert final.progress_reports == 32
    assert final.version == 33
    assert len(writers[1].history(request)) == 33


def test_a_desk_on_an_existing_store_continues_the_sequence(shared: SharedStore) -> None:
    first = shared.open_desk()
    open_one(first)
    open_one(first)
    second = shared.open_desk()
    assert open_one(second).ticket_code == "SR-000003"
    assert open_one(first).ticket_code == "SR-000004"
    assert open_one(second).ticket_code == "SR-000005"
    assert [first.get(i).ticket_code for i in second.request_ids()] == [
        f"SR-{n:06d}" for n in range(1, 6)
    ]


def test_ticket_codes_stay_unique_under_concurrent_writers_in_threads(
    shared: SharedStore,
) -> None:
    writers = [shared.open_desk() for _ in range(4)]
    start = threading.Barrier(len(writers))

    def open_many(desk: ServiceDesk) -> list[str]:
        start.wait()
        return [open_one(desk, f"Problem {n}").ticket_code for n in range(25)]

    with ThreadPoolExecutor(len(writers)) as pool:
        results = [f.result() for f in [pool.submit(open_many, desk) for desk in writers]]
    codes = [code for result in results for code in result]
    assert sorted(codes) == [f"SR-{n:06d}" for n in range(1, 101)]
    for result in results:
        assert result == sorted(result)  # each writer's codes go up
    ids = list(writers[0].request_ids())
    assert len(ids) == len(set(ids)) == 100


def open_in_child(
    kind: str,
    target: str,
    schema: str | None,
    count: int,
    start: Barrier,
    results: Queue[list[str]],
) -> None:
    """Open ``count`` requests from a separate process (the target of a spawned child)."""
    with connect(kind, target, schema) as desk:
        start.wait(timeout=60)
        results.put([open_one(desk, f"Problem {n}").ticket_code for n in range(count)])


def test_ticket_codes_stay_unique_under_concurrent_writers_in_processes(
    shared: SharedStore,
) -> None:
    parent = shared.open_desk()  # creates the tables before the children race for them
    assert list(parent.request_ids()) == []
    batches = together(open_in_child, (shared.kind, shared.target, shared.schema, 20), timeout=60)
    codes = [code for batch in batches for code in batch]
    assert sorted(codes) == [f"SR-{n:06d}" for n in range(1, 41)]
    assert len(set(parent.request_ids())) == 40
    assert open_one(parent).ticket_code == "SR-000041"


@pytest.mark.postgres
def test_desks_opened_together_on_a_fresh_schema_all_open() -> None:
    """Six desks opening one new schema at the same moment: none trips over another's tables."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    start = threading.Barrier(6)

    def open_one() -> int:
        start.wait()
        with ServiceDesk.postgres(POSTGRES_DSN, schema=schema) as desk:
            return len(desk.projection_status())

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: open_one(), range(6)))
        assert statuses == [3] * 6
    finally:
        drop_schema(schema)


def claim_refs_in_child(
    kind: str,
    target: str,
    schema: str | None,
    refs: list[str],
    start: Barrier,
    results: Queue[list[tuple[str, str]]],
) -> None:
    """Open a request for each external ref from a separate process; report what each got."""
    with connect(kind, target, schema) as desk:
        start.wait(timeout=60)
        outcomes: list[tuple[str, str]] = []
        for ref in refs:
            try:
                request = desk.open(
                    customer="acme",
                    channel="web",
                    kind="complaint",
                    stage="post_sale",
                    symptom=f"Imported {ref}",
                    actor="integration:servicenow",
                    external_ref=ref,
                    external_source="servicenow",
                )
            except DuplicateExternalRefError as refused:
                outcomes.append((ref, f"taken by {refused.ticket_code}"))
            else:
                outcomes.append((ref, request.ticket_code))
        results.put(outcomes)


def test_an_external_ref_is_taken_once_under_concurrent_writers_in_processes(
    shared: SharedStore,
) -> None:
    """Two processes import the same 15 external refs at once: each is taken exactly once."""
    parent = shared.open_desk()
    refs = [f"INC{n:07d}" for n in range(15)]
    batches = together(
        claim_refs_in_child, (shared.kind, shared.target, shared.schema, refs), timeout=60
    )
    opened = {ref: code for batch in batches for ref, code in batch if code.startswith("SR-")}
    refused = {ref: why for batch in batches for ref, why in batch if why.startswith("taken")}
    assert sorted(opened) == sorted(refused) == refs  # each ref: one winner, one refusal
    for ref, why in refused.items():
        assert why == f"taken by {opened[ref]}"
    assert len(set(parent.request_ids())) == len(refs)
    for ref, code in opened.items():
        assert parent.get(f"ext:servicenow:{ref}").ticket_code == code


def test_teams_registered_by_concurrent_writers_are_all_kept(shared: SharedStore) -> None:
    """Four desks register teams into the one registry at once: each retries and none is lost."""
    writers = [shared.open_desk() for _ in range(4)]
    start = threading.Barrier(len(writers))

    def register(number: int, desk: ServiceDesk) -> list[str]:
        start.wait()
        return [
            desk.register_team(f"Team {number}-{n}", actor="supervisor:eva").id for n in range(5)
        ]

    with ThreadPoolExecutor(len(writers)) as pool:
        futures = [pool.submit(register, n, desk) for n, desk in enumerate(writers)]
        registered = [team for f in futures for team in f.result()]
    assert sorted(registered) == sorted(f"team {n}-{m}" for n in range(4) for m in range(5))
    for desk in writers:
        assert sorted(t.id for t in desk.teams()) == sorted(registered)


def test_one_customer_registered_at_once_by_two_writers_is_registered_once(
    shared: SharedStore,
) -> None:
    writers = [shared.open_desk() for _ in range(2)]
    start = threading.Barrier(len(writers))

    def register(desk: ServiceDesk) -> str:
        start.wait()
        try:
            desk.register_customer("acme", tier="vip", actor="supervisor:eva")
        except DirectoryConflictError:
            return "conflict"
        return "registered"

    with ThreadPoolExecutor(len(writers)) as pool:
        outcomes = sorted(pool.map(register, writers))
    assert outcomes == ["conflict", "registered"]
    assert [c.id for c in writers[0].customers()] == ["acme"]
