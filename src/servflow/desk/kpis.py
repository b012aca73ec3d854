"""KPIs of a period, computed from the event log as it stood at an instant.

``ServiceDesk.kpis`` delegates here. The cohort is the requests *opened* in ``[since, until)``
(by when they happened); each is what ``desk.get(id, as_of=at)`` and ``desk.sla(id, at=at)``
answer, so only events with ``occurred_at <= at`` count and the same question gets the same
answer at any later date. The desk reads them from the log (not a projection, so never
stale), 500 requests per query. ``docs/reference/kpis.md`` explains every figure.
"""

from __future__ import annotations

import functools
import itertools
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from eventsourcing.persistence import StoredEvent
from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow.desk.checks import member, text_filter
from servflow.desk.clock import checked_instant
from servflow.domain.request import ServiceRequest, Status, total_cost, total_effort
from servflow.domain.sla import ClockState, SlaTracker, policy_at, to_second
from servflow.domain.values import Channel, Kind, Outcome
from servflow.errors import CorruptEventError, ValidationFailedError
from servflow.persistence.store import translated

if TYPE_CHECKING:
    from servflow.desk.clock import DeskClock
    from servflow.desk.reads import Reader
    from servflow.desk.sla import SlaDesk
    from servflow.desk.stores import Stores
    from servflow.domain.sla import SlaStatus

__all__ = ["KpiDesk", "Kpis", "compute_kpis"]

#: Requests read per query by ``kpis``.
_KPI_BATCH = 500

_COMMAND = "kpis"
_E = TypeVar("_E", Status, Kind, Channel)
#: Clock states that are decided for compliance: met on time, met late, or overdue.
_DECIDED = (ClockState.MET, ClockState.MISSED, ClockState.BREACHED)


