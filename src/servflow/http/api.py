"""The HTTP API: every command and query of a ``ServiceDesk``, for a UI written in anything.

``router(desk, auth)`` is a FastAPI ``APIRouter`` a company mounts in its own app (at any
prefix); ``servflow.http.create_app`` mounts it at ``/api`` with the console. Conventions:

- Commands are ``POST /requests`` (open) and ``POST /requests/{ref}/<command>``; each answers with
  the request as it now stands and its version as ``ETag``. Send that version back as
  ``If-Match`` and the command is refused with 412 (``stale_version``) if someone recorded an
  event since: a UI never overwrites a newer state unseen.
- Queries are ``GET``; lists page with an opaque ``cursor`` (``next_cursor`` in each page).
- Who calls, and in which role, comes from ``auth`` (``servflow.http.auth``), never from the
  call: a customer sees and works only their own requests and never the desk's internal
  notes; an auditor only reads; only a supervisor adopts SLA policies.
- Errors are ``application/problem+json`` with servflow's error code (``servflow.http.problems``).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime,
# and they name types local to ``router`` (the caller, each command's body).
import base64
import binascii
import inspect
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from servflow.desk import ServiceDesk
from servflow.domain.history import HistoryEntry
from servflow.domain.lifecycle import Status
from servflow.domain.policy import SlaPolicy
from servflow.domain.sla import PolicyAdoption, SlaStatus, TimelineEntry
from servflow.domain.state import NonConformity, Note
from servflow.domain.values import (
    Channel,
    Customer,
    Kind,
    Outcome,
    Priority,
    Severity,
    ShortText,
    Stage,
    Text,
    Tier,
    Visibility,
)
from servflow.domain.view import Request as RequestView
from servflow.errors import RequestNotFoundError, ValidationFailedError
from servflow.http.auth import Authenticate, HttpRole, Principal
from servflow.http.events import events_router
from servflow.http.problems import Forbidden, documented
from servflow.projections.audit import AuditPage, AuditRow
from servflow.projections.queues import QueueRow
from servflow.projections.sla import SlaAlert

__all__ = ["router"]

_T = TypeVar("_T")

DESK_ROLES = frozenset({HttpRole.AGENT, HttpRole.SUPERVISOR})
#: Commands a customer may send on their own requests.
CUSTOMER_COMMANDS = frozenset(
    {"open", "customer_responded", "accept", "reopen", "cancel", "customer_message"}
)
#: The most rows a page holds.
MAX_LIMIT = 500
#: The most digits of a version in ``If-Match`` (versions are 64-bit integers).
_MAX_DIGITS = 18


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenBody(_Body):
    """``POST /requests``: a new request (a customer's own: ``customer`` may be left out)."""

    customer: ShortText | Customer | None = None
    channel: Channel
    kind: Kind
    stage: Stage
    symptom: Text
    synthesis: Text | None = None
    external_ref: ShortText | None = None
    external_source: ShortText | None = None


class ClassifyBody(_Body):
    """``classify``: the priority (and a corrected kind or category)."""

    priority: Priority
    kind: Kind | None = None
    category: ShortText | None = None


class AssignBody(_Body):
    """``assign``: a team, and optionally one of its agents."""

    team: ShortText
    agent: ShortText | None = None


class ProbeBody(_Body):
    """``probe``: STAR probing."""

    questions: list[Text] = Field(default_factory=list, max_length=100)
    findings: Text
    diagnosis: Text | None = None


class ActBody(_Body):
    """``act``: an action taken, its effort and cost."""

    action: Text
    effort_minutes: int = Field(0, ge=0, le=1_000_000)
    cost: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=4)


class ReasonBody(_Body):
    """``wait_on_customer``, ``close``, ``reopen``, ``cancel``: why."""

    reason: Text


class HoldBody(_Body):
    """``hold``: a reason of the SLA policy's catalogue, and a note."""

    reason: ShortText
    note: Text | None = None


class NoteOnlyBody(_Body):
    """``resume``: an optional note."""

    note: Text | None = None


class RespondedBody(_Body):
    """``customer_responded``: what the customer answered."""

    note: Text


class UnassignBody(_Body):
    """``unassign``: back to a team's queue (or to nobody's)."""

    team: ShortText | None = None


class ProgressBody(_Body):
    """``report_progress``: what the customer is told."""

    message: Text


