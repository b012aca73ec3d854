"""Write baselines: a bare ``eventsourcing`` application, and raw driver inserts.

The bare application is what servflow would cost with no servflow in it: a plain
``eventsourcing.domain.Aggregate`` with dataclass events, the library's default mapper and
JSON transcoder, one ``save`` per command, and the aggregate loaded from the repository
before each command, exactly as the desk does. Each event carries a ``pad`` string sized so
that its stored payload is as long as the servflow event it stands for.

The raw writers insert rows of the same sizes (servflow's own stored bytes and topics) with
the plain driver, one transaction per event: the physical limit of the store.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from benchmarks.common import POSTGRES_DSN, StoreKind, open_desk, pg_connect, qualified, store_of
from benchmarks.workload import LIFECYCLE_EVENTS, T0, run_lifecycle, team


class BareRequest(Aggregate):
    """A service request with nothing but the library: dataclass events, no validation.

    ``occurred_at`` is an ISO string: the library's JSON wraps datetimes in a verbose
    ``_type_`` envelope, and the bare events must not be larger than servflow's.
    """

    @event("Opened")
    def __init__(
        self,
        ticket_code: str,
        customer: str,
        symptom: str,
        actor: str,
        occurred_at: str,
        pad: str,
    ) -> None:
        self.ticket_code = ticket_code
        self.customer = customer
        self.symptom = symptom
        self.status = "new"
        self.occurred_at = occurred_at
        self.last_actor = actor
        del pad  # only there to give the stored event servflow's size

    @event("Classified")
    def classify(self, priority: str, actor: str, occurred_at: str, pad: str) -> None:
        self.priority = priority
        self.status = "classified"
        self.occurred_at = occurred_at
        self.last_actor = actor
        del pad

    @event("Assigned")
    def assign(self, team: str, agent: str, actor: str, occurred_at: str, pad: str) -> None:
        self.team = team
        self.agent = agent
        self.status = "assigned"
        self.occurred_at = occurred_at
        self.last_actor = actor
        del pad

    @event("Probed")
    def probe(self, findings: str, actor: str, occurred_at: str, pad: str) -> None:
        self.findings = findings
        self.occurred_at = occurred_at
        self.last_actor = actor
        del pad

    @event("ActionTaken")
    def act(self, action: str, actor: str, occurred_at: str, pad: str) -> None:
        self.action = action
        self.occurred_at = occurred_at
        self.last_actor = actor
        del pad

    @event("Completed")
    def complete(self, resolution: str, actor: str, occurred_at: str, pad: str) -> None:
        self.resolution = resolution
        self.status = "completed"
        self.occurred_at = occurred_at
        self.last_actor = actor
        del pad

    @event("CustomerAccepted")
    def accept(self, satisfaction: int, actor: str, occurred_at: str, pad: str) -> None:
        self.satisfaction = satisfaction
        self.status = "closed"
        self.occurred_at = occurred_at
        self.last_actor = actor
        del pad


class BareApp(Application[UUID]):
    """The bare application: the library's defaults throughout."""

    name = "bare"
    env: ClassVar[dict[str, str]] = {}


def bare_app(kind: StoreKind, *, path: Path | None = None, schema: str | None = None) -> BareApp:
    """A bare application on the given store."""
    if kind == "memory":
        return BareApp()
    if kind == "sqlite":
        return BareApp(
            env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        )
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - optional extra

    params = conninfo_to_dict(POSTGRES_DSN)
    if schema is None:
        msg = "a PostgreSQL bare app needs a schema"
        raise ValueError(msg)
    create_schema(schema)
    return BareApp(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
            "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_SCHEMA": schema,
        }
    )


def create_schema(schema: str) -> None:
    """Create a PostgreSQL schema if it does not exist."""
    from psycopg import sql  # noqa: PLC0415

    with pg_connect() as connection:
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


@dataclass(frozen=True)
class Sample:
    """servflow's stored events for one lifecycle, and the bare pads that match their sizes."""

    topics: tuple[str, ...]
    states: tuple[bytes, ...]
    pads: tuple[str, ...]
    bare_sizes: tuple[int, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """servflow's stored payload sizes, in lifecycle order."""
        return tuple(len(s) for s in self.states)


_BARE_STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("classify", {"priority": "high"}),
    ("assign", {}),
    ("probe", {"findings": "Drops at 21:00 daily"}),
    ("act", {"action": "Updated the firmware"}),
    ("complete", {"resolution": "Firmware 2.1 installed"}),
    ("accept", {"satisfaction": 5}),
)


