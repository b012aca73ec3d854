"""The in-memory event store: the library's recorder contract, and what it keeps per event."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from hypothesis import given
from hypothesis import strategies as st

from servflow import ServiceDesk
from servflow.desk.writer import _MAX_KEPT
from servflow.persistence import sql
from servflow.persistence.memory import MemoryRecorder
from servflow.projections import measured

_BYTES_HEADER = sys.getsizeof(b"")


_IDS = [UUID(int=n) for n in range(1, 4)]
_batches = st.lists(
    st.lists(
        st.tuples(st.sampled_from(_IDS), st.integers(1, 5), st.sampled_from(["t1", "t2"])),
        min_size=1,
        max_size=3,
    ),
    max_size=12,
)


@given(
    batches=_batches,
    gt=st.none() | st.integers(0, 5),
    lte=st.none() | st.integers(0, 5),
    desc=st.booleans(),
    limit=st.none() | st.integers(0, 4),
    start=st.none() | st.integers(0, 12),
    stop=st.none() | st.integers(0, 12),
    topics=st.sampled_from([(), ("t1",), ("t1", "t2")]),
    inclusive=st.booleans(),
)
def test_the_compact_recorder_answers_as_the_librarys_in_memory_recorder(
    batches: list[list[tuple[UUID, int, str]]],
    gt: int | None,
    lte: int | None,
    desc: bool,  # noqa: FBT001 - a drawn value
    limit: int | None,
    start: int | None,
    stop: int | None,
    topics: tuple[str, ...],
    inclusive: bool,  # noqa: FBT001 - a drawn value
) -> None:
    ours, theirs = MemoryRecorder(), POPOApplicationRecorder()
    for batch in batches:
        events = [StoredEvent(i, v, t, f"{i.int}:{v}".encode()) for i, v, t in batch]
        outcomes: list[object] = []
        for recorder in (ours, theirs):
            try:
                outcomes.append(recorder.insert_events(events))
            except IntegrityError:
                outcomes.append("conflict")
        assert outcomes[0] == outcomes[1]
    originators: list[UUID | str] = [*_IDS, str(_IDS[0])]
    for originator_id in originators:
        assert ours.select_events(
            originator_id, gt=gt, lte=lte, desc=desc, limit=limit
        ) == theirs.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
    for size in (0, 1, 3, 100):
        assert ours.select_notifications(
            start, size, stop, topics, inclusive_of_start=inclusive
        ) == theirs.select_notifications(start, size, stop, topics, inclusive_of_start=inclusive)
    assert ours.max_notification_id() == theirs.max_notification_id()
    assert ours.stored_with_positions(_IDS) == [
        (n.id, StoredEvent(n.originator_id, n.originator_version, n.topic, n.state))
        for i in _IDS
        for n in theirs.select_notifications(None, 1000)
        if n.originator_id == i
    ]


def test_the_compact_recorder_refuses_an_event_already_recorded() -> None:
    recorder = MemoryRecorder()
    recorder.insert_events([StoredEvent(_IDS[0], 1, "t1", b"a")])
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(str(_IDS[0]), 1, "t1", b"b")])
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(_IDS[1], 1, "t1", b"b")] * 2)
    assert recorder.max_notification_id() == 1


def _opened(count: int) -> ServiceDesk:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    now = [start]
    desk = ServiceDesk(clock=lambda: now[0])
    for n in range(count):
        now[0] = start + timedelta(seconds=n)
        request = desk.open(
            customer=f"c{n % 7}",
            channel="email",
            kind="complaint",
            stage="post_sale",
            symptom="printer on fire",
            actor="agent:ana",
        )
        if n % 3 == 0:
            desk.classify(request.id, priority="normal", actor="agent:ana")
    return desk


def test_an_in_memory_desk_keeps_its_events_in_the_compact_recorder_at_their_own_length() -> None:
    with _opened(40) as desk:
        recorder = desk._stores.store.recorder
        assert isinstance(recorder, MemoryRecorder)
        states = recorder._states
        assert len(states) == 40 + 14  # the opened, the classified
        # orjson hands out buffers with room for 4 KiB: a kept event holds only its bytes.
        assert all(sys.getsizeof(state) == _BYTES_HEADER + len(state) for state in states)
        assert len(recorder._positions) == 40  # one entry per request
        assert len(set(map(id, recorder._topics))) == len(set(recorder._topics))
        ids = [desk.resolve(f"SR-{n:06d}") for n in (1, 2, 40)]
        assert [len(recorder.select_events(i)) for i in ids] == [2, 1, 2]


def test_what_a_desk_remembers_between_commands_stays_bounded_however_many_requests() -> None:
    with _opened(_MAX_KEPT + 300) as desk:
        assert len(desk._writer._kept._items) == _MAX_KEPT
        for projection in (desk._stores.queues, desk._stores.sla):
            assert len(projection._memory().rows) <= projection.remembered
        assert len(measured._DERIVED) <= measured._MAX_DERIVED
        assert len(sql._ID_TEXTS) <= sql._MAX_ID_TEXTS
        # Every request is still there for the queries.
        assert desk.queue(limit=1).total == _MAX_KEPT + 300
        assert desk.get("SR-000001").priority == "normal"


def test_values_kept_beside_the_rows_are_bounded_and_forgotten_when_the_view_moves() -> None:
    projection = ServiceDesk()._stores.queues
    bound = projection.remembered_values
    projection.begin(10)
    for n in range(bound + 100):
        projection.remember(("bucket", n), n)
    assert projection.recall(("bucket", 5)) is None  # a batch from an unknown position knows none
    projection.end(11)
    projection.committed()
    projection.begin(11)
    assert len(projection._memory().values) == bound
    assert projection.recall(("bucket", 0)) is None  # the oldest went first
    assert projection.recall(("bucket", bound + 99)) == bound + 99
    projection.end(11)
    projection.committed()
    projection.begin(12)  # another writer moved the view meanwhile
    assert projection.recall(("bucket", bound + 99)) is None
