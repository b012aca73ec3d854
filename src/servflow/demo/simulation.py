"""The simulation: plan every request's story, then run all their steps in time order.

Each request's story is planned first, as a list of steps with business-hour timestamps;
then the steps of all requests are merged into one timeline and executed in time order on a
desk whose clock is a :class:`SimClock`. Steps planned after the end of the simulated period
never happen, so the final state mixes closed, cancelled and in-flight requests. Everything
comes from ``random.Random(seed)``: the same seed gives the same store.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from servflow import Channel, Kind, Request, ServiceDesk, Status
from servflow.demo.catalogue import (
    CHANNEL_WEIGHTS,
    CITIES,
    CUSTOMER_WEIGHTS,
    CUSTOMERS,
    KIND_WEIGHTS,
    MONTHS,
    PRODUCTS,
    RUSH_DAYS,
    RUSH_LOAD,
)
from servflow.demo.hours import DeskHours
from servflow.demo.needs import NEEDS
from servflow.demo.story import Ending, Profile, Step, Story
from servflow.demo.summary import DemoSummary, summarise

__all__ = ["DEFAULT_START", "SimClock", "simulate"]

#: Monday 7 September 2026, 08:00 in Madrid: the first morning of the default simulation.
DEFAULT_START = datetime(2026, 9, 7, 8, 0, tzinfo=ZoneInfo("Europe/Madrid"))

#: When the simulation stops on its last day.
_SNAPSHOT = time(16, 30)

_T = TypeVar("_T")


class SimClock:
    """A clock the simulator moves by hand; give it to the desk as ``clock=``."""

    def __init__(self, now: datetime = DEFAULT_START) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            msg = "a SimClock needs a timezone-aware datetime"
            raise ValueError(msg)
        self.now = now

    def __call__(self) -> datetime:
        """The simulated now."""
        return self.now


def _words(rng: random.Random, day: date) -> dict[str, str]:
    invoice = rng.randint(24000, 26999)
    return {
        "product": rng.choice(PRODUCTS),
        "city": rng.choice(CITIES),
        "month": rng.choice(MONTHS),
        "invoice": f"F-2026-{invoice}",
        "invoice2": f"F-2026-{invoice + rng.randint(3, 40)}",
        "amount": f"{rng.randint(45, 180)}",
        "n": str(rng.randint(2, 5)),
        "business": rng.choice(("restaurant", "hotel", "gym", "clinic", "school", "bakery")),
        "weekday": (day + timedelta(days=rng.randint(1, 3))).strftime("%A"),
        "team": "the field-service team",
    }


def _deck(rng: random.Random, items: Sequence[_T], count: int, pick: Callable[[], _T]) -> list[_T]:
    """``count`` picks that cover every item first (when count allows), then ``pick()``."""
    covered = list(items)
    rng.shuffle(covered)
    return [covered[i] if i < len(covered) else pick() for i in range(count)]


def _arrivals(
    rng: random.Random, hours: DeskHours, start: datetime, end: datetime, n: int
) -> list[datetime]:
    days = hours.days(start, end)
    weights = [(1.4, 1.1, 1.0, 1.0, 0.8)[day.weekday()] for day in days]
    moments: list[datetime] = []
    for day in rng.choices(days, weights=weights, k=n):
        # Busiest mid-morning, a second wave after lunch; the last day ends early.
        opening, closing = hours.day(day)
        share = min(1.0, hours.calendar.between(opening, end) / (closing - opening))
        minute = int(rng.triangular(0, 659, 150) if rng.random() < 0.65 else rng.uniform(330, 659))  # noqa: PLR2004
        offset = timedelta(minutes=int(minute * share), seconds=rng.randint(0, 59))
        moments.append(min(opening + offset, end))
    moments = [max(m, start) for m in moments if m <= end]
    moments.sort()
    return moments


def simulate(
    desk: ServiceDesk,
    *,
    clock: SimClock,
    requests: int = 300,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    weeks: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Fill ``desk`` with ``requests`` simulated requests over ``weeks`` business weeks.

    ``desk`` must have been created with ``clock=clock``: the simulator moves that clock to
    each step's instant before running it. ``progress(done, total)`` is called as steps run.
    At the end it brings the desk's projections up to date, records the deemed acceptances and
    follow-ups that came due (``run_due``), and measures every request's SLA clocks as of the
    end. The same seed on an empty store always gives the same requests, events and summary.
    A desk opened with ``projections="external"`` simulates several times faster. Give the
    desk ``sla=demo_policy()`` for the demo company's business hours and targets.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        msg = "start must be a timezone-aware datetime"
        raise ValueError(msg)
    if requests < 0 or weeks < 1:
        msg = "requests must be 0 or more and weeks 1 or more"
        raise ValueError(msg)
    rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
    hours = DeskHours.in_zone(start.tzinfo)
    start = hours.next_open(start)
    # The simulation stops on the last afternoon, with the day's work in hand.
    end = datetime.combine(
        hours.days(start, start + timedelta(weeks=weeks))[-1], _SNAPSHOT, hours.zone
    )

    arrivals = _arrivals(rng, hours, start, end, requests)
    # The final week is a rush (a late heat wave): the desk falls behind, so the simulation
    # ends with some requests overdue and others about to be.
    days = hours.days(start, end)
    rush, _ = hours.day(days[max(0, len(days) - RUSH_DAYS)])
    count = len(arrivals)
    kinds = _deck(rng, list(Kind), count, lambda: rng.choices(list(Kind), weights=KIND_WEIGHTS)[0])
    channels = _deck(
        rng, list(Channel), count, lambda: rng.choices(list(Channel), weights=CHANNEL_WEIGHTS)[0]
    )
    endings = _endings(rng, arrivals, end, hours)
    tickets: dict[int, str] = {}
    last_of: dict[str, int] = {}
    steps: list[Step] = []
    for index, opened_at in enumerate(arrivals):
        ending = endings.get(index)
        kind, channel = kinds[index], channels[index]
        customer = rng.choices(CUSTOMERS, weights=CUSTOMER_WEIGHTS)[0]
        if ending == "tour":
            kind, channel = Kind.WARRANTY, Channel.PHONE
        need = NEEDS[kind]
        stage = rng.choice(need.stages)
        profile = Profile(
            kind=kind,
            stage=stage,
            channel=channel,
            customer=customer,
            case=rng.choice(need.cases),
            words=_words(rng, opened_at.date()),
        )
        story = Story(
            index=index,
            profile=profile,
            opened_at=opened_at,
            hours=hours,
            rng=rng,
            tickets=tickets,
            earlier=last_of.get(customer.id),
            ending=ending,
            load=RUSH_LOAD if opened_at >= rush else 1.0,
        )
        last_of[customer.id] = index
        steps.extend(step for step in story.plan() if step.at <= end)

    steps.sort(key=lambda step: (step.at, step.request, step.seq))
    total = len(steps)
    for done, step in enumerate(steps, start=1):
        clock.now = step.at.astimezone(UTC)
        result = step.command(desk, tickets.get(step.request, ""))
        if step.seq == 0 and isinstance(result, Request):
            tickets[step.request] = result.ticket_code
        if progress is not None:
            progress(done, total)
    clock.now = max(clock.now, end.astimezone(UTC))
    desk.catch_up()  # run_due finds its candidates in the SLA projection
    due = desk.run_due(at=end)
    featured = tickets.get(next((i for i, e in endings.items() if e == "tour"), -1))
    return summarise(desk, tickets, due, seed=seed, started=start, ended=end, featured=featured)


def _endings(
    rng: random.Random, arrivals: list[datetime], end: datetime, hours: DeskHours
) -> dict[int, Ending]:
    """Pin a few stories to an ending, so every state shows up even in a small simulation.

    The rest end wherever their plan and the end of the simulation leave them.
    """
    count = len(arrivals)
    endings: dict[int, Ending] = {}
    if count < len(Status):
        return endings
    # Opened at least eight business days before the end: time enough to reach the ending.
    early = [i for i, at in enumerate(arrivals) if hours.add(at, 8 * 660) < end]
    # The tour leaves the first requests alone: they show one of each kind and channel.
    touring = [i for i in early if i >= len(Kind)]
    if touring:
        endings[touring[len(touring) // 8]] = "tour"
    endings[count - 1] = "new"
    pinned: tuple[Ending, ...] = ("waiting", "completed", "cancelled")
    quota = max(1, count // 100)
    candidates = [i for i in early if i not in endings]
    rng.shuffle(candidates)
    for ending in pinned:
        for _ in range(quota):
            if candidates:
                endings[candidates.pop()] = ending
    return endings
