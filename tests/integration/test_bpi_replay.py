"""The BPI Challenge 2013 incident log replays through the public API without a refusal.

``tests/fixtures/bpi2013-sample.csv.gz`` is a deterministic sample of the log: every 25th
request of ``bpi2013_incidents.csv.gz`` (303 requests, 2,634 source rows), cut from the BPI
Challenge 2013 incident log of Volvo IT (4TU.ResearchData, CC BY 4.0). It goes through
``tests/replay_bpi.py`` on an in-memory desk; the whole log is replayed by hand
(``python tests/replay_bpi.py``) and its figures are in ``docs/how-to/holds-and-closure.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from replay_bpi import NOW, replay
from servflow import ServiceDesk, Status

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "bpi2013-sample.csv.gz"


def test_a_sample_of_the_bpi_log_replays_with_no_refusal_and_its_views_rebuild_the_same() -> None:
    with ServiceDesk(clock=lambda: NOW) as desk:
        outcome = replay(desk, path=SAMPLE)
        assert (outcome.requests, outcome.rows) == (303, 2_634)
        assert outcome.refusals == {}
        assert outcome.full == outcome.requests
        # Every kind of new command was needed, and the closures kept the source's own time.
        for command in ("hold", "resume", "unassign", "close", "reopen"):
            assert outcome.commands[command] > 0, command
        closed = desk.queue(status="closed", limit=500).rows
        assert all(row.updated_at < datetime(2013, 1, 1, tzinfo=UTC) for row in closed)
        kpis = desk.kpis(since=datetime(2000, 1, 1, tzinfo=UTC), until=NOW, at=NOW)
        assert kpis.requests == outcome.requests
        before = desk.queue(status=list(Status), limit=500).rows
        desk.rebuild_projections()
        assert desk.queue(status=list(Status), limit=500).rows == before
