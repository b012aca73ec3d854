"""Projections: following equals a rebuild, exactly once, across crashes and processes."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from eventsourcing.persistence import OperationalError, ProgrammingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import POSTGRES_DSN, FakeClock, drop_schema, open_one, require_postgres, view_rows
from servflow import ServiceDesk, StoreError
from servflow.domain.calendar import Calendar
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.persistence.sql import COPY_ROWS
from servflow.persistence.sqlite import StatementCachingPool
from servflow.projections import Projector, QueueProjection, Tx
from servflow.projections import kpis as kpis_module
from servflow.projections.base import RowProjection
from servflow.projections.sla import SlaProjection
from strategies import Step, histories, run_history

# -- random command histories ------------------------------------------------------------------

#: Random histories of any command (``run_any_history`` skips those the desk refuses).
steps = histories(min_size=1, max_size=40)


def run_any_history(desk: ServiceDesk, clock: FakeClock, history: Sequence[Step]) -> None:
    """Apply a history of any commands, seven minutes or more apart."""
    run_history(desk, clock, history, any_command=True, minutes=(7, 1))


# -- copies of the queue projection under other names and tables -----------------------------


def copy_of(base: type[QueueProjection], suffix: str) -> type[QueueProjection]:
    """The queue projection under another name and table, to build beside the desk's own."""
    return type(
        f"Queue{suffix.title()}",
        (base,),
        {"name": f"queues_{suffix}", "table": f"sf_queue_{suffix}"},
    )


def rows(projector: Projector, projection: QueueProjection) -> list[dict[str, Any]]:
    """The queue's rows, then its totals per team and status (an emptied group leaves no row)."""
    with projector.views.transaction(commit=False) as tx:
        return [
            *tx.query(
                f"SELECT * FROM {projection.t(projection.table)} ORDER BY request_id"  # noqa: S608
            ),
            *tx.query(
                f"SELECT * FROM {projection.t(projection.counts_table)} "  # noqa: S608
                "ORDER BY team, status"
            ),
        ]


def drop_and_close(*projectors: Projector) -> None:
    """Drop the tables of the projectors' (copied) projections, then close them."""
    for projector in projectors:
        with projector.views.transaction() as tx:
            for projection in projector.projections.values():
                for table in projection.tables():
                    tx.execute(f"DROP TABLE {projection.t(table)}")
        projector.close()


def store_app(desk: ServiceDesk) -> Any:
    return desk._stores.store


class SimulatedCrashError(RuntimeError):
    """Raised by a projection to simulate a process dying mid-batch."""


def crashing(base: type[QueueProjection], after: int) -> type[QueueProjection]:
    """A queue projection that dies after folding ``after`` events in one process."""

    class Crashing(base):  # type: ignore[valid-type,misc]
        folded: ClassVar[int] = 0

        def apply(self, events: Sequence[tuple[int, object]], tx: Tx) -> None:
            type(self).folded += len(events)
            super().apply(events, tx)
            if type(self).folded > after:
                raise SimulatedCrashError

    return Crashing


@contextlib.contextmanager
def fresh_desk(store: str, tmp_path: Path, clock: FakeClock) -> Iterator[ServiceDesk]:
    """A desk on an empty store of the given kind (hypothesis examples must not share one)."""
    if store == "memory":
        desk = ServiceDesk(clock=clock)
    elif store == "sqlite":
        desk = ServiceDesk.sqlite(str(tmp_path / f"{uuid.uuid4().hex}.db"), clock=clock)
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema, clock=clock)
    try:
        yield desk
    finally:
        desk.close()
        if store == "postgres":
            drop_schema(schema)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps, batch=st.integers(1, 13), crash_after=st.integers(0, 60))
def test_following_in_random_batches_with_a_crash_equals_a_rebuild(
    store: str,
    tmp_path: Path,
    clock: FakeClock,
    history: list[Step],
    batch: int,
    crash_after: int,
) -> None:
    with fresh_desk(store, tmp_path, clock) as desk:
        check_incremental_equals_rebuild(desk, clock, history, batch, crash_after)


