"""The KPI view: per day of opening and group, the tally of the requests whose figures are settled.

Kept beside the queue rows (the queue fold already keeps each request's status, team, agent,
kind, stage, channel, priority and tier, its SLA tracker measured under its policy, and here
what else the KPIs need: see ``RequestFacts``). A request is **settled** once closed or
cancelled with no clock counting: from then on its figures are the same at any later instant,
so its tally (``Tally.add``) can be added up ahead of the question. The table ``sf_queue_kpis``
holds, for each UTC day of opening and each grouping (``all``, team, agent, kind, stage,
channel, priority, tier) and value, the tally of the settled requests (``Tally.state`` as
JSON, durations in bins). Whenever a batch settles a request, changes a settled one (a late
non-conformity) or reopens it, the old tally is taken out of its buckets and the new one put in;
a bucket that empties leaves no row, so following and rebuilding give the same rows.

``ServiceDesk.kpis`` adds up the buckets of the whole days of a period, the settled rows of its
partial days, and folds the requests still moving from the log (``servflow.desk.kpis``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import singledispatch
from typing import Any, cast

import orjson

from servflow.domain.clocks import ClockFigures, ClockState
from servflow.domain.kpis import NONE_KEY, RequestFacts, Tally
from servflow.domain.lifecycle import HELD_STATUSES, Status
from servflow.domain.request import CUSTOMER_HOLD, ServiceRequest
from servflow.domain.values import Channel, Kind, Outcome
from servflow.persistence.sql import Tx, from_micros, micros
from servflow.projections.queue_rows import Row

__all__ = [
    "DAY",
    "DIMENSIONS",
    "GROUP_VALUE",
    "KpiRow",
    "bucket_rows",
    "changes",
    "clocks_from",
    "clocks_json",
    "contribution",
    "create",
    "current_at",
    "hold_changes",
    "holds_at",
    "is_settled",
    "row_facts",
    "settled_figures",
    "stored",
]

#: A day in microseconds: a bucket's day is ``opened_at // DAY`` (days since 1970-01-01, UTC).
DAY = 86_400_000_000
#: The groupings a bucket is kept for (``all``: every request, its value '').
DIMENSIONS = ("all", "team", "agent", "kind", "stage", "channel", "priority", "tier")
_CLOSED = (Status.CLOSED.value, Status.CANCELLED.value)
_MOVING = frozenset({ClockState.RUNNING, ClockState.WARNING})
_HELD = frozenset(s.value for s in HELD_STATUSES)
#: Bucket keys read or written per statement.
_CHUNK = 300
#: How a bucket's tally is kept beside the queue rows (``RowProjection.remember``), and what
#: stands for a bucket the table does not hold.
_BUCKET = "kpi-bucket"
_NO_BUCKET = object()


#: What a queue row holds for the KPIs: the queue view's row (``projections.queue_rows``).
KpiRow = Row


def create(projection: Any, tx: Tx) -> None:  # noqa: ANN401 - the queue projection
    """Create the buckets table beside the queue's rows."""
    tx.execute(
        f"CREATE TABLE IF NOT EXISTS {projection.t(projection.kpis_table)} ("
        "day BIGINT NOT NULL, dim TEXT NOT NULL, value TEXT NOT NULL, n BIGINT NOT NULL, "
        "tally TEXT NOT NULL, PRIMARY KEY (dim, value, day))"
    )


# -- the facts a request's events set --------------------------------------------------------


@singledispatch
def changes(event: object, row: KpiRow) -> dict[str, Any] | None:
    """The KPI columns an event changes (None: none), as the request's own appliers do."""
    del event, row
    return None


@changes.register
def _(event: ServiceRequest.Assigned, row: KpiRow) -> dict[str, Any] | None:
    if row.team is not None and row.team != event.team:
        return {"transfer_count": row.transfer_count + 1}
    return None


@changes.register
def _(event: ServiceRequest.Unassigned, row: KpiRow) -> dict[str, Any] | None:
    if event.team is not None and row.team not in {None, event.team}:
        return {"transfer_count": row.transfer_count + 1}
    return None


@changes.register
def _(event: ServiceRequest.Completed, row: KpiRow) -> dict[str, Any] | None:
    if event.outcome is Outcome.TRANSFERRED:
        return {"transfer_count": row.transfer_count + 1}
    return {"completed_at": micros(event.occurred_at)}


