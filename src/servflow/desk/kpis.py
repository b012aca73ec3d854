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
import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from eventsourcing.persistence import StoredEvent
from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow.desk.checks import member, members, text_filter
from servflow.desk.clock import checked_instant
from servflow.domain.choices import GroupBy
from servflow.domain.lifecycle import HELD_STATUSES, OPEN_STATUSES
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

__all__ = [
    "AGE_BUCKETS",
    "GroupBy",
    "KpiDesk",
    "KpiGroup",
    "KpiGroups",
    "Kpis",
    "compute_groups",
    "compute_kpis",
    "median",
]

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
    completed: int = 0
    """Of them, requests completed at least once by ``at`` (still completed, or closed)."""
    closed: int = 0
    """Of them, requests closed as of ``at`` (accepted, deemed accepted, or closed)."""
    cancelled: int = 0
    """Of them, requests cancelled as of ``at``."""
    backlog: int = 0
    """Of them, requests still open as of ``at`` (not closed nor cancelled)."""
    backlog_age: dict[str, int] = {}
    """The backlog by age as of ``at`` (``<1d``, ``1-3d``, ``3-7d``, ``7-30d``, ``>30d``)."""
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
    p90_first_response_time: timedelta | None = None
    """90th percentile (nearest rank) of the same."""
    business_first_response_time: timedelta | None = None
    """Median business time to the first response (the met clock's ``elapsed``: calendar
    hours only, pauses left out)."""
    resolution_time: timedelta | None
    """Median wall time from opening to the latest completion, of completed or closed requests."""
    mean_resolution_time: timedelta | None
    """Mean of the same."""
    p90_resolution_time: timedelta | None = None
    """90th percentile (nearest rank) of the same."""
    business_resolution_time: timedelta | None = None
    """Median business time to resolution of the resolution clocks stopped met or missed."""
    first_contact_resolution: float | None
    """Share of closed, resolved requests never reopened or transferred, with at most one action."""
    reopen_rate: float | None
    """Share of the requests completed at least once that were reopened at least once."""
    transfer_rate: float | None = None
    """Share of the requests transferred to another team at least once."""
    hold_time_by_reason: dict[str, timedelta] = {}
    """Wall time spent on hold by ``at``, summed per reason (``customer``: waits on them)."""
    mean_satisfaction: float | None
    """Mean 1-5 satisfaction of explicit acceptances (deemed acceptances have none)."""
    satisfaction_count: int
    """Explicit acceptances with a satisfaction score."""
    satisfaction_distribution: dict[int, int] = {}
    """Explicit acceptances per score, 1 to 5 (zero included)."""
    satisfaction_response_rate: float | None = None
    """Scores given / requests closed: how many customers answered (deemed acceptances and
    closures by the desk have no score)."""
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


def median(values: list[timedelta]) -> timedelta | None:
    """The median of durations (the mean of the middle two for an even count); None for none."""
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


