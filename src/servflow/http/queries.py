"""The API's queries: requests, their histories and clocks, queues, KPIs, the audit trail.

A request now or as of an instant, its history and SLA clocks, the queues, breaches, KPIs, the
policy book, and the audit trail (log, verify, export).

Lists page with an opaque ``cursor``; a customer reads only their own requests (the queue is
filtered to them) and nothing of the desk's (breaches, KPIs, the audit trail: 403).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime.
import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from servflow.desk.kpis import GroupBy, KpiGroups, Kpis
from servflow.desk.register import NonConformityRegister, NonConformityStatus
from servflow.domain.history import HistoryEntry
from servflow.domain.lifecycle import Status
from servflow.domain.sla import PolicyAdoption, SlaStatus, TimelineEntry
from servflow.domain.values import Kind, Priority, Severity, Tier
from servflow.domain.view import Request as RequestView
from servflow.http.access import (
    DESK_ROLES,
    MAX_LIMIT,
    Access,
    cursor_position,
    entry_for_customer,
    make_cursor,
)
from servflow.http.auth import HttpRole
from servflow.http.bodies import AuditPageOut, QueuePageOut
from servflow.http.problems import documented
from servflow.persistence.chain import VerifyReport
from servflow.projections.audit import AuditPage, AuditRow
from servflow.projections.sla import SlaAlert

__all__ = ["add_queries"]


def add_queries(api: APIRouter, access: Access, Caller: Any) -> None:  # noqa: ANN401, C901, N803, PLR0915 - the routes, with the caller type
    """Add the query routes to ``api``."""
    desk = access.desk
    allow, own, shown, answer = access.allow, access.own, access.shown, access.answer

    read = documented("request_not_found")

    @api.get("/requests/{ref}", tags=["queries"], responses=read)
    def get_request(
        ref: str,
        caller: Caller,
        response: Response,
        as_of: Annotated[
            AwareDatetime | None, Query(description="The request as it stood then.")
        ] = None,
    ) -> RequestView:
        """One request, now (with its version as ETag) or as it stood at ``as_of``."""
        found = own(caller, ref)
        if as_of is None:
            return answer(caller, found, response)
        return shown(caller, desk.get(found.id, as_of=as_of))

    @api.get("/requests/{ref}/history", tags=["queries"], responses=read)
    def history(ref: str, caller: Caller) -> list[HistoryEntry]:
        """The request's events, in order (a customer: without the desk's internal notes)."""
        found = own(caller, ref)
        entries = desk.history(found.id)
        if caller.role is HttpRole.CUSTOMER:
            entries = [e for e in entries if entry_for_customer(e.event_type, e.data)]
        return entries

    @api.get("/requests/{ref}/sla", tags=["queries"], responses=read)
    def sla(
        ref: str,
        caller: Caller,
        at: AwareDatetime | None = None,
        known_at: AwareDatetime | None = None,
    ) -> SlaStatus:
        """The request's SLA clocks as of ``at`` (default now), as known at ``known_at``."""
        return desk.sla(own(caller, ref).id, at=at, known_at=known_at)

    @api.get("/requests/{ref}/sla/timeline", tags=["queries"], responses=read)
    def sla_timeline(
        ref: str, caller: Caller, until: AwareDatetime | None = None
    ) -> list[TimelineEntry]:
        """Why the clocks stand where they do: each start, pause, target change, breach."""
        return desk.sla_timeline(own(caller, ref).id, until=until)

    @api.get("/queue", tags=["queries"], responses=documented())
    def queue(  # noqa: PLR0913, PLR0917 - one parameter per filter
        caller: Caller,
        special: Literal["triage", "unassigned", "follow_ups_due", "on_hold"] | None = None,
        team: Annotated[str | None, Query(max_length=200)] = None,
        agent: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[list[Status] | None, Query()] = None,
        priority: Annotated[list[Priority] | None, Query()] = None,
        kind: Annotated[list[Kind] | None, Query()] = None,
        tier: Annotated[list[Tier] | None, Query()] = None,
        customer: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> QueuePageOut:
        """A work queue in work order (a customer: their own requests)."""
        if caller.customer_id is not None:
            customer = caller.customer_id
        offset = cursor_position(cursor, "offset")
        page = desk.queue(
            special,
            team=team,
            agent=agent,
            status=status or (),
            priority=priority or (),
            kind=kind or (),
            tier=tier or (),
            customer=customer,
            limit=limit,
            offset=offset,
        )
        following = page.next_offset
        return QueuePageOut(
            items=list(page.rows),
            total=page.total,
            next_cursor=None if following is None else make_cursor("offset", following),
        )

    desk_readers = DESK_ROLES | {HttpRole.AUDITOR}

    @api.get("/sla/breaches", tags=["queries"], responses=documented())
    def breaches(
        caller: Caller,
        at: AwareDatetime | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> list[SlaAlert]:
        """Clocks past due and not met, earliest first."""
        allow(caller, desk_readers, "list breaches")
        return desk.breaches(at=at, limit=limit)

    @api.get("/sla/at-risk", tags=["queries"], responses=documented())
    def at_risk(
        caller: Caller,
        at: AwareDatetime | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> list[SlaAlert]:
        """Clocks in their warning window, earliest due first."""
        allow(caller, desk_readers, "list clocks at risk")
        return desk.at_risk(at=at, limit=limit)

    @api.get("/kpis", tags=["queries"], responses=documented())
    def kpis(
        caller: Caller,
        since: AwareDatetime,
        until: AwareDatetime,
        at: AwareDatetime | None = None,
        team: Annotated[str | None, Query(max_length=200)] = None,
        kind: Kind | None = None,
        exact: Annotated[bool, Query()] = False,  # noqa: FBT002 - a query parameter
    ) -> Kpis:
        """The desk's KPIs for the period [since, until) (``exact``: fold the log, see ``kpis``)."""
        allow(caller, desk_readers, "read KPIs")
        return desk.kpis(since=since, until=until, at=at, team=team, kind=kind, exact=exact)

    @api.get("/kpis/groups", tags=["queries"], responses=documented())
    def kpi_groups(
        caller: Caller,
        since: AwareDatetime,
        until: AwareDatetime,
        group_by: Annotated[list[GroupBy], Query(min_length=1, max_length=10)],
        at: AwareDatetime | None = None,
        team: Annotated[str | None, Query(max_length=200)] = None,
        kind: Kind | None = None,
        exact: Annotated[bool, Query()] = False,  # noqa: FBT002 - a query parameter
    ) -> KpiGroups:
        """The KPIs grouped (team, agent, kind, ..., week, month): the total and each group."""
        allow(caller, desk_readers, "read KPIs")
        return desk.kpis(
            since=since,
            until=until,
            at=at,
            team=team,
            kind=kind,
            group_by=group_by,
            exact=exact,
        )

    @api.get("/nonconformities", tags=["queries"], responses=documented())
    def nonconformities(
        caller: Caller,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        status: NonConformityStatus | None = None,
        severity: Severity | None = None,
        category: Annotated[str | None, Query(max_length=200)] = None,
    ) -> NonConformityRegister:
        """The register of non-conformities detected in [since, until), with their correction."""
        allow(caller, desk_readers, "read the non-conformity register")
        return desk.nonconformities(
            since=since, until=until, status=status, severity=severity, category=category
        )

    @api.get("/policies", tags=["queries"], responses=documented())
    def policies(caller: Caller) -> list[PolicyAdoption]:
        """Every adopted SLA policy version, in the order adopted."""
        allow(caller, desk_readers, "read the policy book")
        return desk.policies()

    @api.get("/audit/log", tags=["audit"], responses=documented("request_not_found"))
    def audit_log(
        caller: Caller,
        request: Annotated[str | None, Query(max_length=200)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        event_type: Annotated[list[str] | None, Query(max_length=50)] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> AuditPageOut:
        """The audit trail in log order, filtered; the cursor resumes after the last row."""
        allow(caller, desk_readers, "read the audit log")
        page = desk.audit_log(
            request=request,
            actor=actor,
            event_type=event_type or None,
            since=since,
            until=until,
            limit=limit,
            after_position=cursor_position(cursor, "after"),
        )
        following = page.next_after_position
        return AuditPageOut(
            items=list(page.rows),
            next_cursor=None if following is None else make_cursor("after", following),
        )

    @api.get("/audit/verify", tags=["audit"], responses=documented())
    def verify(caller: Caller) -> VerifyReport:
        """Check the whole log's hash chain (tamper evidence)."""
        allow(caller, desk_readers, "verify the log")
        return desk.verify()

    @api.get(
        "/audit/export",
        tags=["audit"],
        responses={
            **documented("request_not_found"),
            200: {"content": {"application/x-ndjson": {}, "text/csv": {}}},
        },
        response_class=StreamingResponse,
    )
    def export(
        caller: Caller,
        format: Literal["jsonl", "csv"] = "jsonl",  # noqa: A002 - the desk's name for it
        request: Annotated[str | None, Query(max_length=200)] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
    ) -> StreamingResponse:
        """The audit trail as JSON Lines or CSV, streamed a page at a time."""
        allow(caller, desk_readers, "export the log")

        def page_after(after: int) -> AuditPage:
            return desk.audit_log(
                request=request, since=since, until=until, limit=MAX_LIMIT, after_position=after
            )

        # The first page is read before the answer starts: an unknown request (404) or a bad
        # filter (422) is a problem, not a stream broken off after its 200.
        first = page_after(0)

        def rows() -> Iterator[bytes]:
            page = first
            header = format == "csv"
            while True:
                yield _export_chunk(page.rows, format, header=header)
                header = False
                if page.next_after_position is None:
                    return
                page = page_after(page.next_after_position)

        media = "text/csv" if format == "csv" else "application/x-ndjson"
        return StreamingResponse(rows(), media_type=media)


def _export_chunk(rows: tuple[AuditRow, ...], fmt: str, *, header: bool) -> bytes:
    if fmt == "jsonl":
        return b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in rows)
    out = io.StringIO()
    fields = ["position", "request_id", "ticket_code", "version", "event_type", "occurred_at",
              "recorded_at", "actor", "customer_id", "data"]  # fmt: skip
    writer = csv.writer(out)
    if header:
        writer.writerow(fields)
    for row in rows:
        dumped = row.model_dump(mode="json")
        writer.writerow([json.dumps(dumped[f]) if f == "data" else dumped[f] for f in fields])
    return out.getvalue().encode("utf-8")
