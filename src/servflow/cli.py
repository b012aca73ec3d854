"""The ``servflow`` command line: run a desk from the shell, script it, and see the demo.

An adapter over :class:`servflow.ServiceDesk`: each sub-command is one desk command or query
on the store named by ``--db`` (an SQLite file by default, or a PostgreSQL DSN). Output is
Rich tables for people and ``--json`` for scripts. Every :class:`servflow.ServflowError`
becomes one line on stderr, ``error[<code>]: <message>``, and exit code 1; usage errors
(unknown option, bad choice) keep Typer's exit code 2. Nothing here prints a traceback for
an error servflow raises on purpose.
"""

from __future__ import annotations

import functools
import json
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.columns import Columns
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from servflow.cli_audit import audit_app
from servflow.demo import DEFAULT_START, DemoSummary, SimClock, simulate
from servflow.desk import ServiceDesk
from servflow.domain.history import HistoryEntry
from servflow.domain.request import NonConformity, Status
from servflow.domain.values import Channel, Kind, Outcome, Priority, Severity, Stage, Tier
from servflow.domain.view import Request
from servflow.errors import ConfigurationError, ServflowError, StoreError, ValidationFailedError

__all__ = ["app", "main", "request_app"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_DEFAULT_DB = "servflow.db"
_DEFAULT_ACTOR = "agent:cli"
_DEMO_DB = "demo.db"
_DSN_PREFIXES = ("postgresql://", "postgres://")
_DATETIME_EXAMPLE = "2026-09-07T10:30:00+02:00"

_STATUS_STYLE = {
    Status.NEW: "cyan",
    Status.CLASSIFIED: "blue",
    Status.ASSIGNED: "yellow",
    Status.WAITING_ON_CUSTOMER: "magenta",
    Status.TRANSFERRED: "bright_magenta",
    Status.COMPLETED: "green",
    Status.CLOSED: "dim green",
    Status.CANCELLED: "dim",
}
_PRIORITY_STYLE = {
    Priority.URGENT: "bold red",
    Priority.HIGH: "red",
    Priority.NORMAL: "",
    Priority.LOW: "dim",
}
#: Event fields worth quoting in a history when the state they leave does not show them.
_SAID = ("findings", "action", "message", "note", "reason", "description", "correction")
#: Column headers of the open-work table, in lifecycle order.
_OPEN_COLUMNS = (
    (Status.NEW, "new"),
    (Status.CLASSIFIED, "classified"),
    (Status.ASSIGNED, "in progress"),
    (Status.WAITING_ON_CUSTOMER, "waiting on customer"),
    (Status.TRANSFERRED, "transferred"),
    (Status.COMPLETED, "awaiting acceptance"),
)

app = typer.Typer(
    name="servflow",
    help="An event-sourced service desk: open, work and close customer service requests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
request_app = typer.Typer(
    help="Work on one service request: every command of its lifecycle, and its story.",
    no_args_is_help=True,
)
app.add_typer(request_app, name="request")
app.add_typer(audit_app, name="audit")


# -- session and plumbing ------------------------------------------------------------------


@dataclass
class _Session:
    """What the global options chose, and the desk they open (lazily, once)."""

    db: str
    actor: str
    zone: tzinfo | None
    db_on_command_line: bool
    opened: ServiceDesk | None = None

    def desk(self, *, existing: bool = False) -> ServiceDesk:
        """The desk on ``--db``; with ``existing``, refuse to create an empty SQLite file."""
        if self.opened is None:
            self.opened = _open_desk(self.db, existing=existing)
        return self.opened

    def close(self) -> None:
        """Release the store's connections when the command is done."""
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def _is_dsn(db: str) -> bool:
    return db.startswith(_DSN_PREFIXES)


def _open_desk(db: str, *, existing: bool) -> ServiceDesk:
    if _is_dsn(db):
        return ServiceDesk.postgres(db)
    if existing and not Path(db).is_file():
        msg = (
            f"no servflow database at {db}: open a request first "
            f"(servflow --db {shlex.quote(db)} request open ...) or run servflow demo"
        )
        raise StoreError(msg)
    return ServiceDesk.sqlite(db)


def _session(ctx: typer.Context) -> _Session:
    session = ctx.find_root().obj
    if not isinstance(session, _Session):  # pragma: no cover - the root callback sets it
        msg = "the servflow command line was started without its root options"
        raise ConfigurationError(msg)
    return session


def _guarded(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn servflow's errors into one red line on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return command(*args, **kwargs)
        except ServflowError as error:
            _fail(error)

    return run


def _fail(error: ServflowError) -> NoReturn:
    message = " ".join(str(error).split())
    line = Text.assemble((f"error[{error.code}]: ", "bold red"), (message, "red"))
    Console(stderr=True, highlight=False).print(line, soft_wrap=True)
    raise typer.Exit(1)


def _console() -> Console:
    return Console(highlight=False)


def _say(message: str) -> None:
    """One plain line for people: not wrapped, no markup."""
    _console().print(Text(message), soft_wrap=True)


def _emit_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _parse_when(value: str | None, option: str) -> datetime | None:
    """An aware datetime from ISO-8601 text, or a ``ValidationFailedError`` that says why not."""
    if value is None:
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        msg = (
            f"{option} {value!r} is not an ISO-8601 date-time; write it like "
            f"{_DATETIME_EXAMPLE} or 2026-09-07T08:30:00Z"
        )
        raise ValidationFailedError(msg, errors=((option, "not an ISO-8601 date-time"),)) from None
    if when.tzinfo is None or when.utcoffset() is None:
        msg = (
            f"{option} {value!r} has no UTC offset, so it names no single instant; "
            f"add one, like {_DATETIME_EXAMPLE} or ...Z for UTC"
        )
        raise ValidationFailedError(msg, errors=((option, "needs a UTC offset"),))
    return when


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {name!r}; use an IANA name such as Europe/Madrid or UTC"
        raise typer.BadParameter(msg, param_hint="'--tz'") from None


def _when(value: datetime | None, zone: tzinfo | None) -> str:
    if value is None:
        return "—"
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def _stamp(value: datetime, zone: tzinfo | None) -> str:
    """A compact local time for table cells; the table says which zone."""
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}"


def _zone_label(zone: tzinfo | None, sample: datetime | None) -> str:
    if isinstance(zone, ZoneInfo):
        return zone.key
    local = (sample or datetime.now().astimezone()).astimezone(zone)
    return local.tzname() or "local time"


def _version(value: bool) -> None:  # noqa: FBT001 - Typer passes the flag positionally
    if value:
        from servflow import __version__  # noqa: PLC0415 - only when asked

        typer.echo(f"servflow {__version__}")
        raise typer.Exit


# -- reusable option types -----------------------------------------------------------------

Ticket = Annotated[
    str,
    typer.Argument(
        metavar="TICKET", help="Ticket code (SR-000123) or request id.", show_default=False
    ),
]
OccurredAt = Annotated[
    str | None,
    typer.Option(
        "--occurred-at",
        metavar="ISO-8601",
        help="When it happened, with a UTC offset (default: now). For importing history.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@app.callback()
def _root(
    ctx: typer.Context,
    *,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="SERVFLOW_DB",
            help="SQLite file, or a postgresql:// DSN to share one store between machines.",
        ),
    ] = _DEFAULT_DB,
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            envvar="SERVFLOW_ACTOR",
            help="Who records the commands: agent:<name>, customer:<id>, auditor:<name>.",
        ),
    ] = _DEFAULT_ACTOR,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            envvar="SERVFLOW_TZ",
            help="Time zone to show times in (default: this machine's).",
            show_default=False,
        ),
    ] = None,
    _: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """servflow: an event-sourced service desk on an SQLite file or PostgreSQL."""
    source = ctx.get_parameter_source("db")
    session = _Session(
        db=db,
        actor=actor,
        zone=_zone(tz),
        db_on_command_line=source is not None and source.name == "COMMANDLINE",
    )
    ctx.obj = session
    ctx.call_on_close(session.close)


