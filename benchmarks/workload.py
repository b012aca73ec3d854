"""The work the benchmarks do: lifecycles through the desk, and logs built fast.

``run_lifecycle`` drives a desk one command at a time, as a real service desk would.
``lifecycle_request``, ``open_request`` and ``long_request`` build ``ServiceRequest``
aggregates with the domain API (every event validated, nothing skipped) so that
``save_batches`` can store them 100 aggregates per ``save`` call: that is how the large logs
are made, and the output says so.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import open_desk, store_of
from servflow.domain.request import Moment, ServiceRequest

if TYPE_CHECKING:
    from servflow import ServiceDesk

#: Events of one lifecycle: open, classify, assign, probe, act, complete, accept.
LIFECYCLE_EVENTS = 7
#: Monday 5 January 2026, 09:00 UTC: when the simulated history starts.
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
#: Aggregates per ``save`` call when building a log.
SAVE_BATCH = 100
#: The ticket code of the request with ``LONG_EVENTS`` events used by the query benchmark.
LONG_CODE = "HX-000001"
LONG_EVENTS = 50
_TEAMS = 8
_KINDS = ("complaint", "information", "claim", "service_request", "warranty", "quote")
_CHANNELS = ("phone", "web", "email", "chat", "mobile_app", "face_to_face")
_STAGES = ("post_sale", "sale", "pre_sale")
_PRIORITIES = ("urgent", "high", "normal", "low")


def team(index: int) -> str:
    """The team a request is assigned to in the query data set."""
    return f"team-{index % _TEAMS}"


def before_t0() -> datetime:
    """An instant an hour before ``T0`` (the clock of desks that build logs)."""
    return T0 - timedelta(hours=1)


def adopt_standard_policy(desk: ServiceDesk) -> str:
    """Adopt ``SlaPolicy.standard()`` if this version of servflow has SLA policies.

    With a policy the SLA clocks (and the queues' due times) are measured, as in production.
    """
    adopt: Any = getattr(desk, "adopt_policy", None)
    if adopt is None:
        return "no SLA policies in this version of servflow"
    try:
        from servflow.domain.policy import SlaPolicy  # noqa: PLC0415 - optional capability

        adopt(SlaPolicy.standard(), actor="agent:ana")
    except (ImportError, AttributeError, TypeError) as error:
        return f"no SLA policy adopted ({error})"
    return "SlaPolicy.standard() adopted before the first request"


# -- one command at a time, through the desk ---------------------------------------------------


def run_lifecycle(desk: ServiceDesk, index: int) -> None:
    """Open a request and take it to acceptance, one desk command at a time."""
    customer = f"cust-{index % 1000:04d}"
    request = desk.open(
        customer=customer,
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The router drops the line every evening",
        actor="agent:ana",
    )
    ref = request.id
    desk.classify(ref, priority="high", actor="agent:ana")
    desk.assign(ref, team=team(index), agent="ana", actor="agent:ana")
    desk.probe(
        ref,
        questions=["When does it drop?"],
        findings="Drops at 21:00 daily",
        diagnosis="Firmware bug",
        actor="agent:ana",
    )
    desk.act(ref, action="Updated the firmware", effort_minutes=20, actor="agent:ana")
    desk.complete(ref, outcome="resolved", resolution="Firmware 2.1 installed", actor="agent:ana")
    desk.accept(ref, satisfaction=5, actor=f"customer:{customer}")  # its own request


# -- aggregates built with the domain API ------------------------------------------------------


def _moment(at: datetime) -> Moment:
    return Moment(recorded_at=at, occurred_at=at)


def lifecycle_request(number: int) -> ServiceRequest:
    """Request ``SR-<number>`` taken through the same seven steps as ``run_lifecycle``."""
    at = _moment(T0 + timedelta(seconds=number))
    request = ServiceRequest.open(
        ticket_code=f"SR-{number:06d}",
        customer={"id": f"cust-{number % 1000:04d}"},
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The router drops the line every evening",
        synthesis=None,
        actor="agent:ana",
        at=at,
    )
    request.classify(priority="high", kind=None, category=None, actor="agent:ana", at=at)
    request.assign(team=team(number), agent="ana", actor="agent:ana", at=at)
    request.probe(
        questions=["When does it drop?"],
        findings="Drops at 21:00 daily",
        diagnosis="Firmware bug",
        actor="agent:ana",
        at=at,
    )
    request.act(
        action="Updated the firmware", effort_minutes=20, cost=None, actor="agent:ana", at=at
    )
    request.complete(
        outcome="resolved",
        resolution="Firmware 2.1 installed",
        follow_up_at=None,
        to_team=None,
        actor="agent:ana",
        at=at,
    )
    request.accept(satisfaction=5, comment=None, actor="customer:acme", at=at)
    return request


def open_request(number: int) -> ServiceRequest:
    """An open request for the query data set: opened; every 8th one classified and assigned."""
    at = _moment(T0 + timedelta(seconds=number))
    tier = "vip" if number % 10 == 0 else "premium" if number % 10 < 3 else "standard"
    request = ServiceRequest.open(
        ticket_code=f"SR-{number:06d}",
        customer={"id": f"cust-{number % 5000:04d}", "tier": tier},
        channel=_CHANNELS[number % len(_CHANNELS)],
        kind=_KINDS[number % len(_KINDS)],
        stage=_STAGES[number % len(_STAGES)],
        symptom=f"Symptom number {number}: the appliance stops after a few minutes",
        synthesis=None,
        actor="agent:ana",
        at=at,
    )
    if number % 8 == 0:
        request.classify(
            priority=_PRIORITIES[(number // 8) % len(_PRIORITIES)],
            kind=None,
            category=None,
            actor="agent:ana",
            at=at,
        )
        request.assign(
            team=team(number // 8), agent=f"agent-{number % 50}", actor="agent:ana", at=at
        )
    return request


def long_request() -> ServiceRequest:
    """Request ``LONG_CODE`` with ``LONG_EVENTS`` events, one minute apart (still open)."""
    minute = 0

    def at() -> Moment:
        nonlocal minute
        minute += 1
        return _moment(T0 + timedelta(minutes=minute))

    request = ServiceRequest.open(
        ticket_code=LONG_CODE,
        customer={"id": "cust-long", "tier": "vip"},
        channel="phone",
        kind="claim",
        stage="post_sale",
        symptom="The heat pump fails every week",
        synthesis=None,
        actor="agent:ana",
        at=at(),
    )
    request.classify(priority="urgent", kind=None, category=None, actor="agent:ana", at=at())
    request.assign(team="team-1", agent="ana", actor="agent:ana", at=at())
    steps = 3
    while steps < LONG_EVENTS:
        phase = (steps - 3) % 5
        if phase == 0:
            request.probe(
                questions=["What changed?"],
                findings=f"Finding {steps}",
                diagnosis=None,
                actor="agent:ana",
                at=at(),
            )
        elif phase == 1:
            request.act(
                action=f"Action {steps}", effort_minutes=5, cost=None, actor="agent:ana", at=at()
            )
        elif phase == 2:
            request.report_progress(message=f"Update {steps}", actor="agent:ana", at=at())
        elif phase == 3:
            request.wait_on_customer(reason="Needs a photo", actor="agent:ana", at=at())
        else:
            request.customer_responded(note="Photo sent", actor="customer:acme", at=at())
        steps += 1
    return request


def long_as_of() -> datetime:
    """An instant half way through the long request's history (after its 25th event)."""
    return T0 + timedelta(minutes=LONG_EVENTS // 2, seconds=30)


# -- storing aggregates in batches -------------------------------------------------------------


def save_batches(desk: ServiceDesk, requests: Iterable[ServiceRequest]) -> int:
    """Save aggregates ``SAVE_BATCH`` per ``save`` call; returns how many events were stored."""
    store = store_of(desk)
    batch: list[ServiceRequest] = []
    events = 0
    for request in requests:
        batch.append(request)
        if len(batch) == SAVE_BATCH:
            events += sum(len(r.pending_events) for r in batch)
            store.save(*batch)
            batch = []
    if batch:
        events += sum(len(r.pending_events) for r in batch)
        store.save(*batch)
    return events


def lifecycles(first: int, count: int) -> Iterator[ServiceRequest]:
    """Requests ``first .. first+count-1``, each through a whole lifecycle."""
    for number in range(first, first + count):
        yield lifecycle_request(number)


def open_requests(first: int, count: int) -> Iterator[ServiceRequest]:
    """Open requests ``first .. first+count-1`` of the query data set."""
    for number in range(first, first + count):
        yield open_request(number)


# -- cache keys --------------------------------------------------------------------------------


def fingerprint(scratch: Path) -> str:
    """A key that changes when stored events or the tables a desk creates change shape.

    Cached logs are reused only while it stays the same: one lifecycle's stored topics and
    payloads, plus the DDL of a fresh SQLite desk (events, views, any other tables).
    """
    digest = hashlib.sha256()
    with open_desk("memory") as desk:
        mapper = store_of(desk).mapper
        for event in lifecycle_request(1).collect_events():
            stored = mapper.to_stored_event(event)
            digest.update(stored.topic.encode())
            digest.update(bytes(stored.state))
    path = scratch / "fingerprint.db"
    with open_desk("sqlite", path=path):
        pass
    connection = sqlite3.connect(path)
    try:
        ddl = sorted(str(row[0]) for row in connection.execute("SELECT sql FROM sqlite_master"))
    finally:
        connection.close()
    digest.update("\n".join(ddl).encode())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return digest.hexdigest()[:12]
