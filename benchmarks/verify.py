"""How long ``desk.verify()`` takes on a big SQLite log.

    python benchmarks/verify.py [--events 1000000] [--db verify.db] [--keep]

Builds a log of ``--events`` events (default one million) quickly but for real: requests are
built with the domain API (eight events each: opened, classified, assigned, probed, acted,
progress reported, completed, accepted) and saved 100 per ``save`` call, so the recorder hook
writes the hash chain in each save's transaction exactly as it does in production. The desk
leaves its read models to a follower (``projections="external"``): verify does not read them.
Then it times a full ``verify()`` and a ``verify(expected=head)``, and prints the figures with
the peak memory of the process. ``--db`` keeps the log in a file (reused when it exists).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from servflow import ServiceDesk
from servflow.domain.request import Moment, ServiceRequest

EVENTS_PER_REQUEST = 8
SAVE_BATCH = 100
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def request(number: int) -> ServiceRequest:
    """Request ``SR-<number>`` through a whole lifecycle: eight events."""
    at = Moment(recorded_at=T0 + timedelta(seconds=number), occurred_at=T0)
    actor = "agent:ana"
    made = ServiceRequest.open(
        ticket_code=f"SR-{number:07d}",
        customer={"id": f"cust-{number % 1000:04d}"},
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The router drops the line every evening",
        synthesis=None,
        actor=actor,
        at=at,
    )
    made.classify(priority="high", kind=None, category=None, actor=actor, at=at)
    made.assign(team=f"team-{number % 6}", agent="ana", actor=actor, at=at)
    made.probe(
        questions=["When does it drop?"],
        findings="Drops at 21:00 daily",
        diagnosis="Firmware bug",
        actor=actor,
        at=at,
    )
    made.act(action="Updated the firmware", effort_minutes=20, cost=None, actor=actor, at=at)
    made.report_progress(message="Firmware updated; watching tonight", actor=actor, at=at)
    made.complete(
        outcome="resolved",
        resolution="Firmware 2.1 installed",
        follow_up_at=None,
        to_team=None,
        actor=actor,
        at=at,
    )
    made.accept(satisfaction=5, comment=None, actor="customer:acme", at=at)
    return made


def requests(count: int) -> Iterator[ServiceRequest]:
    """Requests 1..count, built one at a time."""
    for number in range(1, count + 1):
        yield request(number)


def build(desk: ServiceDesk, events: int) -> int:
    """Store about ``events`` events, 100 requests per save; returns how many were stored."""
    store = desk._stores.store  # noqa: SLF001 - a batched save is what makes a million events quick
    stored = 0
    batch: list[ServiceRequest] = []
    count = max(1, events // EVENTS_PER_REQUEST)
    started = time.perf_counter()
    for made in requests(count):
        batch.append(made)
        if len(batch) == SAVE_BATCH:
            store.save(*batch)
            stored += SAVE_BATCH * EVENTS_PER_REQUEST
            batch = []
            if stored % 100_000 == 0:
                rate = stored / (time.perf_counter() - started)
                print(f"  built {stored:,} events ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    if batch:
        store.save(*batch)
        stored += len(batch) * EVENTS_PER_REQUEST
    return stored


def peak_memory_mib() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the log, time verify, print the figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000, help="log size to build")
    parser.add_argument("--db", type=Path, help="SQLite file to keep (reused if it exists)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.db or Path(scratch) / "verify.db"
        fresh = not path.exists()
        with ServiceDesk.sqlite(str(path), projections="external") as desk:
            if fresh:
                print(f"building {args.events:,} events in {path} ...", file=sys.stderr)
                began = time.perf_counter()
                stored = build(desk, args.events)
                built = time.perf_counter() - began
                print(
                    f"built {stored:,} events in {built:.1f} s ({stored / built:,.0f} events/s, "
                    "hash chain included)"
                )
            head = desk.audit_head()
            began = time.perf_counter()
            report = desk.verify()
            elapsed = time.perf_counter() - began
            print(
                f"verify: {report.events_checked:,} events in {elapsed:.1f} s "
                f"({report.events_checked / elapsed:,.0f} events/s), intact={report.intact}"
            )
            began = time.perf_counter()
            against_head = desk.verify(expected=head)
            elapsed = time.perf_counter() - began
            print(f"verify(expected=head): {elapsed:.1f} s, intact={against_head.intact}")
            print(f"peak memory of the process: {peak_memory_mib():,.0f} MiB")
            size = path.stat().st_size / 2**20
            print(f"SQLite file: {size:,.0f} MiB")
        return 0 if report.intact and against_head.intact else 1


if __name__ == "__main__":
    raise SystemExit(main())