class CompleteBody(_Body):
    """``complete``: the outcome and resolution."""

    outcome: Outcome
    resolution: Text
    follow_up_at: AwareDatetime | None = None
    to_team: ShortText | None = None


class AcceptBody(_Body):
    """``accept``: the customer's satisfaction (1-5) and comment."""

    satisfaction: int = Field(ge=1, le=5)
    comment: Text | None = None


class NoteBody(_Body):
    """``notes``: a note, internal or for the customer."""

    text: Text
    visibility: Visibility = Visibility.INTERNAL


class MessageBody(_Body):
    """``messages``: the customer's words."""

    text: Text


class NonConformityBody(_Body):
    """``nonconformities``: a non-conformity documented."""

    description: Text
    severity: Severity
    category: ShortText | None = None
    root_cause: Text | None = None
    corrective_action: Text | None = None


class CorrectionBody(_Body):
    """``nonconformities/{number}/correct``: how it was corrected."""

    correction: Text


class AdoptBody(_Body):
    """``POST /policies``: an SLA policy version, and when it takes effect."""

    policy: SlaPolicy
    effective_from: AwareDatetime | None = None


class QueuePageOut(BaseModel):
    """A page of a queue; ``next_cursor`` asks for the next one (None: the last page)."""

    items: list[QueueRow]
    total: int | None
    next_cursor: str | None


class AuditPageOut(BaseModel):
    """A page of the audit log, in log order; ``next_cursor`` asks for the next one."""

    items: list[AuditRow]
    next_cursor: str | None


