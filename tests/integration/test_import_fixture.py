"""A log written by an import, as stored when imports shipped: loads the same, re-imports nothing.

``tests/fixtures/stored-import.jsonl`` holds the stored events (topic, bytes) of an import of
``tests/fixtures/import-old.csv`` (two cases, one row of an unknown state reported) with the
mapping below. It was written once by ``write_fixture`` (``python
tests/integration/test_import_fixture.py``); never rewrite it to make a test pass: each
request's ``HistoryImported`` mark holds a digest of its rows, and a release that computed
digests differently would report every case imported before it as changed in its source.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from conftest import DeskFactory
from servflow import ServiceDesk, Status
from stored_schema import read_log, write_log

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE = FIXTURES / "stored-import.jsonl"
SOURCE = FIXTURES / "import-old.csv"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MAPPING: dict[str, object] = {
    "source": {"name": "old", "timezone": "Europe/Madrid"},
    "fields": {
        "case": "case",
        "time": "time",
        "state": "status",
        "resource": "owner",
        "team": "team",
    },
    "actors": {"importer": "integration:old"},
    "states": {
        "new": "queue",
        "working": "work",
        "waiting": "hold:customer",
        "resolved": "complete",
        "closed": "close",
    },
}


def stored_events() -> list[StoredEvent]:
    return read_log(FIXTURE)


def test_the_fixture_holds_the_mark_of_an_import() -> None:
    topics = {event.topic for event in stored_events()}
    assert "servflow.domain.request:ServiceRequest.HistoryImported" in topics


def test_a_stored_import_loads_the_same_and_a_new_run_of_its_file_appends_nothing(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk(clock=lambda: NOW)
    desk._stores.store.recorder.insert_events(stored_events())
    desk.catch_up()
    a1, b2 = desk.get("ext:old:A1"), desk.get("ext:old:B2")
    assert (a1.status, a1.imported_rows, a1.agent) == (Status.COMPLETED, 4, "ana-belén")
    assert (b2.status, b2.imported_rows) == (Status.CLOSED, 4)
    assert [e.event_type for e in desk.history(b2)][-1] == "HistoryImported"
    again = desk.import_events(SOURCE, MAPPING)
    assert (again.unchanged, again.events, again.problems) == (2, 0, {})


def write_fixture(path: Path) -> None:
    """Write the fixture from a SQLite store (run once; see the module's docstring)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "import.db"
        with ServiceDesk.sqlite(str(db), clock=lambda: NOW) as desk:
            outcome = desk.import_events(SOURCE, MAPPING)
            assert outcome.problems == {"unknown_state": 1}, outcome
            write_log(desk._stores.store.recorder, path)


if __name__ == "__main__":
    write_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURE)
