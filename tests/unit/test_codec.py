"""The stored form of events: compact JSON, exact round trips, upcasting, compression, cipher.

The cipher cases run only when a cipher library is installed (pycryptodome for
``eventsourcing.cipher``, else ``cryptography`` for ``eventsourcing.cryptography``); the
compression cases always run.
"""

from __future__ import annotations

import importlib.util
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from servflow import CorruptEventError, RequestNotFoundError, ServiceDesk
from servflow.domain.base import EventSourced
from servflow.domain.policy import DEFAULT_HOLDS
from servflow.domain.request import Moment, ServiceRequest
from servflow.persistence.codec import OrjsonTranscoder, PydanticMapper

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class CodecTestParcel(EventSourced):
    """A tiny aggregate whose ``Weighed`` event was evolved once, to test upcasting."""

    class Registered(EventSourced.Created):
        """The parcel was registered."""

        reference: str

        def apply(self, aggregate: Any) -> None:
            aggregate.reference = self.reference
            aggregate.grams = None
            aggregate.scale = None

    class Weighed(EventSourced.Event):
        """Version 1 stored ``kilos`` (a float); version 2 stores ``grams`` and the ``scale``."""

        class_version: ClassVar[int] = 2

        grams: int
        scale: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["grams"] = round(state.pop("kilos") * 1000)
            state["scale"] = "unknown"

        def apply(self, aggregate: Any) -> None:
            aggregate.grams = self.grams
            aggregate.scale = self.scale

    if TYPE_CHECKING:  # assigned by the events; no class-level fields on aggregates
        reference: str
        grams: int | None
        scale: str | None


@pytest.fixture
def mapper() -> PydanticMapper:
    return PydanticMapper(transcoder=OrjsonTranscoder())


class Timeline:
    """Moments a minute apart, happening in a zone other than UTC, with microseconds."""

    def __init__(self) -> None:
        self.now = START

    def next(self) -> Moment:
        self.now += timedelta(minutes=1, microseconds=1)
        return Moment(
            recorded_at=self.now,
            occurred_at=self.now.astimezone(timezone(timedelta(hours=5, minutes=30))),
        )


def requests_events(request: ServiceRequest) -> Iterator[ServiceRequest.Event]:
    for event in request.collect_events():
        assert isinstance(event, ServiceRequest.Event)
        yield event