@changes.register
def _(event: ServiceRequest.ActionTaken, row: KpiRow) -> dict[str, Any] | None:
    return {
        "actions": row.actions + 1,
        "effort": row.effort + event.effort_minutes,
        "cost": str(Decimal(row.cost) + (event.cost or Decimal(0))),
    }


@changes.register
def _(event: ServiceRequest.CustomerAccepted, row: KpiRow) -> dict[str, Any] | None:
    del row
    return {"satisfaction": event.satisfaction, "deemed": int(event.deemed)}


@changes.register
def _(event: ServiceRequest.Closed, row: KpiRow) -> dict[str, Any] | None:
    del event, row
    return {"closed_by_desk": 1}


@changes.register
def _(event: ServiceRequest.Reopened, row: KpiRow) -> dict[str, Any] | None:
    del event
    found: dict[str, Any] = {"reopen_count": row.reopen_count + 1, "completed_at": None}
    if row.status == Status.CLOSED.value:  # only a closure leads there: reopened after it
        found.update(
            reopened_after_closure=row.reopened_after_closure + 1,
            closed_by_desk=0,
            satisfaction=None,
            deemed=0,
        )
    return found


@changes.register
def _(event: ServiceRequest.NonConformityLogged, row: KpiRow) -> dict[str, Any] | None:
    del event
    return {"ncs": row.ncs + 1}


@changes.register
def _(event: ServiceRequest.NonConformityCorrected, row: KpiRow) -> dict[str, Any] | None:
    del event  # the command refuses a second correction of the same one
    return {"ncs_corrected": row.ncs_corrected + 1}


def _held_for(status: str, hold_reason: str | None) -> str | None:
    """``RequestState.held_for`` of a row: the reason of the hold it is on, if any."""
    if status == Status.WAITING_ON_CUSTOMER.value:
        return CUSTOMER_HOLD
    if status == Status.ON_HOLD.value:
        return hold_reason or "other"
    return None


def hold_changes(
    event: object, row: KpiRow, status: str, hold_reason: str | None
) -> dict[str, Any] | None:
    """The time on hold an event ends or starts (the desk's fold of holds, row by row).

    ``status`` and ``hold_reason`` are the row's after the event. A hold ends when the request
    leaves the held statuses or switches hold (``Held``, ``WaitingOnCustomer``); its time goes
    to the reason it had, which stays the same while it lasts.
    """
    if not isinstance(event, ServiceRequest.Event):
        return None
    found: dict[str, Any] = {}
    held_since = row.held_since
    now = micros(event.occurred_at) or 0
    if held_since is not None and (
        status not in _HELD
        or isinstance(event, ServiceRequest.Held | ServiceRequest.WaitingOnCustomer)
    ):
        reason = _held_for(row.status, row.hold_reason) or "other"
        holds: dict[str, int] = orjson.loads(row.holds) if row.holds else {}
        holds[reason] = holds.get(reason, 0) + now - held_since
        found["holds"] = orjson.dumps(holds, option=orjson.OPT_SORT_KEYS).decode()
        found["held_since"] = held_since = None
    if held_since is None and _held_for(status, hold_reason) is not None:
        found["held_since"] = now
    return found or None


def is_settled(row: KpiRow, clocks: ClockFigures) -> bool:
    """Whether the request's figures can no longer change with time alone."""
    return (
        row.status in _CLOSED
        and not row.quarantined
        and not any(clock.state in _MOVING for clock in clocks.clocks)
    )


def clocks_json(clocks: ClockFigures) -> str:
    """A row's clocks as stored (``clocks_from`` reads them back)."""
    return orjson.dumps(clocks.state_data()).decode()


def clocks_from(text: str) -> ClockFigures:
    """A row's clocks as ``clocks_json`` stored them."""
    return ClockFigures.from_data(orjson.loads(text))


# -- tallies and buckets ------------------------------------------------------------------


#: The values a row keeps as text, by text (a dictionary is faster than calling the enum).
_STATUSES = {member.value: member for member in Status}
_KINDS = {member.value: member for member in Kind}
_CHANNELS = {member.value: member for member in Channel}
_OUTCOMES = {member.value: member for member in Outcome}


