"""Exports for process-mining tools, on every store: XES and OCEL 2.0 read back by pm4py.

A real reader (pm4py, a test-only dependency: it is AGPL) reads each export back and finds the
desk's requests as traces (or request objects) and its events with their activity, time,
resource and lifecycle transition; the audit log's criteria select the same events; erasure
and odd characters survive the trip. Every test that takes ``desk`` runs on memory, SQLite and
PostgreSQL (see ``conftest.py``).
"""

from __future__ import annotations

import io
import json
import tracemalloc
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import DeskFactory, FakeClock
from servflow import (
    ERASED,
    XES_LIFECYCLE,
    RequestNotFoundError,
    ServiceDesk,
    ValidationFailedError,
)
from servflow.desk.mining import request_event_types

XES = "{http://www.xes-standard.org/}"


def read_xes(path: Path) -> Any:
    """The export as pm4py reads it with its XML parser (one row per event)."""
    import pm4py  # noqa: PLC0415 - heavy, and only these tests need it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "install r4pm for speed", progress bars
        return pm4py.read_xes(str(path), variant="iterparse")


def read_ocel(path: Path) -> Any:
    import pm4py  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm4py.read_ocel2_json(str(path))


def export_to(desk: ServiceDesk, path: Path, **criteria: Any) -> int:
    with path.open("wb") as fp:
        return desk.export(fp, **criteria)


def a_week(desk: ServiceDesk, clock: FakeClock) -> list[str]:
    """Three requests whose events interleave: holds, a transfer, a completion, an acceptance."""
    a = desk.open(
        customer="acme",
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom='The "router" <drops> & resets\nevery evening',
        actor="agent:ana",
    )
    clock.advance(minutes=5)
    b = desk.open(
        customer="bolt",
        channel="email",
        kind="quote",
        stage="pre_sale",
        symptom="Price for 20 seats?",
        actor="agent:bob",
    )
    desk.classify(a, priority="high", actor="agent:ana")
    desk.assign(a, team="network", agent="elena", actor="agent:ana")
    clock.advance(minutes=5)
    desk.wait_on_customer(a, reason="Need the serial", actor="agent:elena")
    clock.advance(minutes=30)
    desk.customer_responded(a, note="XK-99812", actor="customer:acme")
    desk.classify(b, priority="low", actor="agent:bob")
    desk.assign(b, team="sales", actor="agent:bob")
    clock.advance(minutes=5)
    desk.complete(b, outcome="transferred", resolution="Needs a quote", to_team="billing",
                  actor="agent:bob")  # fmt: skip
    desk.complete(a, outcome="resolved", resolution="Firmware 2.1", actor="agent:elena")
    clock.advance(hours=1)
    desk.accept(a, satisfaction=5, actor="customer:acme")
    c = desk.open(
        customer="acme",
        channel="web",
        kind="claim",
        stage="post_sale",
        symptom="Invoice twice",
        actor="customer:acme",
    )
    return [a.ticket_code, b.ticket_code, c.ticket_code]


# -- XES -------------------------------------------------------------------------------------


def test_an_xes_export_reads_back_as_one_trace_per_request_with_every_event(
    desk: ServiceDesk, clock: FakeClock, tmp_path: Path
) -> None:
    tickets = a_week(desk, clock)
    path = tmp_path / "desk.xes"

    written = export_to(desk, path, format="xes")

    histories = {ticket: desk.history(ticket) for ticket in tickets}
    assert written == sum(len(h) for h in histories.values())
    log = read_xes(path)
    assert len(log) == written
    assert log["case:concept:name"].drop_duplicates().tolist() == tickets  # in opening order
    for ticket, history in histories.items():
        events = log[log["case:concept:name"] == ticket]
        assert events["concept:name"].tolist() == [e.event_type for e in history]
        assert events["org:resource"].tolist() == [e.actor for e in history]
        assert [t.to_pydatetime() for t in events["time:timestamp"]] == [
            e.occurred_at for e in history
        ]
        assert events["position"].tolist() == [e.position for e in history]
        assert [json.loads(text) for text in events["data"]] == [e.data for e in history]
        request = desk.get(ticket)
        case = events.iloc[0]
        assert case["case:request_id"] == str(request.id)
        assert case["case:customer_id"] == request.customer.id
        assert case["case:status"] == request.status.value
        assert case["case:channel"] == request.channel.value
        assert case["case:tier"] == request.customer.tier.value
    first = log[log["case:concept:name"] == tickets[0]]
    assert first["lifecycle:transition"].tolist() == [
        "complete", "complete", "complete", "suspend", "resume", "complete", "complete"
    ]  # fmt: skip
    # org:group: the team in charge once the event happened (none before the assignment).
    second = log[log["case:concept:name"] == tickets[1]]
    assert second["org:group"].fillna("").tolist() == ["", "", "sales", "billing"]
    assert second.iloc[0]["case:team"] == "billing"


