"""A rebuild whose passes run in several processes gives the views a rebuild in one gives.

Each group of projections is rebuilt by a fresh interpreter (``python -m servflow.desk.rebuild``)
from the same log, on the same SQLite file or PostgreSQL schema; the views, their positions and
the quarantine equal those the desk followed event by event.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import POSTGRES_DSN, FakeClock, drop_schema, require_postgres, view_rows
from servflow import ServiceDesk, StoreError, ValidationFailedError
from servflow.cli import app
from servflow.desk import rebuild
from servflow.desk.stores import OpenedWith, sqlite_env
from servflow.domain.erasure import ErasureLedger
from servflow.domain.policy import SlaPolicy
from servflow.domain.request import ServiceRequest
from servflow.domain.sla import SlaPolicyBook
from servflow.projections.runner import Progress
from servflow.projections.shares import MAX_SHARES, Share
from strategies import Step, histories, run_history

steps = histories(min_size=1, max_size=30)


@contextlib.contextmanager
def shared_desk(
    store: str, tmp_path: Path, clock: FakeClock, *, erasable: bool = False
) -> Iterator[ServiceDesk]:
    """A desk on a new store other processes can open: an SQLite file or a PostgreSQL schema."""
    if store == "sqlite":
        desk = ServiceDesk.sqlite(
            str(tmp_path / f"{uuid.uuid4().hex}.db"), clock=clock, erasable=erasable
        )
        schema = None
    else:
        require_postgres()
        schema = f"t_{uuid.uuid4().hex[:12]}"
        desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema, clock=clock, erasable=erasable)
    try:
        yield desk
    finally:
        desk.close()
        if schema:
            drop_schema(schema)


def positions(desk: ServiceDesk) -> dict[str, int]:
    return {status.name: status.position for status in desk.projection_status()}


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=steps,
    switch=st.integers(0, 30),
    workers=st.integers(2, 3),
    erasable=st.booleans(),
)
def test_a_rebuild_in_several_processes_equals_the_views_followed(
    store: str,
    tmp_path: Path,
    clock: FakeClock,
    history: list[Step],
    switch: int,
    workers: int,
    erasable: bool,  # noqa: FBT001 - drawn by hypothesis
) -> None:
    # Requests interleave, a second policy is adopted part-way and, in an erasable store, the
    # audit rows are sealed: every table of every view comes back byte for byte.
    history = [("open", 0, i % 4) for i in range(4)] + history
    with shared_desk(store, tmp_path, clock, erasable=erasable) as desk:
        tickets = run_history(desk, clock, history[:switch], any_command=True, minutes=(7, 1))
        desk.adopt_policy(
            SlaPolicy.standard().model_copy(update={"version": 2}), actor="agent:admin"
        )
        clock.now += timedelta(seconds=1)
        run_history(desk, clock, history[switch:], tickets, any_command=True, minutes=(7, 1))
        followed = view_rows(desk)
        followed_at = positions(desk)
        applied = desk.rebuild_projections(workers=workers)
        assert applied == desk.projection_status()[0].head
        assert view_rows(desk) == followed
        assert positions(desk) == followed_at


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_parallel_rebuild_reports_the_slowest_pass_and_builds_the_indexes(
    store: str, tmp_path: Path, clock: FakeClock
) -> None:
    with shared_desk(store, tmp_path, clock) as desk:
        run_history(desk, clock, [("open", i, i % 4) for i in range(20)], any_command=True)
        seen: list[tuple[int, int]] = []
        done = desk.rebuild_projections(
            workers=2, progress=lambda p: seen.append((p.done, p.total))
        )
        head = desk.projection_status()[0].head
        assert done == head
        assert seen
        assert all(d <= t for d, t in seen)
        # The slowest pass's count never goes back.
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
        assert len(desk.queue(limit=100).rows) == 20
        assert desk.breaches() is not None
        with desk._stores.projector.views.transaction(commit=False) as tx:
            if store == "sqlite":
                found = tx.query("SELECT name FROM sqlite_master WHERE type = 'index'")
            else:
                found = tx.query(
                    "SELECT indexname AS name FROM pg_indexes WHERE schemaname = ?",
                    (desk._stores.views.dialect.schema,),
                )
        names = {str(row["name"]) for row in found}
        assert any("sf_queue" in n for n in names)
        assert any("sf_audit" in n for n in names)


@given(st.uuids(), st.integers(1, MAX_SHARES))
def test_every_request_is_in_exactly_one_share_and_its_sql_says_the_same(
    request_id: uuid.UUID, count: int
) -> None:
    owners = [index for index in range(count) if Share(index, count).owns(request_id)]
    assert len(owners) == 1
    connection = sqlite3.connect(":memory:")
    for index in range(count):
        where, params = Share(index, count).where("request_id")
        found = connection.execute(
            f"SELECT 1 WHERE {where.replace('request_id', '?')}", [str(request_id), *params]
        ).fetchone()
        assert (found is not None) == (index == owners[0])


_TOPICS = [
    get_topic(ServiceRequest.Opened),
    get_topic(ServiceRequest.Completed),
    get_topic(SlaPolicyBook.PolicyAdopted),
    get_topic(ErasureLedger.CustomerForgotten),
    "servflow.nowhere:Unknown",  # names no class: goes by its id, as a request's event
]


@given(
    st.lists(st.tuples(st.uuids(), st.sampled_from(_TOPICS)), max_size=40),
    st.integers(1, MAX_SHARES),
)
def test_a_share_reads_from_the_store_at_least_the_events_it_keeps(
    events: list[tuple[uuid.UUID, str]], count: int
) -> None:
    # The SQL a share's pass reads with (``Share.stored_where``) keeps every event ``split``
    # keeps, ids stored as the library does (32 hex digits) or as text with dashes.
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE e (n INTEGER PRIMARY KEY, originator_id TEXT, topic TEXT)")
    for number, (event_id, topic) in enumerate(events, start=1):
        stored = event_id.hex if number % 2 else str(event_id)
        connection.execute("INSERT INTO e VALUES (?, ?, ?)", (number, stored, topic))
    notifications = [
        Notification(id=n, originator_id=i, originator_version=1, topic=t, state=b"{}")
        for n, (i, t) in enumerate(events, start=1)
    ]
    for index in range(count):
        share = Share(index, count)
        own, book = share.split(notifications)
        condition, params = share.stored_where("substr(originator_id, -1)")
        statement = f"SELECT n FROM e WHERE {condition}"  # noqa: S608 - the share's own SQL
        read = {n for (n,) in connection.execute(statement, params)}
        assert {x.id for x in [*own, *book]} <= read


@pytest.mark.parametrize(("index", "count"), [(0, 0), (1, 1), (-1, 2), (0, MAX_SHARES + 1)])
def test_a_share_that_cannot_be_is_refused(index: int, count: int) -> None:
    with pytest.raises(ValueError, match="no share"):
        Share(index, count)
    assert rebuild.MAX_WORKERS == MAX_SHARES  # one process per share at most


def test_an_in_memory_desk_rebuilds_in_its_own_process(clock: FakeClock) -> None:
    desk = ServiceDesk(clock=clock)
    run_history(desk, clock, [("open", i, i % 4) for i in range(5)], any_command=True)
    followed = view_rows(desk)
    assert desk.rebuild_projections(workers=3) == desk.projection_status()[0].head
    assert view_rows(desk) == followed
    assert not OpenedWith({}, None).shared
    assert not OpenedWith(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}, None
    ).shared


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2", 17])
def test_a_number_of_workers_that_is_not_a_whole_number_from_1_is_refused(
    clock: FakeClock, workers: object
) -> None:
    desk = ServiceDesk(clock=clock)
    with pytest.raises(ValidationFailedError, match="workers"):
        desk.rebuild_projections(workers=workers)  # type: ignore[arg-type]


def test_a_pass_that_fails_in_its_process_is_a_store_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no such directory" / "desk.db"
    opened_with = OpenedWith(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(missing)}, None
    )
    other = rebuild._Pass(opened_with, ["audit"], Share(1, 2), 10)
    try:
        with pytest.raises(
            StoreError, match=r"the rebuild of audit \(share 2 of 2\) in another process failed"
        ):
            other.wait()
    finally:
        other.stop()


def test_the_cli_rebuilds_with_workers(tmp_path: Path, clock: FakeClock) -> None:
    db = str(tmp_path / "desk.db")
    with contextlib.closing(ServiceDesk.sqlite(db, clock=clock)) as desk:
        run_history(desk, clock, [("open", i, i % 4) for i in range(6)], any_command=True)
        followed = view_rows(desk)
    result = CliRunner().invoke(
        app, ["--db", db, "projections", "rebuild", "--workers", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    said = json.loads(result.output)
    assert said["workers"] == 2
    assert said["events"] > 0
    with contextlib.closing(ServiceDesk.sqlite(db, clock=clock)) as desk:
        assert view_rows(desk) == followed


_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
sys.stdin.readline()
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


def test_an_sqlite_rebuild_waits_for_a_write_lock_held_past_the_store_lock_timeout(
    tmp_path: Path, clock: FakeClock
) -> None:
    # The store gives up on a lock after 1 second; another process takes the write lock for 3
    # seconds once the rebuild's passes are under way (as a pass does while it flushes a
    # million rows): the passes wait for it (``rebuild.LOCK_WAIT``), and the views come back
    # as they were followed.
    path = str(tmp_path / "desk.db")
    env = {**sqlite_env(path, cipher_key=None, compress=False), "SQLITE_LOCK_TIMEOUT": "1"}
    desk = ServiceDesk(env=env, clock=clock)
    holder = subprocess.Popen(  # noqa: S603 - this interpreter, a script of this test
        [sys.executable, "-c", _HOLDER, path, "3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        run_history(desk, clock, [("open", i, i % 4) for i in range(300)], any_command=True)
        followed = view_rows(desk)
        waits: list[float] = []

        def tick(progress: Progress) -> None:
            del progress
            if not waits:  # the first tick: the passes run; the lock goes for 3 seconds
                assert holder.stdin is not None
                holder.stdin.write("go\n")
                holder.stdin.flush()
                waits.append(time.perf_counter())

        started = time.perf_counter()
        applied = desk.rebuild_projections(workers=2, progress=tick)
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        assert holder.wait(timeout=60) == 0
        assert waits
        assert applied == desk.projection_status()[0].head
        assert view_rows(desk) == followed
        assert time.perf_counter() - started > 1  # past the store's own lock timeout
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate()
        desk.close()


def shared_rebuild_in_this_process(desk: ServiceDesk, count: int) -> int:
    """What ``rebuild.rebuild`` does with ``count`` shares, each pass in turn in this process."""
    projector = desk._stores.projector
    names = list(projector.projections)
    head = projector.head()
    projector.rebuild_start(names, shares=count)
    read = [
        projector.rebuild_pass(names, share=Share(index, count), stop=head)
        for index in range(count)
    ]
    assert read == [head] * count  # each pass reads the whole log
    projector.rebuild_join(names, count, head)
    projector.rebuild_end(names)
    return head + projector.catch_up()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=histories(min_size=1, max_size=40),
    switches=st.tuples(st.integers(0, 40), st.integers(0, 40)).map(sorted),
    count=st.integers(2, 5),
    erasable=st.booleans(),
)
def test_shares_rebuilt_one_after_the_other_give_the_views_followed(
    clock: FakeClock,
    history: list[Step],
    switches: list[int],
    count: int,
    erasable: bool,  # noqa: FBT001 - drawn by hypothesis
) -> None:
    # The same as several processes, without them: many more histories. A policy correction
    # effective from before it was recorded re-times the running clocks of every share; a
    # later policy measures the requests opened after it (a share re-timing rows of the
    # others would measure them without it).
    history = [("open", 0, i % 4) for i in range(6)] + history
    first, second = switches
    desk = ServiceDesk(clock=clock, erasable=erasable)
    standard = SlaPolicy.standard()
    desk.adopt_policy(standard, actor="agent:admin")  # in force since ever
    clock.now += timedelta(seconds=1)
    began = clock.now
    tickets = run_history(desk, clock, history[:first], any_command=True, minutes=(7, 1))
    correction = standard.model_copy(update={"version": 2, "warn_at": 0.6})
    desk.adopt_policy(correction, actor="agent:admin", effective_from=began)
    clock.now += timedelta(seconds=1)
    run_history(desk, clock, history[first:second], tickets, any_command=True, minutes=(7, 1))
    desk.adopt_policy(
        standard.model_copy(update={"version": 3, "warn_at": 0.5}), actor="agent:admin"
    )
    clock.now += timedelta(seconds=2)
    run_history(desk, clock, history[second:], tickets, any_command=True, minutes=(7, 1))
    followed, followed_at = view_rows(desk), positions(desk)
    assert shared_rebuild_in_this_process(desk, count) == desk.projection_status()[0].head
    assert view_rows(desk) == followed
    assert positions(desk) == followed_at
    assert not any(status.rebuilding for status in desk.projection_status())


def test_views_being_rebuilt_by_shares_are_left_alone_until_the_rebuild_joins(
    tmp_path: Path, clock: FakeClock
) -> None:
    with shared_desk("sqlite", tmp_path, clock) as desk:
        run_history(desk, clock, [("open", i, i % 4) for i in range(8)], any_command=True)
        projector = desk._stores.projector
        names = list(projector.projections)
        head = projector.head()
        projector.rebuild_start(names, shares=2)
        assert all(status.rebuilding for status in desk.projection_status())
        # Written while the shares run: neither the inline pass nor a catch-up touches them.
        late = desk.open(
            customer="cust-late",
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom="Written while the views are rebuilt",
            actor="agent:ana",
        )
        assert desk.catch_up() == 0
        for index in range(2):
            projector.rebuild_pass(names, share=Share(index, 2), stop=head)
        assert late.id not in {row.request_id for row in desk.queue(limit=100).rows}
        projector.rebuild_join(names, 2, head)
        projector.rebuild_end(names)
        assert not any(status.rebuilding for status in desk.projection_status())
        assert desk.catch_up() > 0  # what was written meanwhile
        assert late.id in {row.request_id for row in desk.queue(limit=100).rows}
        shared = view_rows(desk)
        desk.rebuild_projections(workers=1)
        assert view_rows(desk) == shared


def test_a_failed_pass_leaves_empty_views_that_a_catch_up_fills(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with shared_desk("sqlite", tmp_path, clock) as desk:
        run_history(desk, clock, [("open", i, i % 4) for i in range(8)], any_command=True)
        followed = view_rows(desk)

        def failed(self: rebuild._Pass) -> int:
            self._process.wait()
            msg = "the rebuild of every projection (share 2 of 2) in another process failed"
            raise StoreError(msg)

        monkeypatch.setattr(rebuild._Pass, "wait", failed)
        with pytest.raises(StoreError, match="share 2 of 2"):
            desk.rebuild_projections(workers=2)
        statuses = desk.projection_status()
        assert not any(status.rebuilding for status in statuses)
        assert {status.position for status in statuses} == {0}
        desk.catch_up()
        assert view_rows(desk) == followed


def test_a_rebuild_whose_process_died_leaves_its_views_marked_until_the_next(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = str(tmp_path / "desk.db")
    with contextlib.closing(ServiceDesk.sqlite(db, clock=clock)) as desk:
        run_history(desk, clock, [("open", i, i % 4) for i in range(6)], any_command=True)
        followed = view_rows(desk)
        projector = desk._stores.projector
        projector.rebuild_start(list(projector.projections), shares=2)  # and then it died
    result = CliRunner().invoke(app, ["--db", db, "projections", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert all(row["rebuilding"] for row in json.loads(result.output))
    result = CliRunner().invoke(app, ["--db", db, "projections", "status"])
    assert "rebuilding" in result.output
    with contextlib.closing(ServiceDesk.sqlite(db, clock=clock)) as desk:
        assert desk.catch_up() == 0  # no catch-up touches them, on opening or after
        assert all(status.rebuilding for status in desk.projection_status())
        desk.rebuild_projections(workers=2)
        assert not any(status.rebuilding for status in desk.projection_status())
        assert view_rows(desk) == followed


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_shares_rebuild_a_store_whose_customer_was_forgotten_as_it_was_followed(
    store: str, tmp_path: Path, clock: FakeClock
) -> None:
    # The erasure ledger's event is the first share's; the forgotten customer's requests are
    # in every share, and each share reads their personal fields as erased.
    with shared_desk(store, tmp_path, clock, erasable=True) as desk:
        run_history(desk, clock, [("open", i, i % 4) for i in range(12)], any_command=True)
        customers = {row.customer_id for row in desk.queue(limit=100).rows}
        for customer in sorted(customers)[:2]:
            desk.forget_customer(customer, actor="supervisor:eva")
            clock.now += timedelta(minutes=1)
        run_history(desk, clock, [("open", i, i % 4) for i in range(12, 16)], any_command=True)
        followed = view_rows(desk)
        desk.rebuild_projections(workers=3)
        assert view_rows(desk) == followed
