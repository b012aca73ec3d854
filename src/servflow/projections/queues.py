"""Work queues: open requests by team, agent, status, priority, kind, customer and tier.

One row per request, ordered by resolution due time (then priority, then opening time), with
indexes for each filter, so a queue page is an indexed range read, never a scan of the log.
The due times come from the request's SLA tracker, measured with the policy in force at its
opening (the projection folds the log's ``PolicyAdopted`` events, like the SLA projection).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID

from servflow.domain.choices import SpecialQueue
from servflow.domain.clocks import ClockFigures
from servflow.domain.kpis import Tally
from servflow.domain.lifecycle import Status, status_after
from servflow.domain.request import ServiceRequest
from servflow.domain.sla import (
    STOPPED_STATES,
    ClockPolicies,
    SlaTracker,
)
from servflow.domain.values import Kind, Outcome, Priority, Tier
from servflow.persistence.sql import Tx, from_micros, id_text, micros
from servflow.projections import kpis
from servflow.projections.measured import MeasuredProjection
from servflow.projections.queue_rows import (
    NO_DUE,
    NO_PRIORITY_RANK,
    OPEN,
    VIEW_COLUMNS,
    QueuePage,
    QueueRow,
    Row,
    evolve,
    row_changes,
    views,
)

__all__ = ["QueuePage", "QueueProjection", "QueueRow", "SpecialQueue"]

#: Where ``clocks`` sits among the columns.
_CLOCKS = tuple(f.name for f in dataclasses.fields(Row)).index("clocks")


class QueueProjection(MeasuredProjection[Row]):
    """The work-queue read model."""

    name: ClassVar[str] = "queues"
    # v2: SLA due times filled from each request's tracker (new columns sla_policy, sla_tracker).
    # v3: totals per team and status (the ``_counts`` table) for counted pages.
    # v4: ``quarantined``, set when one of the request's events could not be read.
    # v5: ``hold_reason``, the reason of the hold a request is on (the on_hold queue by reason),
    #     and ``external_ref`` and ``external_source``.
    # v6: ``imported``, set by ``HistoryImported`` (live queues may leave such requests out).
    # v7: ``update_due``, the due instant of the update clock's current cycle.
    # v8: trackers keep when a fact was recorded, where after it happened (corrections re-time
    #     clocks by what the desk knew when they were adopted).
    # v9: what the KPIs need (``projections.kpis``) and the KPI buckets (``_kpis``).
    # v10: ``clocks``, the clocks as the KPIs take them as of the tracker's last fact (the
    #      view counts requests at any later instant with no calendar maths).
    version: ClassVar[int] = 10
    table: ClassVar[str] = "sf_queue"
    columns: ClassVar[tuple[str, ...]] = tuple(f.name for f in dataclasses.fields(Row))

    def create(self, tx: Tx) -> None:  # noqa: D102
        table = self.t(self.table)
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "request_id TEXT PRIMARY KEY, ticket_code TEXT NOT NULL, status TEXT NOT NULL, "
            "is_open INTEGER NOT NULL, customer_id TEXT NOT NULL, tier TEXT NOT NULL, "
            "kind TEXT NOT NULL, stage TEXT NOT NULL, channel TEXT NOT NULL, priority TEXT, "
            "priority_rank INTEGER NOT NULL, category TEXT, team TEXT, agent TEXT, outcome TEXT, "
            "hold_reason TEXT, "
            "opened_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, follow_up_at BIGINT, "
            "first_response_due BIGINT, resolution_due BIGINT, update_due BIGINT, "
            "due_sort BIGINT NOT NULL, "
            "quarantined INTEGER NOT NULL DEFAULT 0, external_ref TEXT, external_source TEXT, "
            "imported INTEGER NOT NULL DEFAULT 0, "
            "completed_at BIGINT, reopen_count INTEGER NOT NULL, transfer_count INTEGER NOT NULL, "
            "actions INTEGER NOT NULL, closed_by_desk INTEGER NOT NULL, deemed INTEGER NOT NULL, "
            "satisfaction INTEGER, reopened_after_closure INTEGER NOT NULL, "
            "effort BIGINT NOT NULL, cost TEXT NOT NULL, ncs INTEGER NOT NULL, "
            "ncs_corrected INTEGER NOT NULL, holds TEXT, held_since BIGINT, "
            "last_at BIGINT NOT NULL, settled INTEGER NOT NULL, clocks TEXT, "
            "sla_policy TEXT, sla_tracker TEXT)"
        )
        kpis.create(self, tx)
        self.create_policy_table(tx)
        # How many requests each team has in each status ('' for no team): what a counted page
        # of the usual filters adds up instead of counting its rows.
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {self.t(self.counts_table)} ("
            "team TEXT NOT NULL, status TEXT NOT NULL, n BIGINT NOT NULL, "
            "PRIMARY KEY (team, status))"
        )

    @property
    def counts_table(self) -> str:
        """The totals per team and status, beside the rows."""
        return f"{self.table}_counts"

    @property
    def kpis_table(self) -> str:
        """The KPI buckets: settled requests' tallies per day of opening and group."""
        return f"{self.table}_kpis"

    def tables(self) -> Sequence[str]:  # noqa: D102
        return (*super().tables(), self.counts_table, self.kpis_table)

    def stored(  # noqa: D102
        self, tx: Tx, before: Mapping[str, Row], after: Sequence[Row]
    ) -> None:
        deltas: dict[tuple[str, str], int] = {}
        for row in after:
            old = before.get(row.request_id)
            if old is not None:
                if old.team == row.team and old.status == row.status:
                    continue
                group = (old.team or "", old.status)
                deltas[group] = deltas.get(group, 0) - 1
            group = (row.team or "", row.status)
            deltas[group] = deltas.get(group, 0) + 1
        kpis.stored(self, tx, before, after)
        tx.executemany(
            f"INSERT INTO {self.t(self.counts_table)} (team, status, n) VALUES (?, ?, ?) "  # noqa: S608
            "ON CONFLICT (team, status) DO UPDATE SET n = "
            f"{self.t(self.counts_table)}.n + excluded.n",
            sorted((team, status, n) for (team, status), n in deltas.items() if n),
        )
        # A group that empties leaves no row, so a view followed event by event has the same
        # rows as a rebuild, whose batches cut the log elsewhere.
        emptied = sorted(group for group, n in deltas.items() if n < 0)
        if emptied:
            tx.executemany(
                f"DELETE FROM {self.t(self.counts_table)} "  # noqa: S608
                "WHERE team = ? AND status = ? AND n = 0",
                emptied,
            )

    def indexes(self) -> Sequence[str]:  # noqa: D102
        table = self.t(self.table)
        order = "due_sort, priority_rank, opened_at"
        statements = []
        for name, lead in (
            ("open", "is_open"),
            ("team", "team, is_open"),
            ("agent", "agent, is_open"),
            ("status", "status"),
            ("customer", "customer_id, is_open"),
            ("ticket", "ticket_code"),
        ):
            columns = lead if name == "ticket" else f"{lead}, {order}"
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "ix_{self.table}_{name}" ON {table} ({columns})'
            )
        # The KPIs' reads: a period's requests still moving, the settled ones of a part day.
        statements.append(
            f'CREATE INDEX IF NOT EXISTS "ix_{self.table}_settled" ON {table} (settled, opened_at)'
        )
        return statements

    # -- what the KPIs read ---------------------------------------------------------------

    @property
    def _kpi_columns(self) -> str:
        """Every column but the tracker (NULL in its place): what the KPIs read of a row."""
        return ", ".join(f"NULL AS {n}" if n == "sla_tracker" else n for n in self.columns)

    def unsettled_sql(self, since: int, until: int) -> tuple[str, list[object]]:
        """A SELECT of the rows opened in ``[since, until)`` (us) not settled (``kpi_records``).

        Their trackers are left out: the KPIs take the clocks from ``clocks``.
        """
        statement = (
            f"SELECT {self._kpi_columns} FROM {self.t(self.table)} "  # noqa: S608
            "WHERE settled = 0 AND opened_at >= ? AND opened_at < ?"
        )
        return statement, [since, until]

    @staticmethod
    def kpi_records(found: Iterable[Sequence[Any]]) -> list[Row]:
        """The rows of a SELECT of the KPIs' columns (``unsettled_sql``), as rows.

        Their trackers are left out (None); their clocks are read.
        """
        rows = [Row(*record) for record in found]
        for row in rows:
            if row.clocks is not None:
                row.clocks = kpis.clocks_from(cast("str", row.clocks))
        return rows

    def settled_rows(
        self, tx: Tx, ranges: Sequence[tuple[int, int]], ids: Sequence[str] = ()
    ) -> list[Row]:
        """The settled rows opened in these ranges (us, end excluded), or of these requests.

        Their trackers are left out: the KPIs take the clocks from ``clocks``.
        """
        names = self._kpi_columns
        table = self.t(self.table)
        found: list[Row] = []
        for since, until in ranges:
            found += self.kpi_records(
                tx.rows(
                    f"SELECT {names} FROM {table} "  # noqa: S608
                    "WHERE settled = 1 AND opened_at >= ? AND opened_at < ?",
                    [since, until],
                )
            )
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            found += self.kpi_records(
                tx.rows(
                    f"SELECT {names} FROM {table} "  # noqa: S608
                    f"WHERE settled = 1 AND request_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return found

    @staticmethod
    def settled_tallies(rows: Sequence[Row]) -> list[tuple[Row, Tally]]:
        """Each settled row with its tally (its clocks as stored)."""
        return [(row, kpis.contribution(row)) for row in rows]

    # -- the fold -------------------------------------------------------------------------

    def fold(self, row: Row | None, event: object) -> Row | None:  # noqa: D102
        if row is None:
            if not isinstance(event, ServiceRequest.Opened):
                return None
            return self._opened(event)
        changes = row_changes(event, row)
        tracker = self.tracker_after(row.sla_tracker, event)
        facts = kpis.changes(event, row)
        if changes is None:
            # Events the queue ignores may still move a clock (a first response, say), or
            # what the KPIs count (an action's effort).
            if facts is None:
                if tracker is row.sla_tracker:
                    return row
                return evolve(row, {"sla_tracker": tracker})
            facts["sla_tracker"] = tracker
            # (the KPIs' changes come of a request's events only)
            facts["last_at"] = micros(cast("ServiceRequest.Event", event).occurred_at)
            return evolve(row, facts)
        if isinstance(event, ServiceRequest.Event):
            changes["updated_at"] = changes["last_at"] = micros(event.occurred_at)
        status = str(status_after(event, row.status))  # the lifecycle's one definition
        if status != row.status:
            changes["status"] = status
        changes["is_open"] = int(status in OPEN)
        changes["sla_tracker"] = tracker
        if facts is not None:
            changes.update(facts)
        held = kpis.hold_changes(event, row, status, changes.get("hold_reason", row.hold_reason))
        if held is not None:
            changes.update(held)
        return evolve(row, changes)

    def measure(self, row: Row, policies: ClockPolicies) -> Row:  # noqa: D102
        tracker = row.sla_tracker
        if tracker is None:
            return row
        policy = policies.resolution
        status = self.status_under(tracker, policies)
        figures = ClockFigures.of(status)
        resolution = status.resolution
        due = micros(resolution.due)
        # Only a resolution clock still running orders the work; met or cancelled ones sort last.
        live = due is not None and resolution.state not in STOPPED_STATES
        update = status.update
        return evolve(
            row,
            {
                "settled": int(kpis.is_settled(row, figures)),
                "clocks": figures,
                "first_response_due": micros(status.first_response.due),
                "resolution_due": due,
                "update_due": None if update is None else micros(update.due),
                "due_sort": due if live and due is not None else NO_DUE,
                "sla_policy": f"{policy.name} v{policy.version}",
            },
        )

    def tracker_of(self, row: Row) -> SlaTracker | None:  # noqa: D102
        return row.sla_tracker

    def opened(self, row: Row) -> datetime:  # noqa: D102
        if row.sla_tracker is not None:
            return row.sla_tracker.opened_at
        opened = from_micros(row.opened_at)
        assert opened is not None  # noqa: S101 - opened_at is NOT NULL
        return opened

    def _opened(self, event: ServiceRequest.Opened) -> Row:
        opened = micros(event.occurred_at) or 0
        return Row(
            request_id=id_text(event.originator_id),
            ticket_code=event.ticket_code,
            status=str(status_after(event, None)),
            is_open=1,
            customer_id=event.customer.id,
            tier=event.customer.tier.value,
            kind=event.kind.value,
            stage=event.stage.value,
            channel=event.channel.value,
            priority=None,
            priority_rank=NO_PRIORITY_RANK,
            category=None,
            team=None,
            agent=None,
            outcome=None,
            hold_reason=None,
            opened_at=opened,
            updated_at=opened,
            follow_up_at=None,
            first_response_due=None,
            resolution_due=None,
            update_due=None,
            due_sort=NO_DUE,
            quarantined=0,
            external_ref=event.external_ref,
            external_source=event.external_source,
            imported=0,
            completed_at=None,
            reopen_count=0,
            transfer_count=0,
            actions=0,
            closed_by_desk=0,
            deemed=0,
            satisfaction=None,
            reopened_after_closure=0,
            effort=0,
            cost="0",
            ncs=0,
            ncs_corrected=0,
            holds=None,
            held_since=None,
            last_at=opened,
            settled=0,
            clocks=None,
            sla_policy=None,
            sla_tracker=self.tracker_after(None, event),
        )

    # -- rows in and out ------------------------------------------------------------------

    def key_of(self, row: Row) -> str:  # noqa: D102
        return row.request_id

    def to_values(self, row: Row) -> tuple[object, ...]:  # noqa: D102
        values = [getattr(row, name) for name in self.columns]
        tracker = row.sla_tracker
        values[-1] = None if tracker is None else self.tracker_json(tracker)
        clocks = row.clocks
        values[_CLOCKS] = None if clocks is None else kpis.clocks_json(clocks)
        return tuple(values)

    def from_record(self, record: Mapping[str, Any]) -> Row:  # noqa: D102
        fields = {name: record[name] for name in self.columns}
        tracker = fields["sla_tracker"]
        fields["sla_tracker"] = None if tracker is None else self.tracker_from(tracker)
        clocks = fields["clocks"]
        fields["clocks"] = None if clocks is None else kpis.clocks_from(clocks)
        return Row(**fields)

    # -- queries --------------------------------------------------------------------------

    def query(  # noqa: PLR0913 - one keyword per filter
        self,
        tx: Tx,
        *,
        special: SpecialQueue | None = None,
        team: str | None = None,
        agent: str | None = None,
        status: Sequence[Status] = (),
        priority: Sequence[Priority] = (),
        kind: Sequence[Kind] = (),
        customer: str | None = None,
        tier: Sequence[Tier] = (),
        hold_reason: str | None = None,
        include_imported: bool = True,
        at: datetime | None = None,
        include_closed: bool = False,
        limit: int = 50,
        offset: int = 0,
        count: bool = True,
    ) -> QueuePage:
        """A page of the queue selected by the filters, in work order.

        ``count`` also counts every matching row (a scan of the matching index range); a page
        alone reads only its own rows.
        """
        where = _scope(include_closed=include_closed or bool(status), imported=include_imported)
        params: list[object] = []
        if special is not None:
            clause, args = _special(special, at)
            where.append(clause)
            params.extend(args)
        for column, value in (
            ("team", team),
            ("agent", agent),
            ("customer_id", customer),
            ("hold_reason", hold_reason),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        for column, values in (
            ("status", status),
            ("priority", priority),
            ("kind", kind),
            ("tier", tier),
        ):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(str(v) for v in values)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        table = self.t(self.table)
        statuses = (
            _counted_statuses(
                special=special,
                status=status,
                include_closed=include_closed,
                unsupported=agent is not None
                or customer is not None
                or hold_reason is not None
                or not include_imported
                or bool(priority or kind or tier),
            )
            if count
            else None
        )
        # A total the per-team-and-status table can give comes with the page, as a scalar
        # subquery on that small table: one statement, one round trip to the server.
        counted, counted_params = "", list[object]()
        if statuses is not None:
            expression, counted_params = self._total_sql(team, statuses)
            counted = f", {expression} AS total_"
        records = tx.rows(
            f"SELECT {', '.join(VIEW_COLUMNS)}{counted} FROM {table} {clause} "  # noqa: S608
            "ORDER BY due_sort, priority_rank, opened_at, ticket_code LIMIT ? OFFSET ?",
            [*counted_params, *params, limit + 1, offset],
        )
        has_more = len(records) > limit
        total = (
            _page_total(records, has_more=has_more, offset=offset, counted=bool(counted))
            if count
            else None
        )
        if count and total is None:
            if statuses is None:
                found = tx.query(f"SELECT COUNT(*) AS n FROM {table} {clause}", params)  # noqa: S608
                total = int(found[0]["n"])
            else:
                total = self._total(tx, team, statuses)
        return QueuePage(
            rows=tuple(views(records[:limit])),
            total=total,
            offset=offset,
            limit=limit,
            has_more=has_more,
        )

    def rows_of(self, tx: Tx, request_ids: Sequence[UUID]) -> dict[UUID, QueueRow]:
        """The rows of these requests, by request id (missing ones are simply absent)."""
        found: dict[UUID, QueueRow] = {}
        for start in range(0, len(request_ids), 500):
            chunk = [id_text(key) for key in request_ids[start : start + 500]]
            records = tx.rows(
                f"SELECT {', '.join(VIEW_COLUMNS)} FROM {self.t(self.table)} "  # noqa: S608
                f"WHERE request_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((row.request_id, row) for row in views(records))
        return found

    def customers(self, tx: Tx, *, after: str, limit: int) -> list[str]:
        """Ids of the customers with requests, in order, after ``after`` (a keyset page)."""
        records = tx.rows(
            f"SELECT DISTINCT customer_id FROM {self.t(self.table)} "  # noqa: S608
            "WHERE customer_id > ? ORDER BY customer_id LIMIT ?",
            [after, limit],
        )
        return [str(record[0]) for record in records]

    def as_of_candidates_sql(self, at: datetime, *, closed: bool) -> tuple[str, list[object]]:
        """A SELECT of the ids of the requests a queue as of ``at`` may hold, by these rows.

        Opened by ``at``; unless ``closed`` ones are asked for, also not closed or cancelled
        by then: a row that is not open and whose last change (``updated_at``: every status
        change moves it) happened by ``at`` was in that same status at ``at``.
        """
        when = micros(at)
        statement = f"SELECT request_id FROM {self.t(self.table)} WHERE opened_at <= ?"  # noqa: S608
        if closed:
            return statement, [when]
        return f"{statement} AND (is_open = 1 OR updated_at > ?)", [when, when]

    def _total_sql(self, team: str | None, statuses: frozenset[str]) -> tuple[str, list[object]]:
        """An expression of the rows of these statuses (and team), added up from the totals."""
        if not statuses:
            return "0", []
        where = [f"status IN ({', '.join('?' * len(statuses))})"]
        params: list[object] = [*sorted(statuses)]
        if team is not None:
            where.append("team = ?")
            params.append(team)
        expression = (
            f"(SELECT COALESCE(SUM(n), 0) FROM {self.t(self.counts_table)} "  # noqa: S608
            f"WHERE {' AND '.join(where)})"
        )
        return expression, params

    def _total(self, tx: Tx, team: str | None, statuses: frozenset[str]) -> int:
        """The matching rows, added up from the totals per team and status."""
        expression, params = self._total_sql(team, statuses)
        found = tx.query(f"SELECT {expression} AS n", params)
        return int(found[0]["n"])


def _scope(*, include_closed: bool, imported: bool) -> list[str]:
    """The conditions of the rows a page looks at: open ones only, live ones only."""
    where = [] if include_closed else ["is_open = 1"]
    return where if imported else [*where, "imported = 0"]


#: The special queues that select by status alone, and that status.
_SPECIAL_STATUS = {
    SpecialQueue.TRIAGE: Status.NEW.value,
    SpecialQueue.WAITING_ON_CUSTOMER: Status.WAITING_ON_CUSTOMER.value,
    SpecialQueue.ON_HOLD: Status.ON_HOLD.value,
    SpecialQueue.AWAITING_ACCEPTANCE: Status.COMPLETED.value,
    SpecialQueue.TRANSFERRED_IN: Status.TRANSFERRED.value,
}
_ALL_STATUSES = frozenset(s.value for s in Status)


def _page_total(
    records: Sequence[Sequence[Any]], *, has_more: bool, offset: int, counted: bool
) -> int | None:
    """A counted page's total as the page itself tells it; None when it must be counted apart.

    ``counted``: the rows end with the totals' subquery (``total_``), read with the page.
    """
    if not has_more and (records or not offset):
        return offset + len(records)  # the last page: nothing left to count
    if records and counted:
        return int(records[0][len(VIEW_COLUMNS)])
    return None  # rows counted one by one, or a page past the end (no row, no subquery)


def _counted_statuses(
    *,
    special: SpecialQueue | None,
    status: Sequence[Status],
    include_closed: bool,
    unsupported: bool,
) -> frozenset[str] | None:
    """The statuses whose totals add up to a page's count; None when totals cannot say.

    Totals are kept per team and status, so they answer the filters on team, status and open
    or closed, and the special queues defined by a status; agent, customer, priority, kind,
    tier, "unassigned" and "follow-ups due" are counted row by row.
    """
    if unsupported or (special is not None and special not in _SPECIAL_STATUS):
        return None
    if status:
        selected = frozenset(str(s) for s in status)
    elif include_closed:
        selected = _ALL_STATUSES
    else:
        selected = frozenset(OPEN)
    if special is not None:
        selected &= {_SPECIAL_STATUS[special]}
    return selected


def _special(special: SpecialQueue, at: datetime | None) -> tuple[str, list[object]]:
    by_status = _SPECIAL_STATUS.get(special)
    if by_status is not None:
        return "status = ?", [by_status]
    if special is SpecialQueue.UNASSIGNED:
        return "status IN (?, ?) AND agent IS NULL", [
            Status.CLASSIFIED.value,
            Status.TRANSFERRED.value,
        ]
    if at is None:
        msg = "the follow-ups-due queue needs the instant 'at'"
        raise ValueError(msg)
    return "status = ? AND outcome = ? AND follow_up_at <= ?", [
        Status.COMPLETED.value,
        Outcome.FOLLOW_UP.value,
        micros(at),
    ]
