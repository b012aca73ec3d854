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
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from benchmarks.common import open_desk, store_of
from servflow.domain.request import Moment, ServiceRequest

if TYPE_CHECKING:
    from servflow import ServiceDesk

#: What a command returns to find its request again (a UUID for the desk and the bare app).
R = TypeVar("R")

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


# -- requests in flight, in time order -------------------------------------------------------

#: The step that closes a lifecycle (``accept``); steps are numbered from 0 (``open``).
LAST_STEP = LIFECYCLE_EVENTS - 1


def fill_length(in_flight: int) -> int:
    """How many commands ``interleaved`` issues before its slots start taking turns."""
    return sum(1 + slot % LAST_STEP for slot in range(in_flight))


def in_flight_for_span(span: int) -> int:
    """Requests in flight for a request to span about ``span`` events of the log.

    In the steady state of ``interleaved`` a request lives ``LAST_STEP`` turns of the slots, and
    a turn of ``n`` slots issues ``n`` commands plus one ``open`` per acceptance (``n / 6``):
    about ``LIFECYCLE_EVENTS * n`` events from a request's opening to its acceptance.
    """
    return max(1, round(span / LIFECYCLE_EVENTS))


def interleaved(requests: int | None, in_flight: int, first: int = 1) -> Iterator[tuple[int, int]]:
    """Every ``(request number, step)`` of a desk with ``in_flight`` requests open at a time.

    A desk works on many requests at once, one step at a time: this is the order its commands
    come in. Slot ``i`` opens its request and takes it ``i % 6`` steps further straight away
    (so the slots are at every step of the lifecycle, not in lockstep); then the slots take
    turns, one command each. A slot whose request is accepted opens the next request in the
    same turn, so ``in_flight`` requests stay open, until ``requests`` requests were opened
    (``None``: never); then the slots drain. Each request's steps come in order, each exactly
    once, and request numbers are opened in order from ``first``.
    """
    if in_flight < 1:
        msg = "in_flight must be at least 1"
        raise ValueError(msg)
    end = None if requests is None else first + requests
    number = first
    slots: list[list[int]] = []  # [request number, its next step]
    for slot in range(in_flight):
        if end is not None and number >= end:
            break
        ahead = slot % LAST_STEP
        for step in range(ahead + 1):
            yield number, step
        slots.append([number, ahead + 1])
        number += 1
    while slots:
        kept: list[list[int]] = []
        for slot_state in slots:
            current, step = slot_state
            yield current, step
            if step < LAST_STEP:
                slot_state[1] = step + 1
            elif end is None or number < end:
                yield number, 0
                slot_state[0], slot_state[1] = number, 1
                number += 1
            else:
                continue  # drained
            kept.append(slot_state)
        slots = kept


class InFlight(Generic[R]):
    """A desk's day: ``size`` requests in flight, stepped one command at a time in turn.

    ``command(number, step, ref)`` issues step ``step`` of request ``number`` (``ref`` is what
    its ``open`` returned, ``None`` for the ``open`` itself) and returns the request's ref. The
    order is ``interleaved(None, size)``; ``fill()`` issues the commands that open the first
    ``size`` requests and spread them over the lifecycle (a warm-up, untimed).
    """

    def __init__(self, size: int, command: Callable[[int, int, R | None], R]) -> None:
        self.size = size
        self._command = command
        self._schedule = interleaved(None, size)
        self._refs: dict[int, R] = {}
        #: Commands issued so far.
        self.commands = 0

    def fill(self) -> None:
        """Open the first ``size`` requests, each taken to its starting step."""
        for _ in range(fill_length(self.size) - self.commands):
            self.step()

    def step(self) -> None:
        """Issue the next command."""
        number, step = next(self._schedule)
        if step == 0:
            self._refs[number] = self._command(number, step, None)
        elif step == LAST_STEP:
            self._command(number, step, self._refs.pop(number))
        else:
            self._command(number, step, self._refs[number])
        self.commands += 1

    @property
    def open_requests(self) -> int:
        """How many requests are open (opened and not yet accepted)."""
        return len(self._refs)


# -- one command at a time, through the desk ---------------------------------------------------