# -- request commands ----------------------------------------------------------------------


def _report(request: Request, as_json: bool, message: str) -> None:  # noqa: FBT001
    if as_json:
        _emit_json(request.model_dump(mode="json"))
    else:
        _say(message)


def _report_nc(request_code: str, nc: NonConformity, as_json: bool, message: str) -> None:  # noqa: FBT001
    if as_json:
        _emit_json({"ticket_code": request_code, **nc.model_dump(mode="json")})
    else:
        _say(message)


@request_app.command("open")
@_guarded
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
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Open a request: record the symptom and give it a ticket code."""
    session = _session(ctx)
    who: dict[str, object] = {"id": customer}
    extras = {"name": customer_name, "tier": tier, "language": language}
    who.update({k: v for k, v in extras.items() if v is not None})
    request = session.desk().open(
        customer=who if len(who) > 1 else customer,
        channel=channel,
        kind=kind,
        stage=stage,
        symptom=symptom,
        synthesis=synthesis,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(
        request,
        as_json,
        f"Opened {request.ticket_code} for {request.customer.id} "
        f"({request.kind}, {request.stage}, via {request.channel}) · status {request.status}",
    )


@request_app.command("classify")
@_guarded
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
    session = _session(ctx)
    request = session.desk().classify(
        ticket,
        priority=priority,
        kind=kind,
        category=category,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    label = f", category {request.category}" if request.category else ""
    _report(
        request,
        as_json,
        f"{request.ticket_code} classified: priority {request.priority}, kind {request.kind}"
        f"{label} · status {request.status}",
    )


@request_app.command("assign")
@_guarded
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
    session = _session(ctx)
    request = session.desk().assign(
        ticket,
        team=team,
        agent=agent,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    who = f"{request.team}/{request.agent}" if request.agent else f"{request.team}"
    _report(request, as_json, f"{request.ticket_code} assigned to {who} · status {request.status}")


@request_app.command("probe")
@_guarded
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
    session = _session(ctx)
    request = session.desk().probe(
        ticket,
        questions=list(question or ()),
        findings=findings,
        diagnosis=diagnosis,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(
        request,
        as_json,
        f"{request.ticket_code}: probe #{len(request.probes)} recorded · status {request.status}",
    )


@request_app.command("act")
@_guarded
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
    session = _session(ctx)
    request = session.desk().act(
        ticket,
        action=action,
        effort_minutes=effort,
        cost=cost,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(
        request,
        as_json,
        f"{request.ticket_code}: action #{len(request.actions)} recorded "
        f"({request.actions[-1].effort_minutes} min) · status {request.status}",
    )


@request_app.command("wait")
@_guarded
def wait(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[str, typer.Option(help="What you need from the customer.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Pause a request until the customer replies (SLA clocks stop)."""
    session = _session(ctx)
    request = session.desk().wait_on_customer(
        ticket,
        reason=reason,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(request, as_json, f"{request.ticket_code} is waiting on the customer: {reason}")


@request_app.command("respond")
@_guarded
def respond(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    note: Annotated[str, typer.Option(help="What the customer answered.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record the customer's reply to a waiting request; work resumes."""
    session = _session(ctx)
    request = session.desk().customer_responded(
        ticket,
        note=note,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(
        request, as_json, f"{request.ticket_code}: customer responded · status {request.status}"
    )


@request_app.command("progress")
@_guarded
def progress(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    message: Annotated[str, typer.Option(help="The update the customer gets.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Record a customer-visible progress report."""
    session = _session(ctx)
    request = session.desk().report_progress(
        ticket,
        message=message,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(
        request,
        as_json,
        f"{request.ticket_code}: progress report #{request.progress_reports} recorded "
        f"· status {request.status}",
    )


@request_app.command("complete")
@_guarded
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
    session = _session(ctx)
    request = session.desk().complete(
        ticket,
        outcome=outcome,
        resolution=resolution,
        to_team=to_team,
        follow_up_at=_parse_when(follow_up_at, "--follow-up-at"),
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
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
@_guarded
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
    session = _session(ctx)
    request = session.desk().accept(
        ticket,
        satisfaction=satisfaction,
        comment=comment,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(
        request,
        as_json,
        f"{request.ticket_code} accepted (satisfaction {request.satisfaction}/5) "
        f"· status {request.status}",
    )


@request_app.command("reopen")
@_guarded
def reopen(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[str, typer.Option(help="Why the customer rejects the completion.")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Reopen a completed request the customer does not accept."""
    session = _session(ctx)
    request = session.desk().reopen(
        ticket,
        reason=reason,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(
        request,
        as_json,
        f"{request.ticket_code} reopened (time {request.reopen_count}) · status {request.status}",
    )


@request_app.command("cancel")
@_guarded
def cancel(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    reason: Annotated[str, typer.Option(help="Withdrawn, duplicate of ..., ...")],
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Cancel an open request (withdrawn or a duplicate)."""
    session = _session(ctx)
    request = session.desk().cancel(
        ticket,
        reason=reason,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    _report(request, as_json, f"{request.ticket_code} cancelled: {reason}")


@request_app.command("nonconformity")
@_guarded
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
    session = _session(ctx)
    desk = session.desk()
    nc = desk.log_nonconformity(
        ticket,
        description=description,
        severity=severity,
        category=category,
        root_cause=root_cause,
        corrective_action=corrective_action,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    code = desk.get(ticket).ticket_code
    _report_nc(code, nc, as_json, f"{code}: non-conformity #{nc.number} logged ({nc.severity})")


@request_app.command("correct")
@_guarded
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
    session = _session(ctx)
    desk = session.desk()
    nc = desk.correct_nonconformity(
        ticket,
        number,
        correction=correction,
        actor=session.actor,
        occurred_at=_parse_when(occurred_at, "--occurred-at"),
    )
    code = desk.get(ticket).ticket_code
    _report_nc(code, nc, as_json, f"{code}: non-conformity #{nc.number} corrected")


@request_app.command("show")
@_guarded
def show(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    as_of: Annotated[
        str | None,
        typer.Option(metavar="ISO-8601", help="The request as it stood at this instant."),
    ] = None,
    version: Annotated[
        int | None, typer.Option(help="The request as of this version (event number).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show a request: status, people, STAR probes and actions, outcome, non-conformities."""
    session = _session(ctx)
    request = session.desk(existing=True).get(
        ticket, as_of=_parse_when(as_of, "--as-of"), version=version
    )
    if as_json:
        _emit_json(request.model_dump(mode="json"))
        return
    _console().print(_request_view(request, session.zone))


@request_app.command("history")
@_guarded
def history(ctx: typer.Context, ticket: Ticket, *, as_json: AsJson = False) -> None:
    """Show every event of a request: who, when, what, and what changed."""
    session = _session(ctx)
    entries = session.desk(existing=True).history(ticket)
    if as_json:
        _emit_json([entry.model_dump(mode="json") for entry in entries])
        return
    console = _console()
    console.print(_history_table(entries, session.zone, width=console.width))


# -- listing -------------------------------------------------------------------------------


@app.command("requests")
@_guarded
def list_requests(
    ctx: typer.Context,
    *,
    status: Annotated[
        list[Status] | None,
        typer.Option("--status", "-s", help="Only these statuses (repeat for several)."),
    ] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's requests.")] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only requests still open (not closed or cancelled).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """List requests with their status, priority, kind, team, agent and customer."""
    session = _session(ctx)
    desk = session.desk(existing=True)
    wanted = set(status or ())
    views = [
        view
        for view in (desk.get(request_id) for request_id in desk.request_ids())
        if (not wanted or view.status in wanted)
        and (team is None or view.team == team)
        and (not open_only or view.is_open)
    ]
    if as_json:
        _emit_json([_row(view) for view in views])
        return
    title = f"{len(views)} request{'s' if len(views) != 1 else ''}"
    _console().print(_requests_table(views, session.zone, title=title))


def _row(view: Request) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "ticket_code": view.ticket_code,
        "status": view.status.value,
        "priority": view.priority.value if view.priority else None,
        "kind": view.kind.value,
        "stage": view.stage.value,
        "channel": view.channel.value,
        "team": view.team,
        "agent": view.agent,
        "customer": view.customer.id,
        "opened_at": view.opened_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
    }


# -- demo ----------------------------------------------------------------------------------


@app.command("demo")
@_guarded
def demo(
    ctx: typer.Context,
    *,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help=f"The fresh SQLite file to create (default {_DEMO_DB}, or the global --db).",
            show_default=False,
        ),
    ] = None,
    requests: Annotated[
        int, typer.Option(help="How many requests to simulate.", min=1, max=20_000)
    ] = 300,
    seed: Annotated[int, typer.Option(help="Same seed, same desk.")] = 7,
    force: Annotated[bool, typer.Option(help="Replace the file if it exists.")] = False,
    as_json: AsJson = False,
) -> None:
    """Simulate a busy service desk into a fresh SQLite file, then show what it holds."""
    session = _session(ctx)
    path = db or (session.db if session.db_on_command_line else _DEMO_DB)
    if _is_dsn(path):
        msg = "the demo writes a fresh SQLite file; give --db a file path, not a PostgreSQL DSN"
        raise ConfigurationError(msg)
    target = Path(path)
    _make_room(target, force=force)
    clock = SimClock(DEFAULT_START)
    console = _console()
    began = time.perf_counter()
    # Projections are built once at the end: much faster than after each of thousands of events.
    with ServiceDesk.sqlite(str(target), clock=clock, projections="external") as desk:
        summary = _simulate_with_progress(desk, clock, requests, seed, show=not as_json)
        elapsed = time.perf_counter() - began
        if as_json:
            _emit_json({"db": str(target), **summary.model_dump(mode="json")})
            return
        _print_demo(console, desk, summary, path=path, elapsed=elapsed, zone=session.zone)


def _make_room(target: Path, *, force: bool) -> None:
    """Refuse to overwrite a store unless asked; with ``force``, remove it and its WAL files."""
    companions = [target.with_name(target.name + suffix) for suffix in ("-wal", "-shm")]
    if target.is_dir():
        msg = f"{target} is a directory; give --db a file path"
        raise ConfigurationError(msg)
    if target.exists() and not force:
        msg = (
            f"{target} already exists and the demo only writes a fresh file; "
            "add --force to replace it, or choose another --db"
        )
        raise ConfigurationError(msg)
    for file in (target, *companions):
        file.unlink(missing_ok=True)


def _simulate_with_progress(
    desk: ServiceDesk, clock: SimClock, requests: int, seed: int, *, show: bool
) -> DemoSummary:
    if not show:
        summary = simulate(desk, clock=clock, requests=requests, seed=seed)
        desk.catch_up()
        return summary
    columns = (
        TextColumn("[bold]{task.fields[what]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("demo", total=None, what=f"Simulating {requests} requests")

        def tick(done: int, total: int) -> None:
            if done % 50 == 0 or done == total:
                bar.update(task, completed=done, total=total)

        summary = simulate(desk, clock=clock, requests=requests, seed=seed, progress=tick)
        bar.update(task, what="Updating the projections")
        desk.catch_up()
        return summary


def _print_demo(
    console: Console,
    desk: ServiceDesk,
    summary: DemoSummary,
    *,
    path: str,
    elapsed: float,
    zone: tzinfo | None,
) -> None:
    shown = zone or summary.started_at.tzinfo
    console.print(Rule("[bold]servflow demo[/]: a simulated service desk"))
    console.print(
        f"Simulated {summary.requests} requests ({summary.events:,} events) from "
        f"{_when(summary.started_at, shown)} to {_when(summary.ended_at, shown)} "
        f"into [bold]{path}[/] in {elapsed:.1f} s.",
        soft_wrap=True,
    )
    console.print()
    views = [desk.get(request_id) for request_id in desk.request_ids()]
    console.print(_open_work_table(summary))
    waiting = sorted(
        (v for v in views if v.is_open and v.status is not Status.COMPLETED),
        key=lambda v: v.opened_at,
    )[:10]
    if waiting:
        console.print(_requests_table(waiting, shown, title="Oldest open work"))
    console.print(Rule("Summary"))
    console.print(Columns([_status_table(summary), _kind_table(summary), _figures(summary)]))
    if summary.featured:
        console.print(Rule(f"The story of {summary.featured}: transferred, then reopened"))
        console.print(_request_view(desk.get(summary.featured), shown))
        history = desk.history(summary.featured)
        console.print(_history_table(history, shown, width=console.width))
    console.print(Rule("Try next"))
    for line in _try_next(desk, summary, path):
        console.print(Text(f"  {line}", style="bold"), soft_wrap=True)


def _open_work_table(summary: DemoSummary) -> Table:
    table = Table(title="Open work by team", title_justify="left")
    table.add_column("team")
    for _, header in _OPEN_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("total", justify="right", style="bold")
    totals = [0] * len(_OPEN_COLUMNS)
    for team, counts in summary.open_by_team.items():
        cells = [counts.get(status.value, 0) for status, _ in _OPEN_COLUMNS]
        totals = [a + b for a, b in zip(totals, cells, strict=True)]
        table.add_row(team, *(str(c or "·") for c in cells), str(sum(cells)))
    table.add_section()
    table.add_row("all teams", *(str(c) for c in totals), str(sum(totals)), style="bold")
    return table


def _status_table(summary: DemoSummary) -> Table:
    table = Table(title="By status", title_justify="left")
    table.add_column("status")
    table.add_column("requests", justify="right")
    for name, count in summary.by_status.items():
        table.add_row(Text(name, style=_STATUS_STYLE[Status(name)]), str(count))
    return table


def _kind_table(summary: DemoSummary) -> Table:
    table = Table(title="By kind", title_justify="left")
    table.add_column("kind")
    table.add_column("requests", justify="right")
    for name, count in summary.by_kind.items():
        table.add_row(name, str(count))
    return table


def _figures(summary: DemoSummary) -> Table:
    table = Table(title="Key figures", title_justify="left")
    table.add_column("figure")
    table.add_column("value")
    mean = f"{summary.mean_satisfaction:.2f} / 5" if summary.mean_satisfaction else "—"
    rows = (
        ("requests", str(summary.requests)),
        ("events", f"{summary.events:,}"),
        ("mean satisfaction", mean),
        ("rated by customers", str(summary.rated)),
        ("transfers", str(summary.transfers)),
        ("reopenings", str(summary.reopenings)),
        ("cancellations", str(summary.cancellations)),
        ("non-conformities open", str(summary.nonconformities_open)),
        ("non-conformities corrected", str(summary.nonconformities_corrected)),
        ("by stage", ", ".join(f"{k} {v}" for k, v in summary.by_stage.items())),
        ("by tier", ", ".join(f"{k} {v}" for k, v in summary.by_tier.items())),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table


def _try_next(desk: ServiceDesk, summary: DemoSummary, path: str) -> list[str]:
    base = f"servflow --db {shlex.quote(path)}"
    lines: list[str] = []
    if summary.featured:
        lines += [
            f"{base} request show {summary.featured}",
            f"{base} request history {summary.featured}",
        ]
    lines += [
        f"{base} requests --status waiting_on_customer",
        f"{base} requests --team field-service --open",
    ]
    examples = summary.examples
    if fresh := examples.get(Status.NEW.value):
        lines.append(f"{base} request classify {fresh} --priority high")
    if done := examples.get(Status.COMPLETED.value):
        customer = desk.get(done).customer.id
        lines.append(f"{base} --actor customer:{customer} request accept {done} --satisfaction 5")
    if summary.featured:
        lines.append(f"{base} request show {summary.featured} --json")
    return lines


# -- rendering -----------------------------------------------------------------------------


def _status_text(status: Status) -> Text:
    return Text(status.value, style=_STATUS_STYLE[status])


def _priority_text(priority: Priority | None) -> Text:
    if priority is None:
        return Text("—", style="dim")
    return Text(priority.value, style=_PRIORITY_STYLE[priority])


def _requests_table(views: Iterable[Request], zone: tzinfo | None, *, title: str) -> Table:
    views = list(views)
    label = _zone_label(zone, views[0].opened_at if views else None)
    table = Table(title=title, title_justify="left")
    for name in ("ticket", "status", "priority", "kind", "team", "agent", "customer"):
        table.add_column(name, no_wrap=name == "ticket")
    table.add_column(f"opened ({label})", no_wrap=True)
    for view in views:
        table.add_row(
            Text(view.ticket_code, style="bold"),
            _status_text(view.status),
            _priority_text(view.priority),
            view.kind.value,
            view.team or "—",
            view.agent or "—",
            view.customer.name or view.customer.id,
            _stamp(view.opened_at, zone),
        )
    return table


def _request_view(request: Request, zone: tzinfo | None) -> Group:
    """Everything a person needs to pick a request up: a panel, then STAR and controls."""
    parts: list[Panel | Table] = [
        Panel(
            _facts(request, zone), title=f"[bold]{request.ticket_code}[/]", subtitle=str(request.id)
        )
    ]
    if request.probes:
        parts.append(_probes_table(request, zone))
    if request.actions:
        parts.append(_actions_table(request, zone))
    if request.nonconformities:
        parts.append(_nonconformities_table(request, zone))
    return Group(*parts)


def _facts(request: Request, zone: tzinfo | None) -> Table:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    customer = request.customer
    who = f"{customer.name} ({customer.id})" if customer.name else customer.id
    people = f"{request.team or '—'}" + (f" / {request.agent}" if request.agent else "")

    def optional(value: datetime | None) -> str | None:
        return _when(value, zone) if value else None

    def count(value: int) -> str | None:
        return str(value) if value else None

    rows: list[tuple[str, str | Text | None]] = [
        ("status", _status_text(request.status)),
        ("priority", _priority_text(request.priority)),
        ("kind", f"{request.kind} · {request.stage} · via {request.channel}"),
        ("category", request.category),
        ("customer", f"{who} · {customer.tier}"),
        ("team / agent", people),
        ("opened", f"{_when(request.opened_at, zone)} by {request.opened_by}"),
        ("updated", f"{_when(request.updated_at, zone)} (version {request.version})"),
        ("symptom", request.symptom),
        ("synthesis", request.synthesis),
        ("waiting for", request.waiting_reason),
        ("outcome", request.outcome.value if request.outcome else None),
        ("resolution", request.resolution),
        ("follow up at", optional(request.follow_up_at)),
        ("completed", optional(request.completed_at)),
        ("satisfaction", f"{request.satisfaction}/5" if request.satisfaction else None),
        ("comment", request.acceptance_comment),
        ("closed", optional(request.closed_at)),
        ("cancelled", request.cancel_reason),
        ("transfers", count(request.transfer_count)),
        ("reopened", count(request.reopen_count)),
        ("progress reports", count(request.progress_reports)),
        ("effort", f"{request.effort_minutes} min" if request.actions else None),
        ("cost", f"{request.cost:.2f}" if request.cost else None),
    ]
    for name, value in rows:
        if value is not None:
            facts.add_row(name, value)
    return facts


def _probes_table(request: Request, zone: tzinfo | None) -> Table:
    table = Table(title="STAR probing", title_justify="left")
    for name in ("#", "when", "by", "questions", "findings", "diagnosis"):
        table.add_column(name)
    for number, item in enumerate(request.probes, start=1):
        table.add_row(
            str(number),
            _stamp(item.at, zone),
            item.actor,
            "\n".join(f"• {q}" for q in item.questions) or "—",
            item.findings,
            item.diagnosis or "—",
        )
    return table


def _actions_table(request: Request, zone: tzinfo | None) -> Table:
    table = Table(title="Actions", title_justify="left")
    for name in ("#", "when", "by", "action", "effort", "cost"):
        table.add_column(name, justify="right" if name in {"effort", "cost"} else "left")
    for number, action in enumerate(request.actions, start=1):
        table.add_row(
            str(number),
            _stamp(action.at, zone),
            action.actor,
            action.action,
            f"{action.effort_minutes} min",
            f"{action.cost:.2f}" if action.cost is not None else "—",
        )
    return table


def _nonconformities_table(request: Request, zone: tzinfo | None) -> Table:
    table = Table(title="Non-conformities", title_justify="left")
    for name in ("#", "severity", "description", "logged", "correction"):
        table.add_column(name)
    for nc in request.nonconformities:
        corrected = (
            f"{nc.correction} ({nc.corrected_by}, {_when(nc.corrected_at, zone)})"
            if nc.is_corrected
            else Text("open", style="bold red")
        )
        table.add_row(
            str(nc.number),
            nc.severity.value,
            nc.description,
            f"{nc.logged_by}, {_when(nc.logged_at, zone)}",
            corrected,
        )
    return table


def _history_table(
    entries: Sequence[HistoryEntry], zone: tzinfo | None, *, width: int = 120
) -> Table:
    """Events as rows; the changes column gets whatever width the others leave."""
    code = entries[0].ticket_code if entries else ""
    label = _zone_label(zone, entries[0].occurred_at if entries else None)
    wide = width >= 120  # noqa: PLR2004 - below this, dates and times take two lines
    stamp = 16 if wide else 10
    actor = min(max((len(e.actor) for e in entries), default=5), 24 if wide else 14)
    event = min(max((len(e.event_type) for e in entries), default=5), 22 if wide else 12)
    # Each of the 6 columns costs 3 characters of padding and border, plus the outer edge.
    changes = max(30, width - (2 + 2 * stamp + actor + event) - 19)
    table = Table(title=f"History of {code} (times in {label})", title_justify="left")
    table.add_column("v", width=2, justify="right")
    table.add_column("occurred", width=stamp)
    table.add_column("recorded", width=stamp)
    table.add_column("actor", width=actor, overflow="fold")
    table.add_column("event", width=event, overflow="fold")
    table.add_column("changes", width=changes)
    for entry in entries:
        recorded = _stamp(entry.recorded_at, zone)
        occurred = _stamp(entry.occurred_at, zone)
        table.add_row(
            str(entry.version),
            occurred,
            recorded if recorded != occurred else Text(recorded, style="dim"),
            entry.actor,
            Text(entry.event_type, style="bold"),
            _describe_changes(entry, zone),
        )
    return table


def _describe_changes(entry: HistoryEntry, zone: tzinfo | None) -> str:
    """What an event changed (before → after) and, briefly, what it said."""
    lines: list[str] = []
    opened = entry.event_type == "Opened"
    if opened:
        lines.append(_brief(entry.data.get("symptom"), 80))
    for change in entry.changes:
        if opened:
            continue
        if isinstance(change.after, list):
            before = len(change.before or [])
            if before != len(change.after):
                lines.append(f"{change.field}: {before} → {len(change.after)}")
        elif change.after is None and isinstance(change.before, str):
            lines.append(f"{change.field} cleared")
        elif change.field.endswith("_at"):
            lines.append(
                f"{change.field}: {_brief_when(change.before, zone)} → "
                f"{_brief_when(change.after, zone)}"
            )
        else:
            lines.append(f"{change.field}: {_brief(change.before)} → {_brief(change.after)}")
    shown = {change.after for change in entry.changes if isinstance(change.after, str)}
    for key in _SAID:
        value = entry.data.get(key)
        if isinstance(value, str) and value not in shown:
            lines.append(f"“{_brief(value, 80)}”")
    return "\n".join(lines)


def _brief_when(value: object, zone: tzinfo | None) -> str:
    if isinstance(value, str):
        try:
            return _when(datetime.fromisoformat(value), zone)
        except ValueError:
            pass
    return _brief(value)


def _brief(value: object, width: int = 48) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        value = value.get("id", value)
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def main() -> None:
    """Entry point of the ``servflow`` console script."""
    app(prog_name="servflow")


if __name__ == "__main__":  # pragma: no cover
    main()