def row_facts(row: KpiRow) -> RequestFacts:
    """The request's facts as the row keeps them."""
    opened = from_micros(row.opened_at)
    assert opened is not None  # noqa: S101 - opened_at is NOT NULL
    return RequestFacts(
        opened_at=opened,
        status=_STATUSES[row.status],
        kind=_KINDS[row.kind],
        channel=_CHANNELS[row.channel],
        outcome=None if row.outcome is None else _OUTCOMES[row.outcome],
        completed_at=from_micros(row.completed_at),
        reopen_count=row.reopen_count,
        transfer_count=row.transfer_count,
        actions=row.actions,
        closed_by_desk=bool(row.closed_by_desk),
        deemed_acceptance=bool(row.deemed),
        satisfaction=row.satisfaction,
        reopened_after_closure=row.reopened_after_closure,
        effort_minutes=row.effort,
        cost=Decimal(row.cost),
        nonconformities=row.ncs,
        corrected=row.ncs_corrected,
    )


def row_holds(row: KpiRow) -> dict[str, timedelta]:
    """The time on hold per reason of a request with no hold under way."""
    held: dict[str, int] = orjson.loads(row.holds) if row.holds else {}
    return {reason: timedelta(microseconds=us) for reason, us in held.items()}


def current_at(row: KpiRow, when: int) -> bool:
    """Whether the row is what the log says of its request as of ``when`` (us).

    So when its events can be read, it was opened by then, and no event that changed what the
    KPIs count happened after (the exact fold stops a request at its first event after
    ``when``; a later event that changes nothing here leaves the same figures).
    """
    return not row.quarantined and row.opened_at <= when and row.last_at <= when


def holds_at(row: KpiRow, when: int) -> dict[str, timedelta]:
    """The time on hold per reason by ``when`` (us), the hold under way counted up to then."""
    holds = row_holds(row)
    if row.held_since is not None:
        reason = _held_for(row.status, row.hold_reason) or "other"
        spent = timedelta(microseconds=max(when - row.held_since, 0))
        holds[reason] = holds.get(reason, timedelta(0)) + spent
    return holds


def settled_figures(
    row: KpiRow,
) -> tuple[RequestFacts, ClockFigures, dict[str, timedelta]]:
    """What a settled request's tally adds (``Tally.add``): its facts, clocks and holds."""
    assert row.clocks is not None  # noqa: S101 - a settled row was measured
    return row_facts(row), row.clocks, row_holds(row)


def contribution(row: KpiRow, *, exact: bool = False) -> Tally:
    """A settled request's tally (its figures at any instant from its last event on)."""
    tally = Tally(exact=exact)
    facts, clocks, holds = settled_figures(row)
    tally.add(facts, clocks, holds, facts.opened_at)
    return tally


#: How to read each grouping's value of a row (``(none)`` where it has none).
GROUP_VALUE: dict[str, Callable[[KpiRow], str]] = {
    "all": lambda _row: "",
    "team": lambda row: row.team or NONE_KEY,
    "agent": lambda row: row.agent or NONE_KEY,
    "kind": lambda row: row.kind,
    "stage": lambda row: row.stage,
    "channel": lambda row: row.channel,
    "priority": lambda row: row.priority or NONE_KEY,
    "tier": lambda row: row.tier,
}


def group_values(row: KpiRow) -> dict[str, str]:
    """The row's value for each grouping (``(none)`` where it has none)."""
    return {dim: value(row) for dim, value in GROUP_VALUE.items()}