def router(desk: ServiceDesk, auth: Authenticate) -> APIRouter:  # noqa: C901, PLR0915 - one route each
    """The API's routes on ``desk``, each call's caller named by ``auth``."""
    api = APIRouter()

    async def principal(request: Request) -> Principal:
        found = auth(request)
        if inspect.isawaitable(found):
            found = await found
        if not isinstance(found, Principal):
            msg = "the authenticator returned no Principal"
            raise TypeError(msg)
        return found

    api.include_router(events_router(desk, principal))
    Caller = Annotated[Principal, Depends(principal)]  # noqa: N806 - a type alias
    IfMatch = Annotated[  # noqa: N806 - a type alias
        str | None,
        Header(
            description="The version last read (the ETag): the command is refused (412) if the "
            "request moved on since.",
        ),
    ]

    def allow(caller: Principal, roles: frozenset[HttpRole], what: str) -> None:
        if caller.role not in roles:
            msg = f"a {caller.role.value} may not {what}"
            raise Forbidden(msg)

    def own(caller: Principal, ref: str) -> RequestView:
        """The request, if the caller may see it (a customer: their own only; else 404)."""
        found = desk.get(ref)
        if caller.customer_id is not None and found.customer.id != caller.customer_id:
            raise RequestNotFoundError(ref)  # a customer learns nothing of others' requests
        return found

    def shown(caller: Principal, request: RequestView) -> RequestView:
        if caller.role is not HttpRole.CUSTOMER:
            return request
        return request.model_copy(
            update={"notes": tuple(n for n in request.notes if _for_customer(n))}
        )

    def answer(caller: Principal, request: RequestView, response: Response) -> RequestView:
        response.headers["ETag"] = f'"{request.version}"'
        return shown(caller, request)

    def command(
        caller: Principal,
        ref: str,
        name: str,
        if_match: str | None,
        run: Callable[[str], _T],
    ) -> _T:
        """Run a command on ``ref`` for the caller: role, ownership, If-Match, then the desk."""
        allowed = DESK_ROLES | ({HttpRole.CUSTOMER} if name in CUSTOMER_COMMANDS else set())
        allow(caller, frozenset(allowed), f"send {name!r}")
        current = own(caller, ref)
        version = _version(if_match)
        if version is None:
            return run(str(current.id))
        with desk.expecting(current.id, version):
            return run(str(current.id))

    # -- commands -------------------------------------------------------------------------

    responses = documented(
        "request_not_found",
        "invalid_transition",
        "concurrency_conflict",
        "stale_version",
        "occurrence_out_of_order",
        "permission_denied",
        "unknown_team",
        "unknown_agent",
    )

    @api.post(
        "/requests",
        status_code=201,
        tags=["commands"],
        responses=documented("duplicate_external_ref", "permission_denied", "unknown_team"),
    )
    def open_request(body: OpenBody, caller: Caller, response: Response) -> RequestView:
        """Open a request (a customer opens their own)."""
        allow(caller, DESK_ROLES | {HttpRole.CUSTOMER}, "open a request")
        customer: object = body.customer
        if caller.customer_id is not None:
            given = customer.id if isinstance(customer, Customer) else customer
            if given not in (None, caller.customer_id):
                msg = "a customer opens requests for themselves only"
                raise Forbidden(msg)
            customer = caller.customer_id if given is None else customer
        if customer is None:
            msg = "refused 'open': customer: missing"
            raise ValidationFailedError(msg, command="open", errors=(("customer", "missing"),))
        opened = desk.open(
            customer=customer,  # type: ignore[arg-type]
            channel=body.channel,
            kind=body.kind,
            stage=body.stage,
            symptom=body.symptom,
            synthesis=body.synthesis,
            actor=caller.actor,
            external_ref=body.external_ref,
            external_source=body.external_source,
        )
        response.headers["Location"] = f"requests/{opened.ticket_code}"
        return answer(caller, opened, response)

    def on_request(
        path: str, name: str, body_type: type[BaseModel] | None, call: Callable[..., object]
    ) -> None:
        """A ``POST /requests/{ref}/<path>`` route sending ``name`` with the body's fields."""
        if body_type is None:

            def no_body(
                ref: str, caller: Caller, response: Response, if_match: IfMatch = None
            ) -> RequestView:
                command(caller, ref, name, if_match, lambda rid: call(rid, actor=caller.actor))
                return answer(caller, desk.get(ref), response)

            handler: Callable[..., RequestView] = no_body
        else:

            def with_body(
                ref: str,
                body: body_type,  # type: ignore[valid-type]
                caller: Caller,
                response: Response,
                if_match: IfMatch = None,
            ) -> RequestView:
                fields = body.model_dump()  # type: ignore[attr-defined]
                command(
                    caller, ref, name, if_match, lambda rid: call(rid, actor=caller.actor, **fields)
                )
                return answer(caller, desk.get(ref), response)

            handler = with_body
        handler.__name__ = name
        handler.__doc__ = f"Send ``{name}`` (``ServiceDesk.{call.__name__}``)."
        api.post(f"/requests/{{ref}}/{path}", tags=["commands"], responses=responses)(handler)

    on_request("classify", "classify", ClassifyBody, desk.classify)
    on_request("assign", "assign", AssignBody, desk.assign)
    on_request("probe", "probe", ProbeBody, desk.probe)
    on_request("act", "act", ActBody, desk.act)
    on_request("wait-on-customer", "wait_on_customer", ReasonBody, desk.wait_on_customer)
    on_request("customer-responded", "customer_responded", RespondedBody, desk.customer_responded)
    on_request("hold", "hold", HoldBody, desk.hold)
    on_request("resume", "resume", NoteOnlyBody, desk.resume)
    on_request("unassign", "unassign", UnassignBody, desk.unassign)
    on_request("report-progress", "report_progress", ProgressBody, desk.report_progress)
    on_request("complete", "complete", CompleteBody, desk.complete)
    on_request("accept", "accept", AcceptBody, desk.accept)
    on_request("close", "close", ReasonBody, desk.close)
    on_request("reopen", "reopen", ReasonBody, desk.reopen)
    on_request("cancel", "cancel", ReasonBody, desk.cancel)

    @api.post("/requests/{ref}/notes", status_code=201, tags=["commands"], responses=responses)
    def add_note(
        ref: str, body: NoteBody, caller: Caller, response: Response, if_match: IfMatch = None
    ) -> Note:
        """Write a note: internal, or a reply the customer sees."""
        note = command(
            caller,
            ref,
            "note",
            if_match,
            lambda rid: desk.note(
                rid, text=body.text, visibility=body.visibility, actor=caller.actor
            ),
        )
        response.headers["ETag"] = f'"{desk.get(ref).version}"'
        return note

    @api.post("/requests/{ref}/messages", status_code=201, tags=["commands"], responses=responses)
    def add_message(
        ref: str, body: MessageBody, caller: Caller, response: Response, if_match: IfMatch = None
    ) -> Note:
        """Record the customer's message (the customer's own, or on their behalf)."""
        note = command(
            caller,
            ref,
            "customer_message",
            if_match,
            lambda rid: desk.customer_message(rid, text=body.text, actor=caller.actor),
        )
        response.headers["ETag"] = f'"{desk.get(ref).version}"'
        return note

    nc_responses = documented(
        "request_not_found",
        "nonconformity_not_found",
        "concurrency_conflict",
        "stale_version",
        "permission_denied",
    )

    @api.post(
        "/requests/{ref}/nonconformities",
        status_code=201,
        tags=["commands"],
        responses=nc_responses,
    )
    def log_nonconformity(
        ref: str,
        body: NonConformityBody,
        caller: Caller,
        response: Response,
        if_match: IfMatch = None,
    ) -> NonConformity:
        """Document a non-conformity (at any time)."""
        logged = command(
            caller,
            ref,
            "log_nonconformity",
            if_match,
            lambda rid: desk.log_nonconformity(rid, actor=caller.actor, **body.model_dump()),
        )
        response.headers["ETag"] = f'"{desk.get(ref).version}"'
        return logged

    @api.post(
        "/requests/{ref}/nonconformities/{number}/correct",
        tags=["commands"],
        responses=nc_responses,
    )
    def correct_nonconformity(
        ref: str,
        number: Annotated[int, Field(ge=1, le=2**31 - 1)],
        body: CorrectionBody,
        caller: Caller,
        response: Response,
        if_match: IfMatch = None,
    ) -> NonConformity:
        """Record how a non-conformity was corrected."""
        corrected = command(
            caller,
            ref,
            "correct_nonconformity",
            if_match,
            lambda rid: desk.correct_nonconformity(
                rid, number, correction=body.correction, actor=caller.actor
            ),
        )
        response.headers["ETag"] = f'"{desk.get(ref).version}"'
        return corrected

    @api.post(
        "/policies",
        status_code=201,
        tags=["commands"],
        responses=documented("configuration_error", "permission_denied"),
    )
    def adopt_policy(body: AdoptBody, caller: Caller) -> PolicyAdoption:
        """Adopt an SLA policy version (supervisors only)."""
        allow(caller, frozenset({HttpRole.SUPERVISOR}), "adopt an SLA policy")
        return desk.adopt_policy(
            body.policy, actor=caller.actor, effective_from=body.effective_from
        )

    # -- queries --------------------------------------------------------------------------

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
            entries = [e for e in entries if _entry_for_customer(e.event_type, e.data)]
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
        offset = _cursor(cursor, "offset")
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
            next_cursor=None if following is None else _make_cursor("offset", following),
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
    ) -> dict[str, Any]:
        """The desk's KPIs for the period [since, until)."""
        allow(caller, desk_readers, "read KPIs")
        found = desk.kpis(since=since, until=until, at=at, team=team, kind=kind)
        dumped: dict[str, Any] = found.model_dump(mode="json")
        return dumped

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
            after_position=_cursor(cursor, "after"),
        )
        following = page.next_after_position
        return AuditPageOut(
            items=list(page.rows),
            next_cursor=None if following is None else _make_cursor("after", following),
        )

    @api.get("/audit/verify", tags=["audit"], responses=documented())
    def verify(caller: Caller) -> dict[str, Any]:
        """Check the whole log's hash chain (tamper evidence)."""
        allow(caller, desk_readers, "verify the log")
        report: dict[str, Any] = desk.verify().model_dump(mode="json")
        return report

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

    return api


