"""KPIs of a period: from the KPI view where it can answer, else folded from the event log.

``ServiceDesk.kpis`` delegates here. The cohort is the requests *opened* in ``[since, until)``
(by when they happened); each is what ``desk.get(id, as_of=at)`` and ``desk.sla(id, at=at)``
answer, so only events with ``occurred_at <= at`` count and the same question gets the same
answer at any later date. ``docs/reference/kpis.md`` explains every figure.

Two ways to the same figures:

- **The exact fold** reads the period's requests from the log, 500 per query, and adds them
  up (``compute_groups``): any instant ``at``, any grouping, medians exact; about 0.3-0.5 ms
  a request.
- **The KPI view** (``servflow.projections.kpis``) answers "as of now" for groupings by at
  most one of team, agent, kind, stage, channel, priority, tier (filtered by team or kind on
  that grouping alone), with or without week or month: it adds up the stored tallies of the
  settled requests of the period's whole days, the settled rows of its partial days, and the
  requests still at work from their rows (their clocks carried to the question's instant by
  time alone), and folds from the log only the requests changed in the log after the view's
  position (whose stored tallies are taken out again), all read in one snapshot of the views,
  so the answer is that of the fold at the same instant whatever the view's lag, except that
  medians and percentiles come from bins (within 0.5%). A view yet to follow a policy the log
  adopted leaves the question to the fold.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from servflow.desk.checks import member, members, text_filter
from servflow.desk.clock import checked_instant
from servflow.domain.choices import GroupBy
from servflow.domain.clocks import ClockFigures
from servflow.domain.kpis import (
    AGE_BUCKETS,
    NONE_KEY,
    KpiGroup,
    KpiGroups,
    Kpis,
    RequestFacts,
    Tally,
    median,
    period_key,
    utc_day,
)
from servflow.domain.lifecycle import HELD_STATUSES
from servflow.domain.request import ServiceRequest, total_cost, total_effort
from servflow.domain.sla import SlaTracker, policy_at
from servflow.domain.values import Kind
from servflow.errors import CorruptEventError, ValidationFailedError
from servflow.persistence.sql import id_text, micros
from servflow.persistence.store import translated
from servflow.projections import kpis as view

if TYPE_CHECKING:
    from servflow.desk.clock import DeskClock
    from servflow.desk.reads import Reader
    from servflow.desk.sla import SlaDesk
    from servflow.desk.stores import Stores
    from servflow.domain.sla import SlaStatus

__all__ = [
    "AGE_BUCKETS",
    "NONE_KEY",
    "GroupBy",
    "KpiDesk",
    "KpiGroup",
    "KpiGroups",
    "Kpis",
    "compute_groups",
    "compute_kpis",
    "facts_of",
    "median",
]

#: Requests read per query by ``kpis``.
_KPI_BATCH = 500

_COMMAND = "kpis"
#: The groupings the KPI view keeps buckets for.
_VIEW_GROUPINGS = frozenset(GroupBy(name) for name in view.DIMENSIONS if name != "all")
_PERIODS = frozenset({GroupBy.WEEK, GroupBy.MONTH})


def facts_of(request: ServiceRequest) -> RequestFacts:
    """What the KPIs need of a request (as folded)."""
    return RequestFacts(
        opened_at=request.opened_at,
        status=request.status,
        kind=request.kind,
        channel=request.channel,
        outcome=request.outcome,
        completed_at=request.completed_at,
        reopen_count=request.reopen_count,
        transfer_count=request.transfer_count,
        actions=len(request.actions),
        closed_by_desk=request.close_reason is not None,
        deemed_acceptance=request.deemed_acceptance,
        satisfaction=request.satisfaction,
        reopened_after_closure=request.reopened_after_closure,
        effort_minutes=total_effort(request.actions),
        cost=total_cost(request.actions),
        nonconformities=len(request.nonconformities),
        corrected=sum(nc.is_corrected for nc in request.nonconformities),
    )


def _kind(kind: Kind | str | None) -> Kind | None:
    return None if kind is None else member(Kind, kind, "kind", _COMMAND)


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
    question = _Question.checked(since, until, at, team, kind, group_by)
    groups = _Groups(question, exact=True)
    groups.fold(cohort(question.since, question.until))
    return groups.answer(skipped() if skipped is not None else 0)


#: A request of the cohort: as of ``at``, a call measuring its clocks, its hold time by reason.
Member = tuple[ServiceRequest, Callable[[], "SlaStatus"], Mapping[str, timedelta]]


@dataclass(frozen=True, slots=True)
class _Question:
    """What KPIs are asked for, checked."""

    since: datetime
    until: datetime
    at: datetime
    team: str | None
    kind: Kind | None
    group_by: tuple[GroupBy, ...]

    @classmethod
    def checked(
        cls,
        since: datetime,
        until: datetime,
        at: datetime,
        team: str | None,
        kind: Kind | str | None,
        group_by: Sequence[GroupBy | str] | GroupBy | str,
    ) -> _Question:
        start = checked_instant(since, "since", _COMMAND)
        end = checked_instant(until, "until", _COMMAND)
        when = checked_instant(at, "at", _COMMAND)
        if start >= end:
            msg = (
                f"refused '{_COMMAND}': since {start.isoformat()} must be before "
                f"until {end.isoformat()}"
            )
            raise ValidationFailedError(
                msg, command=_COMMAND, errors=(("until", "not after since"),)
            )
        return cls(
            since=start,
            until=end,
            at=when,
            team=text_filter(team, "team", _COMMAND),
            kind=None if kind is None else member(Kind, kind, "kind", _COMMAND),
            group_by=_group_by(group_by),
        )

    @property
    def by_period(self) -> bool:
        """Whether the question groups by week or month."""
        return any(name in _PERIODS for name in self.group_by)

    def view_plan(self) -> tuple[str, str | None] | None:
        """The KPI view's grouping (and value) that answers this question; None if none can."""
        dims = [name for name in self.group_by if name not in _PERIODS]
        if len(self.group_by) - len(dims) > 1 or len(dims) > 1:
            return None
        if any(name not in _VIEW_GROUPINGS for name in dims):
            return None
        filters = [
            (name, value)
            for name, value in (
                (GroupBy.TEAM, self.team),
                (GroupBy.KIND, None if self.kind is None else self.kind.value),
            )
            if value is not None
        ]
        if len(filters) > 1 or (filters and dims and dims[0] is not filters[0][0]):
            return None
        if filters:
            return filters[0][0].value, filters[0][1]
        return (dims[0].value if dims else "all"), None


