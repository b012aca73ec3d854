"""The stored schema as the tests see it: every event class servflow records, and stored logs.

A stored fixture (``tests/fixtures/stored-*.jsonl``) is one JSON line per stored event: its
originator id and version, topic, and the stored bytes in base64. ``read_log`` reads one back,
``write_log`` writes one from a store's notification log (once, by hand, when events ship).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from servflow.domain.base import EventSourced


def stored_event_classes() -> list[type[EventSourced.Event]]:
    """Every event class servflow records (the library's ``Created`` aliases left out)."""
    found: list[type[EventSourced.Event]] = []
    pending: list[type[EventSourced.Event]] = [EventSourced.Event]
    while pending:
        cls = pending.pop()
        children = cls.__subclasses__()
        pending.extend(children)
        local = "<locals>" in cls.__qualname__ or not cls.__module__.startswith("servflow.")
        if not children and cls.__name__ != "Created" and not local:
            found.append(cls)
    return sorted(found, key=get_topic)


def read_log(path: Path) -> list[StoredEvent]:
    """The stored events of a fixture, in log order."""
    records = [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    return [
        StoredEvent(
            originator_id=UUID(r["originator_id"]),
            originator_version=r["originator_version"],
            topic=r["topic"],
            state=base64.b64decode(r["state"]),
        )
        for r in records
    ]


def write_log(recorder: Any, path: Path) -> None:
    """Write a store's whole notification log as a fixture (see ``read_log``)."""
    lines = [
        {
            "originator_id": str(n.originator_id),
            "originator_version": n.originator_version,
            "topic": n.topic,
            "state": base64.b64encode(bytes(n.state)).decode(),
        }
        for n in recorder.select_notifications(start=1, limit=100_000)
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
