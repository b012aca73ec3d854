"""``servflow request ...``: every command of one request's lifecycle, and its story.

Each recording command is one desk command on ``--db``, recorded as ``--actor``, at
``--occurred-at`` when given (importing history) or now; it prints one line, or the request
as ``--json``. ``show`` and ``history`` tell where the request stands and how it got there.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypedDict

import typer

from servflow.cli._common import (
    AsJson,
    AsOf,
    Ticket,
    console,
    emit_json,
    guarded,
    say,
    session,
    table_width,
)
from servflow.cli.tables import history_table, request_view
from servflow.domain.choices import (
    Channel,
    Kind,
    Outcome,
    Priority,
    Severity,
    Stage,
    Tier,
    Visibility,
)
from servflow.domain.lifecycle import Status

if TYPE_CHECKING:
    from servflow.desk import ServiceDesk
    from servflow.domain.state import NonConformity, Note
    from servflow.domain.view import Request

__all__ = ["request_app"]

request_app = typer.Typer(
    help="Work on one service request: every command of its lifecycle, and its story.",
    no_args_is_help=True,
)

OccurredAt = Annotated[
    str | None,
    typer.Option(
        "--occurred-at",
        metavar="ISO-8601",
        help=(
            "When it happened (default: now; without a UTC offset, in --tz). For importing history."
        ),
        show_default=False,
    ),
]


class _Recorded(TypedDict):
    """Who records a command and when it happened: the same for every recording command."""

    actor: str
    occurred_at: datetime | None


def _recorder(ctx: typer.Context, occurred_at: str | None) -> tuple[ServiceDesk, _Recorded]:
    """The desk to record on, and ``--actor`` and ``--occurred-at`` to record with."""
    current = session(ctx)
    desk = current.desk()
    return desk, {"actor": current.actor, "occurred_at": current.when(occurred_at, "--occurred-at")}


def _report(request: Request, as_json: bool, message: str) -> None:  # noqa: FBT001
    """The request as JSON for scripts, or one line saying what happened."""
    if as_json:
        emit_json(request.model_dump(mode="json"))
    else:
        say(message)


def _report_nc(request_code: str, nc: NonConformity, as_json: bool, message: str) -> None:  # noqa: FBT001
    """The non-conformity as JSON for scripts, or one line saying what happened."""
    if as_json:
        emit_json({"ticket_code": request_code, **nc.model_dump(mode="json")})
    else:
        say(message)


@request_app.command("open")
@guarded
def open_request(  # noqa: PLR0913 - one option per field of the event
    ctx: typer.Context,
    *,
    customer: Annotated[str, typer.Option(help="Customer id.", show_default=False, metavar="ID")],
    channel: Annotated[Channel, typer.Option(help="How the customer reached you.")],
    kind: Annotated[Kind, typer.Option(help="The kind of need.")],
    stage: Annotated[Stage, typer.Option(help="Stage of the customer relationship.")],
    symptom: Annotated[
        str, typer.Option(help="What the customer reports (STAR symptom).", show_default=False)
    ],
    synthesis: Annotated[
        str | None, typer.Option(help="The agent's restatement of the symptom.")
    ] = None,
    customer_name: Annotated[str | None, typer.Option(help="Customer's name.")] = None,
    tier: Annotated[Tier | None, typer.Option(help="Customer tier (default standard).")] = None,
    language: Annotated[str | None, typer.Option(help="Customer's language (es, en...).")] = None,
    external_ref: Annotated[
        str | None,
        typer.Option(
            help="The request's id in the system it came from (INC0012345).", metavar="REF"
        ),
    ] = None,
    external_source: Annotated[
        str | None,
        typer.Option(help="The system the external ref comes from (servicenow).", metavar="NAME"),
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Open a request: record the symptom and give it a ticket code."""
    who: dict[str, object] = {"id": customer}
    extras = {"name": customer_name, "tier": tier, "language": language}
    who.update({k: v for k, v in extras.items() if v is not None})
    desk, by = _recorder(ctx, occurred_at)
    request = desk.open(
        customer=who if len(who) > 1 else customer,
        channel=channel,
        kind=kind,
        stage=stage,
        symptom=symptom,
        synthesis=synthesis,
        external_ref=external_ref,
        external_source=external_source,
        **by,
    )
    external = "" if request.external is None else f" as {request.external}"
    _report(
        request,
        as_json,
        f"Opened {request.ticket_code}{external} for {request.customer.id} "
        f"({request.kind}, {request.stage}, via {request.channel}) · status {request.status}",
    )