def compute_kpis(
    cohort: Callable[[datetime, datetime], Iterable[Member]],
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
    (what ``Request`` views), a call that measures its SLA clocks as of ``at``
    (``ServiceDesk._cohort_as_of``) and its hold time by reason; ``at`` must already be aware.
    """
    groups = compute_groups(
        cohort, since=since, until=until, at=at, team=team, kind=kind, group_by=(), skipped=skipped
    )
    return groups.groups[0].kpis if groups.groups else groups.total


def compute_groups(
    cohort: Callable[[datetime, datetime], Iterable[Member]],
    *,
    since: datetime,
    until: datetime,
    at: datetime,
    team: str | None = None,
    kind: Kind | str | None = None,
    group_by: Sequence[GroupBy | str] = (),
    skipped: Callable[[], int] | None = None,
) -> KpiGroups:
    """The KPIs of the cohort, in one group per value of ``group_by`` (and in total)."""
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
    keys = _group_by(group_by)
    total = _Tally()
    tallies: dict[tuple[str, ...], _Tally] = {}
    for request, measured, holds in cohort(start, end):
        if not start <= request.opened_at < end:
            continue
        if team is not None and request.team != team:
            continue
        if wanted_kind is not None and request.kind is not wanted_kind:
            continue
        sla = measured()
        total.add(request, sla, holds, when)
        if keys:
            key = tuple(_key_of(request, name) for name in keys)
            tallies.setdefault(key, _Tally()).add(request, sla, holds, when)
    unread = skipped() if skipped is not None else 0
    question = functools.partial(
        _Tally.kpis, since=start, until=end, at=when, team=team, kind=wanted_kind
    )
    return KpiGroups(
        since=start,
        until=end,
        at=when,
        group_by=keys,
        total=question(total, skipped=unread),
        groups=[
            KpiGroup(
                key={k.value: v for k, v in zip(keys, key, strict=True)},
                kpis=question(tally, skipped=0),
            )
            for key, tally in sorted(tallies.items(), key=lambda item: item[0])
        ],
    )


#: A request of the cohort: as of ``at``, a call measuring its clocks, its hold time by reason.
Member = tuple[ServiceRequest, Callable[[], "SlaStatus"], Mapping[str, timedelta]]


#: The key of a request with no value for a grouping (no team yet, not classified).
NONE_KEY = "(none)"


def _group_by(group_by: Sequence[GroupBy | str] | GroupBy | str) -> tuple[GroupBy, ...]:
    if isinstance(group_by, str):
        group_by = (group_by,)
    if not isinstance(group_by, Sequence):
        msg = f"refused '{_COMMAND}': group_by must be a list of groupings"
        raise ValidationFailedError(msg, command=_COMMAND, errors=(("group_by", "not a list"),))
    return tuple(members(GroupBy, list(group_by), "group_by", _COMMAND))


def _key_of(request: ServiceRequest, name: GroupBy) -> str:
    opened = request.opened_at.astimezone(UTC)
    if name is GroupBy.WEEK:
        year, week, _ = opened.isocalendar()
        return f"{year}-W{week:02d}"
    if name is GroupBy.MONTH:
        return f"{opened.year}-{opened.month:02d}"
    if name is GroupBy.CUSTOMER:
        return request.customer.id
    if name is GroupBy.TIER:
        return request.customer.tier.value
    if name is GroupBy.PRIORITY:
        return NONE_KEY if request.priority is None else request.priority.value
    value = getattr(request, name.value)
    return NONE_KEY if value is None else str(getattr(value, "value", value))


#: The backlog's age buckets: the upper bound of each (None: the last, unbounded).
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)),
    (">30d", None),
)


def _age_bucket(age: timedelta) -> str:
    for label, bound in AGE_BUCKETS:
        if bound is None or age < bound:
            return label
    return AGE_BUCKETS[-1][0]  # pragma: no cover - the last bucket is unbounded


def _p90(values: list[timedelta]) -> timedelta | None:
    """The 90th percentile (nearest rank) of the values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


class _Tally:
    """Adds up one group's requests; ``kpis`` says what they come to."""

    def __init__(self) -> None:
        self.statuses: Counter[Status] = Counter()
        self.kinds: Counter[Kind] = Counter()
        self.channels: Counter[Channel] = Counter()
        self.first: Counter[ClockState] = Counter()
        self.resolution: Counter[ClockState] = Counter()
        self.update: Counter[ClockState] = Counter()
        self.cycles_met = self.cycles_breached = 0
        self.response_times: list[timedelta] = []
        self.resolution_times: list[timedelta] = []
        self.business_response: list[timedelta] = []
        self.business_resolution: list[timedelta] = []
        self.scores: list[int] = []
        self.volume = self.fcr_base = self.fcr_hits = self.completed_once = self.reopened = 0
        self.deemed = self.closures = self.reopened_closed = self.transferred = 0
        self.completed = self.accepted = 0
        self.effort = 0
        self.cost = Decimal(0)
        self.logged = self.corrected = 0
        self.ages: Counter[str] = Counter()
        self.holds: dict[str, timedelta] = {}

    def add(  # noqa: C901, PLR0912 - one pass that adds up every figure
        self,
        request: ServiceRequest,
        sla: SlaStatus,
        holds: Mapping[str, timedelta],
        when: datetime,
    ) -> None:
        self.volume += 1
        self.statuses[request.status] += 1
        self.kinds[request.kind] += 1
        self.channels[request.channel] += 1
        self.first[sla.first_response.state] += 1
        self.resolution[sla.resolution.state] += 1
        if sla.update is not None:
            self.update[sla.update.state] += 1
            self.cycles_met += sla.update.cycles_met
            self.cycles_breached += sla.update.breached_cycles
        if sla.first_response.met_at is not None:
            self.response_times.append(sla.first_response.met_at - to_second(request.opened_at))
            self.business_response.append(sla.first_response.elapsed)
        if sla.resolution.state in (ClockState.MET, ClockState.MISSED):
            self.business_resolution.append(sla.resolution.elapsed)
        if request.status in (Status.COMPLETED, Status.CLOSED) and request.completed_at:
            self.resolution_times.append(request.completed_at - request.opened_at)
        if request.completed_at is not None:
            self.completed += 1
        if request.status is Status.CLOSED and request.outcome is Outcome.RESOLVED:
            self.fcr_base += 1
            if (
                request.reopen_count == 0
                and request.transfer_count == 0
                and len(request.actions) <= 1
            ):
                self.fcr_hits += 1
        if request.completed_at is not None or request.reopen_count:
            self.completed_once += 1
            self.reopened += request.reopen_count > 0
        self.transferred += request.transfer_count > 0
        self.reopened_closed += request.reopened_after_closure
        if request.status is Status.CLOSED and request.close_reason is not None:
            self.closures += 1
        elif request.deemed_acceptance:
            self.deemed += 1
        elif request.satisfaction is not None:
            self.scores.append(request.satisfaction)
        self.accepted += request.status is Status.CLOSED
        if request.status in OPEN_STATUSES:
            self.ages[_age_bucket(when - request.opened_at)] += 1
        for reason, spent in holds.items():
            self.holds[reason] = self.holds.get(reason, timedelta(0)) + spent
        self.effort += total_effort(request.actions)
        self.cost += total_cost(request.actions)
        self.logged += len(request.nonconformities)
        self.corrected += sum(nc.is_corrected for nc in request.nonconformities)

    def kpis(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime,
        team: str | None,
        kind: Kind | None,
        skipped: int,
    ) -> Kpis:
        def compliance(counts: Counter[ClockState]) -> float | None:
            return _share(counts[ClockState.MET], sum(counts[s] for s in _DECIDED))

        backlog = sum(self.ages.values())
        return Kpis(
            since=since,
            until=until,
            at=at,
            team=team,
            kind=kind,
            requests=self.volume,
            completed=self.completed,
            closed=self.statuses[Status.CLOSED],
            cancelled=self.statuses[Status.CANCELLED],
            backlog=backlog,
            backlog_age={label: self.ages[label] for label, _ in AGE_BUCKETS},
            by_status=_ordered(self.statuses, Status),
            by_kind=_ordered(self.kinds, Kind),
            by_channel=_ordered(self.channels, Channel),
            first_response={state: self.first[state] for state in ClockState},
            resolution={state: self.resolution[state] for state in ClockState},
            update={state: self.update[state] for state in ClockState},
            first_response_compliance=compliance(self.first),
            sla_compliance=compliance(self.resolution),
            update_compliance=_share(self.cycles_met, self.cycles_met + self.cycles_breached),
            update_cycles_met=self.cycles_met,
            update_breached_cycles=self.cycles_breached,
            first_response_time=median(self.response_times),
            mean_first_response_time=_mean(self.response_times),
            p90_first_response_time=_p90(self.response_times),
            business_first_response_time=median(self.business_response),
            resolution_time=median(self.resolution_times),
            mean_resolution_time=_mean(self.resolution_times),
            p90_resolution_time=_p90(self.resolution_times),
            business_resolution_time=median(self.business_resolution),
            first_contact_resolution=_share(self.fcr_hits, self.fcr_base),
            reopen_rate=_share(self.reopened, self.completed_once),
            transfer_rate=_share(self.transferred, self.volume),
            hold_time_by_reason=dict(sorted(self.holds.items())),
            mean_satisfaction=statistics.fmean(self.scores) if self.scores else None,
            satisfaction_count=len(self.scores),
            satisfaction_distribution={n: self.scores.count(n) for n in range(1, 6)},
            satisfaction_response_rate=_share(len(self.scores), self.accepted),
            deemed_acceptances=self.deemed,
            closures=self.closures,
            reopened_after_closure=self.reopened_closed,
            effort_minutes=self.effort,
            cost=self.cost,
            nonconformities=self.logged,
            nonconformities_corrected=self.corrected,
            skipped=skipped,
        )


class KpiGroup(BaseModel):
    """The KPIs of one group: its key (grouping -> value) and its figures."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Each grouping's value (``{"team": "billing", "week": "2026-W10"}``); ``(none)`` where
    #: the request has none (no team yet, not classified).
    key: dict[str, str]
    kpis: Kpis


class KpiGroups(BaseModel):
    """KPIs grouped: the total of the cohort, and one group per key that occurs (key order)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: AwareDatetime
    until: AwareDatetime
    at: AwareDatetime
    group_by: tuple[GroupBy, ...]
    total: Kpis
    groups: list[KpiGroup]


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
        return self.groups(since=since, until=until, at=at, team=team, kind=kind).total

    def groups(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime | None,
        team: str | None,
        kind: Kind | str | None,
        group_by: Sequence[GroupBy | str] = (),
    ) -> KpiGroups:
        """The same, grouped (see ``ServiceDesk.kpis``)."""
        when = self._clock.instant(at, "at", "kpis")
        unreadable: list[int] = []
        return compute_groups(
            lambda start, end: self._cohort_as_of(start, end, when, unreadable),
            since=since,
            until=until,
            at=when,
            team=team,
            kind=kind,
            group_by=group_by,
            skipped=lambda: len(unreadable),
        )

    def _cohort_as_of(
        self, since: datetime, until: datetime, when: datetime, unreadable: list[int]
    ) -> Iterator[Member]:
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
                    request, tracker, holds = found
                    policy = policy_at(adoptions, tracker.opened_at)
                    # The clocks are measured only for the requests the filters keep.
                    yield request, functools.partial(tracker.status, when, policy), holds


def _fold_as_of(  # noqa: C901 - one pass over the request's events
    rows: Iterable[tuple[int, StoredEvent]],
    to_event: Callable[[StoredEvent], object],
    since: datetime,
    until: datetime,
    when: datetime,
    unreadable: list[int],
) -> tuple[ServiceRequest, SlaTracker, dict[str, timedelta]] | None:
    """One request's rows folded as of ``when`` (None unless opened in ``[since, until)``).

    Also its time on hold by ``when``, per reason. None too for a request with an event that
    cannot be read: its replay stops there, as ``desk.get`` does; the positions of its
    unreadable events go to ``unreadable``.
    """
    request: ServiceRequest | None = None
    tracker: SlaTracker | None = None
    holds: dict[str, timedelta] = {}
    held: tuple[str, datetime] | None = None  # the hold under way: its reason, since when
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
            assert request is not None  # noqa: S101 - an event leaves a request
            if held is not None and (
                request.status not in HELD_STATUSES
                or isinstance(event, ServiceRequest.Held | ServiceRequest.WaitingOnCustomer)
            ):
                reason, started = held
                holds[reason] = holds.get(reason, timedelta(0)) + event.occurred_at - started
                held = None
            if held is None and request.held_for is not None:
                held = (request.held_for, event.occurred_at)
        else:
            past = True
            if request is None:
                return None  # opened after ``when``
        if tracker is None and request is not None and not since <= request.opened_at < until:
            return None  # opened outside the period: its other events are not even decoded
        tracker = SlaTracker.fold(tracker, event)
    if request is None or tracker is None:
        return None  # opened after ``when``
    if held is not None:
        reason, started = held
        holds[reason] = holds.get(reason, timedelta(0)) + max(when - started, timedelta(0))
    return request, tracker, holds


def _readable(to_event: Callable[[StoredEvent], object], stored: StoredEvent) -> bool:
    """Whether a stored event decodes (counting the unreadable events of a request left out)."""
    try:
        to_event(stored)
    except CorruptEventError:
        return False
    return True