class _Groups:
    """The tallies of a question's groups and of their total.

    Grouped, requests are added to their group only, and the total is the groups added up
    at the end (once per group, not once per request or bucket).
    """

    def __init__(self, question: _Question, *, exact: bool) -> None:
        self.question = question
        self.exact = exact
        self.total = Tally(exact=exact)
        self.tallies: dict[tuple[str, ...], Tally] = {}

    def tally(self, key: tuple[str, ...]) -> Tally:
        found = self.tallies.get(key)
        if found is None:
            found = self.tallies[key] = Tally(exact=self.exact)
        return found

    def fold(self, cohort: Iterable[Member]) -> None:
        """Add the requests of the cohort that the question keeps."""
        q = self.question
        for request, measured, holds in cohort:
            if not q.since <= request.opened_at < q.until:
                continue
            if q.team is not None and request.team != q.team:
                continue
            if q.kind is not None and request.kind is not q.kind:
                continue
            sla = ClockFigures.of(measured())
            facts = facts_of(request)
            if q.group_by:
                key = tuple(_key_of(request, name) for name in q.group_by)
                self.tally(key).add(facts, sla, holds, q.at)
            else:
                self.total.add(facts, sla, holds, q.at)

    def merge(self, key: tuple[str, ...], tally: Tally, sign: int = 1) -> None:
        """Add (or take away) a tally of the group ``key`` (the total, ungrouped)."""
        (self.tally(key) if self.question.group_by else self.total).merge(tally, sign)

    def add(
        self,
        key: tuple[str, ...],
        facts: RequestFacts,
        sla: ClockFigures,
        holds: Mapping[str, timedelta],
    ) -> None:
        """Add one request of the group ``key`` (the total, ungrouped) as of the question."""
        tally = self.tally(key) if self.question.group_by else self.total
        tally.add(facts, sla, holds, self.question.at)

    def absorb(self, key: tuple[str, ...], data: Mapping[str, Any]) -> None:
        """Add a stored tally's plain data to the group ``key`` (the total, ungrouped)."""
        (self.tally(key) if self.question.group_by else self.total).absorb(data)

    def answer(self, skipped: int) -> KpiGroups:
        """The KPIs of each group and of the total (grouped: the groups added up)."""
        q = self.question
        if q.group_by:
            for tally in self.tallies.values():
                self.total.merge(tally)
        question = functools.partial(
            Tally.kpis, since=q.since, until=q.until, at=q.at, team=q.team, kind=q.kind
        )
        return KpiGroups(
            since=q.since,
            until=q.until,
            at=q.at,
            group_by=q.group_by,
            total=question(self.total, skipped=skipped),
            groups=[
                KpiGroup(
                    key={k.value: v for k, v in zip(q.group_by, key, strict=True)},
                    kpis=question(tally, skipped=0),
                )
                for key, tally in sorted(self.tallies.items(), key=lambda item: item[0])
                if tally.volume
            ],
        )


