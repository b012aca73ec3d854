"""Shared fixtures: a controllable clock and a desk on each store (memory, SQLite, PostgreSQL).

PostgreSQL tests use the server named by ``SERVFLOW_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``), each in a schema of its own that is dropped
afterwards. Without a server, or without that database on it, they skip saying which, unless
``SERVFLOW_REQUIRE_POSTGRES=1`` (as in CI), where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from servflow import Request, ServiceDesk

settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# CI draws the same examples every run (a gate must not turn red on a new draw); "explore"
# draws new ones each time, many more, to look for what CI has not met yet.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

POSTGRES_DSN = os.environ.get("SERVFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("SERVFLOW_REQUIRE_POSTGRES") == "1"
STORES = ("memory", "sqlite", "postgres")


@dataclass
class FakeClock:
    """A clock tests move by hand; starts on Monday 2026-03-02 09:00 UTC."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def postgres_available(dsn: str = POSTGRES_DSN) -> str | None:
    """None when the test database answers, else why not: no server, or no such database."""
    try:
        import psycopg  # noqa: PLC0415 - optional extra
        from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: PLC0415
    except ImportError:
        return "psycopg is not installed (pip install 'servflow[postgres]')"
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return None
    except psycopg.Error as error:
        refusal = " ".join(str(error).split())
    # The server may answer while the database the tests use is missing: say which.
    database = str(conninfo_to_dict(dsn).get("dbname") or "postgres")
    try:
        with psycopg.connect(make_conninfo(dsn, dbname="postgres"), connect_timeout=3):
            pass
    except psycopg.Error:
        # Down, unreachable, or refusing this user: libpq's own words say which.
        return f"cannot connect to PostgreSQL at {dsn}: {refusal}"
    return (
        f"the PostgreSQL server at {dsn} answers, but its database {database!r} does not "
        f"(create it: createdb -h HOST -U USER {database}, as README says): {refusal}"
    )


def require_postgres() -> None:
    """Skip (or, in CI, fail) when the test database cannot be reached, saying why."""
    reason = postgres_available()
    if reason is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"SERVFLOW_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def drop_schema(schema: str) -> None:
    """Remove a test schema and everything in it."""
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


DeskFactory = Callable[..., ServiceDesk]


def open_one(desk: ServiceDesk, **overrides: object) -> Request:
    """Open a request (a phone complaint from acme) with any field overridden."""
    fields: dict[str, object] = {
        "customer": "acme",
        "channel": "phone",
        "kind": "complaint",
        "stage": "post_sale",
        "symptom": "The router drops the line every evening",
        "actor": "agent:ana",
    }
    fields.update(overrides)
    return desk.open(**fields)  # type: ignore[arg-type]


def assigned(desk: ServiceDesk) -> Request:
    """Open a request, classify it and assign it to the network team's agent ana."""
    request = open_one(desk)
    desk.classify(request, priority="high", actor="agent:lead")
    return desk.assign(request, team="network", agent="ana", actor="agent:lead")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    """The name of the store a test runs on; PostgreSQL tests carry the ``postgres`` marker."""
    name: str = request.param
    if name == "postgres":
        request.applymarker(pytest.mark.postgres)
        require_postgres()
    return name


@pytest.fixture
def make_desk(store: str, tmp_path: Path, clock: FakeClock) -> Iterator[DeskFactory]:
    """Open desks on the test's store; desks made by one test share that store."""
    desks: list[ServiceDesk] = []
    schema = f"t_{uuid.uuid4().hex[:12]}"
    db = tmp_path / "servflow.db"

    def make(**kwargs: object) -> ServiceDesk:
        kwargs.setdefault("clock", clock)
        if store == "memory":
            if desks:
                pytest.fail("an in-memory store cannot be shared between desks")
            desk = ServiceDesk(**kwargs)  # type: ignore[arg-type]
        elif store == "sqlite":
            desk = ServiceDesk.sqlite(str(db), **kwargs)  # type: ignore[arg-type]
        else:
            desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema, **kwargs)  # type: ignore[arg-type]
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        desk.close()
    if store == "postgres":
        drop_schema(schema)


@pytest.fixture
def desk(make_desk: DeskFactory) -> ServiceDesk:
    """A desk on the test's store, with the test's clock."""
    return make_desk()


@pytest.fixture
def memory_desk(clock: FakeClock) -> ServiceDesk:
    """A desk in memory, with the test's clock: for rules that do not depend on the store."""
    return ServiceDesk(clock=clock)


def view_rows(desk: ServiceDesk) -> dict[str, list[dict[str, Any]]]:
    """Every row of every projection's tables, in a stable order.

    Counters at zero are left out: followed views keep a team's zero where a rebuild has none.
    """
    projector = desk._stores.projector
    found: dict[str, list[dict[str, Any]]] = {}
    with projector.views.transaction(commit=False) as tx:
        for projection in projector.projections.values():
            for table in projection.tables():
                rows = tx.query(f"SELECT * FROM {projection.t(table)}")  # noqa: S608
                found[table] = sorted((r for r in rows if r.get("n", 1) != 0), key=repr)
    return found
