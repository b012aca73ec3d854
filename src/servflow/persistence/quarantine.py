"""Quarantine: stored events the projections could not read, skipped and recorded.

An event whose stored row cannot be decoded (``CorruptEventError``) must not stop every view:
the projector hands the projections an ``Unreadable`` marker in its place (folds ignore it, or
flag the request's row) and records it in ``sf_quarantine``, one row per projection that skipped
it, in the transaction that records the projection's position. A rebuild forgets a projection's
rows with its tables and records them again as it replays, so a rebuild and incremental
following leave the same quarantine, as they leave the same views.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from servflow.domain.values import Value
from servflow.errors import CorruptEventError
from servflow.persistence.sql import Tx, from_micros, micros

__all__ = ["QUARANTINE_TABLE", "QuarantinedEvent", "Unreadable", "decoded"]

QUARANTINE_TABLE = "sf_quarantine"


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Stands in a batch for a stored event that could not be decoded (see the module)."""

    originator_id: UUID
    originator_version: int
    position: int
    topic: str
    kind: str
    reason: str

    @classmethod
    def of(cls, position: int, stored: StoredEvent, error: CorruptEventError) -> Unreadable:
        """The marker of ``stored``, which failed to decode with ``error``."""
        return cls(
            # servflow's stores keep UUIDs; the nil UUID stands for any other id.
            originator_id=error.request_id or UUID(int=0),
            originator_version=stored.originator_version,
            position=position,
            topic=stored.topic,
            kind=error.kind,
            reason=error.reason,
        )


class QuarantinedEvent(Value):
    """A stored event the projections skipped because it could not be read, and why."""

    #: Its position in the log.
    position: int
    request_id: UUID
    version: int
    topic: str
    #: ``unreadable`` (its bytes), ``unknown_topic`` or ``invalid`` (its fields).
    kind: str
    reason: str
    #: When a projection first skipped it (the projector's wall clock).
    recorded_at: datetime
    #: The projections that skipped it (and so lack it).
    projections: tuple[str, ...]


def decoded(
    to_event: Callable[[StoredEvent], object], pairs: Sequence[tuple[int, StoredEvent]]
) -> list[tuple[int, object]]:
    """``(position, event)`` for stored events, an ``Unreadable`` marker where one is corrupt.

    The whole batch is decoded in one comprehension; only a batch with a corrupt event is
    decoded again one event at a time (the ``try`` costs nothing until then).
    """
    try:
        return [(position, to_event(stored)) for position, stored in pairs]
    except CorruptEventError:
        pass
    found: list[tuple[int, object]] = []
    for position, stored in pairs:
        try:
            found.append((position, to_event(stored)))
        except CorruptEventError as error:
            found.append((position, Unreadable.of(position, stored, error)))
    return found


def create(tx: Tx) -> None:
    """Create the quarantine table if it does not exist."""
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {tx.dialect.table(QUARANTINE_TABLE)} ("
        "projection TEXT NOT NULL, position BIGINT NOT NULL, request_id TEXT NOT NULL, "
        "version INTEGER NOT NULL, topic TEXT NOT NULL, kind TEXT NOT NULL, "
        "reason TEXT NOT NULL, recorded_at BIGINT NOT NULL, PRIMARY KEY (projection, position))"
    )


def record(tx: Tx, projection: str, markers: Sequence[Unreadable]) -> None:
    """Record that ``projection`` skipped these events (once each)."""
    if not markers:
        return
    now = micros(datetime.now(UTC))
    tx.executemany(
        f"INSERT INTO {tx.dialect.table(QUARANTINE_TABLE)} (projection, position, request_id, "  # noqa: S608
        "version, topic, kind, reason, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (projection, position) DO NOTHING",
        [
            (
                projection,
                m.position,
                str(m.originator_id),
                m.originator_version,
                m.topic,
                m.kind,
                m.reason,
                now,
            )
            for m in markers
        ],
    )


def forget(tx: Tx, projection: str) -> None:
    """Forget what ``projection`` skipped (its tables are dropped for a rebuild)."""
    tx.execute(
        f"DELETE FROM {tx.dialect.table(QUARANTINE_TABLE)} WHERE projection = ?",  # noqa: S608
        (projection,),
    )


def counts(tx: Tx) -> dict[str, int]:
    """How many events each projection skipped."""
    return {
        str(r["projection"]): int(r["n"])
        for r in tx.query(
            f"SELECT projection, COUNT(*) AS n FROM {tx.dialect.table(QUARANTINE_TABLE)} "  # noqa: S608
            "GROUP BY projection"
        )
    }


def records(tx: Tx) -> list[QuarantinedEvent]:
    """Every quarantined event, in log order, with the projections that skipped it."""
    found: dict[int, QuarantinedEvent] = {}
    for r in tx.query(
        f"SELECT projection, position, request_id, version, topic, kind, reason, recorded_at "  # noqa: S608
        f"FROM {tx.dialect.table(QUARANTINE_TABLE)} ORDER BY position, projection"
    ):
        position = int(r["position"])
        recorded_at = from_micros(int(r["recorded_at"]))
        assert recorded_at is not None  # noqa: S101 - NOT NULL
        known = found.get(position)
        if known is None:
            found[position] = QuarantinedEvent(
                position=position,
                request_id=UUID(str(r["request_id"])),
                version=int(r["version"]),
                topic=str(r["topic"]),
                kind=str(r["kind"]),
                reason=str(r["reason"]),
                recorded_at=recorded_at,
                projections=(str(r["projection"]),),
            )
        else:
            found[position] = known.model_copy(
                update={
                    "projections": (*known.projections, str(r["projection"])),
                    "recorded_at": min(known.recorded_at, recorded_at),
                }
            )
    return list(found.values())