def _group_by(group_by: Sequence[GroupBy | str] | GroupBy | str) -> tuple[GroupBy, ...]:
    if isinstance(group_by, str):
        group_by = (group_by,)
    if not isinstance(group_by, Sequence):
        msg = f"refused '{_COMMAND}': group_by must be a list of groupings"
        raise ValidationFailedError(msg, command=_COMMAND, errors=(("group_by", "not a list"),))
    return tuple(members(GroupBy, list(group_by), "group_by", _COMMAND))


def _key_of(request: ServiceRequest, name: GroupBy) -> str:
    if name in _PERIODS:
        return period_key(utc_day(request.opened_at), name)
    if name is GroupBy.CUSTOMER:
        return request.customer.id
    if name is GroupBy.TIER:
        return request.customer.tier.value
    if name is GroupBy.PRIORITY:
        return NONE_KEY if request.priority is None else request.priority.value
    value = getattr(request, name.value)
    return NONE_KEY if value is None else str(getattr(value, "value", value))


def _row_key(question: _Question, values: Mapping[str, str], day: int) -> tuple[str, ...]:
    """A group key from a row's (or bucket's) grouping values and its day of opening."""
    if not question.by_period:
        return tuple(values[name.value] for name in question.group_by)
    opened = _EPOCH_DAY + timedelta(days=day)
    return tuple(
        period_key(opened, name) if name in _PERIODS else values[name.value]
        for name in question.group_by
    )


_EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC).date()