def desk_command(desk: ServiceDesk, index: int, step: int, ref: UUID | None) -> UUID:
    """Step ``step`` of request ``index``'s lifecycle through the desk; returns its id."""
    customer = f"cust-{index % 1000:04d}"
    if ref is None:
        return desk.open(
            customer=customer,
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom="The router drops the line every evening",
            actor="agent:ana",
        ).id
    if step == 1:
        desk.classify(ref, priority="high", actor="agent:ana")
    elif step == 2:
        desk.assign(ref, team=team(index), agent="ana", actor="agent:ana")
    elif step == 3:
        desk.probe(
            ref,
            questions=["When does it drop?"],
            findings="Drops at 21:00 daily",
            diagnosis="Firmware bug",
            actor="agent:ana",
        )
    elif step == 4:
        desk.act(ref, action="Updated the firmware", effort_minutes=20, actor="agent:ana")
    elif step == 5:
        desk.complete(
            ref, outcome="resolved", resolution="Firmware 2.1 installed", actor="agent:ana"
        )
    else:
        desk.accept(ref, satisfaction=5, actor=f"customer:{customer}")  # its own request
    return ref


def run_lifecycle(desk: ServiceDesk, index: int) -> None:
    """Open a request and take it to acceptance, one desk command at a time."""
    ref = desk_command(desk, index, 0, None)
    for step in range(1, LIFECYCLE_EVENTS):
        desk_command(desk, index, step, ref)


# -- aggregates built with the domain API ------------------------------------------------------


def _moment(at: datetime) -> Moment:
    return Moment(recorded_at=at, occurred_at=at)


def lifecycle_step(
    request: ServiceRequest | None, number: int, step: int, at: Moment
) -> ServiceRequest:
    """Step ``step`` of request ``SR-<number>``'s lifecycle (``run_lifecycle``'s seven)."""
    if request is None:
        return ServiceRequest.open(
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
    if step == 1:
        request.classify(priority="high", kind=None, category=None, actor="agent:ana", at=at)
    elif step == 2:
        request.assign(team=team(number), agent="ana", actor="agent:ana", at=at)
    elif step == 3:
        request.probe(
            questions=["When does it drop?"],
            findings="Drops at 21:00 daily",
            diagnosis="Firmware bug",
            actor="agent:ana",
            at=at,
        )
    elif step == 4:
        request.act(
            action="Updated the firmware", effort_minutes=20, cost=None, actor="agent:ana", at=at
        )
    elif step == 5:
        request.complete(
            outcome="resolved",
            resolution="Firmware 2.1 installed",
            follow_up_at=None,
            to_team=None,
            actor="agent:ana",
            at=at,
        )
    else:
        request.accept(satisfaction=5, comment=None, actor="customer:acme", at=at)
    return request


def lifecycle_request(number: int) -> ServiceRequest:
    """Request ``SR-<number>`` taken through the same seven steps as ``run_lifecycle``."""
    at = _moment(T0 + timedelta(seconds=number))
    request = lifecycle_step(None, number, 0, at)
    for step in range(1, LIFECYCLE_EVENTS):
        lifecycle_step(request, number, step, at)
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


def save_time_ordered(desk: ServiceDesk, requests: int, in_flight: int) -> int:
    """Store ``requests`` whole lifecycles in the order a desk with ``in_flight`` works them.

    The events are those of ``lifecycles(1, requests)`` (the same steps of the same requests)
    in ``interleaved`` order, one second apart, so the log is in time order and each request is
    spread over about ``LIFECYCLE_EVENTS * in_flight`` events of it. Saved up to
    ``SAVE_BATCH * LIFECYCLE_EVENTS`` events per ``save`` (as many as ``save_batches``), and
    before a request would take a second step within one save, so the stored order is exactly
    the schedule's. Returns how many events were stored.
    """
    store = store_of(desk)
    live: dict[int, ServiceRequest] = {}
    batch: dict[int, ServiceRequest] = {}  # in order of first step within the batch
    pending = 0
    last = 0
    stored = 0
    limit = SAVE_BATCH * LIFECYCLE_EVENTS

    def flush() -> None:
        nonlocal stored, pending
        if batch:
            store.save(*batch.values())
            stored += pending
            batch.clear()
            pending = 0

    for position, (number, step) in enumerate(interleaved(requests, in_flight)):
        # An aggregate's events are stored together: a request may take a second step in the
        # same save only right after its first (as when a slot opens its request).
        if (number in batch and number != last) or pending == limit:
            flush()
        at = _moment(T0 + timedelta(seconds=position))
        request = lifecycle_step(live.get(number), number, step, at)
        if step == LAST_STEP:
            live.pop(number, None)
        else:
            live[number] = request
        batch[number] = request
        pending += 1
        last = number
    flush()
    return stored


def request_spans(path: Path) -> list[int]:
    """For each request of an SQLite log: how many positions lie from its first to last event."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT MAX(rowid) - MIN(rowid) FROM stored_events GROUP BY originator_id"
        ).fetchall()
    finally:
        connection.close()
    return [int(row[0]) for row in rows]


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
