"""KPIs: the figures of a cohort of requests, and the tally that adds them up.

A :class:`Tally` adds up requests one at a time (their :class:`RequestFacts`, SLA clocks and
time on hold) and says what they come to as :class:`Kpis`. The desk's exact fold
(``servflow.desk.kpis``) feeds it every request of a period read from the log; the queue view
keeps, per day of opening and group, the tally of the requests whose figures can no longer
change (closed or cancelled, no clock counting), so that a period's figures are a sum of a few
hundred stored tallies plus the requests still moving. Tallies add and subtract exactly, and
turn into plain data (``state``) for storing; durations are kept exact (``exact=True``) or in
bins of about 1% (:func:`duration_bin`), whose medians and percentiles are within 0.5% (below a
minute, to the second).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow.domain.choices import GroupBy
from servflow.domain.clocks import ClockFigures, ClockState, to_second
from servflow.domain.durations import (
    Durations,
    add_counts,
    bin_value,
    duration_bin,
    median,
)
from servflow.domain.lifecycle import OPEN_STATUSES, Status
from servflow.domain.values import Channel, Kind, Outcome

__all__ = [
    "AGE_BUCKETS",
    "NONE_KEY",
    "GroupBy",
    "KpiGroup",
    "KpiGroups",
    "Kpis",
    "RequestFacts",
    "Tally",
    "age_bucket",
    "bin_value",
    "duration_bin",
    "median",
    "period_key",
]

_E = TypeVar("_E", Status, Kind, Channel)
#: Clock states that are decided for compliance: met on time, met late, or overdue.
_DECIDED = (ClockState.MET, ClockState.MISSED, ClockState.BREACHED)
#: The key of a request with no value for a grouping (no team yet, not classified).
NONE_KEY = "(none)"
_US = timedelta(microseconds=1)


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
    exact_quantiles: bool = True
    """Whether medians and percentiles are exact (the log folded) or read from the KPI view's
    bins (within 0.5%; below a minute, to the second). Counts, rates, sums and means are exact
    either way."""
    skipped: int = 0
    """Stored events that could not be read (``CorruptEventError``): their requests are left
    out of every figure (``desk.quarantine()`` and ``desk.verify()`` find them)."""


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _ordered(counts: Counter[_E], order: Iterable[_E]) -> dict[_E, int]:
    return {value: counts[value] for value in order if counts[value]}


#: The backlog's age buckets: the upper bound of each (None: the last, unbounded).
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)),
    (">30d", None),
)


def age_bucket(age: timedelta) -> str:
    """The label of the backlog age bucket ``age`` falls in."""
    for label, bound in AGE_BUCKETS:
        if bound is None or age < bound:
            return label
    return AGE_BUCKETS[-1][0]  # pragma: no cover - the last bucket is unbounded


def period_key(opened: date, name: GroupBy) -> str:
    """The week (``2026-W10``) or month (``2026-03``) of a UTC day of opening."""
    if name is GroupBy.WEEK:
        year, week, _ = opened.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{opened.year}-{opened.month:02d}"


def utc_day(moment: datetime) -> date:
    """The UTC day of an instant (what ``week`` and ``month`` group by)."""
    return moment.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the KPIs need of one request (as of an instant): from the aggregate or a view row."""

    opened_at: datetime
    status: Status
    kind: Kind
    channel: Channel
    outcome: Outcome | None
    #: The latest completion (None when transferred, reopened since, or never completed).
    completed_at: datetime | None
    reopen_count: int
    transfer_count: int
    actions: int
    #: Closed by the desk or ``system`` (``Closed``), not by the customer's acceptance.
    closed_by_desk: bool
    deemed_acceptance: bool
    satisfaction: int | None
    reopened_after_closure: int
    effort_minutes: int
    cost: Decimal
    nonconformities: int
    corrected: int