def check_incremental_equals_rebuild(
    desk: ServiceDesk, clock: FakeClock, history: list[Step], batch: int, crash_after: int
) -> None:
    start = desk.projection_status()[0].head
    run_any_history(desk, clock, history)
    app = store_app(desk)
    suffix = uuid.uuid4().hex[:8]
    incremental = copy_of(QueueProjection, f"i{suffix}")
    rebuilt = copy_of(QueueProjection, f"r{suffix}")

    # Incremental: small batches, dying mid-batch once, then a fresh process resumes.
    doomed = Projector(app, [crashing(incremental, crash_after)()], batch_size=batch)
    with contextlib.suppress(SimulatedCrashError):
        doomed.catch_up()
    doomed.close()
    survivor_projection = incremental()
    survivor = Projector(app, [survivor_projection], batch_size=batch)
    survivor.catch_up()

    # Rebuild: one pass over the whole log.
    rebuild_projection = rebuilt()
    rebuilder = Projector(app, [rebuild_projection], batch_size=1000)
    rebuilder.rebuild()

    assert rows(survivor, survivor_projection) == rows(rebuilder, rebuild_projection)
    # ... and both equal the desk's own inline view.
    assert rows(survivor, survivor_projection) == rows(desk._stores.projector, desk._stores.queues)
    assert survivor.status()[0].position == rebuilder.status()[0].position >= start
    drop_and_close(survivor, rebuilder)


def table_rows(projector: Projector, projection: RowProjection[Any]) -> list[dict[str, Any]]:
    """Every table of a projection, row by row, in a fixed order."""
    with projector.views.transaction(commit=False) as tx:
        return [
            row
            for table in projection.tables()
            for row in tx.query(f"SELECT * FROM {projection.t(table)}")  # noqa: S608
        ]


def sorted_rows(projector: Projector, projection: RowProjection[Any]) -> list[str]:
    return sorted(repr(sorted(row.items())) for row in table_rows(projector, projection))


WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: A second policy version adopted part-way through a history (24/7, tighter than the default).
SECOND_POLICY = SlaPolicy(
    name="rebuild",
    version=1,
    calendar=Calendar(
        name="always",
        version=1,
        timezone="UTC",
        hours={
            day: [("00:00", "23:59")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    ),
    default=SlaRule(name="default", first_response="2h", resolution="9h"),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    history=steps,
    switch=st.integers(0, 40),
    batch=st.integers(1, 7),
    kept=st.integers(1, 5),
    opens=st.integers(2, 8),
)
def test_a_rebuild_keeping_few_rows_across_small_batches_equals_following_an_interleaved_log(
    store: str,
    tmp_path: Path,
    clock: FakeClock,
    history: list[Step],
    switch: int,
    batch: int,
    kept: int,
    opens: int,
) -> None:
    # The requests' events interleave in the log (a history moves between requests), a policy
    # is adopted part-way, and the rebuild keeps so few rows in memory (``kept``) over such
    # small batches that rows leave its memory, come back from the table and are written at
    # many checkpoints: the queue and SLA views still equal those followed event by event.
    # Several requests first, so that the history's steps move between them.
    history = [("open", 0, i % 4) for i in range(opens)] + history
    with fresh_desk(store, tmp_path, clock) as desk:
        tickets = run_history(desk, clock, history[:switch], any_command=True, minutes=(7, 1))
        desk.adopt_policy(SECOND_POLICY, actor="agent:admin")
        clock.now += timedelta(seconds=1)
        run_history(desk, clock, history[switch:], tickets, any_command=True, minutes=(7, 1))
        app = store_app(desk)
        suffix = uuid.uuid4().hex[:8]
        followed: list[RowProjection[Any]] = [
            copy_of(QueueProjection, f"fq{suffix}")(),
            copy_of(SlaProjection, f"fs{suffix}")(),  # type: ignore[arg-type]
        ]
        rebuilt: list[RowProjection[Any]] = []
        for base, name in ((QueueProjection, "rq"), (SlaProjection, "rs")):
            keeping = copy_of(base, f"{name}{suffix}")  # type: ignore[arg-type]
            keeping.staged_rows = kept
            rebuilt.append(keeping())
        follower = Projector(app, followed, batch_size=batch)
        follower.catch_up()
        rebuilder = Projector(app, rebuilt, batch_size=batch, rebuild_batch_size=batch)
        rebuilder.rebuild()
        for mine, theirs in zip(followed, rebuilt, strict=True):
            assert sorted_rows(follower, mine) == sorted_rows(rebuilder, theirs)
        assert sorted_rows(follower, followed[0]) == sorted_rows(
            desk._stores.projector, desk._stores.queues
        )
        assert {s.position for s in follower.status()} == {s.position for s in rebuilder.status()}
        drop_and_close(follower, rebuilder)


def test_a_rebuild_reports_progress_and_matches_the_live_view(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    run_any_history(desk, clock, [("open", i, i % 4) for i in range(30)])
    live = sorted(r.ticket_code for r in desk.queue(limit=100).rows)
    seen: list[int] = []
    done = desk.rebuild_projections(progress=lambda p: seen.append(p.done))
    assert done == desk.projection_status()[0].head
    assert seen
    assert seen[-1] == done
    assert sorted(r.ticket_code for r in desk.queue(limit=100).rows) == live


def test_a_rebuild_drops_and_indexes_the_sqlite_views_with_temporary_data_in_files(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement journal of a drop, and an index's sort, grow with the views: not in memory.

    SQLite places a transaction's statement journal when the transaction begins, so the setting
    must come before ``BEGIN``; memory is the store's setting again afterwards. Both a rebuild
    and a desk that finds a view of another version (and drops it) are traced.
    """
    traces: list[list[str]] = []
    create = StatementCachingPool._create_connection

    def traced(pool: StatementCachingPool) -> Any:
        connection = create(pool)
        trace: list[str] = []
        traces.append(trace)
        connection._sqlite_conn.set_trace_callback(trace.append)
        return connection

    monkeypatch.setattr(StatementCachingPool, "_create_connection", traced)
    desk = ServiceDesk.sqlite(str(tmp_path / "desk.db"), clock=clock)
    try:
        run_any_history(desk, clock, [("open", i, i % 4) for i in range(30)])
        live = sorted(r.ticket_code for r in desk.queue(limit=100).rows)
        for trace in traces:
            trace.clear()
        desk.rebuild_projections(workers=1)
        assert sorted(r.ticket_code for r in desk.queue(limit=100).rows) == live
    finally:
        desk.close()
    rebuilt = [list(trace) for trace in traces]
    traces.clear()
    monkeypatch.setattr(QueueProjection, "version", QueueProjection.version + 1)
    upgraded = ServiceDesk.sqlite(str(tmp_path / "desk.db"), clock=clock)
    try:
        assert sorted(r.ticket_code for r in upgraded.queue(limit=100).rows) == live
    finally:
        upgraded.close()

    def bulk_statements(found: list[list[str]], kinds: tuple[str, ...]) -> int:
        """How many statements of these kinds ran; each must in a transaction begun under FILE."""
        count = 0
        for trace in found:
            temp_store, begun_with = "MEMORY", "MEMORY"
            for statement in trace:
                if statement.startswith("PRAGMA temp_store"):
                    temp_store = statement.split()[-1].lstrip("=")
                elif statement.startswith("BEGIN"):
                    begun_with = temp_store
                elif statement.startswith(kinds):
                    assert begun_with == "FILE", statement
                    count += 1
            assert temp_store == "MEMORY"
        return count

    assert bulk_statements(rebuilt, ("DROP TABLE", "CREATE INDEX")) > 10  # tables and indexes
    assert bulk_statements(traces, ("DROP TABLE",)) == len(QueueProjection().tables())


# -- a follower in a separate OS process ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def shared_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str | None]]:
    """A store two OS processes can share: an SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "shared.db"), None
        return
    request.applymarker(pytest.mark.postgres)
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield POSTGRES_DSN, schema
    drop_schema(schema)


def _writer(db: str, schema: str | None) -> ServiceDesk:
    if schema is None:
        return ServiceDesk.sqlite(db, projections="external")
    return ServiceDesk.postgres(db, schema=schema, projections="external")


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("the follower did not catch up in time")


@contextlib.contextmanager
def running_follower(db: str, schema: str | None) -> Iterator[None]:
    """``python -m servflow.projections follow`` in its own OS process, stopped by SIGTERM."""
    command = [sys.executable, "-m", "servflow.projections", "follow", "--db", db, "--poll", "0.1"]
    if schema:
        command += ["--schema", schema]
    with subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        command, stderr=subprocess.PIPE, text=True
    ) as follower:
        try:
            yield
        finally:
            follower.send_signal(signal.SIGTERM)
            _, errors = follower.communicate(timeout=20)
        assert follower.returncode == 0, errors


def test_a_follower_process_catches_up_with_another_process_and_resumes_after_a_stop(
    shared_store: tuple[str, str | None],
) -> None:
    db, schema = shared_store
    writer = _writer(db, schema)
    opened = [
        writer.open(
            customer="acme",
            channel="web",
            kind="claim",
            stage="sale",
            symptom=f"s{i}",
            actor="agent:a",
        )
        for i in range(20)
    ]
    assert writer.queue(limit=100).total == 0  # nobody has projected anything yet

    with running_follower(db, schema):
        _wait_for(lambda: writer.queue(limit=100).total == 20)
        writer.classify(opened[0], priority="urgent", actor="agent:a")  # while it follows
        _wait_for(lambda: writer.queue(limit=1).rows[0].ticket_code == opened[0].ticket_code)

    for i in range(5):  # written while no follower runs
        writer.open(
            customer="acme",
            channel="web",
            kind="claim",
            stage="sale",
            symptom=f"t{i}",
            actor="agent:a",
        )
    with running_follower(db, schema):
        _wait_for(lambda: writer.queue(limit=100).total == 25)
    status = writer.projection_status()[0]
    assert status.position == status.head
    before = [r.model_dump() for r in writer.queue(limit=100).rows]
    writer.rebuild_projections()
    assert [r.model_dump() for r in writer.queue(limit=100).rows] == before
    writer.close()


def test_a_batch_applied_twice_is_refused_and_leaves_the_view_unchanged(
    shared_store: tuple[str, str | None], clock: FakeClock
) -> None:
    desk = _writer(*shared_store)
    run_any_history(desk, clock, [("open", 0, 0), ("classify", 0, 3), ("assign", 0, 1)])
    app = store_app(desk)
    first = Projector(app, [copy_of(QueueProjection, "twice")()])
    second = Projector(app, [copy_of(QueueProjection, "twice")()])
    assert first.catch_up() == desk.projection_status()[0].head == 3
    # The second projector started before the first caught up: it still believes position 0.
    assert second.catch_up() == 0  # it finds the positions moved: nothing is left for it
    projection = first.projections["queues_twice"]
    other = second.projections["queues_twice"]
    assert isinstance(projection, QueueProjection)
    assert isinstance(other, QueueProjection)
    assert sum("request_id" in row for row in rows(first, projection)) == 1
    assert rows(first, projection) == rows(second, other)
    first.close()
    second.close()
    desk.close()


@pytest.mark.parametrize(
    "failure",
    [OperationalError("database is locked"), OperationalError("deadlock detected")],
    ids=["locked", "deadlock"],
)
def test_a_follower_logs_a_passing_failure_and_tries_again(
    make_desk: Callable[..., ServiceDesk],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
) -> None:
    desk = make_desk(projections="external")
    desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="s", actor="agent:a"
    )
    projector = desk._stores.projector
    catch_up = projector.catch_up
    stop = threading.Event()
    calls: list[int] = []

    def flaky(**kwargs: Any) -> int:
        calls.append(1)
        if len(calls) <= 2:
            raise failure
        stop.set()
        return catch_up(**kwargs)

    monkeypatch.setattr(projector, "catch_up", flaky)
    follower = threading.Thread(target=desk.follow, args=(stop,), kwargs={"poll_interval": 0.01})
    follower.start()
    follower.join(timeout=20)
    assert not follower.is_alive()
    assert len(calls) == 3
    assert caplog.text.count("the follower could not catch up") == 2
    assert str(failure) in caplog.text
    assert desk.queue().total == 1


def test_a_follower_stops_on_a_failure_that_is_not_passing(
    make_desk: Callable[..., ServiceDesk], monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = make_desk(projections="external")

    def broken(**kwargs: Any) -> int:
        del kwargs
        msg = "no such table"
        raise ProgrammingError(msg)

    monkeypatch.setattr(desk._stores.projector, "catch_up", broken)
    with pytest.raises(StoreError, match="no such table"):  # typed, as every store error
        desk.follow(threading.Event(), poll_interval=0.01)


def test_a_failing_inline_projection_costs_the_command_nothing_and_catches_up_later(
    desk: ServiceDesk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    request = desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="s", actor="agent:a"
    )

    assert desk.queue().total == 1

    def broken(events: Sequence[tuple[int, object]], tx: Tx) -> None:
        del events, tx
        raise RuntimeError

    monkeypatch.setattr(desk._stores.queues, "apply", broken)
    classified = desk.classify(request, priority="urgent", actor="agent:a")
    assert classified.version == 2  # the command was recorded
    # (In memory the views apply a command's events when they are next read: this read.)
    assert desk.queue().rows[0].priority is None  # the view is behind ...
    assert "could not catch up" in caplog.text or "inline projections failed" in caplog.text
    monkeypatch.undo()
    assert desk.queue().rows[0].priority is None  # ... still ...
    desk.catch_up()
    assert str(desk.queue().rows[0].priority) == "urgent"  # ... until it catches up


def test_an_inline_desk_takes_up_what_another_writer_recorded(
    shared_store: tuple[str, str | None],
) -> None:
    db, schema = shared_store
    other = _writer(db, schema)  # projections left to someone else
    inline = ServiceDesk.sqlite(db) if schema is None else ServiceDesk.postgres(db, schema=schema)
    first = other.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="a", actor="agent:a"
    )
    inline.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="b", actor="agent:a"
    )
    other.classify(first, priority="high", actor="agent:a")
    inline.report_progress(first, message="on it", actor="agent:a")
    page = inline.queue()
    assert page.total == 2
    assert {str(r.priority) for r in page.rows} == {"high", "None"}
    status = inline.projection_status()[0]
    assert status.position == status.head
    other.close()
    inline.close()