def every_event() -> Iterator[ServiceRequest.Event]:
    """At least one event of each type, with optional fields both set and unset."""
    t = Timeline()

    def opened(code: str) -> ServiceRequest:
        return ServiceRequest.open(
            ticket_code=code,
            customer={"id": "acme", "name": "ACMÉ", "tier": "vip", "language": "es-CO"},
            channel="chat",
            kind="claim",
            stage="post_sale",
            symptom="La línea se cae — every evening",
            synthesis="Line drops",
            actor="customer:acme",
            at=t.next(),
        )

    main = opened("SR-000001")
    main.classify(priority="urgent", kind="warranty", category="net", actor="agent:a", at=t.next())
    main.assign(team="network", agent="ana", actor="agent:lead", at=t.next())
    main.probe(
        questions=("Since?", "Where?"), findings="Mon", diagnosis="FW", actor="agent:a", at=t.next()
    )
    main.probe(questions=(), findings="Nothing else", diagnosis=None, actor="agent:a", at=t.next())
    main.act(
        action="Swap", effort_minutes=45, cost=Decimal("12.3400"), actor="agent:a", at=t.next()
    )
    main.act(action="Call", effort_minutes=0, cost=None, actor="agent:a", at=t.next())
    main.wait_on_customer(reason="Serial?", actor="agent:a", at=t.next())
    main.customer_responded(note="S/N 42", actor="customer:acme", at=t.next())
    main.report_progress(message="Parts ordered", actor="agent:a", at=t.next())
    main.complete(
        outcome="transferred",
        resolution="Billing issue",
        follow_up_at=None,
        to_team="billing",
        actor="agent:a",
        at=t.next(),
    )
    main.assign(team="billing", agent=None, actor="agent:lead", at=t.next())
    main.complete(
        outcome="follow_up",
        resolution="Refund next week",
        follow_up_at=START + timedelta(days=7),
        to_team=None,
        actor="agent:b",
        at=t.next(),
    )
    t.now = START + timedelta(days=7)
    main.mark_follow_up_due(actor="system", at=t.next())
    main.reopen(reason="Refund missing", actor="customer:acme", at=t.next())
    main.complete(
        outcome="resolved",
        resolution="Refunded",
        follow_up_at=None,
        to_team=None,
        actor="agent:b",
        at=t.next(),
    )
    main.accept(satisfaction=2, comment="Slow", actor="customer:acme", at=t.next())
    main.reopen(reason="Broke again", actor="customer:acme", at=t.next())
    main.hold(reason="vendor", note=None, holds=DEFAULT_HOLDS, actor="agent:a", at=t.next())
    main.hold(
        reason="change_window", note="Fri 22:00", holds=DEFAULT_HOLDS, actor="agent:a", at=t.next()
    )
    main.resume(note="Window open", actor="agent:a", at=t.next())
    main.hold(reason="problem", note=None, holds=DEFAULT_HOLDS, actor="agent:a", at=t.next())
    main.resume(note=None, actor="agent:a", at=t.next())
    main.unassign(team="network", actor="agent:lead", at=t.next())
    main.unassign(team=None, actor="agent:lead", at=t.next())
    main.assign(team="network", agent="ana", actor="agent:lead", at=t.next())
    main.complete(
        outcome="resolved",
        resolution="Replaced",
        follow_up_at=None,
        to_team=None,
        actor="agent:a",
        at=t.next(),
    )
    main.close(reason="Auto-closed after 5 days", actor="system", at=t.next())
    main.log_nonconformity(
        description="Late",
        severity="major",
        category="sla",
        root_cause="Rota",
        corrective_action="New rota",
        actor="auditor:eva",
        at=t.next(),
    )
    main.correct_nonconformity(number=1, correction="Rota fixed", actor="auditor:eva", at=t.next())
    main.note(text="Called back", visibility="internal", actor="agent:b", at=t.next())
    main.customer_message(text="Thanks, all good", actor="customer:acme", at=t.next())
    main.mark_imported(source="bpi", rows=3, digest="ab" * 32, actor="integration:bpi", at=t.next())
    main.automation_fired(
        rule="escalate-breaches",
        key="sla:breached:resolution:1",
        condition="resolution clock breached, due 2026-03-04T01:00:00+00:00",
        actions=["notify:supervisors", "reassign:l2"],
        skipped=["raise_priority:urgent: already urgent"],
        actor="system",
        at=t.next(),
    )
    yield from requests_events(main)

    deemed = opened("SR-000002")
    deemed.classify(priority="low", kind=None, category=None, actor="agent:a", at=t.next())
    deemed.assign(team="network", agent="ana", actor="agent:a", at=t.next())
    deemed.complete(
        outcome="resolved",
        resolution="Done",
        follow_up_at=None,
        to_team=None,
        actor="agent:a",
        at=t.next(),
    )
    deemed.accept(satisfaction=None, comment=None, actor="system", at=t.next(), deemed=True)
    yield from requests_events(deemed)

    cancelled = opened("SR-000003")
    cancelled.cancel(reason="Duplicate", actor="agent:a", at=t.next())
    yield from requests_events(cancelled)


def event_classes() -> set[type[ServiceRequest.Event]]:
    return {
        value
        for value in vars(ServiceRequest).values()
        if isinstance(value, type)
        and issubclass(value, ServiceRequest.Event)
        and value not in {ServiceRequest.Event, ServiceRequest.Created}
    }


def test_the_samples_cover_every_event_type_of_a_request() -> None:
    assert {type(event) for event in every_event()} == event_classes()


def test_every_event_survives_a_round_trip_through_the_mapper_unchanged(
    mapper: PydanticMapper,
) -> None:
    for event in every_event():
        stored = mapper.to_stored_event(event)
        assert stored.originator_id == event.originator_id
        assert stored.originator_version == event.originator_version
        assert stored.topic == get_topic(type(event))
        assert stored.topic.startswith("servflow.domain.request:ServiceRequest.")
        back = mapper.to_domain_event(stored)
        assert type(back) is type(event)
        assert back == event
        assert back.model_dump() == event.model_dump()