class KpiDesk:
    """The desk's KPIs: from the KPI view where it answers, else folded from the log."""

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
        exact: bool = False,
    ) -> Kpis:
        """Metrics for the requests opened in ``[since, until)`` (see ``ServiceDesk.kpis``)."""
        return self.groups(since=since, until=until, at=at, team=team, kind=kind, exact=exact).total

    def groups(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime | None,
        team: str | None,
        kind: Kind | str | None,
        group_by: Sequence[GroupBy | str] = (),
        exact: bool = False,
    ) -> KpiGroups:
        """The same, grouped (see ``ServiceDesk.kpis``)."""
        when = self._clock.instant(at, "at", "kpis")
        question = _Question.checked(since, until, when, team, kind, group_by)
        plan = None if at is not None or exact else question.view_plan()
        answer = None if plan is None else self._from_view(question, *plan)
        if answer is not None:
            return answer
        unreadable: list[int] = []
        groups = _Groups(question, exact=True)
        groups.fold(self._cohort_as_of(question.since, question.until, when, unreadable))
        return groups.answer(len(unreadable))

    def _from_view(self, question: _Question, dim: str, value: str | None) -> KpiGroups | None:
        """The KPIs as of now from the KPI view's buckets and the requests still moving.

        None if the view has yet to follow a policy the log adopted (its rows are measured
        under the policies it knows): the exact fold answers then.
        """
        stores = self._stores
        queues = stores.queues
        since, until = micros(question.since) or 0, micros(question.until) or 0
        first_day, end_day = -(-since // view.DAY), until // view.DAY
        if first_day < end_day:
            parts = [(since, first_day * view.DAY), (end_day * view.DAY, until)]
            edges = [(lo, hi) for lo, hi in parts if lo < hi]
        else:
            edges = [(since, until)]
        groups = _Groups(question, exact=False)
        value_of = view.GROUP_VALUE[dim]

        def values_of(row: view.KpiRow) -> dict[str, str]:
            return {dim: value_of(row)}  # the only grouping a question the view serves has

        def keep(values: Mapping[str, str]) -> bool:
            return value is None or values[dim] == value

        with translated(), stores.views.snapshot() as tx:
            statement, params = queues.unsettled_sql(since, until)
            position, found = stores.views.with_position(
                tx, stores.projector.key(queues), statement, params
            )
            changed = list(dict.fromkeys(stores.trail.log.ids_after(position)))
            edited = {id_text(i) for i in changed}
            if len(queues.adoptions(tx)) != len(self._sla.adoptions()):
                # The log adopted a policy the view has yet to measure its rows under.
                return None
            moving = dict.fromkeys(changed)
            # The requests still at work that the log left as the view has them come from
            # their rows; the others are folded from the log.
            standing = self._add_standing(groups, values_of, keep, found, edited)
            moving.update(dict.fromkeys(standing))
            for day, bucket_value, data in view.bucket_rows(
                queues, tx, dim, first_day, end_day, value
            ):
                groups.absorb(_row_key(question, {dim: bucket_value}, day), data)
            # The settled rows of the part days, unless changed in the log since (folded).
            for row in queues.settled_rows(tx, edges):
                values = values_of(row)
                if row.request_id not in edited and keep(values):
                    key = _row_key(question, values, row.opened_at // view.DAY)
                    groups.add(key, *view.settled_figures(row))
            # Settled in the view but changed in the log since: out of their buckets (folded).
            whole_days = (first_day * view.DAY, end_day * view.DAY)
            stale = queues.settled_rows(tx, [], sorted(edited))
            for row, tally in queues.settled_tallies(stale):
                values = values_of(row)
                if whole_days[0] <= row.opened_at < whole_days[1] and keep(values):
                    key = _row_key(question, values, row.opened_at // view.DAY)
                    groups.merge(key, tally, -1)
        unreadable: list[int] = []
        groups.fold(
            self._cohort_as_of(
                question.since, question.until, question.at, unreadable, ids=list(moving)
            )
        )
        return groups.answer(len(unreadable))

    def _add_standing(
        self,
        groups: _Groups,
        values_of: Callable[[view.KpiRow], dict[str, str]],
        keep: Callable[[Mapping[str, str]], bool],
        found: Iterable[Sequence[Any]],
        edited: set[str],
    ) -> list[UUID]:
        """Add the unsettled rows the view has as the log does, as of the question.

        Each is what the exact fold would make of its request: the row's facts, its time on
        hold up to the question's instant, and its clocks as of its tracker's last fact taken
        to the question's instant (``ClockFigures.at``: time alone moves them). Returns the
        requests whose rows cannot say (changed in the log since the view's position,
        unreadable, changed or with a clock fact after the question's instant): to be folded.
        """
        question = groups.question
        when = micros(question.at) or 0
        second = when - when % 1_000_000  # the clocks' instants are whole seconds
        refold: list[UUID] = []
        for row in self._stores.queues.kpi_records(found):
            clocks = row.clocks
            if (
                row.request_id in edited
                or clocks is None
                or clocks.as_of > second
                or not view.current_at(row, when)
            ):
                refold.append(UUID(row.request_id))
                continue
            values = values_of(row)
            if keep(values):
                key = _row_key(question, values, row.opened_at // view.DAY)
                facts = view.row_facts(row)
                groups.add(key, facts, clocks.at(question.at), view.holds_at(row, when))
        return refold

    def _cohort_as_of(
        self,
        since: datetime,
        until: datetime,
        when: datetime,
        unreadable: list[int],
        ids: Sequence[UUID] | None = None,
    ) -> Iterator[Member]:
        """The requests opened in ``[since, until)`` by ``when``, with their SLA clocks, then.

        Each is what ``get(id, as_of=when)`` and ``sla(id, at=when)`` answer. The log is read
        500 requests per query (those of ``ids`` if given, else every one opened in the
        period); each event is decoded once and folded into both the request (up to ``when``)
        and its SLA tracker (all of it, as ``sla`` does); a request opened outside the period
        is left after its first event. The clocks come as a call that measures them (as
        ``sla`` would), so that requests filtered out cost no measuring. A request with an
        event that cannot be read is left out; the positions of its unreadable events are
        added to ``unreadable``.
        """
        adoptions = self._sla.adoptions()
        to_event = self._stores.store.mapper.to_domain_event
        chosen = self._reader.cohort_ids(since, until) if ids is None else ids
        wanted = iter(chosen)
        while True:
            chunk = list(itertools.islice(wanted, _KPI_BATCH))
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