class Kpis(BaseModel):
    """Service KPIs for the requests opened in ``[since, until)``, as of the instant ``at``.

    Counts dictionaries (``by_status``, ``by_kind``, ``by_channel``) list only the values that
    occur; the clock dictionaries (``first_response``, ``resolution``) list every
    :class:`ClockState`, zero included. Rates are fractions in ``[0, 1]`` and ``None`` when
    nothing qualifies for their denominator; times are wall-clock (not business) time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: AwareDatetime
    """Start of the period (inclusive): requests opened at or after it."""
    until: AwareDatetime
    """End of the period (exclusive): requests opened before it."""
    at: AwareDatetime
    """The instant the log was read as of: later events do not count."""
    team: str | None
    """The team filter, if any (the request's team as of ``at``)."""
    kind: Kind | None
    """The kind filter, if any (the request's kind as of ``at``)."""
    requests: int
    """Volume: requests opened in the period (and matching the filters)."""
    by_status: dict[Status, int]
    """Requests per status as of ``at``."""
    by_kind: dict[Kind, int]
    """Requests per kind as of ``at``."""
    by_channel: dict[Channel, int]
    """Requests per channel."""
    first_response: dict[ClockState, int]
    """First-response clocks per state as of ``at``."""
    resolution: dict[ClockState, int]
    """Resolution clocks per state as of ``at``."""
    update: dict[ClockState, int]
    """Update clocks per state as of ``at``, of the requests whose rule sets an update target
    (every :class:`ClockState`, zero included)."""
    first_response_compliance: float | None
    """met / (met + missed + breached) of the first-response clocks."""
    sla_compliance: float | None
    """met / (met + missed + breached) of the resolution clocks."""
    update_compliance: float | None = None
    """Update cycles on time / (on time + breached): a cycle is on time when an update (or the
    completion) came by its due instant, breached when it went past it (ended late, or still
    running past it as of ``at``). None when no cycle is decided yet."""
    update_cycles_met: int = 0
    """Update cycles ended on time by an update or the completion."""
    update_breached_cycles: int = 0
    """Update cycles that went past their due instant, each counted once."""
    first_response_time: timedelta | None
    """Median wall time from opening to the first response (the clock's ``met_at``)."""
    mean_first_response_time: timedelta | None
    """Mean of the same."""
    resolution_time: timedelta | None
    """Median wall time from opening to the latest completion, of completed or closed requests."""
    mean_resolution_time: timedelta | None
    """Mean of the same."""
    first_contact_resolution: float | None
    """Share of closed, resolved requests never reopened or transferred, with at most one action."""
    reopen_rate: float | None
    """Share of the requests completed at least once that were reopened at least once."""
    mean_satisfaction: float | None
    """Mean 1-5 satisfaction of explicit acceptances (deemed acceptances have none)."""
    satisfaction_count: int
    """Explicit acceptances with a satisfaction score."""
    deemed_acceptances: int
    """Requests closed by deemed acceptance (the customer stayed silent)."""
    closures: int = 0
    """Requests closed by the desk or ``system`` (``Closed``: no satisfaction) as of ``at``."""
    reopened_after_closure: int = 0
    """Reopenings of closed requests (each counted), within the policy's reopening window."""
    effort_minutes: int
    """Total effort of the recorded actions."""
    cost: Decimal
    """Total cost of the recorded actions."""
    nonconformities: int
    """Non-conformities logged on these requests by ``at``."""
    nonconformities_corrected: int
    """Of those, the ones corrected by ``at``."""
    skipped: int = 0
    """Stored events that could not be read (``CorruptEventError``): their requests are left
    out of every figure (``desk.quarantine()`` and ``desk.verify()`` find them)."""


def _kind(kind: Kind | str | None) -> Kind | None:
    return None if kind is None else member(Kind, kind, "kind", _COMMAND)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _mean(values: list[timedelta]) -> timedelta | None:
    return sum(values, timedelta(0)) / len(values) if values else None


def _ordered(counts: Counter[_E], order: Iterable[_E]) -> dict[_E, int]:
    return {value: counts[value] for value in order if counts[value]}


def compute_kpis(  # noqa: C901, PLR0912, PLR0915 - one pass that adds up every figure
    cohort: Callable[
        [datetime, datetime], Iterable[tuple[ServiceRequest, Callable[[], SlaStatus]]]
    ],
    *,
    since: datetime,
    until: datetime,
    at: datetime,
    team: str | None = None,
    kind: Kind | str | None = None,
    skipped: Callable[[], int] | None = None,
) -> Kpis:
    """The KPIs (see :class:`Kpis`) of the requests ``cohort(since, until)`` gives.

    ``skipped``, asked once the cohort is read, says how many events it could not read.

    ``cohort`` yields each request opened in the period by ``at``: the aggregate as of ``at``
    (what ``Request`` views) and a call that measures its SLA clocks as of ``at``
    (``ServiceDesk._cohort_as_of``); ``at`` must already be aware.
    """
    start = checked_instant(since, "since", _COMMAND)
    end = checked_instant(until, "until", _COMMAND)
    when = checked_instant(at, "at", _COMMAND)
    if start >= end:
        msg = (
            f"refused '{_COMMAND}': since {start.isoformat()} must be before "
            f"until {end.isoformat()}"
        )
        raise ValidationFailedError(msg, command=_COMMAND, errors=(("until", "not after since"),))
    wanted_kind = _kind(kind)
    team = text_filter(team, "team", _COMMAND)

    statuses: Counter[Status] = Counter()
    kinds: Counter[Kind] = Counter()
    channels: Counter[Channel] = Counter()
    first: Counter[ClockState] = Counter()
    resolution: Counter[ClockState] = Counter()
    update: Counter[ClockState] = Counter()
    cycles_met = cycles_breached = 0
    response_times: list[timedelta] = []
    resolution_times: list[timedelta] = []
    scores: list[int] = []
    volume = fcr_base = fcr_hits = completed_once = reopened = deemed = 0
    closures = reopened_closed = 0
    effort = 0
    cost = Decimal(0)
    logged = corrected = 0

    for request, measured in cohort(start, end):
        if not start <= request.opened_at < end:
            continue
        if team is not None and request.team != team:
            continue
        if wanted_kind is not None and request.kind is not wanted_kind:
            continue
        volume += 1
        statuses[request.status] += 1
        kinds[request.kind] += 1
        channels[request.channel] += 1
        sla = measured()
        first[sla.first_response.state] += 1
        resolution[sla.resolution.state] += 1
        if sla.update is not None:
            update[sla.update.state] += 1
            cycles_met += sla.update.cycles_met
            cycles_breached += sla.update.breached_cycles
        if sla.first_response.met_at is not None:
            response_times.append(sla.first_response.met_at - to_second(request.opened_at))
        if request.status in (Status.COMPLETED, Status.CLOSED) and request.completed_at:
            resolution_times.append(request.completed_at - request.opened_at)
        if request.status is Status.CLOSED and request.outcome is Outcome.RESOLVED:
            fcr_base += 1
            if (
                request.reopen_count == 0
                and request.transfer_count == 0
                and len(request.actions) <= 1
            ):
                fcr_hits += 1
        if request.completed_at is not None or request.reopen_count:
            completed_once += 1
            reopened += request.reopen_count > 0
        reopened_closed += request.reopened_after_closure
        if request.status is Status.CLOSED and request.close_reason is not None:
            closures += 1
        elif request.deemed_acceptance:
            deemed += 1
        elif request.satisfaction is not None:
            scores.append(request.satisfaction)
        effort += total_effort(request.actions)
        cost += total_cost(request.actions)
        logged += len(request.nonconformities)
        corrected += sum(nc.is_corrected for nc in request.nonconformities)

    def compliance(counts: Counter[ClockState]) -> float | None:
        return _share(counts[ClockState.MET], sum(counts[s] for s in _DECIDED))

    return Kpis(
        since=start,
        until=end,
        at=when,
        team=team,
        kind=wanted_kind,
        requests=volume,
        by_status=_ordered(statuses, Status),
        by_kind=_ordered(kinds, Kind),
        by_channel=_ordered(channels, Channel),
        first_response={state: first[state] for state in ClockState},
        resolution={state: resolution[state] for state in ClockState},
        update={state: update[state] for state in ClockState},
        first_response_compliance=compliance(first),
        sla_compliance=compliance(resolution),
        update_compliance=_share(cycles_met, cycles_met + cycles_breached),
        update_cycles_met=cycles_met,
        update_breached_cycles=cycles_breached,
        first_response_time=_median(response_times),
        mean_first_response_time=_mean(response_times),
        resolution_time=_median(resolution_times),
        mean_resolution_time=_mean(resolution_times),
        first_contact_resolution=_share(fcr_hits, fcr_base),
        reopen_rate=_share(reopened, completed_once),
        mean_satisfaction=statistics.fmean(scores) if scores else None,
        satisfaction_count=len(scores),
        deemed_acceptances=deemed,
        closures=closures,
        reopened_after_closure=reopened_closed,
        effort_minutes=effort,
        cost=cost,
        nonconformities=logged,
        nonconformities_corrected=corrected,
        skipped=skipped() if skipped is not None else 0,
    )


class KpiDesk:
    """The desk's KPIs: the period's cohort read from the log, then ``compute_kpis``."""

    def __init__(self, stores: Stores, clock: DeskClock, reader: Reader, sla: SlaDesk) -> None:
        self._stores = stores
        self._clock = clock
        self._reader = reader
        self._sla = sla

    def kpis(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime | None,
        team: str | None,
        kind: Kind | str | None,
    ) -> Kpis:
        """Metrics for the requests opened in ``[since, until)`` (see ``ServiceDesk.kpis``)."""
        when = self._clock.instant(at, "at", "kpis")
        unreadable: list[int] = []
        return compute_kpis(
            lambda start, end: self._cohort_as_of(start, end, when, unreadable),
            since=since,
            until=until,
            at=when,
            team=team,
            kind=kind,
            skipped=lambda: len(unreadable),
        )

    def _cohort_as_of(
        self, since: datetime, until: datetime, when: datetime, unreadable: list[int]
    ) -> Iterator[tuple[ServiceRequest, Callable[[], SlaStatus]]]:
        """The requests opened in ``[since, until)`` by ``when``, with their SLA clocks, then.

        Each is what ``get(id, as_of=when)`` and ``sla(id, at=when)`` answer. The log is read
        500 requests per query; each event is decoded once and folded into both the request
        (up to ``when``) and its SLA tracker (all of it, as ``sla`` does); a request opened
        outside the period is left after its first event. The clocks come as a call that
        measures them (as ``sla`` would), so that requests filtered out cost no measuring.
        A request with an event that cannot be read is left out; the positions of its
        unreadable events are added to ``unreadable``.
        """
        adoptions = self._sla.adoptions()
        to_event = self._stores.store.mapper.to_domain_event
        ids = iter(self._reader.cohort_ids(since, until))
        while True:
            chunk = list(itertools.islice(ids, _KPI_BATCH))
            if not chunk:
                return
            with translated():
                stored = self._stores.trail.log.stored(chunk)
            for _, rows in itertools.groupby(stored, key=lambda pair: pair[1].originator_id):
                found = _fold_as_of(rows, to_event, since, until, when, unreadable)
                if found is not None:
                    request, tracker = found
                    policy = policy_at(adoptions, tracker.opened_at)
                    # The clocks are measured only for the requests the filters keep.
                    yield request, functools.partial(tracker.status, when, policy)


def _fold_as_of(
    rows: Iterable[tuple[int, StoredEvent]],
    to_event: Callable[[StoredEvent], object],
    since: datetime,
    until: datetime,
    when: datetime,
    unreadable: list[int],
) -> tuple[ServiceRequest, SlaTracker] | None:
    """One request's rows folded as of ``when`` (None unless opened in ``[since, until)``).

    None too for a request with an event that cannot be read: its replay stops there, as
    ``desk.get`` does; the positions of its unreadable events go to ``unreadable``.
    """
    request: ServiceRequest | None = None
    tracker: SlaTracker | None = None
    past = False  # an event happened after ``when``: the request stops there (see ``as_of``)
    rows = iter(rows)
    for position, stored in rows:
        try:
            event = to_event(stored)
        except CorruptEventError:
            unreadable.append(position)
            unreadable.extend(p for p, later in rows if not _readable(to_event, later))
            return None
        if not isinstance(event, ServiceRequest.Event):
            continue
        if not past and event.occurred_at <= when:
            request = event.mutate(request)
        else:
            past = True
            if request is None:
                return None  # opened after ``when``
        if tracker is None and request is not None and not since <= request.opened_at < until:
            return None  # opened outside the period: its other events are not even decoded
        tracker = SlaTracker.fold(tracker, event)
    if request is None or tracker is None:
        return None  # opened after ``when``
    return request, tracker


def _readable(to_event: Callable[[StoredEvent], object], stored: StoredEvent) -> bool:
    """Whether a stored event decodes (counting the unreadable events of a request left out)."""
    try:
        to_event(stored)
    except CorruptEventError:
        return False
    return True
