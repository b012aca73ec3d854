"""Reading the log by request: stored events with their positions in the whole log, decoded.

The library reads a request's events or the notification log; audits also need each event's
position, and many requests in one query. These readers get both from the events' own rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import groupby
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from servflow.domain.base import DomainEvent
from servflow.domain.request import ServiceRequest
from servflow.errors import CorruptEventError
from servflow.persistence.memory import MemoryRecorder
from servflow.persistence.quarantine import Unreadable
from servflow.persistence.sql import stored_bytes
from servflow.persistence.views import ViewStore

__all__ = ["LogReader", "occurred_by"]

_BATCH = 1000


class LogReader:
    """Reads requests' stored events, with log positions, from the events' own table."""

    def __init__(
        self, app: Application[UUID], views: ViewStore, *, batch_size: int = _BATCH
    ) -> None:
        self._app = app
        self._views = views
        self._batch = batch_size

    def stored(self, request_ids: Sequence[UUID]) -> list[tuple[int, StoredEvent]]:
        """The stored events of these requests with their log positions, request by request.

        One indexed query (per 500 requests) on the events' own table: the events and their
        positions come from the same rows, so they cannot disagree.
        """
        recorder = self._app.recorder
        if isinstance(recorder, MemoryRecorder):
            return recorder.stored_with_positions(request_ids)
        if len(request_ids) == 1:
            return list(self.stored_one(request_ids[0]))
        table: str = getattr(recorder, "events_table_name", "stored_events")
        postgres = self._views.dialect.name == "postgres"
        position = "notification_id" if postgres else "rowid"
        found: list[tuple[int, StoredEvent]] = []
        for start in range(0, len(request_ids), 500):
            chunk = request_ids[start : start + 500]
            keys: list[object] = [i if postgres else i.hex for i in chunk]
            with self._views.transaction(commit=False) as tx:
                records = tx.query(
                    f"SELECT {position} AS position, originator_id, originator_version, "  # noqa: S608
                    f"topic, state FROM {self._views.dialect.table(table)} "
                    f"WHERE originator_id IN ({', '.join('?' * len(keys))}) "
                    "ORDER BY originator_id, originator_version",
                    keys,
                )
            # Rows come ordered by request id; the caller's order of requests is restored
            # by a stable sort on it (nothing to sort for one request, as for a history).
            ids = {str(key): uid for key, uid in zip(keys, chunk, strict=True)}
            order = {uid: n for n, uid in enumerate(chunk)}
            events = [
                (
                    int(r["position"]),
                    StoredEvent(
                        originator_id=ids.get(str(r["originator_id"])) or _uuid(r["originator_id"]),
                        originator_version=int(r["originator_version"]),
                        topic=r["topic"],
                        state=stored_bytes(r["state"]),
                    ),
                )
                for r in records
            ]
            if len(chunk) > 1:
                events.sort(key=lambda p: order[_uuid(p[1].originator_id)])
            found.extend(events)
        return found

    def stored_one(self, request_id: UUID) -> Iterator[tuple[int, StoredEvent]]:
        """``stored`` for one request (a history, a time travel), as the hot path it is.

        The rows are read at once, in one short transaction; each ``StoredEvent`` is made as
        the caller iterates, so a time travel that stops half way makes only half of them.
        """
        recorder = self._app.recorder
        if isinstance(recorder, MemoryRecorder):
            return iter(recorder.stored_with_positions([request_id]))
        table: str = getattr(recorder, "events_table_name", "stored_events")
        postgres = self._views.dialect.name == "postgres"
        with self._views.transaction(commit=False) as tx:
            records = tx.rows(
                f"SELECT {'notification_id' if postgres else 'rowid'} AS position, "  # noqa: S608
                f"originator_version, topic, state FROM {self._views.dialect.table(table)} "
                "WHERE originator_id = ? ORDER BY originator_version",
                (request_id if postgres else request_id.hex,),
            )
        return (
            (position, StoredEvent(request_id, version, topic, stored_bytes(state)))
            for position, version, topic, state in records
        )

    def events(self, request_ids: Sequence[UUID]) -> Iterator[tuple[int, DomainEvent]]:
        """The events of these requests as domain events, with positions, request by request.

        An event that cannot be read raises ``CorruptEventError`` naming its position.
        """
        to_event = self._app.mapper.to_domain_event
        for position, stored in self.stored(request_ids):
            try:
                event = to_event(stored)
            except CorruptEventError as error:
                raise error.at(position) from None
            if isinstance(event, DomainEvent):
                yield position, event

    def events_as_of(
        self, request_ids: Sequence[UUID], at: datetime, *, skip_unreadable: bool = False
    ) -> Iterator[tuple[int, DomainEvent | Unreadable]]:
        """Each request's events that happened by ``at``, with positions, request by request.

        Occurrence never goes backwards within a request, so they are a prefix of its events:
        the rows after it are not even decoded (nor made into stored events, for one request).
        An event that cannot be read raises ``CorruptEventError`` naming its position, or with
        ``skip_unreadable`` comes as an ``Unreadable`` marker (folds that take markers).
        """
        if len(request_ids) == 1:
            # One request (a time travel): its rows are one group; stop at the first event
            # after ``at`` without making stored events of the rest.
            yield from self._prefix(
                self.stored_one(request_ids[0]), at, skip_unreadable=skip_unreadable
            )
            return
        for _, rows in groupby(self.stored(request_ids), key=lambda pair: pair[1].originator_id):
            yield from self._prefix(rows, at, skip_unreadable=skip_unreadable)

    def _prefix(
        self, rows: Iterable[tuple[int, StoredEvent]], at: datetime, *, skip_unreadable: bool
    ) -> Iterator[tuple[int, DomainEvent | Unreadable]]:
        """One request's events that happened by ``at`` (see ``events_as_of``)."""
        to_event = self._app.mapper.to_domain_event
        for position, record in rows:
            try:
                event = to_event(record)
            except CorruptEventError as error:
                if not skip_unreadable:
                    raise error.at(position) from None
                yield position, Unreadable.of(position, record, error)
                continue
            if not isinstance(event, DomainEvent):
                continue
            if not occurred_by(event, at):
                return
            yield position, event

    def ids_after(self, position: int, *, topics: Sequence[str] = ()) -> Iterator[UUID]:
        """Ids of the records with events (of these topics, if any) after ``position``."""
        last = position
        while notifications := self._app.recorder.select_notifications(
            start=last, limit=self._batch, topics=topics, inclusive_of_start=False
        ):
            for notification in notifications:
                yield _uuid(notification.originator_id)
            last = notifications[-1].id

    def opened_after(self, position: int) -> Iterator[UUID]:
        """Ids of the requests whose ``Opened`` event is after ``position`` in the log."""
        return self.ids_after(position, topics=(get_topic(ServiceRequest.Opened),))

    def opened_batches(self) -> Iterator[list[UUID]]:
        """Ids of every request in the order opened, a batch at a time."""
        batch: list[UUID] = []
        for request_id in self.opened_after(0):
            batch.append(request_id)
            if len(batch) == self._batch:
                yield batch
                batch = []
        if batch:
            yield batch


def occurred_by(event: DomainEvent, at: datetime) -> bool:
    """Whether an event happened by ``at`` (when it was recorded, for events without a time)."""
    occurred: datetime = getattr(event, "occurred_at", None) or event.timestamp
    return occurred <= at


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
