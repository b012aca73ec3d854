"""SLA benchmark: business-time maths over a year, and breach listings over many open requests.

    python benchmarks/sla.py [--quick]

1. ``Calendar.add`` and ``Calendar.between`` across a one-year span on a five-day week with 20
   holidays (Europe/Madrid, so two DST changes are crossed), median of many runs, cold (the
   calendar's per-date memo cleared before each run) and warm, against a same-run baseline: plain
   ``datetime + timedelta``.
2. ``desk.breaches`` and ``desk.at_risk`` over 100,000 open requests on SQLite (``--quick``:
   2,000). The log is built fast and honestly: every request is a real ``ServiceRequest``
   aggregate built with the domain API (each event validated), stored 100 aggregates per
   ``save`` call, then the desk's projections catch up from the log like a follower would (the
   time that takes is printed too). Nothing is written to the view tables directly.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from servflow import ServiceDesk
from servflow.domain import calendar as calendar_module
from servflow.domain.calendar import Calendar
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.request import Moment, ServiceRequest

HOLIDAYS = (
    "2026-01-01",
    "2026-01-06",
    "2026-03-19",
    "2026-04-02",
    "2026-04-03",
    "2026-04-06",
    "2026-05-01",
    "2026-05-15",
    "2026-06-24",
    "2026-07-25",
    "2026-08-14",
    "2026-08-17",
    "2026-10-12",
    "2026-11-02",
    "2026-11-09",
    "2026-12-07",
    "2026-12-08",
    "2026-12-24",
    "2026-12-25",
    "2026-12-31",
)
OFFICE = Calendar(
    name="madrid-office",
    timezone="Europe/Madrid",
    hours={
        day: [("09:00", "13:00"), ("14:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")
    },
    holidays=[date.fromisoformat(day) for day in HOLIDAYS],
)
POLICY = SlaPolicy(
    name="bench",
    calendar=OFFICE,
    rules=(
        SlaRule(name="urgent", priority="urgent", first_response="1h", resolution="4h"),
        SlaRule(name="high", priority="high", first_response="4h", resolution="16h"),
        SlaRule(name="normal", priority="normal", first_response="8h", resolution="40h"),
        SlaRule(name="low", priority="low", first_response="16h", resolution="80h"),
    ),
    default=SlaRule(name="default", first_response="8h", resolution="40h"),
)
START = datetime(2026, 1, 2, 8, 30, tzinfo=UTC)
PRIORITIES = ("urgent", "high", "normal", "low")


def median_seconds(action: Callable[[], object], runs: int, before: Callable[[], object]) -> float:
    """The median wall time of ``action`` over ``runs`` runs, ``before`` run untimed each time."""
    samples = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def nothing() -> None:
    """A ``before`` that does nothing."""


def bench_calendar(runs: int) -> None:
    """``add`` and ``between`` across one year, cold and warm, against plain datetime maths."""
    year_end = datetime(2027, 1, 2, 8, 30, tzinfo=UTC)
    business_year = OFFICE.between(START, year_end)
    wall_year = year_end - START
    if OFFICE.add(START, business_year) > year_end:
        msg = "Calendar.add and Calendar.between disagree"
        raise RuntimeError(msg)
    clear = calendar_module.clear_schedules  # measuring the cold path
    baseline = median_seconds(lambda: START + wall_year, runs * 10, nothing)
    add_cold = median_seconds(lambda: OFFICE.add(START, business_year), runs, clear)
    add_warm = median_seconds(lambda: OFFICE.add(START, business_year), runs, nothing)
    between_cold = median_seconds(lambda: OFFICE.between(START, year_end), runs, clear)
    between_warm = median_seconds(lambda: OFFICE.between(START, year_end), runs, nothing)
    days = (year_end.date() - START.date()).days
    print(
        f"Calendar: 5-day week (2 intervals a day), {len(HOLIDAYS)} holidays, Europe/Madrid; "
        f"span {days} local dates, {business_year / timedelta(hours=1):g} h of business time; "
        f"median of {runs} runs"
    )
    print(f"  baseline datetime + timedelta       {baseline * 1e6:12.3f} us")
    for name, seconds in (
        ("Calendar.add over 1 year, cold", add_cold),
        ("Calendar.add over 1 year, warm", add_warm),
        ("Calendar.between over 1 year, cold", between_cold),
        ("Calendar.between over 1 year, warm", between_warm),
    ):
        print(
            f"  {name:<35} {seconds * 1e6:12.1f} us  ({seconds / baseline:,.0f}x baseline, "
            f"{seconds / days * 1e6:.2f} us per local date)"
        )


def requests(count: int) -> Iterator[ServiceRequest]:
    """Open requests, one every 40 s of wall time from ``START``; a mix of states."""
    for number in range(1, count + 1):
        at = START + timedelta(seconds=40 * number)
        moment = Moment(at, at)
        request = ServiceRequest.open(
            ticket_code=f"SR-{number:06d}",
            customer={"id": f"cust-{number % 5000}", "tier": "standard"},
            channel="web",
            kind="complaint",
            stage="post_sale",
            symptom=f"Symptom {number}",
            synthesis=None,
            actor="agent:ana",
            at=moment,
        )
        if number % 4:
            request.classify(
                priority=PRIORITIES[number % 4],
                kind=None,
                category=None,
                actor="agent:ana",
                at=moment,
            )
            request.assign(
                team=f"team-{number % 8}",
                agent=f"agent-{number % 50}",
                actor="agent:ana",
                at=moment,
            )
            if number % 5 == 0:
                request.probe(
                    questions=["?"], findings="f", diagnosis=None, actor="agent:ana", at=moment
                )
            if number % 7 == 0:
                request.wait_on_customer(reason="serial", actor="agent:ana", at=moment)
        yield request


def bench_breaches(count: int, runs: int) -> None:
    """``desk.breaches`` and ``desk.at_risk`` over ``count`` open requests on SQLite."""
    end = START + timedelta(seconds=40 * (count + 1))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "sla.db"
        with ServiceDesk.sqlite(
            str(path), clock=lambda: START, projections="external", sla=POLICY
        ) as desk:
            store = desk._stores.store  # noqa: SLF001 - batched saves build the log fast
            started = time.perf_counter()
            batch: list[ServiceRequest] = []
            events = 0
            for request in requests(count):
                batch.append(request)
                if len(batch) == 100:
                    events += sum(len(r.pending_events) for r in batch)
                    store.save(*batch)
                    batch = []
            if batch:
                events += sum(len(r.pending_events) for r in batch)
                store.save(*batch)
            stored = time.perf_counter() - started
            started = time.perf_counter()
            projected = desk.catch_up()
            caught_up = time.perf_counter() - started
        print(
            f"Data: {count:,} open requests, {events:,} events stored by save(100 aggregates) in "
            f"{stored:.1f} s; the projections (queues, SLA, audit) caught up on {projected:,} "
            f"events in {caught_up:.1f} s ({projected / caught_up:,.0f} ev/s)"
        )
        with ServiceDesk.sqlite(str(path), clock=lambda: end, projections="external") as desk:
            everything = desk.breaches()
            risks = desk.at_risk()
            print(
                f"  as of {end:%Y-%m-%d %H:%M} UTC: {len(everything):,} breached clocks, "
                f"{len(risks):,} at risk; median of {runs} runs"
            )
            for name, action in (
                ("desk.breaches(limit=50)", lambda: desk.breaches(limit=50)),
                ("desk.at_risk(limit=50)", lambda: desk.at_risk(limit=50)),
                (f"desk.breaches() -> {len(everything):,} rows", desk.breaches),
                (f"desk.at_risk() -> {len(risks):,} rows", desk.at_risk),
                ("desk.sla(one request) from its events", lambda: desk.sla("SR-000100")),
            ):
                seconds = median_seconds(action, runs, nothing)
                print(f"  {name:<40} {seconds * 1e3:10.2f} ms")


def main() -> None:
    """Run both benchmarks (``--quick``: small sizes and few runs, to check that they run)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 requests and fewer runs")
    args = parser.parse_args()
    bench_calendar(runs=50 if args.quick else 500)
    bench_breaches(count=2_000 if args.quick else 100_000, runs=5 if args.quick else 21)


if __name__ == "__main__":
    main()