def _settled(desk: ServiceDesk, team: str, *, satisfaction: int) -> None:
    """A request taken to acceptance in the given team, settled in today's buckets."""
    request = open_one(desk)
    desk.classify(request, priority="high", actor="agent:lead")
    desk.assign(request, team=team, agent="ana", actor="agent:lead")
    desk.complete(request, outcome="resolved", resolution="ok", actor="agent:ana")
    desk.accept(request, satisfaction=satisfaction, actor="customer:acme")


def test_kpi_buckets_remembered_by_a_writer_follow_other_writers_and_failed_batches(
    shared_store: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, schema = shared_store
    one = ServiceDesk.sqlite(db) if schema is None else ServiceDesk.postgres(db, schema=schema)
    two = ServiceDesk.sqlite(db) if schema is None else ServiceDesk.postgres(db, schema=schema)
    recalled: list[object] = []
    for desk in (one, two):
        projection = desk._stores.queues
        recall = projection.recall

        def counting(key: object, recall: Callable[[object], object] = recall) -> object:
            found = recall(key)
            recalled.append(found)
            return found

        monkeypatch.setattr(projection, "recall", counting)
    # The same day's buckets, written by one desk and then the other, turn about.
    for n in range(6):
        _settled(one if n % 3 else two, "billing" if n % 2 else "field", satisfaction=1 + n % 5)
    # A batch that fails after the buckets were written: its tallies must not be remembered.
    real = kpis_module._apply

    def failing(projection: object, tx: Tx, deltas: Any) -> None:
        real(projection, tx, deltas)
        raise RuntimeError

    monkeypatch.setattr(kpis_module, "_apply", failing)
    _settled(one, "billing", satisfaction=5)
    monkeypatch.setattr(kpis_module, "_apply", real)
    _settled(one, "billing", satisfaction=2)  # the view is behind: folded with the catch-up
    one.catch_up()
    _settled(one, "billing", satisfaction=3)
    assert any(found is not None for found in recalled)  # buckets were taken from memory
    followed = view_rows(one)["sf_queue_kpis"]
    assert sum(int(row["n"]) for row in followed if row["dim"] == "all") == 9
    one.rebuild_projections()
    assert view_rows(one)["sf_queue_kpis"] == followed
    one.close()
    two.close()


# -- counted pages ------------------------------------------------------------------------------

FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"team": "billing"},
    {"team": "frontline", "status": ["closed", "cancelled", "assigned"]},
    {"status": ["assigned", "completed"]},
    {"status": ["closed"], "team": "field"},
    {"special": "triage"},
    {"special": "awaiting_acceptance", "team": "billing"},
    {"special": "transferred_in", "status": ["new"]},
    {"special": "unassigned"},
    {"agent": "agent1"},
    {"priority": ["high"], "team": "billing"},
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps)
def test_a_counted_page_totals_every_matching_row(
    store: str, tmp_path: Path, clock: FakeClock, history: list[Step]
) -> None:
    """Totals added up per team and status (or counted row by row) match the rows themselves."""
    with fresh_desk(store, tmp_path, clock) as desk:
        run_any_history(desk, clock, history)
        for filters in FILTERS:
            matching = 0
            offset = 0
            while True:
                page = desk.queue(**filters, limit=3, offset=offset, count=False)
                matching += len(page.rows)
                if page.next_offset is None:
                    break
                offset = page.next_offset
            for limit in (1, 3, 100):
                assert desk.queue(**filters, limit=limit).total == matching, (filters, limit)


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_large_catch_up_gives_postgresql_statistics_of_the_views(
    make_desk: Callable[..., ServiceDesk],
) -> None:
    """Views filled from nothing get planner statistics; small catch-ups leave it to autovacuum.

    ``reltuples`` is -1 until a table is first analyzed (or vacuumed), and ANALYZE sets it in
    the catalogue, in its own transaction.
    """
    desk = make_desk(projections="external")
    for n in range(3):
        desk.open(
            customer=f"c{n}",
            channel="web",
            kind="complaint",
            stage="sale",
            symptom="s",
            actor="agent:ana",
        )
    views = desk._stores.projector.views

    def analyzed() -> set[str]:
        with views.transaction(commit=False) as tx:
            rows = tx.query(
                "SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace "
                "WHERE nspname = ? AND relname LIKE ? AND reltuples >= 0",
                [views.dialect.schema, "sf\\_%"],
            )
        return {str(row["relname"]) for row in rows}

    desk._stores.projector.analyze_after = 100
    assert desk.catch_up() >= 3
    assert "sf_sla" not in analyzed()
    desk.open(
        customer="c", channel="web", kind="quote", stage="sale", symptom="s", actor="agent:ana"
    )
    desk._stores.projector.analyze_after = 1
    assert desk.catch_up() == 1
    assert {"sf_sla", "sf_queue", "sf_audit"} <= analyzed()