def test_a_stored_payload_is_compact_json_without_id_or_version(mapper: PydanticMapper) -> None:
    for event in every_event():
        state = mapper.to_stored_event(event).state
        payload = json.loads(state)
        assert state == json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        assert "originator_id" not in payload
        assert "originator_version" not in payload
        # Only an event class past its first version says which one it was stored at.
        version = getattr(type(event), "class_version", 1)
        assert payload.pop("class_version", 1) == version
        assert ("class_version" in json.loads(state)) == (version > 1)
        assert payload == event.model_dump(
            mode="json", exclude={"originator_id", "originator_version"}
        )
        assert {"timestamp", "occurred_at", "actor"} <= set(payload)


def test_stored_payloads_keep_text_decimals_and_offsets_exactly(mapper: PydanticMapper) -> None:
    events = list(every_event())
    opened = json.loads(mapper.to_stored_event(events[0]).state)
    assert opened["symptom"] == "La línea se cae — every evening"
    assert opened["customer"] == {"id": "acme", "name": "ACMÉ", "tier": "vip", "language": "es-CO"}
    assert opened["occurred_at"].endswith("+05:30")
    assert opened["timestamp"] == "2026-03-02T09:01:00.000001Z"
    action = next(e for e in events if isinstance(e, ServiceRequest.ActionTaken))
    assert json.loads(mapper.to_stored_event(action).state)["cost"] == "12.3400"
    back = mapper.to_domain_event(mapper.to_stored_event(action))
    assert isinstance(back, ServiceRequest.ActionTaken)
    assert back.cost == Decimal("12.3400")
    assert str(back.cost) == "12.3400"


def test_what_a_desk_stores_is_the_compact_json_the_mapper_writes(
    tmp_path: Path, mapper: PydanticMapper
) -> None:
    with ServiceDesk.sqlite(str(tmp_path / "desk.db")) as desk:
        request = desk.open(
            customer="acme",
            channel="web",
            kind="quote",
            stage="pre_sale",
            symptom="How much?",
            actor="customer:acme",
        )
        desk.classify(request, priority="normal", actor="agent:ana")
        stored = desk._stores.store.recorder.select_events(request.id)
    assert [s.originator_version for s in stored] == [1, 2]
    for record in stored:
        payload = json.loads(record.state)
        assert record.state == orjson.dumps(payload)
        assert not {"originator_id", "originator_version"} & set(payload)
        assert mapper.to_domain_event(record).originator_id == request.id
    assert json.loads(stored[0].state)["ticket_code"] == "SR-000001"
    assert json.loads(stored[1].state)["priority"] == "normal"


# -- upcasting -----------------------------------------------------------------------------------


def parcel_records(parcel_id: UUID) -> list[StoredEvent]:
    """A parcel's history as version 1 of ``Weighed`` stored it, written by hand."""
    registered = {
        "timestamp": "2025-01-01T10:00:00Z",
        "originator_topic": get_topic(CodecTestParcel),
        "reference": "P-1",
    }
    weighed_v1 = {"timestamp": "2025-01-01T10:05:00Z", "kilos": 1.25}
    return [
        StoredEvent(
            originator_id=parcel_id,
            originator_version=1,
            topic=get_topic(CodecTestParcel.Registered),
            state=orjson.dumps(registered),
        ),
        StoredEvent(
            originator_id=parcel_id,
            originator_version=2,
            topic=get_topic(CodecTestParcel.Weighed),
            state=orjson.dumps(weighed_v1),
        ),
    ]


def test_a_version_one_payload_is_upcast_when_read(mapper: PydanticMapper) -> None:
    parcel_id = uuid4()
    event = mapper.to_domain_event(parcel_records(parcel_id)[1])
    assert isinstance(event, CodecTestParcel.Weighed)
    assert (event.grams, event.scale) == (1250, "unknown")
    assert event.originator_id == parcel_id
    assert event.originator_version == 2
    assert event.timestamp == datetime(2025, 1, 1, 10, 5, tzinfo=UTC)