def bare_command(
    app: BareApp, index: int, step: int, ref: UUID | None, pads: tuple[str, ...], stamp: str
) -> UUID:
    """The bare application's step ``step`` of request ``index``: load, change, save."""
    actor = "agent:ana"
    if ref is None:
        request = BareRequest(
            ticket_code=f"SR-{index:06d}",
            customer=f"cust-{index % 1000:04d}",
            symptom="The router drops the line every evening",
            actor=actor,
            occurred_at=stamp,
            pad=pads[0],
        )
        app.save(request)
        return request.id
    command, fields = _BARE_STEPS[step - 1]
    if command == "assign":
        fields = {"team": team(index), "agent": "ana"}
    loaded: BareRequest = app.repository.get(ref)
    getattr(loaded, command)(
        actor=actor if command != "accept" else f"customer:cust-{index % 1000:04d}",
        occurred_at=stamp,
        pad=pads[step],
        **fields,
    )
    app.save(loaded)
    return ref


def bare_lifecycle(app: BareApp, index: int, pads: tuple[str, ...], now: datetime) -> None:
    """The bare application's lifecycle: load, change, save, one command at a time."""
    stamp = now.isoformat()
    ref = bare_command(app, index, 0, None, pads, stamp)
    for step in range(1, LIFECYCLE_EVENTS):
        bare_command(app, index, step, ref, pads, stamp)


def calibrate() -> Sample:
    """Measure servflow's stored sizes for one lifecycle and size the bare pads to match."""
    with open_desk("memory") as desk:
        run_lifecycle(desk, 1)
        store = store_of(desk)
        notifications = store.recorder.select_notifications(start=1, limit=100)
    topics = tuple(n.topic for n in notifications)
    states = tuple(bytes(n.state) for n in notifications)
    if len(states) != LIFECYCLE_EVENTS:
        msg = f"expected {LIFECYCLE_EVENTS} events per lifecycle, got {len(states)}"
        raise RuntimeError(msg)

    def bare_sizes(pads: tuple[str, ...]) -> tuple[int, ...]:
        app = BareApp()
        bare_lifecycle(app, 1, pads, T0 + timedelta(days=1))
        stored = app.recorder.select_notifications(start=1, limit=100)
        return tuple(len(n.state) for n in stored)

    base = bare_sizes(("",) * LIFECYCLE_EVENTS)
    pads = tuple("x" * max(0, len(s) - b) for s, b in zip(states, base, strict=True))
    return Sample(topics=topics, states=states, pads=pads, bare_sizes=bare_sizes(pads))


class RawSQLite:
    """Raw ``sqlite3`` inserts into a table shaped like the library's, one commit per event."""

    def __init__(self, path: Path, sample: Sample) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS raw_events (originator_id TEXT, "
            "originator_version INTEGER, topic TEXT, state BLOB, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        self._sample = sample

    def lifecycle(self) -> None:
        """Insert one lifecycle's seven rows, one transaction each."""
        originator = str(uuid.uuid4())
        cursor = self._connection.cursor()
        for version, (topic, state) in enumerate(
            zip(self._sample.topics, self._sample.states, strict=True), start=1
        ):
            cursor.execute("BEGIN")
            cursor.execute(
                "INSERT INTO raw_events VALUES (?, ?, ?, ?)", (originator, version, topic, state)
            )
            cursor.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


class RawPostgres:
    """Raw ``psycopg`` inserts into a table shaped like the library's, one commit per event."""

    def __init__(self, schema: str, sample: Sample) -> None:
        create_schema(schema)
        self._connection = pg_connect(autocommit=False)
        self._table = qualified(schema, "raw_events")
        self._connection.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} (originator_id uuid NOT NULL, "
            "originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        self._connection.commit()
        self._sample = sample

    def lifecycle(self) -> None:
        """Insert one lifecycle's seven rows, one transaction each."""
        originator = uuid.uuid4()
        statement = (
            f"INSERT INTO {self._table} (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s)"
        )
        for version, (topic, state) in enumerate(
            zip(self._sample.topics, self._sample.states, strict=True), start=1
        ):
            self._connection.execute(statement, (originator, version, topic, state), prepare=True)
            self._connection.commit()

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()
