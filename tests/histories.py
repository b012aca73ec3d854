"""Small histories the integration tests share."""

from __future__ import annotations

from conftest import FakeClock
from servflow import Request, ServiceDesk


def assigned_requests(desk: ServiceDesk, clock: FakeClock, count: int) -> list[Request]:
    """``count`` requests five minutes apart, each opened, classified and assigned.

    Request ``n`` (from 0) holds positions ``3n+1 .. 3n+3`` of an empty log.
    """
    requests = []
    for n in range(count):
        clock.advance(minutes=5)
        request = desk.open(
            customer=f"c{n}",
            channel="web",
            kind="claim",
            stage="sale",
            symptom="s",
            actor="agent:a",
        )
        desk.classify(request, priority="high", actor="agent:a")
        desk.assign(request, team="t", agent="a", actor="agent:a")
        requests.append(request)
    return requests