def _for_customer(note: Note) -> bool:
    return note.visibility is Visibility.CUSTOMER


def _entry_for_customer(event_type: str, data: dict[str, Any]) -> bool:
    """Whether a customer may see an event of their request: not the desk's internal notes."""
    return not (event_type == "NoteAdded" and data.get("visibility") != Visibility.CUSTOMER.value)


def _version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` names (``"7"``, ``W/"7"``, ``7``); None for none or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > _MAX_DIGITS or int(text) < 1:
        msg = f'If-Match {if_match[:40]!r} names no version (send the ETag, such as "7")'
        raise ValidationFailedError(msg, errors=(("If-Match", "not a version"),))
    return int(text)


def _make_cursor(kind: str, value: int) -> str:
    raw = json.dumps({kind: value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(cursor: str | None, kind: str) -> int:
    """The position a cursor of ``kind`` resumes at (0: the first page)."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)[kind]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        msg = "cursor: not a cursor of this list (send back a next_cursor as given)"
        raise ValidationFailedError(msg, errors=(("cursor", "not a cursor of this list"),))
    return value


def _export_chunk(rows: tuple[AuditRow, ...], fmt: str, *, header: bool) -> bytes:
    if fmt == "jsonl":
        return b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in rows)
    import csv  # noqa: PLC0415 - only for CSV
    import io  # noqa: PLC0415

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
