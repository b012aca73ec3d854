"""The week the hand-computed SLA tests are told in: instants, moves of the clock, a request.

Shared by tests/application/test_sla_breach_final.py and test_sla_update_clock.py (and any
hand-computed SLA test written the same way): ``at("Mon 13:00")`` is an instant of the week of
2026-03-02 (a Monday), UTC; ``urgent(desk)`` opens the request every story starts with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import FakeClock
from servflow import Request, ServiceDesk

__all__ = ["BOTH", "H", "M", "at", "go", "probe", "urgent"]

H = timedelta(hours=1)
M = timedelta(minutes=1)

#: Each rule about a reclassification under both settings: breaches final, and re-timed.
BOTH = pytest.mark.parametrize("final", [True, False], ids=["final", "retroactive"])


def at(text: str) -> datetime:
    """An instant in the week of 2026-03-02 (a Monday), UTC: ``at("Mon 13:00")``."""
    day, clock = text.split()
    days = ("Mon", "Tue", "Wed", "Thu", "Fri").index(day)
    hours, minutes, seconds = (int(part) for part in f"{clock}:0".split(":")[:3])
    return datetime(2026, 3, 2 + days, hours, minutes, seconds, tzinfo=UTC)


def go(clock: FakeClock, text: str) -> None:
    """Move the test's clock to ``at(text)``."""
    clock.now = at(text)


def urgent(desk: ServiceDesk) -> Request:
    """Opened at the clock's now (Mon 09:00 in the stories), classified urgent, assigned."""
    request = desk.open(
        customer="acme",
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The line drops every evening",
        actor="agent:ana",
    )
    desk.classify(request, priority="urgent", actor="agent:lead")
    return desk.assign(request, team="network", agent="ana", actor="agent:lead")


def probe(desk: ServiceDesk, request: Request) -> None:
    """The first response of the stories: a probe by the agent."""
    desk.probe(request, questions=["Since when?"], findings="since Friday", actor="agent:ana")