#: A tally's counters: the name, and how a key is read back from plain data.
_COUNTERS: tuple[tuple[str, Any], ...] = (
    ("statuses", Status),
    ("kinds", Kind),
    ("channels", Channel),
    ("first", ClockState),
    ("resolution", ClockState),
    ("update", ClockState),
    ("ages", str),
    ("scores", int),
)
_SCALARS = (
    "volume",
    "fcr_base",
    "fcr_hits",
    "completed_once",
    "reopened",
    "deemed",
    "closures",
    "reopened_closed",
    "transferred",
    "completed",
    "accepted",
    "effort",
    "logged",
    "corrected",
    "cycles_met",
    "cycles_breached",
)
_DURATIONS = ("response_times", "resolution_times", "business_response", "business_resolution")


class Tally:
    """Adds up one group's requests; ``kpis`` says what they come to.

    ``exact`` keeps every duration (medians and percentiles exact); otherwise durations go in
    bins (:func:`duration_bin`), and tallies add and subtract (``merge``) and are stored as
    plain data (``state``). An exact tally can be merged into a binned one, not the reverse.
    """

    def __init__(self, *, exact: bool = True) -> None:
        self.exact = exact
        self.statuses: Counter[Status] = Counter()
        self.kinds: Counter[Kind] = Counter()
        self.channels: Counter[Channel] = Counter()
        self.first: Counter[ClockState] = Counter()
        self.resolution: Counter[ClockState] = Counter()
        self.update: Counter[ClockState] = Counter()
        self.ages: Counter[str] = Counter()
        self.scores: Counter[int] = Counter()
        self.cycles_met = self.cycles_breached = 0
        self.response_times = Durations(exact=exact)
        self.resolution_times = Durations(exact=exact)
        self.business_response = Durations(exact=exact)
        self.business_resolution = Durations(exact=exact)
        self.volume = self.fcr_base = self.fcr_hits = self.completed_once = self.reopened = 0
        self.deemed = self.closures = self.reopened_closed = self.transferred = 0
        self.completed = self.accepted = 0
        self.effort = 0
        self.cost = Decimal(0)
        self.logged = self.corrected = 0
        self.holds: dict[str, int] = {}  # microseconds per reason

    def add(  # noqa: C901, PLR0912 - one pass that adds up every figure
        self,
        request: RequestFacts,
        sla: ClockFigures,
        holds: Mapping[str, timedelta],
        when: datetime,
    ) -> None:
        """Add one request: its facts, its clocks and its time on hold by reason, as of ``when``."""
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
            self.response_times.add(sla.first_response.met_at - to_second(request.opened_at))
            self.business_response.add(sla.first_response.elapsed)
        if sla.resolution.state in (ClockState.MET, ClockState.MISSED):
            self.business_resolution.add(sla.resolution.elapsed)
        if request.status in (Status.COMPLETED, Status.CLOSED) and request.completed_at:
            self.resolution_times.add(request.completed_at - request.opened_at)
        if request.completed_at is not None:
            self.completed += 1
        if request.status is Status.CLOSED and request.outcome is Outcome.RESOLVED:
            self.fcr_base += 1
            if request.reopen_count == 0 and request.transfer_count == 0 and request.actions <= 1:
                self.fcr_hits += 1
        if request.completed_at is not None or request.reopen_count:
            self.completed_once += 1
            self.reopened += request.reopen_count > 0
        self.transferred += request.transfer_count > 0
        self.reopened_closed += request.reopened_after_closure
        if request.status is Status.CLOSED and request.closed_by_desk:
            self.closures += 1
        elif request.deemed_acceptance:
            self.deemed += 1
        elif request.satisfaction is not None:
            self.scores[request.satisfaction] += 1
        self.accepted += request.status is Status.CLOSED
        if request.status in OPEN_STATUSES:
            self.ages[age_bucket(when - request.opened_at)] += 1
        for reason, spent in holds.items():
            self.holds[reason] = self.holds.get(reason, 0) + spent // _US
        self.effort += request.effort_minutes
        self.cost += request.cost
        self.logged += request.nonconformities
        self.corrected += request.corrected

    def merge(self, other: Tally, sign: int = 1) -> None:
        """Add (``sign`` 1) or take away (-1) another tally's requests.

        Empty counters, zero figures and durations with nothing in them are passed over: a
        tally of one request (what a write or a rebuild moves between buckets) has few.
        """
        mine_of = self.__dict__
        theirs_of = other.__dict__
        for name, _ in _COUNTERS:
            theirs: Counter[Any] = theirs_of[name]
            if theirs:
                add_counts(mine_of[name], theirs, sign)
        for name in _SCALARS:
            n = theirs_of[name]
            if n:
                mine_of[name] += sign * n
        exact = self.exact
        for name in _DURATIONS:
            durations: Durations = theirs_of[name]
            if durations.count or durations.total or exact:
                mine_of[name].merge(durations, sign)
        if other.cost:
            self.cost += sign * other.cost
        add_counts(self.holds, other.holds, sign)

    def state(self) -> dict[str, Any]:
        """The tally as plain data (zeros left out): equal tallies, equal data.

        Bins are in order; mappings in no particular order (stored with their keys sorted).
        """
        mine = self.__dict__
        data: dict[str, Any] = {name: mine[name] for name in _SCALARS}
        for name, _ in _COUNTERS:
            data[name] = {str(key): n for key, n in mine[name].items() if n}
        for name in _DURATIONS:
            data[name] = mine[name].state()
        data["cost"] = str(self.cost.normalize()) if self.cost else "0"
        data["holds"] = {reason: n for reason, n in self.holds.items() if n}
        return data

    def absorb(self, data: Mapping[str, Any]) -> None:
        """Add a stored tally's plain data (``state``) to this binned one, without building it.

        What a question over many buckets does for each: plain additions, keys left as their
        text (the enumerations are ``StrEnum``: a text key counts for its member).
        """
        mine = self.__dict__
        for name in _SCALARS:
            mine[name] += data[name]
        for name, read in _COUNTERS:
            counts: Counter[Any] = mine[name]
            convert = read is int
            for key, n in data[name].items():
                key_ = int(key) if convert else key
                counts[key_] = counts.get(key_, 0) + n
        for name in _DURATIONS:
            getattr(self, name).absorb(data[name])
        if data["cost"] != "0":
            self.cost += Decimal(data["cost"])
        holds = self.holds
        for reason, n in data["holds"].items():
            holds[reason] = holds.get(reason, 0) + n

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> Tally:
        """A binned tally from its plain data (``state``)."""
        tally = cls(exact=False)
        for name in _SCALARS:
            setattr(tally, name, data[name])
        for name, read in _COUNTERS:
            setattr(tally, name, Counter({read(key): n for key, n in data[name].items()}))
        for name in _DURATIONS:
            setattr(tally, name, Durations.from_state(data[name]))
        tally.cost = Decimal(data["cost"])
        tally.holds = dict(data["holds"])
        return tally

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
        """What the requests added up come to."""

        def compliance(counts: Counter[ClockState]) -> float | None:
            return _share(counts[ClockState.MET], sum(counts[s] for s in _DECIDED))

        backlog = sum(self.ages.values())
        scored = sum(self.scores.values())
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
            first_response_time=self.response_times.median(),
            mean_first_response_time=self.response_times.mean(),
            p90_first_response_time=self.response_times.p90(),
            business_first_response_time=self.business_response.median(),
            resolution_time=self.resolution_times.median(),
            mean_resolution_time=self.resolution_times.mean(),
            p90_resolution_time=self.resolution_times.p90(),
            business_resolution_time=self.business_resolution.median(),
            first_contact_resolution=_share(self.fcr_hits, self.fcr_base),
            reopen_rate=_share(self.reopened, self.completed_once),
            transfer_rate=_share(self.transferred, self.volume),
            hold_time_by_reason={
                reason: timedelta(microseconds=n) for reason, n in sorted(self.holds.items()) if n
            },
            mean_satisfaction=(
                sum(score * n for score, n in self.scores.items()) / scored if scored else None
            ),
            satisfaction_count=scored,
            satisfaction_distribution={n: self.scores[n] for n in range(1, 6)},
            satisfaction_response_rate=_share(scored, self.accepted),
            deemed_acceptances=self.deemed,
            closures=self.closures,
            reopened_after_closure=self.reopened_closed,
            effort_minutes=self.effort,
            cost=self.cost,
            nonconformities=self.logged,
            nonconformities_corrected=self.corrected,
            exact_quantiles=self.exact,
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