def test_a_current_version_payload_records_its_class_version_and_is_not_upcast_again(
    mapper: PydanticMapper,
) -> None:
    event = CodecTestParcel.Weighed(
        originator_id=uuid4(),
        originator_version=2,
        timestamp=START,
        grams=700,
        scale="shop",
    )
    stored = mapper.to_stored_event(event)
    assert json.loads(stored.state)["class_version"] == 2
    assert mapper.to_domain_event(stored) == event


def test_an_aggregate_stored_under_version_one_replays_upcast_from_the_store(
    tmp_path: Path,
) -> None:
    parcel_id = uuid4()
    with ServiceDesk.sqlite(str(tmp_path / "desk.db")) as desk:
        desk._stores.store.recorder.insert_events(parcel_records(parcel_id))
        parcel: object = desk._stores.store.repository.get(parcel_id)
        assert isinstance(parcel, CodecTestParcel)
        assert (parcel.reference, parcel.grams, parcel.scale, parcel.version) == (
            "P-1",
            1250,
            "unknown",
            2,
        )
        with pytest.raises(RequestNotFoundError, match="not a service request"):
            desk.get(parcel_id)


# -- compression and encryption, set through the environment ---------------------------------


def cipher_envs() -> list[dict[str, str]]:
    """Cipher settings for the cipher libraries that are installed (maybe none)."""
    if importlib.util.find_spec("Crypto") is not None:
        from eventsourcing.cipher import AESCipher  # noqa: PLC0415 - optional dependency

        return [{"CIPHER_KEY": AESCipher.create_key(16)}]
    if importlib.util.find_spec("cryptography") is not None:
        from eventsourcing.cryptography import AESCipher as CryptographyAESCipher  # noqa: PLC0415

        return [
            {
                "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
                "CIPHER_KEY": CryptographyAESCipher.create_key(16),
            }
        ]
    return []


ZLIB = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
SETTINGS = [ZLIB, *cipher_envs(), *({**ZLIB, **env} for env in cipher_envs())]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "+".join(sorted(s)))
def test_a_desk_configured_to_compress_or_encrypt_reads_back_what_it_stored(
    tmp_path: Path, settings: dict[str, str]
) -> None:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "desk.db"),
        **settings,
    }
    symptom = "The router drops the line every evening. " * 40
    with ServiceDesk(env=env, clock=lambda: START) as desk:
        request = desk.open(
            customer="acme",
            channel="web",
            kind="complaint",
            stage="post_sale",
            symptom=symptom,
            actor="customer:acme",
        )
        desk.classify(request, priority="high", actor="agent:ana")
        desk.assign(request, team="network", agent="ana", actor="agent:ana")
        view = desk.get(request)
        history = desk.history(request)
        stored = desk._stores.store.recorder.select_events(request.id)

    plain = json.dumps(history[0].data, separators=(",", ":")).encode()
    opened = stored[0].state
    assert b"SR-000001" not in opened
    assert b"router drops" not in opened
    with pytest.raises(ValueError, match=r"."):  # not JSON: compressed or ciphered bytes
        json.loads(opened)
    if "CIPHER_KEY" not in settings:
        payload = json.loads(zlib.decompress(opened))
        assert payload["ticket_code"] == "SR-000001"
        assert len(opened) < len(plain) / 4

    with ServiceDesk(env=env) as again:
        assert again.get(request) == view
        assert again.history(request) == history
        assert view.symptom == symptom.strip()
        assert (view.version, view.team) == (3, "network")


def test_a_topic_naming_a_module_not_loaded_is_refused_without_importing_it(
    mapper: PydanticMapper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module that would leave a mark if anything imported it.
    marker = tmp_path / "imported"
    (tmp_path / "sf_planted_topic.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).touch()\nclass Thing:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    stored = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic="sf_planted_topic:Thing",
        state=orjson.dumps({"timestamp": "2025-01-01T10:00:00Z"}),
    )
    with pytest.raises(CorruptEventError, match="not a servflow event") as caught:
        mapper.to_domain_event(stored)
    assert caught.value.kind == "unknown_topic"
    assert not marker.exists()