def test_a_batch_split_by_an_adopted_policy_folds_each_request_from_its_newest_row(
    make_desk: Callable[..., ServiceDesk], clock: FakeClock
) -> None:
    # A follower remembers a request's row; its next batch holds a progress report, an adopted
    # policy and another progress report of that request. The batch is applied in two parts
    # around the policy: the second part must start from the row the first part stored, not
    # from the row remembered before the batch (which lost the first report: the first
    # response then counted as met 7 minutes late).
    desk = make_desk(projections="external")
    request = desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="s", actor="agent:a"
    )
    app = store_app(desk)
    suffix = uuid.uuid4().hex[:8]
    followed = copy_of(QueueProjection, f"f{suffix}")()
    follower = Projector(app, [followed], batch_size=100)
    follower.catch_up()
    clock.advance(minutes=30)
    desk.report_progress(request, message="Looking into it", actor="agent:a")
    clock.advance(minutes=3)
    desk.adopt_policy(SlaPolicy.standard().model_copy(update={"version": 2}), actor="agent:admin")
    clock.advance(minutes=7)
    desk.report_progress(request, message="Still on it", actor="agent:a")
    follower.catch_up()

    rebuilt = copy_of(QueueProjection, f"r{suffix}")()
    rebuilder = Projector(app, [rebuilt], batch_size=100)
    rebuilder.rebuild()
    assert rows(follower, followed) == rows(rebuilder, rebuilt)
    desk.catch_up()
    assert rows(follower, followed) == rows(desk._stores.projector, desk._stores.queues)
    drop_and_close(follower, rebuilder)


