"""The API's commands: ``POST /requests`` opens, ``POST /requests/{ref}/<command>`` works one.

Each answers with the request as it now stands and its version as ``ETag`` (notes and
non-conformities answer with what they recorded); ``If-Match`` makes a command refuse a request
that moved on (412 ``stale_version``). ``POST /policies`` adopts an SLA policy (supervisors).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from servflow.domain.sla import PolicyAdoption
from servflow.domain.state import NonConformity, Note
from servflow.domain.values import Customer
from servflow.domain.view import Request as RequestView
from servflow.errors import ValidationFailedError
from servflow.http.access import DESK_ROLES, Access
from servflow.http.auth import HttpRole
from servflow.http.bodies import (
    AcceptBody,
    ActBody,
    AdoptBody,
    AssignBody,
    ClassifyBody,
    CompleteBody,
    CorrectionBody,
    HoldBody,
    MessageBody,
    NonConformityBody,
    NoteBody,
    NoteOnlyBody,
    OpenBody,
    ProbeBody,
    ProgressBody,
    ReasonBody,
    RespondedBody,
    UnassignBody,
)
from servflow.http.problems import Forbidden, documented

__all__ = ["add_commands"]


def add_commands(api: APIRouter, access: Access, Caller: Any, IfMatch: Any) -> None:  # noqa: ANN401, C901, N803, PLR0915 - the routes, with the caller and If-Match types
    """Add the command routes to ``api``."""
    desk = access.desk
    allow, answer, command = access.allow, access.answer, access.command

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
        return access.recorded(
            caller,
            ref,
            "note",
            if_match,
            lambda rid: desk.note(
                rid, text=body.text, visibility=body.visibility, actor=caller.actor
            ),
            response,
        )

    @api.post("/requests/{ref}/messages", status_code=201, tags=["commands"], responses=responses)
    def add_message(
        ref: str, body: MessageBody, caller: Caller, response: Response, if_match: IfMatch = None
    ) -> Note:
        """Record the customer's message (the customer's own, or on their behalf)."""
        return access.recorded(
            caller,
            ref,
            "customer_message",
            if_match,
            lambda rid: desk.customer_message(rid, text=body.text, actor=caller.actor),
            response,
        )

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
        return access.recorded(
            caller,
            ref,
            "log_nonconformity",
            if_match,
            lambda rid: desk.log_nonconformity(rid, actor=caller.actor, **body.model_dump()),
            response,
        )

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
        return access.recorded(
            caller,
            ref,
            "correct_nonconformity",
            if_match,
            lambda rid: desk.correct_nonconformity(
                rid, number, correction=body.correction, actor=caller.actor
            ),
            response,
        )

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
