"""Tamper evidence: change, delete or move a real stored row and ``verify`` names it."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import POSTGRES_DSN, FakeClock, drop_schema, require_postgres
from histories import assigned_requests
from servflow import AuditKeyMismatchError, Request, ServiceDesk

Execute = Callable[[str, tuple[object, ...]], None]


class Store:
    """A desk plus raw SQL access to the very rows it stored."""

    def __init__(self, desk: ServiceDesk, execute: Execute, events: str, chain: str) -> None:
        self.desk = desk
        self.execute = execute
        self.events = events
        self.chain = chain


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "tamper.db"
        desk = ServiceDesk.sqlite(str(path), clock=clock)

        def run_sqlite(sql: str, params: tuple[object, ...]) -> None:
            with sqlite3.connect(path) as connection:
                connection.execute(sql.replace("%s", "?"), params)

        yield Store(desk, run_sqlite, "stored_events", "sf_chain")
        desk.close()
        return
    request.applymarker(pytest.mark.postgres)
    require_postgres()
    import psycopg  # noqa: PLC0415

    schema = f"t_{uuid.uuid4().hex[:12]}"
    desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema, clock=clock)

    def run_postgres(sql: str, params: tuple[object, ...]) -> None:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as connection:
            connection.execute(sql, params)

    yield Store(desk, run_postgres, f"{schema}.servflow_events", f"{schema}.sf_chain")
    desk.close()
    drop_schema(schema)


def a_small_history(desk: ServiceDesk, clock: FakeClock) -> list[Request]:
    return assigned_requests(desk, clock, 3)


def stored_id(store: Store, request: Request) -> str:
    return request.id.hex if store.events == "stored_events" else str(request.id)


def test_an_untouched_log_verifies_and_reports_its_head(store: Store, clock: FakeClock) -> None:
    a_small_history(store.desk, clock)
    report = store.desk.verify()
    assert report.intact
    assert report.events_checked == 9
    assert report.head == store.desk.audit_head()


def test_an_altered_payload_is_named(store: Store, clock: FakeClock) -> None:
    requests = a_small_history(store.desk, clock)
    store.execute(
        f"UPDATE {store.events} SET state = %s "  # noqa: S608
        "WHERE originator_id = %s AND originator_version = 2",
        (b'{"priority":"low"}', stored_id(store, requests[1])),
    )
    report = store.desk.verify()
    assert not report.intact
    assert report.request_id == requests[1].id
    assert report.version == 2
    assert "altered" in (report.problem or "")


def test_a_deleted_event_is_named(store: Store, clock: FakeClock) -> None:
    requests = a_small_history(store.desk, clock)
    store.execute(
        f"DELETE FROM {store.events} WHERE originator_id = %s AND originator_version = 2",  # noqa: S608
        (stored_id(store, requests[0]),),
    )
    report = store.desk.verify()
    assert not report.intact
    assert report.request_id == requests[0].id
    assert report.version == 2


def test_two_swapped_versions_are_named(store: Store, clock: FakeClock) -> None:
    requests = a_small_history(store.desk, clock)
    ident = stored_id(store, requests[2])
    for old, new in ((2, 99), (3, 2), (99, 3)):
        store.execute(
            f"UPDATE {store.events} SET originator_version = %s "  # noqa: S608
            "WHERE originator_id = %s AND originator_version = %s",
            (new, ident, old),
        )
    report = store.desk.verify()
    assert not report.intact
    assert report.request_id == requests[2].id
    assert report.version in {2, 3}


def test_removing_the_newest_events_with_their_links_is_caught_by_an_exported_head(
    store: Store, clock: FakeClock
) -> None:
    requests = a_small_history(store.desk, clock)
    head = store.desk.audit_head()
    assert head is not None
    ident = stored_id(store, requests[2])
    store.execute(
        f"DELETE FROM {store.events} WHERE originator_id = %s AND originator_version = 3",  # noqa: S608
        (ident,),
    )
    store.execute(
        f"DELETE FROM {store.chain} WHERE request_id = %s AND version = 3",  # noqa: S608
        (str(requests[2].id),),
    )
    assert store.desk.verify().intact  # self-consistent without the head ...
    report = store.desk.verify(expected=head)
    assert not report.intact  # ... but not with it
    assert "exported head" in (report.problem or "")


def test_an_event_inserted_behind_servflows_back_is_named(store: Store, clock: FakeClock) -> None:
    requests = a_small_history(store.desk, clock)
    store.execute(
        f"INSERT INTO {store.events} (originator_id, originator_version, topic, state) "  # noqa: S608
        "VALUES (%s, 4, %s, %s)",
        (
            stored_id(store, requests[0]),
            "servflow.domain.request:ServiceRequest.Cancelled",
            b"{}",
        ),
    )
    report = store.desk.verify()
    assert not report.intact
    assert report.request_id == requests[0].id
    assert report.version == 4


def test_a_keyed_chain_differs_from_an_unkeyed_one(tmp_path: Path, clock: FakeClock) -> None:
    plain = ServiceDesk.sqlite(str(tmp_path / "plain.db"), clock=clock)
    keyed = ServiceDesk.sqlite(str(tmp_path / "keyed.db"), clock=clock, audit_key=b"secret")
    for desk in (plain, keyed):
        desk.open(
            customer="c", channel="web", kind="claim", stage="sale", symptom="s", actor="agent:a"
        )
    plain_head, keyed_head = plain.audit_head(), keyed.audit_head()
    assert plain_head is not None
    assert keyed_head is not None
    assert plain_head.log_digest != keyed_head.log_digest
    assert keyed.verify().intact
    plain.close()
    keyed.close()
    with pytest.raises(AuditKeyMismatchError):  # refused as it opens, before verify
        ServiceDesk.sqlite(str(tmp_path / "keyed.db"), clock=clock, audit_key=b"guess")


def test_a_desk_in_memory_keeps_a_chain_too(clock: FakeClock) -> None:
    desk = ServiceDesk(clock=clock)
    a_small_history(desk, clock)
    report = desk.verify()
    assert report.intact
    assert report.events_checked == 9