def test_one_save_of_more_events_than_copy_rows_keeps_inline_views_at_the_head(
    desk: ServiceDesk, caplog: pytest.LogCaptureFixture
) -> None:
    # Inline views ride in the transaction that inserts the events, which the library runs
    # in PostgreSQL's pipeline mode, where ``COPY`` is refused: the audit rows of a large
    # save (an import's batch) are inserted instead, and the views stay at the head.
    with desk._writer.gathering():
        for _ in range(COPY_ROWS + 6):
            open_one(desk)
    assert "inline projections failed" not in caplog.text
    assert all(s.position == s.head == COPY_ROWS + 6 for s in desk.projection_status())
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before


def test_a_rebuilt_audit_log_written_in_bulk_equals_the_one_followed(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    # More events than ``COPY_ROWS`` in one batch: PostgreSQL copies them in (``COPY``),
    # the other stores insert them; either way the rows are the ones followed event by event.
    assert COPY_ROWS < 100
    run_any_history(desk, clock, [("open", i, i % 4) for i in range(60)])
    run_any_history(desk, clock, [("classify", i, i % 4) for i in range(60)])
    before = [row.model_dump() for row in desk.audit_log(limit=1000).rows]
    assert len(before) > COPY_ROWS
    desk.rebuild_projections(["audit"])
    assert [row.model_dump() for row in desk.audit_log(limit=1000).rows] == before