def test_the_xes_header_declares_the_extensions_globals_and_classifiers(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    a_week(desk, clock)
    out = io.BytesIO()
    desk.export(out, format="xes")
    root = ET.fromstring(out.getvalue())  # noqa: S314 - our own output
    assert root.tag == f"{XES}log"
    prefixes = {e.get("prefix") for e in root.findall(f"{XES}extension")}
    assert prefixes == {"concept", "time", "org", "lifecycle"}
    scopes = {g.get("scope"): {a.get("key") for a in g} for g in root.findall(f"{XES}global")}
    assert {"concept:name", "time:timestamp", "org:resource", "lifecycle:transition"} <= scopes[
        "event"
    ]
    assert "concept:name" in scopes["trace"]
    # Every event has every globally declared attribute, as the standard requires.
    for event in root.iter(f"{XES}event"):
        assert scopes["event"] <= {a.get("key") for a in event}
    classifiers = {c.get("name"): c.get("keys") for c in root.findall(f"{XES}classifier")}
    assert classifiers["Activity"] == "concept:name"
    assert len(root.findall(f"{XES}trace")) == 3


def test_the_lifecycle_mapping_puts_holds_on_suspend_and_resume() -> None:
    assert dict(XES_LIFECYCLE) == {
        "WaitingOnCustomer": "suspend",
        "Held": "suspend",
        "CustomerResponded": "resume",
        "Resumed": "resume",
    }
    assert set(XES_LIFECYCLE) <= set(request_event_types())


def test_xes_and_ocel_exports_select_what_the_audit_log_selects(
    desk: ServiceDesk, clock: FakeClock, tmp_path: Path
) -> None:
    tickets = a_week(desk, clock)
    start = desk.history(tickets[0])[0].occurred_at
    criteria: list[dict[str, Any]] = [
        {"actor": "agent:elena"},
        {"event_type": ["Classified", "Assigned"]},
        {"customer": "acme"},
        {"since": start + timedelta(minutes=10), "until": start + timedelta(minutes=45)},
        {"since": start + timedelta(minutes=10), "by": "recorded"},
    ]
    for chosen in criteria:
        expected = [r.position for r in desk.audit_log(limit=1000, **chosen).rows if r.ticket_code]
        assert export_to(desk, tmp_path / "some.xes", format="xes", **chosen) == len(expected)
        log = read_xes(tmp_path / "some.xes")
        # Grouped by request (in opening order), each request's in log order.
        assert sorted(log["position"]) == expected, chosen
        for _, events in log.groupby("case:concept:name"):
            assert events["position"].is_monotonic_increasing
        assert export_to(desk, tmp_path / "some.json", format="ocel", **chosen) == len(expected)
        ocel = read_ocel(tmp_path / "some.json")
        positions = sorted(int(e.split(":")[1]) for e in ocel.events["ocel:eid"])
        assert positions == sorted(expected), chosen
    # One request: its history, whatever else the log holds.
    assert export_to(desk, tmp_path / "one.xes", format="xes", request=tickets[1]) == 4
    assert set(read_xes(tmp_path / "one.xes")["case:concept:name"]) == {tickets[1]}
    with pytest.raises(RequestNotFoundError):
        desk.export(io.BytesIO(), format="xes", request="SR-999999")


# -- OCEL 2.0 --------------------------------------------------------------------------------


def test_an_ocel_export_reads_back_with_requests_customers_teams_and_agents(
    desk: ServiceDesk, clock: FakeClock, tmp_path: Path
) -> None:
    tickets = a_week(desk, clock)
    path = tmp_path / "desk.json"

    written = export_to(desk, path, format="ocel")

    ocel = read_ocel(path)
    events = sum(len(desk.history(ticket)) for ticket in tickets)
    assert written == len(ocel.events) == events
    types = Counter(ocel.objects["ocel:type"])
    assert types == {"request": 3, "customer": 2, "team": 3, "agent": 3}
    assert set(ocel.objects["ocel:oid"]) >= {
        *tickets, "customer:acme", "customer:bolt", "team:network", "team:sales",
        "team:billing", "agent:ana", "agent:bob", "agent:elena",
    }  # fmt: skip
    assert Counter(ocel.events["ocel:activity"]) == Counter(
        e.event_type for ticket in tickets for e in desk.history(ticket)
    )
    relations = ocel.relations
    # Every event relates to its request; an opening to its customer; an assignment to its
    # team and agent; events recorded by an agent or the customer to them as the actor.
    per_request = relations[relations["ocel:qualifier"] == "request"]
    assert len(per_request) == events
    assert Counter(per_request["ocel:oid"]) == {t: len(desk.history(t)) for t in tickets}
    qualified = {
        (row["ocel:activity"], row["ocel:oid"], row["ocel:qualifier"])
        for _, row in relations.iterrows()
    }
    assert ("Opened", "customer:acme", "customer") in qualified
    assert ("Assigned", "team:network", "team") in qualified
    assert ("Assigned", "agent:elena", "agent") in qualified
    assert ("Completed", "team:billing", "to_team") in qualified
    assert ("CustomerResponded", "customer:acme", "actor") in qualified
    assert ("WaitingOnCustomer", "agent:elena", "actor") in qualified
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert set(raw) == {"objectTypes", "eventTypes", "objects", "events"}
    assert {t["name"] for t in raw["eventTypes"]} == set(request_event_types())
    request = next(o for o in raw["objects"] if o["id"] == tickets[0])
    values = {(a["name"], a["value"]) for a in request["attributes"]}
    assert {("status", "closed"), ("priority", "high"), ("team", "network")} <= values
    assert ("kind", "complaint") in values
    assert request["relationships"] == [{"objectId": "customer:acme", "qualifier": "customer"}]


def test_an_empty_desk_exports_empty_logs(desk: ServiceDesk, tmp_path: Path) -> None:
    assert export_to(desk, tmp_path / "empty.xes", format="xes") == 0
    root = ET.parse(tmp_path / "empty.xes").getroot()  # noqa: S314
    assert root.findall(f"{XES}trace") == []
    assert export_to(desk, tmp_path / "empty.json", format="ocel") == 0
    raw = json.loads((tmp_path / "empty.json").read_text(encoding="utf-8"))
    assert (raw["objects"], raw["events"]) == ([], [])


# -- refusals, text files, erasure -----------------------------------------------------------


def test_an_unknown_format_is_refused_with_a_typed_error_and_writes_nothing(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    a_week(desk, clock)
    out = io.BytesIO()
    with pytest.raises(ValidationFailedError, match="'xes', 'ocel'") as caught:
        desk.export(out, format="parquet")  # type: ignore[arg-type]
    assert caught.value.errors == (("format", "unknown"),)
    assert out.getvalue() == b""


def test_exports_go_to_text_files_too(desk: ServiceDesk, clock: FakeClock) -> None:
    a_week(desk, clock)
    text, binary = io.StringIO(), io.BytesIO()
    for fmt in ("xes", "ocel"):
        text.seek(0), text.truncate(), binary.seek(0), binary.truncate()
        assert desk.export(text, format=fmt) == desk.export(binary, format=fmt)
        assert text.getvalue().encode() == binary.getvalue()


def test_a_forgotten_customers_personal_fields_are_erased_in_both_formats(
    make_desk: DeskFactory, tmp_path: Path
) -> None:
    desk = make_desk(erasable=True)
    request = desk.open(
        customer={"id": "acme", "name": "Ana Pérez", "tier": "premium"},
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="My flat at Calle Mayor 5",
        actor="agent:ana",
    )
    desk.classify(request, priority="high", actor="agent:ana")
    desk.assign(request, team="network", actor="agent:ana")
    desk.wait_on_customer(request, reason="Serial?", actor="agent:ana")
    desk.customer_responded(request, note="Call 600 123 456", actor="customer:acme")
    secrets = ("Ana Pérez", "Calle Mayor 5", "600 123 456")
    export_to(desk, tmp_path / "before.xes", format="xes")
    assert "Calle Mayor 5" in (tmp_path / "before.xes").read_text(encoding="utf-8")

    desk.forget_customer("acme", actor="supervisor:eva")

    for fmt, name in (("xes", "after.xes"), ("ocel", "after.json")):
        assert export_to(desk, tmp_path / name, format=fmt) == 5
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert not any(secret in text for secret in secrets), fmt
        assert ERASED in text
    log = read_xes(tmp_path / "after.xes")
    assert json.loads(log.iloc[0]["data"])["symptom"] == ERASED
    assert log.iloc[0]["case:tier"] == "premium"


def test_characters_xml_cannot_hold_are_replaced_and_the_rest_survive(
    memory_desk: ServiceDesk, tmp_path: Path
) -> None:
    symptom = "Tab\there, bell \x07, quote \" and ' <tag> &amp; \r\n line two ünï 😀"
    request = memory_desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom=symptom,
        actor="agent:ana",
    )  # fmt: skip
    memory_desk.classify(request, priority="low", actor="agent:ana")
    memory_desk.assign(request, team="net\x07work", actor="agent:ana")
    export_to(memory_desk, tmp_path / "odd.xes", format="xes")
    log = read_xes(tmp_path / "odd.xes")
    assert json.loads(log.iloc[0]["data"])["symptom"] == memory_desk.get(request).symptom
    assert log.iloc[2]["org:group"] == "net\ufffdwork"  # XML 1.0 cannot hold \x07 at all
    assert json.loads(log.iloc[2]["data"])["team"] == "net\x07work"  # a JSON escape in data
    export_to(memory_desk, tmp_path / "odd.json", format="ocel")
    assert "team:net\x07work" in set(read_ocel(tmp_path / "odd.json").objects["ocel:oid"])


# -- constant memory -------------------------------------------------------------------------


class Sink(io.RawIOBase):
    """A binary file that counts what it is given and keeps none of it."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        return len(data)


def open_many(desk: ServiceDesk, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        request = desk.open(
            customer=f"c{n}", channel="phone", kind="complaint", stage="sale",
            symptom=f"Symptom number {n} " * 8, actor="agent:ana",
        )  # fmt: skip
        desk.classify(request, priority="normal", actor="agent:ana")


def peak(desk: ServiceDesk, fmt: str) -> tuple[int, int]:
    """The peak of memory allocated while exporting, and the bytes written."""
    sink = Sink()
    tracemalloc.start()
    try:
        desk.export(sink, format=fmt)  # type: ignore[arg-type]
        _, top = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return top, sink.size


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_exports_stream_in_memory_that_does_not_grow_with_the_log(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk()
    open_many(desk, 150)
    small = {fmt: peak(desk, fmt) for fmt in ("xes", "ocel")}
    open_many(desk, 1350, start=150)
    large = {fmt: peak(desk, fmt) for fmt in ("xes", "ocel")}
    for fmt in ("xes", "ocel"):
        (small_peak, small_size), (large_peak, large_size) = small[fmt], large[fmt]
        assert large_size > 9 * small_size  # ten times the log...
        # ...in about the same memory (customers' ids are paged, never all held): about
        # 1.3 MB for 150 requests, 1.9 MB for 1,500 and for 3,000 (bounded caches fill up);
        # a log held whole would take ten times as much.
        assert large_peak < 2 * small_peak, (fmt, small_peak, large_peak)
