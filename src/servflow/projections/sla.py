"""The SLA read model: each request's clocks as indexed due times, for breach and risk listings.

One row per request keeps the request's :class:`~servflow.domain.sla.SlaTracker` (as JSON) and,
derived from it under the policy in force at the request's opening, the columns queries use: due
and warning instants per clock, whether each clock is done, whether the request is paused, and
the instants ``ServiceDesk.run_due`` acts on. ``breaches`` and ``at_risk`` are indexed range reads.

The policies come from the log itself: ``SlaPolicyBook.PolicyAdopted`` events are folded, in
order, into a table of this projection, so a rebuild and incremental following measure every
request with the same policy version, and no process's configuration can make them differ.

The derived columns are those of the clocks as of the request's last event; for any instant at or
after it they decide the state (running, warning, breached, ...) exactly, because nothing but time
changes a clock between events. For earlier instants ask ``ServiceDesk.sla(ref, at=...)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from servflow.domain.request import ServiceRequest
from servflow.domain.sla import (
    STOPPED_STATES,
    Clock,
    ClockName,
    ClockPolicies,
    ClockState,
    SlaTracker,
    to_second,
)
from servflow.domain.values import Outcome, Priority, Value
from servflow.persistence.sql import Tx, from_micros, id_text, micros
from servflow.projections.base import evolver
from servflow.projections.measured import MeasuredProjection

__all__ = ["SlaAlert", "SlaDueRow", "SlaProjection"]

_ONE_SECOND = timedelta(seconds=1)


@dataclass(slots=True)
class _SlaRow:
    request_id: str
    ticket_code: str
    opened_at: int
    team: str | None
    agent: str | None
    priority: str | None
    policy_name: str | None
    policy_version: int | None
    calendar_version: int | None
    first_response_due: int | None
    first_response_warn_from: int | None
    first_response_done: str | None
    first_response_window: int | None
    resolution_due: int | None
    resolution_warn_from: int | None
    resolution_done: str | None
    resolution_window: int | None
    #: The update clock's current cycle (``update_done`` NULL while one runs: running, warning,
    #: breached or paused); ``update_done`` says ``none`` where the rule sets no update target,
    #: ``not_started`` before the first response, else met, missed or cancelled.
    update_due: int | None
    update_warn_from: int | None
    update_done: str | None
    update_window: int | None
    #: The update clock's current cycle (1 from the first response; 0 before it, or none).
    update_cycle: int
    paused: int
    first_response_breached_while_paused: int
    resolution_breached_while_paused: int
    update_breached_while_paused: int
    awaiting_acceptance: int
    completed_at: int | None
    deemed_acceptance_at: int | None
    follow_up_at: int | None
    follow_up_due: int
    #: 1 once the request holds imported history (``HistoryImported``): left out of listings.
    imported: int
    tracker: SlaTracker


_SLA_FIELDS = tuple(f.name for f in dataclasses.fields(_SlaRow))


#: A copy of a row with ``changes``: rows are never changed in place (folds stay pure).
_evolve = evolver(_SlaRow)


class SlaAlert(Value):
    """A clock that needs attention: breached, or at risk (in its warning window)."""

    request_id: UUID
    ticket_code: str
    clock: ClockName
    state: ClockState
    due: datetime
    warn_from: datetime | None
    is_paused: bool
    team: str | None
    agent: str | None
    priority: Priority | None
    policy: str
    policy_version: int


class SlaDueRow(Value):
    """A request awaiting acceptance with a time-based action whose moment may have come."""

    request_id: UUID
    ticket_code: str
    deemed_acceptance_at: datetime | None
    follow_up_at: datetime | None
    follow_up_due: bool


_CLOCKS: tuple[ClockName, ...] = ("first_response", "resolution", "update")
#: ``update_done`` of a request whose rule sets no update target.
_NO_UPDATE_CLOCK = "none"
_ALERT_COLUMNS = (
    "request_id, ticket_code, team, agent, priority, policy_name, policy_version, paused"
)


class SlaProjection(MeasuredProjection[_SlaRow]):
    """The SLA read model: per-request due times and clock states, indexed for listings."""

    name: ClassVar[str] = "sla"
    #: 2: partial indexes of the running clocks, for ``breaches`` and ``at_risk``.
    #: 3: ``imported``, so that listings can leave imported history out.
    #: 4: the update clock (``update_*``), listed by ``breaches`` and ``at_risk`` too.
    #: 5: trackers keep when a fact was recorded, where after it happened (for corrections).
    version: ClassVar[int] = 5
    table: ClassVar[str] = "sf_sla"
    columns: ClassVar[tuple[str, ...]] = tuple(f.name for f in dataclasses.fields(_SlaRow))

    def create(self, tx: Tx) -> None:  # noqa: D102
        table = self.t(self.table)
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "request_id TEXT PRIMARY KEY, ticket_code TEXT NOT NULL, opened_at BIGINT NOT NULL, "
            "team TEXT, agent TEXT, priority TEXT, policy_name TEXT, policy_version INTEGER, "
            "calendar_version INTEGER, first_response_due BIGINT, "
            "first_response_warn_from BIGINT, first_response_done TEXT, "
            "first_response_window BIGINT, resolution_due BIGINT, resolution_warn_from BIGINT, "
            "resolution_done TEXT, resolution_window BIGINT, update_due BIGINT, "
            "update_warn_from BIGINT, update_done TEXT, update_window BIGINT, "
            "update_cycle INTEGER NOT NULL, paused INTEGER NOT NULL, "
            "first_response_breached_while_paused INTEGER NOT NULL, "
            "resolution_breached_while_paused INTEGER NOT NULL, "
            "update_breached_while_paused INTEGER NOT NULL, "
            "awaiting_acceptance INTEGER NOT NULL, completed_at BIGINT, "
            "deemed_acceptance_at BIGINT, follow_up_at BIGINT, follow_up_due INTEGER NOT NULL, "
            "imported INTEGER NOT NULL, tracker TEXT NOT NULL)"
        )
        self.create_policy_table(tx)

    def indexes(self) -> Sequence[str]:  # noqa: D102
        table = self.t(self.table)
        # ``breaches`` and ``at_risk`` list running clocks only, in due order: partial indexes
        # hold just those rows, in that order. With the clock's state as a leading column
        # instead, PostgreSQL misjudged ``IS NULL`` and sorted every open row (100+ ms). The
        # widest warning window of the running, unpaused clocks is partial too: an index led
        # by the state (or by ``paused``) would lure SQLite away from the due order.
        running: list[str] = []
        for clock in _CLOCKS:
            index = f'CREATE INDEX IF NOT EXISTS "ix_{self.table}_{clock}'
            where = f"WHERE {clock}_done IS NULL"
            running += [
                f'{index}_running" ON {table} ({clock}_due, ticket_code) {where}',
                f'{index}_widest" ON {table} ({clock}_window) {where} AND paused = 0',
            ]
        return running + [
            f'CREATE INDEX IF NOT EXISTS "ix_{self.table}_{name}" ON {table} ({columns})'
            for name, columns in (
                ("deemed", "deemed_acceptance_at"),
                ("follow_up", "follow_up_due, follow_up_at"),
                ("opened", "opened_at"),
            )
        ]

    # -- the fold -------------------------------------------------------------------------

    def fold(self, row: _SlaRow | None, event: object) -> _SlaRow | None:  # noqa: D102
        tracker = self.tracker_after(None if row is None else row.tracker, event)
        if tracker is None:
            return row
        if row is None:
            return _SlaRow(
                request_id=id_text(tracker.request_id),
                ticket_code=tracker.ticket_code,
                opened_at=micros(tracker.opened_at) or 0,
                team=None,
                agent=None,
                priority=None,
                policy_name=None,
                policy_version=None,
                calendar_version=None,
                first_response_due=None,
                first_response_warn_from=None,
                first_response_done=None,
                first_response_window=None,
                resolution_due=None,
                resolution_warn_from=None,
                resolution_done=None,
                resolution_window=None,
                update_due=None,
                update_warn_from=None,
                update_done=_NO_UPDATE_CLOCK,
                update_window=None,
                update_cycle=0,
                paused=0,
                first_response_breached_while_paused=0,
                resolution_breached_while_paused=0,
                update_breached_while_paused=0,
                awaiting_acceptance=0,
                completed_at=None,
                deemed_acceptance_at=None,
                follow_up_at=None,
                follow_up_due=0,
                imported=0,
                tracker=tracker,
            )
        changes: dict[str, Any] = {}
        if isinstance(event, ServiceRequest.HistoryImported) and not row.imported:
            changes = {"imported": 1}
        if isinstance(event, ServiceRequest.Assigned):
            changes = {"team": event.team, "agent": event.agent}
        elif isinstance(event, ServiceRequest.Completed) and event.outcome is Outcome.TRANSFERRED:
            changes = {"team": event.to_team, "agent": None}
        elif isinstance(event, ServiceRequest.Unassigned):
            changes = {"team": event.team, "agent": None}
        elif isinstance(event, ServiceRequest.Classified):
            changes = {"priority": event.priority.value}
        if tracker is row.tracker and not changes:
            return row
        changes["tracker"] = tracker
        return _evolve(row, changes)

    def measure(self, row: _SlaRow, policies: ClockPolicies) -> _SlaRow:  # noqa: D102
        tracker = row.tracker
        policy = policies.resolution
        status = self.status_under(tracker, policies)
        first, resolution, update = status.first_response, status.resolution, status.update
        follow_up = tracker.follow_up_at
        return _evolve(
            row,
            {
                "policy_name": policy.name,
                "policy_version": policy.version,
                "calendar_version": policy.calendar.version,
                "first_response_due": micros(first.due),
                "first_response_warn_from": micros(first.warn_from),
                "first_response_done": _done(first),
                "first_response_window": _window(first),
                "resolution_due": micros(resolution.due),
                "resolution_warn_from": micros(resolution.warn_from),
                "resolution_done": _done(resolution),
                "resolution_window": _window(resolution),
                "update_due": None if update is None else micros(update.due),
                "update_warn_from": None if update is None else micros(update.warn_from),
                "update_done": _NO_UPDATE_CLOCK if update is None else _update_done(update),
                "update_window": None if update is None else _window(update),
                "update_cycle": 0 if update is None else update.cycle,
                "paused": int(
                    first.is_paused
                    or resolution.is_paused
                    or (update is not None and update.is_paused)
                ),
                "first_response_breached_while_paused": _breached_while_paused(first),
                "resolution_breached_while_paused": _breached_while_paused(resolution),
                "update_breached_while_paused": 0
                if update is None
                else _breached_while_paused(update),
                "awaiting_acceptance": int(tracker.awaiting_acceptance),
                "completed_at": micros(tracker.completed_at),
                "deemed_acceptance_at": micros(tracker.deemed_acceptance_at(policy)),
                "follow_up_at": micros(follow_up),
                "follow_up_due": int(tracker.follow_up_due),
            },
        )

    def opened(self, row: _SlaRow) -> datetime:  # noqa: D102
        return row.tracker.opened_at

    def tracker_of(self, row: _SlaRow) -> SlaTracker:  # noqa: D102
        return row.tracker

    # -- rows in and out ------------------------------------------------------------------

    def key_of(self, row: _SlaRow) -> str:  # noqa: D102
        return row.request_id

    def to_values(self, row: _SlaRow) -> tuple[object, ...]:  # noqa: D102
        values = [getattr(row, name) for name in self.columns]
        values[-1] = self.tracker_json(row.tracker)
        return tuple(values)

    def from_record(self, record: Mapping[str, Any]) -> _SlaRow:  # noqa: D102
        fields = {name: record[name] for name in self.columns}
        fields["tracker"] = self.tracker_from(fields["tracker"])
        return _SlaRow(**fields)

    # -- queries --------------------------------------------------------------------------

    def breaches(
        self, tx: Tx, at: datetime, *, limit: int | None = None, imported: bool = True
    ) -> list[SlaAlert]:
        """Clocks past their due instant as of ``at`` and not met, earliest due first.

        ``imported=False`` leaves out requests holding imported history.
        """
        when = micros(to_second(at))
        found: list[tuple[Mapping[str, Any], ClockName]] = []
        live = "" if imported else " AND imported = 0"
        for clock in _CLOCKS:
            records = tx.query(
                f"SELECT {_ALERT_COLUMNS}, {clock}_due AS due, {clock}_warn_from AS warn_from "  # noqa: S608
                f"FROM {self.t(self.table)} WHERE {clock}_done IS NULL AND {clock}_due < ?{live} "
                f"ORDER BY {clock}_due, ticket_code{_limit(limit)}",
                (when,),
            )
            found += [(r, clock) for r in records]
        return _alerts(found, ClockState.BREACHED, limit)

    def at_risk(
        self, tx: Tx, at: datetime, *, limit: int | None = None, imported: bool = True
    ) -> list[SlaAlert]:
        """Running clocks in their warning window as of ``at``, earliest due first.

        ``imported=False`` leaves out requests holding imported history.
        """
        when = micros(to_second(at))
        live = "" if imported else " AND imported = 0"
        assert when is not None  # noqa: S101 - ``at`` is an instant
        table = self.t(self.table)
        found: list[tuple[Mapping[str, Any], ClockName]] = []
        for clock in _CLOCKS:
            # A clock warns from warn_from to due. Bounding due by the widest window of any
            # running clock turns "warn_from <= T <= due" into one short indexed range of due.
            widest = tx.query(
                f"SELECT {clock}_window AS w FROM {table} "  # noqa: S608
                f"WHERE {clock}_done IS NULL AND paused = 0 AND {clock}_window IS NOT NULL "
                f"ORDER BY {clock}_window DESC LIMIT 1",
            )
            if not widest:
                continue
            records = tx.query(
                f"SELECT {_ALERT_COLUMNS}, {clock}_due AS due, {clock}_warn_from AS warn_from "  # noqa: S608
                f"FROM {table} WHERE {clock}_done IS NULL AND {clock}_due >= ? "
                f"AND {clock}_due <= ? AND paused = 0 AND {clock}_warn_from <= ?{live} "
                f"ORDER BY {clock}_due, ticket_code{_limit(limit)}",
                (when, when + int(widest[0]["w"]), when),
            )
            found += [(r, clock) for r in records]
        return _alerts(found, ClockState.WARNING, limit)

    def missed(self, tx: Tx, *, imported: bool = True) -> list[SlaAlert]:
        """Clocks stopped after their due instant (``missed``), earliest due first.

        The update clock's row is its last cycle's. ``imported=False`` leaves out requests
        holding imported history.
        """
        live = "" if imported else " AND imported = 0"
        found: list[tuple[Mapping[str, Any], ClockName]] = []
        for clock in _CLOCKS:
            records = tx.query(
                f"SELECT {_ALERT_COLUMNS}, {clock}_due AS due, {clock}_warn_from AS warn_from "  # noqa: S608
                f"FROM {self.t(self.table)} WHERE {clock}_done = 'missed' "
                f"AND {clock}_due IS NOT NULL{live} ORDER BY {clock}_due, ticket_code",
            )
            found += [(r, clock) for r in records]
        return _alerts(found, ClockState.MISSED, None)

    def due_actions(self, tx: Tx, at: datetime) -> list[SlaDueRow]:
        """Requests awaiting acceptance whose deemed acceptance or follow-up came by ``at``."""
        when = micros(to_second(at))
        table = self.t(self.table)
        columns = "request_id, ticket_code, deemed_acceptance_at, follow_up_at, follow_up_due"
        found: dict[str, Mapping[str, Any]] = {}
        for condition in (
            "deemed_acceptance_at <= ?",
            "follow_up_due = 0 AND follow_up_at <= ?",
        ):
            for record in tx.query(
                f"SELECT {columns} FROM {table} WHERE {condition}",  # noqa: S608
                (when,),
            ):
                found[str(record["request_id"])] = record
        rows = [
            SlaDueRow(
                request_id=UUID(str(r["request_id"])),
                ticket_code=str(r["ticket_code"]),
                deemed_acceptance_at=from_micros(r["deemed_acceptance_at"]),
                follow_up_at=from_micros(r["follow_up_at"]),
                follow_up_due=bool(r["follow_up_due"]),
            )
            for r in found.values()
        ]
        return sorted(rows, key=lambda r: r.ticket_code)

    def opened_ids_sql(self, start: datetime, end: datetime) -> tuple[str, list[object]]:
        """A SELECT of the ids of (at least) the requests opened in ``[start, end)``.

        Rows keep the opening second (the clocks' resolution): the range is widened to whole
        seconds on both sides, and the caller checks the exact instant.
        """
        table = self.t(self.table)
        statement = f"SELECT request_id FROM {table} WHERE opened_at >= ? AND opened_at < ?"  # noqa: S608
        return (
            statement,
            [micros(to_second(start) - _ONE_SECOND), micros(to_second(end) + _ONE_SECOND)],
        )

    def opened_between(self, tx: Tx, start: datetime, end: datetime) -> list[SlaTracker]:
        """The trackers of the requests opened in ``[start, end)``, in opening order."""
        records = tx.query(
            f"SELECT tracker FROM {self.t(self.table)} "  # noqa: S608
            "WHERE opened_at >= ? AND opened_at < ? ORDER BY opened_at, ticket_code",
            (micros(to_second(start)), micros(to_second(end))),
        )
        return [SlaTracker.model_validate_json(r["tracker"]) for r in records]

    def rows(self, tx: Tx) -> list[dict[str, Any]]:
        """Every row as stored, by request id (for tests and rebuild comparisons)."""
        return tx.query(f"SELECT * FROM {self.t(self.table)} ORDER BY request_id")  # noqa: S608


def _done(clock: Clock) -> str | None:
    return clock.state.value if clock.state in STOPPED_STATES else None


def _update_done(clock: Clock) -> str | None:
    """NULL while a cycle runs (it may be listed); else why not: stopped, or not started."""
    if clock.state in STOPPED_STATES or clock.state is ClockState.NOT_STARTED:
        return clock.state.value
    return None


def _window(clock: Clock) -> int | None:
    """How long the clock warns before it is due (micros), while it is running."""
    if clock.state in STOPPED_STATES or clock.due is None or clock.warn_from is None:
        return None
    return (micros(clock.due) or 0) - (micros(clock.warn_from) or 0)


def _breached_while_paused(clock: Clock) -> int:
    # Paused after its due instant: it stays breached while the customer is awaited.
    return int(clock.is_paused and clock.state not in STOPPED_STATES and clock.due is not None)


def _limit(limit: int | None) -> str:
    return "" if limit is None else f" LIMIT {int(limit)}"


def _alert(record: Mapping[str, Any], clock: ClockName, state: ClockState) -> SlaAlert:
    due = from_micros(record["due"])
    assert due is not None  # noqa: S101 - the queries select rows with a due instant
    priority = record["priority"]
    return SlaAlert(
        request_id=UUID(str(record["request_id"])),
        ticket_code=str(record["ticket_code"]),
        clock=clock,
        state=state,
        due=due,
        warn_from=from_micros(record["warn_from"]),
        is_paused=bool(record["paused"]),
        team=record["team"],
        agent=record["agent"],
        priority=Priority(priority) if priority else None,
        policy=str(record["policy_name"]),
        policy_version=int(record["policy_version"]),
    )


def _alerts(
    found: list[tuple[Mapping[str, Any], ClockName]], state: ClockState, limit: int | None
) -> list[SlaAlert]:
    """The alerts of both clocks' rows, earliest due first, the ``limit`` first only.

    Ordered as stored (due in microseconds orders as the instant does), so that the rows past
    the limit are never turned into alerts.
    """
    found.sort(key=lambda pair: (pair[0]["due"], str(pair[0]["ticket_code"]), pair[1]))
    return [_alert(record, clock, state) for record, clock in found[:limit]]
