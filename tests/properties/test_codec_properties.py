"""Reading an event straight from its JSON bytes gives the event the dict way gives.

The mapper validates an event stored by its class's current version from the bytes
(``_from_json``), and anything else through a parsed dict (``_from_state``), which upcasts,
unseals and reports what is wrong. For random events (random histories, random texts and
customers) both ways must give an equal event of the same class, equal to the one stored; and
payloads the shortcut must not take (ids inside, escaped keys, older versions) must give what
the dict way gives, errors included.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any, ClassVar
from uuid import uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from servflow import CorruptEventError, ServflowError
from servflow.domain.base import EventSourced
from servflow.domain.request import Moment, ServiceRequest
from servflow.persistence.codec import OrjsonTranscoder, PydanticMapper
from strategies import START, STORY, Step, histories, send_to_request

#: Texts any store keeps (no NUL, no lone surrogate), with blanks, quotes, escapes, non-ASCII.
texts = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(str.strip)


class CodecPropertyBox(EventSourced):
    """An aggregate whose ``Packed`` event is at class version 3 (a payload ends with it)."""

    class Registered(EventSourced.Created):
        """The box was registered."""

        label: str

        def apply(self, aggregate: Any) -> None:
            aggregate.label = self.label

    class Packed(EventSourced.Event):
        """Version 1 stored ``items`` as a text; version 2 a list; version 3 adds ``fragile``."""

        class_version: ClassVar[int] = 3

        items: tuple[str, ...]
        fragile: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["items"] = state["items"].split(",")

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["fragile"] = False

        def apply(self, aggregate: Any) -> None:
            aggregate.items = self.items


def events_of(steps: list[Step], symptom: str, customer: str, name: str | None) -> list[Any]:
    """The events of one request opened with these texts, then sent ``steps``' commands."""
    moment = START

    def at() -> Moment:
        nonlocal moment
        moment += timedelta(minutes=1, microseconds=7)
        return Moment(recorded_at=moment, occurred_at=moment - timedelta(seconds=30))

    request = ServiceRequest.open(
        ticket_code="SR-000001",
        customer={"id": customer, "name": name, "tier": "vip"},
        channel="chat",
        kind="claim",
        stage="post_sale",
        symptom=symptom,
        synthesis=name,
        actor="customer:c",
        at=at(),
    )
    stories = list(STORY)
    for what, _, choice in steps:
        with contextlib.suppress(ServflowError):
            send_to_request(request, stories[int(what) % len(stories)], choice, at())
    return list(request.collect_events())


def both_ways(mapper: PydanticMapper, stored: StoredEvent) -> tuple[object, object]:
    """The event read from the bytes, and the one read through a dict."""
    event_class = type(mapper.to_domain_event(stored))
    from_dict = mapper._from_state(orjson.loads(stored.state), stored, event_class)
    return mapper._from_json(stored.state, stored, event_class), from_dict


@given(steps=histories(min_size=1, max_size=30), symptom=texts, customer=texts, name=texts)
def test_an_event_read_from_its_bytes_equals_the_event_read_through_a_dict(
    steps: list[Step], symptom: str, customer: str, name: str
) -> None:
    try:
        events = events_of(steps, symptom, customer.strip()[:200], name)
    except ServflowError:
        return  # a text the command refuses: nothing recorded, nothing to read
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    for event in events:
        stored = mapper.to_stored_event(event)
        from_bytes, from_dict = both_ways(mapper, stored)
        if b"\\u" in stored.state:
            # A control character, written as a ``\\u`` escape: only the dict way reads it.
            assert from_bytes is None
        else:
            assert type(from_bytes) is type(from_dict) is type(event)
            assert from_bytes == from_dict == event
        assert mapper.to_domain_event(stored) == event


@given(items=st.lists(texts, max_size=5), fragile=st.booleans())
def test_an_event_of_a_later_class_version_reads_the_same_both_ways(
    *, items: list[str], fragile: bool
) -> None:
    box = CodecPropertyBox._create(CodecPropertyBox.Registered, id=uuid4(), label="b")
    box.trigger_event(CodecPropertyBox.Packed, items=tuple(items), fragile=fragile)
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    for event in box.collect_events():
        stored = mapper.to_stored_event(event)
        from_bytes, from_dict = both_ways(mapper, stored)
        assert from_bytes == from_dict == event or b"\\u" in stored.state


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Version 1 and 2 payloads are upcast through the dict way.
        ({"items": "a,b"}, ("a", "b")),
        ({"items": ["a"], "class_version": 2}, ("a",)),
        # The current version, not last in the payload: the dict way reads it.
        ({"class_version": 3, "items": ["c"], "fragile": True}, ("c",)),
    ],
)
def test_a_payload_the_shortcut_does_not_take_is_read_the_dict_way(
    payload: dict[str, Any], expected: tuple[str, ...]
) -> None:
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    box = CodecPropertyBox._create(CodecPropertyBox.Registered, id=uuid4(), label="b")
    stamp = box.collect_events()[0].timestamp
    state = {"timestamp": stamp.isoformat(), **payload}
    stored = StoredEvent(box.id, 2, _topic(CodecPropertyBox.Packed), orjson.dumps(state))
    event = mapper.to_domain_event(stored)
    assert isinstance(event, CodecPropertyBox.Packed)
    assert event.items == expected
    assert event.originator_id == box.id


@pytest.mark.parametrize(
    "extra",
    [
        b'"originator_id":"%s",',
        b'"originator\\u005fid":"%s",',
        b'"originator_version":2,',
        b'"originator\\u005fversion":2,',
        b'"class_version":1,',
    ],
)
def test_a_payload_naming_an_id_or_a_version_is_refused_as_before(extra: bytes) -> None:
    mapper = PydanticMapper(transcoder=OrjsonTranscoder())
    request = ServiceRequest.open(
        ticket_code="SR-000001",
        customer="acme",
        channel="chat",
        kind="claim",
        stage="post_sale",
        symptom="it broke",
        synthesis=None,
        actor="customer:acme",
        at=Moment(recorded_at=START, occurred_at=START),
    )
    stored = mapper.to_stored_event(request.collect_events()[0])
    extra = extra.replace(b"%s", str(stored.originator_id).encode())
    forged = StoredEvent(
        stored.originator_id,
        stored.originator_version,
        stored.topic,
        b"{" + extra + stored.state[1:],
    )
    if extra.startswith(b'"class_version'):
        # The dict way drops a stored version 1 and reads the event (as it always did).
        assert mapper.to_domain_event(forged) == mapper.to_domain_event(stored)
        return
    with pytest.raises(CorruptEventError) as caught:
        mapper.to_domain_event(forged)
    assert caught.value.kind == "invalid"


def _topic(cls: type[object]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"
