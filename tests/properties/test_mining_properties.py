"""Process-mining exports say what the desk says, for random desks.

For random command histories, the XES export (read with an XML parser) holds one trace per
request, in opening order, whose activities and timestamps are the request's history, and the
OCEL 2.0 export holds the same events, each related to its request.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from hypothesis import given

from conftest import FakeClock
from servflow import ServiceDesk
from strategies import START, Step, histories, run_history

XES = "{http://www.xes-standard.org/}"


def exported(desk: ServiceDesk, fmt: str) -> bytes:
    out = io.BytesIO()
    desk.export(out, format=fmt)  # type: ignore[arg-type]
    return out.getvalue()


def xes_cases(data: bytes) -> Iterator[tuple[str, list[str], list[datetime]]]:
    """(case, activities, timestamps) of each trace of an XES export."""
    root = ET.fromstring(data)  # noqa: S314 - our own output
    for trace in root.iter(f"{XES}trace"):
        name = next(a.get("value") for a in trace if a.get("key") == "concept:name")
        activities, times = [], []
        for event in trace.iter(f"{XES}event"):
            values = {a.get("key"): a.get("value") for a in event}
            activities.append(str(values["concept:name"]))
            times.append(datetime.fromisoformat(str(values["time:timestamp"])))
        yield str(name), activities, times


@given(histories(min_size=1, max_size=40))
def test_exports_hold_each_request_as_a_case_with_its_history(history: list[Step]) -> None:
    clock = FakeClock(START)
    with ServiceDesk(clock=clock) as desk:
        tickets = run_history(desk, clock, history)
        histories_of = {ticket: desk.history(ticket) for ticket in tickets}
        cases = list(xes_cases(exported(desk, "xes")))
        assert [name for name, _, _ in cases] == tickets
        for name, activities, times in cases:
            assert activities == [e.event_type for e in histories_of[name]]
            assert times == [e.occurred_at for e in histories_of[name]]
        ocel = json.loads(exported(desk, "ocel"))
        per_request = Counter(
            r["objectId"]
            for e in ocel["events"]
            for r in e["relationships"]
            if r["qualifier"] == "request"
        )
        assert per_request == {t: len(h) for t, h in histories_of.items()}
        requests = [o["id"] for o in ocel["objects"] if o["type"] == "request"]
        assert requests == tickets
        ids = {o["id"] for o in ocel["objects"]}
        assert all(r["objectId"] in ids for e in ocel["events"] for r in e["relationships"])
