"""In an erasable store the views hold personal fields sealed, as their events do.

The audit view stores each personal field as the very envelope its event was stored with (same
key, same bytes), so a copy of the database shows no customer's name or texts in any view
column, while ``audit_log``, exports and the CLI open them; forgetting the customer leaves them
``ERASED`` there and the views equal a rebuild row for row, byte for byte. A store that is not
erasable keeps its views in clear, as before.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_erasure import (
    COMMENT,
    NAME,
    NOTE,
    REOPEN,
    SECRETS,
    SYMPTOM,
    exported,
    own,
    table_texts,
    worked,
)

from conftest import (
    POSTGRES_DSN,
    DeskFactory,
    FakeClock,
    drop_schema,
    require_postgres,
    view_rows,
)
from servflow import ERASED, ServiceDesk

ALL_SECRETS = (*SECRETS, *(own(s, "globex") for s in SECRETS))


def opened_texts(desk: ServiceDesk, customer: str) -> dict[str, object]:
    """The personal fields of a customer's events, as ``audit_log`` shows them."""
    found: dict[str, object] = {}
    for row in desk.audit_log(customer=customer, limit=1000).rows:
        data = row.data
        if row.event_type == "Opened":
            found["name"] = data["customer"]["name"]
            found["symptom"] = data["symptom"]
        elif row.event_type == "CustomerResponded":
            found["note"] = data["note"]
        elif row.event_type == "Reopened":
            found["reopen"] = data["reason"]
        elif row.event_type == "CustomerAccepted":
            found["comment"] = data["comment"]
    return found


def clear_texts(customer: str) -> dict[str, object]:
    return {
        "name": own(NAME, customer),
        "symptom": own(SYMPTOM, customer),
        "note": own(NOTE, customer),
        "reopen": own(REOPEN, customer),
        "comment": own(COMMENT, customer),
    }


def test_the_views_of_an_erasable_store_hold_no_personal_text_in_clear(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)
    worked(desk, clock)
    worked(desk, clock, customer="globex")

    haystack = table_texts(desk)  # every column of every view table, the keys, the chain
    for secret in ALL_SECRETS:
        assert secret not in haystack
    assert '"sealed"' in haystack
    assert opened_texts(desk, "acme") == clear_texts("acme")
    assert opened_texts(desk, "globex") == clear_texts("globex")
    assert NOTE in exported(desk)
    assert NOTE in exported(desk, format="csv")
    followed = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == followed  # the same envelopes: byte for byte

    clock.advance(minutes=1)
    desk.forget_customer("acme", actor="supervisor:eva")

    assert set(opened_texts(desk, "acme").values()) == {ERASED}
    assert opened_texts(desk, "globex") == clear_texts("globex")
    haystack = table_texts(desk)
    for secret in ALL_SECRETS:
        assert secret not in haystack
    followed = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == followed
    assert opened_texts(desk, "globex") == clear_texts("globex")
    assert desk.verify().intact


def test_a_store_that_is_not_erasable_keeps_its_views_in_clear(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    worked(desk, clock)
    haystack = table_texts(desk)
    for secret in SECRETS:
        assert secret in haystack
    assert '"sealed"' not in haystack
    assert desk._stores.audit.keyring is None
    assert opened_texts(desk, "acme") == clear_texts("acme")


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_reader_desk_sees_a_forgetting_in_the_view_before_its_rows_are_rewritten(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    writer = make_desk(erasable=True, projections="external")
    worked(writer, clock)
    reader = make_desk()
    reader.catch_up()
    assert opened_texts(reader, "acme") == clear_texts("acme")  # its keys are cached now
    writer.forget_customer("acme", actor="supervisor:eva")
    # Nothing applied the forgetting to the view yet: its envelopes' key is gone all the same.
    assert set(opened_texts(reader, "acme").values()) == {ERASED}
    assert SYMPTOM not in exported(reader)
    reader.catch_up()
    assert set(opened_texts(reader, "acme").values()) == {ERASED}


# -- a follower process --------------------------------------------------------------------


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


def _desk(db: str, schema: str | None, clock: FakeClock, **options: object) -> ServiceDesk:
    if schema is None:
        return ServiceDesk.sqlite(db, clock=clock, **options)  # type: ignore[arg-type]
    return ServiceDesk.postgres(db, schema=schema, clock=clock, **options)  # type: ignore[arg-type]


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
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
            _, errors = follower.communicate(timeout=30)
        assert follower.returncode == 0, errors


def _caught_up(desk: ServiceDesk) -> bool:
    return all(s.position == s.head for s in desk.projection_status())


def test_a_follower_process_seals_the_views_as_the_desk_inline_does(
    shared_store: tuple[str, str | None], clock: FakeClock
) -> None:
    db, schema = shared_store
    inline = _desk(db, schema, clock, erasable=True)
    worked(inline, clock)
    inline_rows = view_rows(inline)
    external = _desk(db, schema, clock, projections="external")
    assert external.erasable  # the store says so
    worked(external, clock, customer="globex")
    with running_follower(db, schema):
        _wait_for(lambda: _caught_up(external))
        followed = view_rows(external)
        haystack = table_texts(external)
        for secret in ALL_SECRETS:
            assert secret not in haystack
        assert opened_texts(external, "globex") == clear_texts("globex")
        clock.advance(minutes=1)
        external.forget_customer("globex", actor="supervisor:eva")
        _wait_for(lambda: _caught_up(external))
    # What the desk projected inline is untouched by the follower, byte for byte.
    for table, rows in inline_rows.items():
        assert all(row in view_rows(external)[table] for row in rows if "n" not in row)
    assert set(opened_texts(external, "globex").values()) == {ERASED}
    assert opened_texts(external, "acme") == clear_texts("acme")
    assert followed != view_rows(external)  # the forgetting rewrote globex's rows
    followed = view_rows(external)
    external.rebuild_projections()
    assert view_rows(external) == followed
    inline.close()
    external.close()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["acme", "globex", "initech"]), st.booleans()),
        min_size=1,
        max_size=8,
    ),
    text=st.text(
        alphabet=st.characters(whitelist_categories=("L", "N", "P", "S")), min_size=4, max_size=30
    ),
)
def test_whatever_is_written_and_forgotten_the_views_hold_nothing_in_clear_and_equal_a_rebuild(
    steps: list[tuple[str, bool]], text: str
) -> None:
    clock = FakeClock()
    desk = ServiceDesk(erasable=True, clock=clock)
    written: dict[str, list[str]] = {}
    for i, (customer, forget) in enumerate(steps):
        if forget and written.get(customer):
            desk.forget_customer(customer, actor="supervisor:eva")
            written[customer] = []
            continue
        symptom = f"{text} #{i} {uuid.uuid4().hex}"
        desk.open(
            customer={"id": customer, "name": f"{customer} {uuid.uuid4().hex}"},
            channel="web",
            kind="claim",
            stage="sale",
            symptom=symptom,
            actor=f"customer:{customer}",
        )
        written.setdefault(customer, []).append(symptom)
        clock.advance(minutes=1)
    haystack = table_texts(desk)
    for symptoms in written.values():
        for symptom in symptoms:
            assert symptom not in haystack
    shown = {row.data["symptom"] for row in desk.audit_log(event_type="Opened", limit=1000).rows}
    assert {s for symptoms in written.values() for s in symptoms} <= shown
    followed = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == followed
    desk.close()
