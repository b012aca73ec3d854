"""The in-memory event store of ``ServiceDesk()``: each event in a few machine words and its bytes.

``eventsourcing``'s POPO recorder keeps a ``StoredEvent`` object per event and, per aggregate, a
dictionary keyed by the id's text; a desk with 100k open requests held about a kilobyte and a
half per request that way, besides the events' bytes. This recorder keeps the same log in
parallel lists (id, version, topic, state), one list of log indexes per aggregate, and makes
``StoredEvent`` and ``Notification`` objects only when they are read. It also keeps each
event's bytes at their own length: ``orjson`` hands out buffers with room for 4 KiB, which a
store that keeps them would hold for ever.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

__all__ = ["MemoryRecorder"]


def _key(originator_id: UUID | str) -> UUID | str:
    """One key per aggregate whether it is named by its UUID or by that UUID's text."""
    if isinstance(originator_id, UUID):
        return originator_id
    try:
        return UUID(originator_id)
    except ValueError:
        return originator_id  # an id that is not a UUID is its own key, as in the library


class MemoryRecorder(POPOApplicationRecorder):
    """The library's in-memory application recorder, its log kept compactly (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self._ids: list[UUID | str] = []
        self._versions = array("q")
        self._topics: list[str] = []
        self._states: list[bytes] = []
        #: Per aggregate, the log indexes (notification id - 1) of its events in version order.
        self._positions: dict[UUID | str, list[int]] = {}
        self._interned: dict[str, str] = {}

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **_: Any) -> None:  # noqa: ANN401 - the library's signature
        new = set()
        versions = self._versions
        for s in stored_events:
            positions = self._positions.get(_key(s.originator_id), ())
            version = s.originator_version
            if any(versions[p] == version for p in positions):
                msg = f"Stored event already recorded: {s}"
                raise IntegrityError(msg)
            new.add((_key(s.originator_id), version))
        if len(new) < len(stored_events):
            msg = f"Stored events are not unique: {stored_events}"
            raise IntegrityError(msg)

    def _update_table(self, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int]:  # noqa: ANN401 - the library's signature
        ids: list[int] = []
        for s in stored_events:
            index = len(self._states)
            key = _key(s.originator_id)
            self._ids.append(key)
            self._versions.append(s.originator_version)
            self._topics.append(self._interned.setdefault(s.topic, s.topic))
            # A copy at the bytes' own length (an ``orjson`` buffer has room for 4 KiB).
            self._states.append(bytes(memoryview(s.state)))
            positions = self._positions.get(key)
            if positions is None:
                self._positions[key] = [index]
            else:
                positions.append(index)
            ids.append(index + 1)
        return ids

    def _stored(self, index: int) -> StoredEvent:
        return StoredEvent(
            originator_id=self._ids[index],
            originator_version=self._versions[index],
            topic=self._topics[index],
            state=self._states[index],
        )

    def select_events(  # noqa: D102 - the library's
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        with self._database_lock:
            positions = self._positions.get(_key(originator_id), [])
            versions = self._versions
            results: list[StoredEvent] = []
            for p in reversed(positions) if desc else positions:
                version = versions[p]
                if (gt is not None and version <= gt) or (lte is not None and version > lte):
                    continue
                results.append(self._stored(p))
                if len(results) == limit:
                    break
            return results

    def stored_with_positions(
        self, originator_ids: Sequence[UUID]
    ) -> list[tuple[int, StoredEvent]]:
        """The events of these aggregates with their notification ids, aggregate by aggregate."""
        with self._database_lock:
            return [
                (p + 1, self._stored(p))
                for originator_id in originator_ids
                for p in self._positions.get(_key(originator_id), ())
            ]

    def select_notifications(  # noqa: D102 - the library's
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        with self._database_lock:
            if start is None:
                start, inclusive_of_start = 1, True
            if not inclusive_of_start:
                start += 1
            first = max(start, 1) - 1
            end = len(self._states) if stop is None else min(stop, len(self._states))
            wanted = set(topics)
            results: list[Notification] = []
            for index in range(first, end):
                topic = self._topics[index]
                if wanted and topic not in wanted:
                    continue
                results.append(
                    Notification(
                        id=index + 1,
                        originator_id=self._ids[index],
                        originator_version=self._versions[index],
                        topic=topic,
                        state=self._states[index],
                    )
                )
                if len(results) == limit:
                    break
            return results

    def max_notification_id(self) -> int | None:  # noqa: D102 - the library's
        with self._database_lock:
            return len(self._states) or None
