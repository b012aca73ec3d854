"""Quarantine, not collapse: real stored rows are damaged by SQL, and only their requests suffer.

On SQLite and PostgreSQL: ``verify`` lists every break; a rebuild and a follower skip exactly the
unreadable events, with reasons, and agree; reads and commands of an affected request raise
``CorruptEventError`` naming it; other requests, the queue, breaches, KPIs and the audit log
keep working; the command line prints messages, never tracebacks.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import POSTGRES_DSN, FakeClock, drop_schema, require_postgres
from histories import assigned_requests
from servflow import CorruptEventError, QuarantinedEvent, Request, ServiceDesk
from servflow.cli import app

Execute = Callable[[str, tuple[object, ...]], None]

GARBAGE = b"\x00\x13not json at all"
INVALID = b'{"priority":"extreme"}'
UNKNOWN_TOPIC = "servflow.domain.request:ServiceRequest.Teleported"


class Store:
    """Desks on one real store, plus raw SQL access to the rows they stored."""

    def __init__(
        self, open_desk: Callable[..., ServiceDesk], execute: Execute, events: str, db: str
    ) -> None:
        self.open_desk = open_desk
        self.execute = execute
        self.events = events
        self.db = db
        self.sqlite = events == "stored_events"

    def stored_id(self, request: Request) -> str:
        return request.id.hex if self.sqlite else str(request.id)

    def set_state(self, request: Request, version: int, state: bytes) -> None:
        self.execute(
            f"UPDATE {self.events} SET state = %s "  # noqa: S608
            "WHERE originator_id = %s AND originator_version = %s",
            (state, self.stored_id(request), version),
        )

    def set_topic(self, request: Request, version: int, topic: str) -> None:
        self.execute(
            f"UPDATE {self.events} SET topic = %s "  # noqa: S608
            "WHERE originator_id = %s AND originator_version = %s",
            (topic, self.stored_id(request), version),
        )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    desks: list[ServiceDesk] = []
    if request.param == "sqlite":
        path = tmp_path / "quarantine.db"

        def open_sqlite(**kwargs: object) -> ServiceDesk:
            desk = ServiceDesk.sqlite(str(path), clock=clock, **kwargs)  # type: ignore[arg-type]
            desks.append(desk)
            return desk

        def run_sqlite(sql: str, params: tuple[object, ...]) -> None:
            with sqlite3.connect(path) as connection:
                connection.execute(sql.replace("%s", "?"), params)

        yield Store(open_sqlite, run_sqlite, "stored_events", str(path))
        for desk in desks:
            desk.close()
        return
    request.applymarker(pytest.mark.postgres)
    require_postgres()
    import psycopg  # noqa: PLC0415

    schema = f"t_{uuid.uuid4().hex[:12]}"

    def open_postgres(**kwargs: object) -> ServiceDesk:
        desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema, clock=clock, **kwargs)  # type: ignore[arg-type]
        desks.append(desk)
        return desk

    def run_postgres(sql: str, params: tuple[object, ...]) -> None:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as connection:
            connection.execute(sql, params)

    yield Store(open_postgres, run_postgres, f"{schema}.servflow_events", POSTGRES_DSN)
    for desk in desks:
        desk.close()
    drop_schema(schema)


def history(desk: ServiceDesk, clock: FakeClock, count: int = 4) -> list[Request]:
    """``count`` requests, each opened, classified and assigned (positions 3n+1 .. 3n+3)."""
    return assigned_requests(desk, clock, count)


def damaged(store: Store, clock: FakeClock) -> tuple[ServiceDesk, list[Request]]:
    """Five requests; the first three get an unreadable event each, the fourth a silent edit.

    Returns a fresh desk (as a new process would open) on the damaged store.
    """
    writer = store.open_desk()
    requests = history(writer, clock, 5)
    first_position = writer.verify().head
    assert first_position is not None
    writer.close()
    store.set_state(requests[0], 2, GARBAGE)  # position 2
    store.set_state(requests[1], 3, INVALID)  # position 6
    store.set_topic(requests[2], 2, UNKNOWN_TOPIC)  # position 8
    # Well-formed, another meaning: only the chain can tell (position 11).
    store.set_state(requests[3], 2, _edited_priority(store, requests[3]))
    return store.open_desk(), requests


def _edited_priority(store: Store, request: Request) -> bytes:
    desk = store.open_desk()
    try:
        stored = desk._stores.store.recorder.select_events(request.id, gt=1, lte=2)
    finally:
        desk.close()
    state = bytes(stored[0].state)
    assert b'"high"' in state
    return state.replace(b'"high"', b'"low"')


def quarantine_keys(desk: ServiceDesk) -> list[tuple[int, uuid.UUID, int, str, tuple[str, ...]]]:
    """The quarantine without the wall-clock time of recording."""
    return [(q.position, q.request_id, q.version, q.kind, q.projections) for q in desk.quarantine()]


def test_verify_lists_every_break_with_its_position(store: Store, clock: FakeClock) -> None:
    desk, requests = damaged(store, clock)
    report = desk.verify()
    assert not report.intact
    assert [(b.position, b.request_id, b.version, b.kind) for b in report.breaks] == [
        (2, requests[0].id, 2, "altered"),
        (6, requests[1].id, 3, "altered"),
        (8, requests[2].id, 2, "altered"),
        (11, requests[3].id, 2, "altered"),
    ]
    # The first break keeps its old fields; the rest of the log was still read and checked.
    assert (report.request_id, report.version, report.position) == (requests[0].id, 2, 2)
    assert report.events_checked == 1
    assert report.events_read == 15
    assert report.more_breaks == 0


def test_two_separate_edits_are_two_breaks_not_a_cascade(store: Store, clock: FakeClock) -> None:
    desk = store.open_desk()
    requests = history(desk, clock, 3)
    store.set_state(requests[0], 1, b'{"symptom":"x"}')
    store.execute(
        f"DELETE FROM {store.events} WHERE originator_id = %s AND originator_version = 3",  # noqa: S608
        (store.stored_id(requests[1]),),
    )
    report = desk.verify()
    assert [(b.position, b.kind) for b in report.breaks] == [(1, "altered"), (6, "removed")]


def test_rebuild_skips_exactly_the_unreadable_events_with_reasons(
    store: Store, clock: FakeClock
) -> None:
    desk, requests = damaged(store, clock)
    assert desk.rebuild_projections() == 15
    skipped = desk.quarantine()
    assert [(q.position, q.request_id, q.version, q.kind) for q in skipped] == [
        (2, requests[0].id, 2, "unreadable"),
        (6, requests[1].id, 3, "invalid"),
        (8, requests[2].id, 2, "unknown_topic"),
    ]
    assert all(isinstance(q, QuarantinedEvent) for q in skipped)
    assert all(q.projections == ("audit", "queues", "sla") for q in skipped)
    assert "Field required" in skipped[1].reason
    assert "Teleported" in skipped[2].reason
    assert skipped[2].topic == UNKNOWN_TOPIC
    assert {s.name: s.skipped for s in desk.projection_status()} == {
        "queues": 3,
        "sla": 3,
        "audit": 3,
    }
    # A second rebuild records the same quarantine, not twice as much.
    desk.rebuild_projections()
    assert quarantine_keys(desk) == [
        (q.position, q.request_id, q.version, q.kind, q.projections) for q in skipped
    ]
    # Rebuilding one projection forgets and refills its own records only.
    desk.rebuild_projections(["sla"])
    assert {s.name: s.skipped for s in desk.projection_status()}["sla"] == 3


def test_the_views_stay_readable_and_flag_the_damaged_requests(
    store: Store, clock: FakeClock
) -> None:
    desk, requests = damaged(store, clock)
    desk.rebuild_projections()
    rows = {row.request_id: row for row in desk.queue().rows}
    assert len(rows) == 5
    assert [rows[r.id].quarantined for r in requests] == [True, True, True, False, False]
    # Folded without the skipped event: the first request was never classified, so no priority.
    assert rows[requests[0].id].priority is None
    assert rows[requests[4].id].priority == "high"
    clock.advance(days=30)
    assert {alert.request_id for alert in desk.breaches()} >= {requests[4].id}
    assert len(desk.audit_log(limit=100).rows) == 12
    kpis = desk.kpis(since=clock.now - timedelta(days=60), until=clock.now)
    assert kpis.requests == 2  # the three damaged requests are left out of every figure
    assert kpis.skipped == 3
    assert desk.queue_as_of(clock.now).total == 5


def test_process_mining_exports_skip_the_unreadable_events_and_flag_their_requests(
    store: Store, clock: FakeClock
) -> None:
    desk, requests = damaged(store, clock)
    desk.rebuild_projections()
    out = io.BytesIO()
    assert desk.export(out, format="xes") == 12  # as the audit log: the readable events
    root = ET.fromstring(out.getvalue())  # noqa: S314 - our own output
    traces = root.findall("{http://www.xes-standard.org/}trace")
    flags = [
        next(a.get("value") for a in trace if a.get("key") == "quarantined") for trace in traces
    ]
    assert flags == ["true", "true", "true", "false", "false"]
    out = io.BytesIO()
    assert desk.export(out, format="ocel", request=requests[1]) == 2
    assert [e["id"] for e in json.loads(out.getvalue())["events"]] == ["event:4", "event:5"]


def test_reads_and_commands_of_a_damaged_request_raise_a_typed_error(
    store: Store, clock: FakeClock
) -> None:
    desk, requests = damaged(store, clock)
    for request, version in ((requests[0], 2), (requests[1], 3), (requests[2], 2)):
        for read in (
            lambda r=request: desk.get(r),
            lambda r=request: desk.get(r.id),
            lambda r=request: desk.get(r, as_of=clock.now),
            lambda r=request: desk.history(r),
            lambda r=request: desk.sla(r),
            lambda r=request: desk.assign(r, team="x", actor="agent:a"),
        ):
            with pytest.raises(CorruptEventError) as raised:
                read()
            assert raised.value.code == "corrupt_event"
            assert (raised.value.request_id, raised.value.version) == (request.id, version)
            assert str(request.id) in str(raised.value)
    with pytest.raises(CorruptEventError) as raised:
        desk.history(requests[1])
    assert raised.value.position == 6
    # Other requests read and take commands as before.
    assert desk.get(requests[4]).priority == "high"
    desk.report_progress(requests[4], message="on it", actor="agent:a")
    assert desk.get(requests[4]).version == 4
    assert [e.event_type for e in desk.history(requests[3])][-1] == "Assigned"
    assert desk.get(requests[3]).priority == "low"  # well-formed: only verify names it


def test_a_follower_skips_the_same_events_as_a_rebuild(store: Store, clock: FakeClock) -> None:
    writer = store.open_desk(projections="external")
    requests = history(writer, clock, 3)
    store.set_state(requests[1], 2, GARBAGE)
    follower = store.open_desk(projections="external")
    follower.catch_up()
    more = history(writer, clock, 2)
    store.set_state(more[0], 3, INVALID)
    stop = threading.Event()
    thread = threading.Thread(
        target=follower.follow, args=(stop,), kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        for _ in range(200):
            if all(s.lag == 0 for s in follower.projection_status()):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(10)
    incremental = (quarantine_keys(follower), _rows(follower))
    assert [key[:4] for key in incremental[0]] == [
        (5, requests[1].id, 2, "unreadable"),
        (12, more[0].id, 3, "invalid"),
    ]
    follower.rebuild_projections()
    assert (quarantine_keys(follower), _rows(follower)) == incremental


def _rows(desk: ServiceDesk) -> list[tuple[object, ...]]:
    return [
        (row.request_id, row.status, row.priority, row.team, row.quarantined)
        for row in desk.queue(status=["new", "classified", "assigned"]).rows
    ]


def test_a_desk_with_the_wrong_cipher_key_is_refused_not_quarantined(
    tmp_path: Path, clock: FakeClock
) -> None:
    from servflow import StoreError, new_cipher_key  # noqa: PLC0415

    path = str(tmp_path / "secret.db")
    with ServiceDesk.sqlite(path, clock=clock, cipher_key=new_cipher_key()) as desk:
        history(desk, clock, 2)
    with ServiceDesk.sqlite(path, clock=clock, cipher_key=new_cipher_key()) as wrong:
        with pytest.raises(StoreError, match="cipher key") as refused:
            wrong.rebuild_projections()
        assert not isinstance(refused.value, CorruptEventError)
        assert wrong.quarantine() == []


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def damaged_db(tmp_path: Path, clock: FakeClock) -> tuple[str, list[Request]]:
    path = tmp_path / "damaged.db"
    with ServiceDesk.sqlite(str(path), clock=clock) as desk:
        requests = history(desk, clock, 3)
    with sqlite3.connect(path) as connection:
        for request, version in ((requests[0], 2), (requests[2], 3)):
            connection.execute(
                "UPDATE stored_events SET state = ? "
                "WHERE originator_id = ? AND originator_version = ?",
                (GARBAGE, request.id.hex, version),
            )
    return str(path), requests


def cli(db: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", db, *args], env={"COLUMNS": "250"})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_command_line_prints_messages_not_tracebacks(
    damaged_db: tuple[str, list[Request]],
) -> None:
    db, requests = damaged_db
    code, out, err = cli(db, "request", "show", "SR-000001")
    assert code == 1
    assert out == ""
    assert err.startswith("error[corrupt_event]: ")
    assert str(requests[0].id) in err
    assert " v2 " in err
    assert cli(db, "request", "show", "SR-000002")[0] == 0

    code, out, _ = cli(db, "projections", "rebuild", "--json")
    assert code == 0
    assert json.loads(out)["events"] == 9
    code, out, _ = cli(db, "queue")
    assert code == 0
    assert "SR-000001 ⚠" in out
    assert "SR-000002 ⚠" not in out
    assert "could not be read" in out
    code, out, _ = cli(db, "projections", "status", "--json")
    assert code == 0
    assert {row["skipped"] for row in json.loads(out)} == {2}
    code, out, _ = cli(db, "projections", "status")
    assert code == 0
    assert "projections quarantine" in out

    code, out, _ = cli(db, "projections", "quarantine", "--json")
    assert code == 1
    assert [(q["position"], q["version"]) for q in json.loads(out)] == [(2, 2), (9, 3)]
    code, out, _ = cli(db, "projections", "quarantine")
    assert code == 1
    assert "2 stored events could not be read" in out

    code, out, _ = cli(db, "audit", "verify")
    assert code == 1
    assert "2 breaks in all" in out
    assert "1. [altered] position 2" in out
    assert "2. [altered] position 9" in out
    code, out, _ = cli(db, "audit", "verify", "--json")
    assert code == 1
    report = json.loads(out)
    assert [(b["position"], b["version"]) for b in report["breaks"]] == [(2, 2), (9, 3)]


def test_a_sound_store_has_an_empty_quarantine_on_the_command_line(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = str(tmp_path / "sound.db")
    with ServiceDesk.sqlite(path, clock=clock) as desk:
        history(desk, clock, 1)
    code, out, _ = cli(path, "projections", "quarantine")
    assert code == 0
    assert "No quarantined events" in out


# -- rebuild equals incremental, corrupt events sprinkled in ----------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    damage=st.lists(
        st.tuples(st.integers(0, 5), st.integers(2, 3), st.sampled_from(["garbage", "invalid"])),
        max_size=4,
        unique_by=lambda d: (d[0], d[1]),
    ),
    batch=st.integers(1, 7),
)
def test_incremental_following_equals_a_rebuild_with_corrupt_events(
    tmp_path_factory: pytest.TempPathFactory,
    damage: list[tuple[int, int, str]],
    batch: int,
) -> None:
    clock = FakeClock()
    path = tmp_path_factory.mktemp("prop") / "p.db"
    with ServiceDesk.sqlite(str(path), clock=clock, projections="external") as writer:
        requests = history(writer, clock, 6)
    with sqlite3.connect(path) as connection:
        for index, version, how in damage:
            connection.execute(
                "UPDATE stored_events SET state = ? "
                "WHERE originator_id = ? AND originator_version = ?",
                (GARBAGE if how == "garbage" else INVALID, requests[index].id.hex, version),
            )
    with ServiceDesk.sqlite(str(path), clock=clock, projections="external") as desk:
        projector = desk._stores.projector
        while projector.catch_up(batch_size=batch, limit=batch):
            pass
        incremental = (quarantine_keys(desk), _rows(desk))
        desk.rebuild_projections()
        assert (quarantine_keys(desk), _rows(desk)) == incremental
        assert len(incremental[0]) == len(damage)
        flagged = {row[0] for row in incremental[1] if row[4]}
        assert flagged == {requests[index].id for index, _, _ in damage}