def stored(
    projection: Any,  # noqa: ANN401 - the queue projection
    tx: Tx,
    before: Mapping[str, KpiRow],
    after: Sequence[KpiRow],
) -> None:
    """Move the tallies of the requests a batch settled, changed while settled, or reopened."""
    # The requests' tallies to add (1) or take away (-1), by day and value of every grouping:
    # requests alike are added up once before they go into their eight buckets.
    alike: dict[tuple[int, tuple[str, ...]], list[tuple[Tally, int]]] = {}

    def put(row: KpiRow, tally: Tally, sign: int) -> None:
        key = (row.opened_at // DAY, tuple(value(row) for value in GROUP_VALUE.values()))
        moves = alike.get(key)
        if moves is None:
            alike[key] = [(tally, sign)]
        else:
            moves.append((tally, sign))

    for row in after:
        old = before.get(row.request_id)
        was = old is not None and old.settled
        if not was and not row.settled:
            continue
        new = contribution(row) if row.settled else None
        if old is not None and was:
            previous = contribution(old)
            if (
                new is not None
                and group_values(old) == group_values(row)
                and old.opened_at == row.opened_at
                and previous.state() == new.state()
            ):
                continue  # a note on a closed request, say: its figures stay
            put(old, previous, -1)
        if new is not None:
            put(row, new, 1)
    if alike:
        _apply(projection, tx, _bucket_moves(alike))


def _bucket_moves(
    alike: Mapping[tuple[int, tuple[str, ...]], Sequence[tuple[Tally, int]]],
) -> dict[tuple[int, str, str], list[tuple[Tally, int]]]:
    """Each bucket's moves, from the moves of requests alike in day and every grouping."""
    deltas: dict[tuple[int, str, str], list[tuple[Tally, int]]] = {}
    for (day, values), moves in alike.items():
        if len(moves) == 1:
            move = moves[0]
        else:
            added = Tally(exact=False)
            for tally, sign in moves:
                added.merge(tally, sign)
            move = (added, 1)
        for dim, value in zip(GROUP_VALUE, values, strict=True):
            found = deltas.get((day, dim, value))
            if found is None:
                deltas[(day, dim, value)] = [move]
            else:
                found.append(move)
    return deltas


def _apply(
    projection: Any,  # noqa: ANN401 - the queue projection
    tx: Tx,
    deltas: Mapping[tuple[int, str, str], Sequence[tuple[Tally, int]]],
) -> None:
    table = projection.t(projection.kpis_table)
    keys = sorted(deltas)
    found = _buckets(projection, tx, keys)
    upserts: list[tuple[object, ...]] = []
    emptied: list[tuple[object, ...]] = []
    for key in keys:
        tally = found.get(key) or Tally(exact=False)
        for move, sign in deltas[key]:
            tally.merge(move, sign)
        if tally.volume:
            text = orjson.dumps(tally.state(), option=orjson.OPT_SORT_KEYS).decode()
            upserts.append((*key, tally.volume, text))
            projection.remember((_BUCKET, key), tally)
        else:
            if key in found:
                emptied.append(key)
            projection.remember((_BUCKET, key), _NO_BUCKET)
    if upserts:
        tx.executemany(
            f"INSERT INTO {table} (day, dim, value, n, tally) VALUES (?, ?, ?, ?, ?) "  # noqa: S608
            "ON CONFLICT (dim, value, day) DO UPDATE SET n = excluded.n, tally = excluded.tally",
            upserts,
        )
    if emptied:
        tx.executemany(
            f"DELETE FROM {table} WHERE day = ? AND dim = ? AND value = ?",  # noqa: S608
            emptied,
        )


def _buckets(
    projection: Any,  # noqa: ANN401 - the queue projection
    tx: Tx,
    keys: Sequence[tuple[int, str, str]],
) -> dict[tuple[int, str, str], Tally]:
    """The buckets as the table holds them (absent: no row).

    Those this thread wrote last are remembered (``recall``, while no other writer moved the
    view since), the others read back. A remembered tally is changed in place by the caller,
    as the table is: a batch that does not commit makes the projection forget every one.
    """
    table = projection.t(projection.kpis_table)
    found: dict[tuple[int, str, str], Tally] = {}
    unknown = []
    for key in keys:
        known = projection.recall((_BUCKET, key))
        if known is None:
            unknown.append(key)
        elif known is not _NO_BUCKET:
            found[key] = cast("Tally", known)
    for start in range(0, len(unknown), _CHUNK):
        chunk = unknown[start : start + _CHUNK]
        marks = ", ".join("(?, ?, ?)" for _ in chunk)
        params = [part for day, dim, value in chunk for part in (dim, value, day)]
        for record in tx.rows(
            f"SELECT day, dim, value, tally FROM {table} "  # noqa: S608
            f"WHERE (dim, value, day) IN (VALUES {marks})",
            params,
        ):
            found[(int(record[0]), str(record[1]), str(record[2]))] = Tally.from_state(
                orjson.loads(record[3])
            )
    return found


def bucket_rows(
    projection: Any,  # noqa: ANN401 - the queue projection
    tx: Tx,
    dim: str,
    first_day: int,
    end_day: int,
    value: str | None,
) -> list[tuple[int, str, dict[str, Any]]]:
    """The buckets of one grouping for the days ``[first_day, end_day)`` (and one value).

    Each as its day, value and tally's plain data (``Tally.absorb`` adds it up).
    """
    if first_day >= end_day:
        return []
    where = "dim = ? AND day >= ? AND day < ?"
    params: list[object] = [dim, first_day, end_day]
    if value is not None:
        where += " AND value = ?"
        params.append(value)
    loads = orjson.loads
    return [
        (int(record[0]), str(record[1]), loads(record[2]))
        for record in tx.rows(
            f"SELECT day, value, tally FROM {projection.t(projection.kpis_table)} "  # noqa: S608
            f"WHERE {where}",
            params,
        )
    ]