@request_app.command("classify")
@guarded
def classify(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    priority: Annotated[Priority, typer.Option(help="How urgent it is.")],
    kind: Annotated[Kind | None, typer.Option(help="Correct the kind of need.")] = None,
    category: Annotated[str | None, typer.Option(help="Your own category label.")] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Classify a request: its priority (and a corrected kind or a category)."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.classify(ticket, priority=priority, kind=kind, category=category, **by)
    label = f", category {request.category}" if request.category else ""
    _report(
        request,
        as_json,
        f"{request.ticket_code} classified: priority {request.priority}, kind {request.kind}"
        f"{label} · status {request.status}",
    )


@request_app.command("assign")
@guarded
def assign(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    team: Annotated[str, typer.Option(help="The team taking it.", show_default=False)],
    agent: Annotated[str | None, typer.Option(help="The agent taking it.")] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Assign a request to a team and maybe an agent (also reassignments)."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.assign(ticket, team=team, agent=agent, **by)
    who = f"{request.team}/{request.agent}" if request.agent else f"{request.team}"
    _report(request, as_json, f"{request.ticket_code} assigned to {who} · status {request.status}")


@request_app.command("probe")
@guarded
def probe(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    findings: Annotated[str, typer.Option(help="What was found.", show_default=False)],
    question: Annotated[
        list[str] | None,
        typer.Option("--question", "-q", help="A question asked (repeat for several)."),
    ] = None,
    diagnosis: Annotated[str | None, typer.Option(help="The working hypothesis.")] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record STAR probing: questions asked, findings, diagnosis."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.probe(
        ticket,
        questions=list(question or ()),
        findings=findings,
        diagnosis=diagnosis,
        **by,
    )
    _report(
        request,
        as_json,
        f"{request.ticket_code}: probe #{len(request.probes)} recorded · status {request.status}",
    )


@request_app.command("act")
@guarded
def act(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    action: Annotated[str, typer.Option(help="The procedure applied.", show_default=False)],
    effort: Annotated[int, typer.Option(help="Effort in minutes.", min=0)] = 0,
    cost: Annotated[str | None, typer.Option(help="Cost, e.g. 35.50.")] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record a STAR action with its effort and cost."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.act(ticket, action=action, effort_minutes=effort, cost=cost, **by)
    _report(
        request,
        as_json,
        f"{request.ticket_code}: action #{len(request.actions)} recorded "
        f"({request.actions[-1].effort_minutes} min) · status {request.status}",
    )


@request_app.command("wait")
@guarded
def wait(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[str, typer.Option(help="What you need from the customer.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Pause a request until the customer replies (SLA clocks stop)."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.wait_on_customer(ticket, reason=reason, **by)
    _report(request, as_json, f"{request.ticket_code} is waiting on the customer: {reason}")


@request_app.command("respond")
@guarded
def respond(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    note: Annotated[str, typer.Option(help="What the customer answered.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record the customer's reply to a waiting request; work resumes."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.customer_responded(ticket, note=note, **by)
    _report(
        request, as_json, f"{request.ticket_code}: customer responded · status {request.status}"
    )


@request_app.command("hold")
@guarded
def hold(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[
        str,
        typer.Option(
            help="A hold reason of the SLA policy's catalogue: customer, vendor, "
            "implementation, change_window, problem, other (by default)."
        ),
    ],
    note: Annotated[
        str | None, typer.Option(help="What the desk waits for.", show_default=False)
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Put a request on hold (the catalogue says whether its SLA clocks pause)."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.hold(ticket, reason=reason, note=note, **by)
    _report(request, as_json, f"{request.ticket_code} on hold: {reason} · status {request.status}")


@request_app.command("resume")
@guarded
def resume(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    note: Annotated[
        str | None, typer.Option(help="Why the hold ended.", show_default=False)
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """End a hold (on the customer or another reason): work and SLA clocks go on."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.resume(ticket, note=note, **by)
    _report(request, as_json, f"{request.ticket_code} resumed · status {request.status}")


@request_app.command("unassign")
@guarded
def unassign(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    team: Annotated[
        str | None,
        typer.Option(
            help="The team whose queue it goes back to (default: none).", show_default=False
        ),
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Send a request back to a team's queue (or to nobody's), with no agent."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.unassign(ticket, team=team, **by)
    where = f"{team}'s queue" if team else "no team's queue"
    _report(request, as_json, f"{request.ticket_code} back in {where} · status {request.status}")


@request_app.command("progress")
@guarded
def progress(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    message: Annotated[str, typer.Option(help="The update the customer gets.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record a customer-visible progress report."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.report_progress(ticket, message=message, **by)
    _report(
        request,
        as_json,
        f"{request.ticket_code}: progress report #{request.progress_reports} recorded "
        f"· status {request.status}",
    )


@request_app.command("complete")
@guarded
def complete(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    outcome: Annotated[Outcome, typer.Option(help="resolved, transferred or follow_up.")],
    resolution: Annotated[str, typer.Option(help="What was done, in the customer's terms.")],
    to_team: Annotated[str | None, typer.Option(help="The team a transfer goes to.")] = None,
    follow_up_at: Annotated[
        str | None,
        typer.Option(metavar="ISO-8601", help="When to follow up (outcome follow_up)."),
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Complete the work: resolved, transferred to another team, or to follow up."""
    current = session(ctx)
    request = current.desk().complete(
        ticket,
        outcome=outcome,
        resolution=resolution,
        to_team=to_team,
        # Read before --occurred-at: when both are wrong, the refusal names --follow-up-at.
        follow_up_at=current.when(follow_up_at, "--follow-up-at"),
        actor=current.actor,
        occurred_at=current.when(occurred_at, "--occurred-at"),
    )
    if request.status is Status.TRANSFERRED:
        message = f"{request.ticket_code} transferred to {request.team} · status transferred"
    else:
        message = (
            f"{request.ticket_code} completed ({request.outcome}) · awaiting the customer's "
            "acceptance"
        )
    _report(request, as_json, message)


@request_app.command("accept")
@guarded
def accept(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    satisfaction: Annotated[int, typer.Option(help="The customer's rating, 1 to 5.")],
    comment: Annotated[str | None, typer.Option(help="The customer's words.")] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Close a completed request with the customer's acceptance and rating."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.accept(ticket, satisfaction=satisfaction, comment=comment, **by)
    _report(
        request,
        as_json,
        f"{request.ticket_code} accepted (satisfaction {request.satisfaction}/5) "
        f"· status {request.status}",
    )


@request_app.command("reopen")
@guarded
def reopen(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[str, typer.Option(help="Why the customer rejects the completion.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Reopen a completed request (not accepted) or a closed one (within the policy's window)."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.reopen(ticket, reason=reason, **by)
    _report(
        request,
        as_json,
        f"{request.ticket_code} reopened (time {request.reopen_count}) · status {request.status}",
    )


@request_app.command("close")
@guarded
def close(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[str, typer.Option(help="Why the desk (or system) closes it.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Close a completed request for the desk or system (no satisfaction; not an acceptance)."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.close(ticket, reason=reason, **by)
    _report(request, as_json, f"{request.ticket_code} closed: {reason}")


@request_app.command("cancel")
@guarded
def cancel(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[str, typer.Option(help="Withdrawn, duplicate of ..., ...")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Cancel an open request (withdrawn or a duplicate)."""
    desk, by = _recorder(ctx, occurred_at)
    request = desk.cancel(ticket, reason=reason, **by)
    _report(request, as_json, f"{request.ticket_code} cancelled: {reason}")


@request_app.command("nonconformity")
@guarded
def nonconformity(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    description: Annotated[str, typer.Option(help="What did not conform.")],
    severity: Annotated[Severity, typer.Option(help="How serious it is.")],
    category: Annotated[str | None, typer.Option(help="Your own category label.")] = None,
    root_cause: Annotated[str | None, typer.Option(help="Why it happened.")] = None,
    corrective_action: Annotated[str | None, typer.Option(help="What should fix it.")] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Document a non-conformity on a request (any status, even closed)."""
    desk, by = _recorder(ctx, occurred_at)
    nc = desk.log_nonconformity(
        ticket,
        description=description,
        severity=severity,
        category=category,
        root_cause=root_cause,
        corrective_action=corrective_action,
        **by,
    )
    code = desk.get(ticket).ticket_code
    _report_nc(code, nc, as_json, f"{code}: non-conformity #{nc.number} logged ({nc.severity})")


@request_app.command("correct")
@guarded
def correct(
    ctx: typer.Context,
    ticket: Ticket,
    number: Annotated[int, typer.Argument(help="The non-conformity's number.", min=1)],
    *,
    correction: Annotated[str, typer.Option(help="How it was corrected.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record the correction of a documented non-conformity."""
    desk, by = _recorder(ctx, occurred_at)
    nc = desk.correct_nonconformity(ticket, number, correction=correction, **by)
    code = desk.get(ticket).ticket_code
    _report_nc(code, nc, as_json, f"{code}: non-conformity #{nc.number} corrected")


@request_app.command("note")
@guarded
def note(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    text: Annotated[str, typer.Option(help="The note.")],
    visibility: Annotated[
        Visibility,
        typer.Option(help="internal (the desk only) or customer (a reply the customer sees)."),
    ] = Visibility.INTERNAL,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Write a note on a request (any status): internal, or a reply the customer sees."""
    desk, by = _recorder(ctx, occurred_at)
    written = desk.note(ticket, text=text, visibility=visibility, **by)
    _report_note(desk, ticket, written, as_json)


@request_app.command("message")
@guarded
def message(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    text: Annotated[str, typer.Option(help="What the customer wrote or said.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record a message from the customer about a request (any status)."""
    desk, by = _recorder(ctx, occurred_at)
    written = desk.customer_message(ticket, text=text, **by)
    _report_note(desk, ticket, written, as_json)


def _report_note(desk: ServiceDesk, ticket: str, written: Note, as_json: bool) -> None:  # noqa: FBT001
    request = desk.get(ticket)
    if as_json:
        emit_json({"ticket_code": request.ticket_code, **written.model_dump(mode="json")})
        return
    who = "message from the customer" if written.by_customer else f"{written.visibility} note"
    count = len(request.notes)
    say(f"{request.ticket_code}: {who} recorded ({count} in all) · status {request.status}")


@request_app.command("show")
@guarded
def show(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    as_of: AsOf = None,
    version: Annotated[
        int | None, typer.Option(help="The request as of this version (event number).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show a request: status, people, STAR probes and actions, outcome, non-conformities."""
    current = session(ctx)
    request = current.desk(existing=True).get(
        ticket, as_of=current.when(as_of, "--as-of"), version=version
    )
    if as_json:
        emit_json(request.model_dump(mode="json"))
        return
    console().print(request_view(request, current.zone))


@request_app.command("history")
@guarded
def history(ctx: typer.Context, ticket: Ticket, *, as_json: AsJson = False) -> None:
    """Show every event of a request: who, when, what, and what changed."""
    current = session(ctx)
    entries = current.desk(existing=True).history(ticket)
    if as_json:
        emit_json([entry.model_dump(mode="json") for entry in entries])
        return
    shown = console()
    shown.print(history_table(entries, current.zone, width=table_width(shown)))
