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
import os
import re
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as dt_time
from pathlib import Path
from types import FrameType
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
from typer.core import TyperGroup

from servflow.cli_audit import audit_app
from servflow.demo import DEFAULT_START, DemoSummary, SimClock, demo_policy, simulate
from servflow.desk import ProjectionMode, ServiceDesk
from servflow.domain.calendar import Weekday
from servflow.domain.history import HistoryEntry
from servflow.domain.policy import SlaPolicy, SlaRule
from servflow.domain.request import NonConformity, Status
from servflow.domain.sla import (
    DEFAULT_POLICY,
    Clock,
    ClockState,
    DueAction,
    SlaStatus,
    TimelineEntry,
)
from servflow.domain.values import Channel, Kind, Outcome, Priority, Severity, Stage, Tier
from servflow.domain.view import Request
from servflow.errors import ConfigurationError, ServflowError, StoreError, ValidationFailedError
from servflow.projections.queues import QueuePage, SpecialQueue
from servflow.projections.runner import Progress as ProjectionProgress
from servflow.projections.runner import ProjectionStatus
from servflow.projections.sla import SlaAlert

__all__ = ["app", "main", "projections_app", "request_app", "run_projections", "sla_app"]

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
    schema: str | None = None
    opened: ServiceDesk | None = None

    def desk(self, *, existing: bool = False) -> ServiceDesk:
        """The desk on ``--db``; with ``existing``, refuse to create an empty SQLite file."""
        if self.opened is None:
            self.opened = _open_desk(self.db, existing=existing, schema=self.schema)
        return self.opened

    def close(self) -> None:
        """Release the store's connections when the command is done."""
        if self.opened is not None:
            self.opened.close()
            self.opened = None


_TRUE = frozenset({"1", "true", "yes", "on"})


def _is_dsn(db: str) -> bool:
    return db.startswith(_DSN_PREFIXES)


def _open_desk(
    db: str,
    *,
    existing: bool,
    schema: str | None = None,
    projections: ProjectionMode = "inline",
) -> ServiceDesk:
    """A desk on an SQLite file or a PostgreSQL DSN (``schema`` applies to PostgreSQL only).

    Stored events are encrypted with ``$SERVFLOW_CIPHER_KEY`` when it is set, compressed when
    ``$SERVFLOW_COMPRESS`` is 1 (a key is never an option: it would stay in shell history).
    """
    storage: dict[str, Any] = {
        "cipher_key": os.environ.get("SERVFLOW_CIPHER_KEY") or None,
        "compress": os.environ.get("SERVFLOW_COMPRESS", "").strip().lower() in _TRUE,
    }
    if _is_dsn(db):
        return ServiceDesk.postgres(db, schema=schema or None, projections=projections, **storage)
    if existing and not Path(db).is_file():
        msg = (
            f"no servflow database at {db}: open a request first "
            f"(servflow --db {shlex.quote(db)} request open ...) or run servflow demo"
        )
        raise StoreError(msg)
    return ServiceDesk.sqlite(db, projections=projections, **storage)


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
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            envvar="SERVFLOW_SCHEMA",
            help="PostgreSQL schema for servflow's tables (created if missing; not for SQLite).",
            show_default=False,
        ),
    ] = None,
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
        schema=schema,
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


# -- work queues ---------------------------------------------------------------------------

At = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="ISO-8601",
        help="The instant to answer for, with a UTC offset (default: now).",
        show_default=False,
    ),
]
Limit = Annotated[int, typer.Option(help="Rows to show at most.", min=1, max=10_000)]
#: Statuses in which a request's resolution clock no longer runs.
_CLOCK_STOPPED = frozenset({Status.COMPLETED, Status.CLOSED, Status.CANCELLED})


def _instant(value: str | None, option: str = "--at") -> datetime:
    """``--at`` as an aware instant, or now (the time relative due times are counted from)."""
    return _parse_when(value, option) or datetime.now(UTC)


@app.command("queue")
@_guarded
def queue(  # noqa: PLR0913 - one option per filter of ServiceDesk.queue
    ctx: typer.Context,
    special: Annotated[
        SpecialQueue | None,
        typer.Argument(
            metavar="QUEUE", help="A named queue (default: every open request).", show_default=False
        ),
    ] = None,
    *,
    team: Annotated[str | None, typer.Option(help="Only this team's requests.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's requests.")] = None,
    status: Annotated[
        list[Status] | None,
        typer.Option("--status", "-s", help="Only these statuses (repeat; reaches closed ones)."),
    ] = None,
    priority: Annotated[
        list[Priority] | None, typer.Option(help="Only these priorities (repeat for several).")
    ] = None,
    kind: Annotated[
        list[Kind] | None, typer.Option(help="Only these kinds of need (repeat for several).")
    ] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's requests.")] = None,
    tier: Annotated[
        list[Tier] | None, typer.Option(help="Only customers of these tiers (repeat).")
    ] = None,
    at: At = None,
    limit: Limit = 50,
    offset: Annotated[int, typer.Option(help="Skip this many rows (the next page).", min=0)] = 0,
    as_json: AsJson = False,
) -> None:
    """A work queue: open requests in work order (resolution due, priority, opening time)."""
    session = _session(ctx)
    when = _instant(at)
    page = session.desk(existing=True).queue(
        special,
        team=team,
        agent=agent,
        status=status or (),
        priority=priority or (),
        kind=kind or (),
        customer=customer,
        tier=tier or (),
        at=when,
        limit=limit,
        offset=offset,
    )
    if as_json:
        _emit_json(
            {
                "at": when.isoformat(),
                **page.model_dump(mode="json"),
                "next_offset": page.next_offset,
            }
        )
        return
    console = _console()
    console.print(_queue_table(page, special, when, session.zone, width=console.width))
    console.print(Text(_page_info(page), style="dim"), soft_wrap=True)


def _queue_table(
    page: QueuePage,
    special: SpecialQueue | None,
    when: datetime,
    zone: tzinfo | None,
    *,
    width: int = 120,
) -> Table:
    """The page as a table; below 110 columns the kind and the customer are left to --json."""
    wide = width >= 110  # noqa: PLR2004 - nine columns need about this much
    name = special.value.replace("_", " ") if special else "open requests"
    table = Table(title=f"Queue: {name} as of {_when(when, zone)}", title_justify="left")
    table.add_column("ticket", no_wrap=True)
    table.add_column("status")
    table.add_column("priority")
    if wide:
        table.add_column("kind")
    table.add_column("team / agent")
    if wide:
        table.add_column("customer")
    table.add_column(f"opened ({_zone_label(zone, when)})")
    table.add_column("resolution due")
    for row in page.rows:
        cells: list[str | Text] = [
            Text(row.ticket_code, style="bold"),
            _status_text(row.status),
            _priority_text(row.priority),
        ]
        if wide:
            cells.append(row.kind.value)
        cells.append(f"{row.team or '—'} / {row.agent or '—'}")
        if wide:
            cells.append(f"{row.customer_id} · {row.tier.value}")
        cells += [_stamp(row.opened_at, zone), _queue_due(row.status, row.resolution_due, when)]
        table.add_row(*cells)
    return table


def _queue_due(status: Status, due: datetime | None, when: datetime) -> Text:
    """The resolution clock's due instant relative to ``when``, if it still runs."""
    if status in _CLOCK_STOPPED:
        return Text("stopped", style="dim")
    if due is None:
        return Text("paused" if status is Status.WAITING_ON_CUSTOMER else "—", style="dim")
    return _relative(due, when)


def _page_info(page: QueuePage) -> str:
    if not page.rows:
        return f"No requests to show (of {page.total})." if page.total else "No requests match."
    first, last = page.offset + 1, page.offset + len(page.rows)
    info = f"Showing {first} to {last} of {page.total}"
    if page.next_offset is not None:
        info += f" · next page: --offset {page.next_offset}"
    return info + "."


def _span(seconds: int) -> str:
    """A wall-clock length in its two largest units: ``2d 3h``, ``2h 10m``, ``45m``."""
    minutes = max(0, seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return " ".join(parts[:2]) or "0m"


def _relative(moment: datetime, reference: datetime) -> Text:
    """``in 2h 10m``, ``due now`` or ``overdue 3h``: a due instant seen from ``reference``."""
    seconds = int((moment - reference).total_seconds())
    if seconds >= 60:  # noqa: PLR2004 - a minute
        return Text(f"in {_span(seconds)}")
    if seconds > -60:  # noqa: PLR2004
        return Text("due now", style="bold yellow")
    return Text(f"overdue {_span(-seconds)}", style="bold red")


# -- SLA -----------------------------------------------------------------------------------

_STATE_STYLE = {
    ClockState.RUNNING: "green",
    ClockState.WARNING: "bold yellow",
    ClockState.BREACHED: "bold red",
    ClockState.MET: "cyan",
    ClockState.MISSED: "magenta",
    ClockState.PAUSED: "blue",
    ClockState.CANCELLED: "dim",
}
_CLOCK_LABEL = {"first_response": "first response", "resolution": "resolution"}
#: Something that may be a ticket code or a request id, not a mistyped sub-command.
_LOOKS_LIKE_A_REFERENCE = re.compile(r".*\d")


class _SlaGroup(TyperGroup):
    """``servflow sla TICKET`` means ``servflow sla show TICKET``: a ticket is no sub-command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # noqa: ANN401 - click's Context
        """Put ``show`` in front of a ticket code (or an option of ``show``)."""
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            first = args[0]
            if first.startswith("-") or _LOOKS_LIKE_A_REFERENCE.match(first):
                args = ["show", *args]
        return super().parse_args(ctx, args)


sla_app = typer.Typer(
    cls=_SlaGroup,
    help=(
        "SLA clocks: one request's, the breached and at-risk ones, and the time-based events "
        "that came due. servflow sla TICKET is short for servflow sla show TICKET."
    ),
    no_args_is_help=True,
)
app.add_typer(sla_app, name="sla")


@sla_app.command("show")
@_guarded
def sla_show(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    at: At = None,
    timeline: Annotated[
        bool, typer.Option("--timeline", help="Also explain how each clock got there.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Both SLA clocks of a request: state, target, due, elapsed, remaining, paused, policy."""
    session = _session(ctx)
    when = _instant(at)
    desk = session.desk(existing=True)
    status = desk.sla(ticket, at=when)
    entries = desk.sla_timeline(ticket, until=when) if timeline else None
    if as_json:
        data = status.model_dump(mode="json")
        if entries is not None:
            data["timeline"] = [entry.model_dump(mode="json") for entry in entries]
        _emit_json(data)
        return
    console = _console()
    console.print(_clocks_table(status, session.zone))
    if entries is not None:
        console.print(_timeline_table(status.ticket_code, entries, session.zone))


def _clocks_table(status: SlaStatus, zone: tzinfo | None) -> Table:
    first = status.first_response
    rule = f", rule {first.rule}" if first.rule else ""
    table = Table(
        title=f"SLA of {status.ticket_code} as of {_when(status.at, zone)}",
        title_justify="left",
        caption=(
            f"policy {first.policy} v{first.policy_version} (calendar v{first.calendar_version})"
            f"{rule}; targets, elapsed, remaining and paused are business time"
        ),
        caption_justify="left",
    )
    table.add_column("clock", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("target", justify="right")
    table.add_column(f"due ({_zone_label(zone, status.at)})")
    table.add_column("")
    table.add_column("elapsed", justify="right")
    table.add_column("remaining", justify="right")
    table.add_column("paused", justify="right")
    for clock in status.clocks:
        remaining = Text(
            _business(clock.remaining), style="red" if clock.remaining.total_seconds() < 0 else ""
        )
        table.add_row(
            _CLOCK_LABEL[clock.name],
            _state_text(clock.state),
            _business(clock.target),
            _stamp(clock.due, zone) if clock.due else "—",
            _clock_note(clock, status.at, zone),
            _business(clock.elapsed),
            remaining,
            _business(clock.paused) if clock.paused else "—",
        )
    return table


def _clock_note(clock: Clock, at: datetime, zone: tzinfo | None) -> Text:
    if clock.met_at is not None:
        return Text(f"met {_stamp(clock.met_at, zone)}", style="dim")
    if clock.state is ClockState.CANCELLED:
        return Text("stopped", style="dim")
    if clock.due is None:
        return Text("paused: due once it resumes", style="dim")
    return _relative(clock.due, at)


def _state_text(state: ClockState) -> Text:
    return Text(state.value, style=_STATE_STYLE[state])


def _business(duration: timedelta) -> str:
    """Business time in hours at most (a business day is not 24 h): ``40h``, ``2h 30m``."""
    seconds = int(duration.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m")) if n]
    if not parts:
        parts = [f"{secs}s"]
    return sign + " ".join(parts)


def _timeline_table(code: str, entries: Sequence[TimelineEntry], zone: tzinfo | None) -> Table:
    label = _zone_label(zone, entries[0].at if entries else None)
    table = Table(title=f"SLA timeline of {code} (times in {label})", title_justify="left")
    table.add_column("when", no_wrap=True)
    table.add_column("clock", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("cause", no_wrap=True)
    table.add_column("explanation")
    for entry in entries:
        table.add_row(
            _stamp(entry.at, zone),
            _CLOCK_LABEL[entry.clock],
            Text(entry.kind.value.replace("_", " "), style=_STATE_STYLE[entry.state]),
            entry.cause,
            entry.message,
        )
    return table


@sla_app.command("breaches")
@_guarded
def sla_breaches(
    ctx: typer.Context, *, at: At = None, limit: Limit = 50, as_json: AsJson = False
) -> None:
    """Clocks past their due instant and not met, earliest due first."""
    session = _session(ctx)
    when = _instant(at)
    alerts = session.desk(existing=True).breaches(at=when, limit=limit)
    if as_json:
        _emit_json([alert.model_dump(mode="json") for alert in alerts])
        return
    _console().print(
        _alerts_table(alerts, when, session.zone, title="Breached SLA clocks", limit=limit)
    )


@sla_app.command("at-risk")
@_guarded
def sla_at_risk(
    ctx: typer.Context, *, at: At = None, limit: Limit = 50, as_json: AsJson = False
) -> None:
    """Running clocks in their warning window (not yet due), earliest due first."""
    session = _session(ctx)
    when = _instant(at)
    alerts = session.desk(existing=True).at_risk(at=when, limit=limit)
    if as_json:
        _emit_json([alert.model_dump(mode="json") for alert in alerts])
        return
    _console().print(
        _alerts_table(alerts, when, session.zone, title="SLA clocks at risk", limit=limit)
    )


def _alerts_table(
    alerts: Sequence[SlaAlert],
    when: datetime,
    zone: tzinfo | None,
    *,
    title: str,
    limit: int | None = None,
    total: int | None = None,
) -> Group:
    """A heading (how many, as of when) over a table of the alerts, earliest due first."""
    count = len(alerts) if total is None else total
    shown = f"{count}" if count == len(alerts) else f"{count} (the first {len(alerts)} shown)"
    more = (
        " (the first; raise --limit for more)" if limit is not None and len(alerts) >= limit else ""
    )
    heading = Text(f"{title} as of {_when(when, zone)}: {shown}{more}", style="italic")
    if not alerts:
        return Group(heading)
    policies = sorted({f"{alert.policy} v{alert.policy_version}" for alert in alerts})
    table = Table(caption=f"policy {policies[0]}" if len(policies) == 1 else None)
    table.caption_justify = "left"
    table.add_column("ticket", no_wrap=True)
    table.add_column("clock")
    table.add_column(f"due ({_zone_label(zone, when)})")
    table.add_column("")
    table.add_column("priority")
    table.add_column("team / agent")
    if len(policies) > 1:
        table.add_column("policy")
    for alert in alerts:
        note = _relative(alert.due, when)
        if alert.is_paused:
            note.append(" · waiting on customer", style="dim")
        cells: list[str | Text] = [
            Text(alert.ticket_code, style="bold"),
            _CLOCK_LABEL[alert.clock],
            _stamp(alert.due, zone),
            note,
            _priority_text(alert.priority),
            f"{alert.team or '—'} / {alert.agent or '—'}",
        ]
        if len(policies) > 1:
            cells.append(f"{alert.policy} v{alert.policy_version}")
        table.add_row(*cells)
    return Group(heading, table)


@sla_app.command("run-due")
@_guarded
def sla_run_due(ctx: typer.Context, *, at: At = None, as_json: AsJson = False) -> None:
    """Record the deemed acceptances and follow-ups whose moment has come, as system."""
    session = _session(ctx)
    when = _instant(at)
    actions = session.desk(existing=True).run_due(at=when)
    if as_json:
        _emit_json([action.model_dump(mode="json") for action in actions])
        return
    if not actions:
        _say(f"Nothing was due as of {_when(when, session.zone)}.")
        return
    events = f"{len(actions)} time-based event{'s' if len(actions) != 1 else ''}"
    _say(f"Recorded {events} as of {_when(when, session.zone)}:")
    _console().print(_due_table(actions, when, session.zone))


_DUE_LABEL = {"deemed_acceptance": "deemed acceptance", "follow_up_due": "follow-up due"}


def _due_table(actions: Sequence[DueAction], when: datetime, zone: tzinfo | None) -> Table:
    table = Table()
    table.add_column("ticket", no_wrap=True)
    table.add_column("event")
    table.add_column(f"came due ({_zone_label(zone, when)})", no_wrap=True)
    for action in actions:
        table.add_row(
            Text(action.ticket_code, style="bold"),
            _DUE_LABEL.get(action.action, action.action),
            _stamp(action.occurred_at, zone),
        )
    return table


# -- projections ---------------------------------------------------------------------------

projections_app = typer.Typer(
    help=(
        "Read models folded from the log: their status, a rebuild from the log, and a "
        "follower process that keeps them up to date."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(projections_app, name="projections")

#: ``--db``/``--schema`` on the projection commands themselves, for the
#: ``python -m servflow.projections follow --db ...`` form; under ``servflow`` the global
#: options give them.
LocalDb = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file or postgresql:// DSN (default: the global --db, or $SERVFLOW_DB).",
        show_default=False,
    ),
]
LocalSchema = Annotated[
    str | None,
    typer.Option(
        "--schema",
        help="PostgreSQL schema (default: the global --schema, or $SERVFLOW_SCHEMA).",
        show_default=False,
    ),
]
Names = Annotated[
    list[str] | None,
    typer.Option("--name", help="Only this projection (repeat for several; default: all)."),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def _projections_desk(
    ctx: typer.Context, db: str | None, schema: str | None, *, existing: bool
) -> ServiceDesk:
    """A desk whose projections only this command moves (no catch-up on opening).

    On the command's own ``--db``, else the global one, else ``$SERVFLOW_DB``.
    """
    root = ctx.find_root().obj
    if isinstance(root, _Session):
        db = db or root.db
        schema = schema or root.schema
    db = db or os.environ.get("SERVFLOW_DB") or _DEFAULT_DB
    schema = schema or os.environ.get("SERVFLOW_SCHEMA")
    desk = _open_desk(db, existing=existing, schema=schema, projections="external")
    ctx.call_on_close(desk.close)
    return desk


def _check_names(desk: ServiceDesk, names: Sequence[str] | None) -> list[str] | None:
    """The projections named, refused when one is unknown; ``None`` for all."""
    if not names:
        return None
    known = [status.name for status in desk.projection_status()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        msg = (
            f"unknown projection{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(this store has: {', '.join(known)})"
        )
        raise ValidationFailedError(msg, errors=(("--name", "unknown projection"),))
    return list(dict.fromkeys(names))


def _status_rows(statuses: Sequence[ProjectionStatus]) -> list[dict[str, object]]:
    return [
        {
            "name": status.name,
            "version": status.version,
            "position": status.position,
            "head": status.head,
            "lag": status.lag,
        }
        for status in statuses
    ]


@projections_app.command("status")
@_guarded
def projections_status(
    ctx: typer.Context,
    *,
    name: Names = None,
    db: LocalDb = None,
    schema: LocalSchema = None,
    as_json: AsJson = False,
) -> None:
    """Each projection's version and position against the head of the log, and its lag."""
    desk = _projections_desk(ctx, db, schema, existing=True)
    wanted = _check_names(desk, name)
    statuses = [s for s in desk.projection_status() if wanted is None or s.name in wanted]
    if as_json:
        _emit_json(_status_rows(statuses))
        return
    table = Table(title="Projections", title_justify="left")
    table.add_column("name")
    for column in ("version", "position", "head", "lag"):
        table.add_column(column, justify="right")
    for status in statuses:
        lag = Text(f"{status.lag:,}", style="green" if status.lag == 0 else "bold yellow")
        table.add_row(
            status.name, str(status.version), f"{status.position:,}", f"{status.head:,}", lag
        )
    _console().print(table)


@projections_app.command("rebuild")
@_guarded
def projections_rebuild(
    ctx: typer.Context,
    *,
    name: Names = None,
    db: LocalDb = None,
    schema: LocalSchema = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Drop projections' tables and replay the whole log into them (all by default)."""
    desk = _projections_desk(ctx, db, schema, existing=True)
    names = _check_names(desk, name)
    chosen = names or [status.name for status in desk.projection_status()]
    began = time.perf_counter()
    if quiet or as_json:
        events = desk.rebuild_projections(names)
    else:
        events = _rebuild_with_progress(desk, names, ", ".join(chosen))
    seconds = time.perf_counter() - began
    if as_json:
        _emit_json({"projections": chosen, "events": events, "seconds": round(seconds, 3)})
        return
    rate = f", {events / seconds:,.0f} events/s" if seconds > 0 and events else ""
    _say(f"Rebuilt {', '.join(chosen)} from {events:,} events in {seconds:.1f} s{rate}.")


def _rebuild_with_progress(desk: ServiceDesk, names: list[str] | None, label: str) -> int:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"Rebuilding {label}", total=None, rate="")

        def tick(progress: ProjectionProgress) -> None:
            bar.update(
                task,
                completed=progress.done,
                total=progress.total,
                rate=f"{progress.rate:,.0f} events/s",
            )

        return desk.rebuild_projections(names, progress=tick)


@projections_app.command("follow")
@_guarded
def projections_follow(
    ctx: typer.Context,
    *,
    poll: Annotated[
        float,
        typer.Option(
            help="Seconds between looks at the log (PostgreSQL also wakes on NOTIFY).",
            min=0.01,
            max=3600,
        ),
    ] = 0.5,
    db: LocalDb = None,
    schema: LocalSchema = None,
    quiet: Quiet = False,
) -> None:
    """Keep the projections up to date until Ctrl-C or SIGTERM (then exit 0).

    Catches up first, then applies new events as they are recorded. Stopped and restarted, it
    resumes from the positions it recorded: nothing is lost or applied twice.
    """
    desk = _projections_desk(ctx, db, schema, existing=False)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    def report(progress: ProjectionProgress) -> None:
        _note(
            f"applied {progress.done:,}/{progress.total:,} events, position "
            f"{progress.position:,} of {progress.head:,}, {progress.rate:,.0f} events/s"
        )

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not quiet:
            _note(f"following the log; stop with Ctrl-C (polling every {poll:g} s)")
        desk.follow(stop, poll_interval=poll, progress=None if quiet else report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not quiet:
        head = max((status.position for status in desk.projection_status()), default=0)
        _note(f"stopped at position {head:,}")


def _note(message: str) -> None:
    """A progress line for a long-running process, on stderr (flushed: logs see it at once)."""
    print(message, file=sys.stderr, flush=True)  # noqa: T201 - a command-line log line


def run_projections(argv: Sequence[str] | None = None) -> int:
    """Run the projection commands as ``python -m servflow.projections``; return the exit code."""
    try:
        projections_app(
            args=list(argv) if argv is not None else None,
            prog_name="python -m servflow.projections",
        )
    except SystemExit as stopped:
        code = stopped.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0  # pragma: no cover - a Typer app always ends with SystemExit


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
    with ServiceDesk.sqlite(
        str(target), clock=clock, projections="external", sla=demo_policy()
    ) as desk:
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
        return simulate(desk, clock=clock, requests=requests, seed=seed)
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
            if done == total:
                bar.update(task, what="Updating the projections and measuring the SLAs")

        return simulate(desk, clock=clock, requests=requests, seed=seed, progress=tick)


#: Rows of the breached and at-risk tables the demo prints (the totals say how many in all).
_DEMO_ALERT_ROWS = 15


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
    end = summary.ended_at
    policy = _policy_of(desk)
    console.print(Rule("[bold]servflow demo[/]: a simulated service desk"))
    console.print(
        f"Simulated {summary.requests} requests ({summary.events:,} events) from "
        f"{_when(summary.started_at, shown)} to {_when(end, shown)} "
        f"into [bold]{path}[/] in {elapsed:.1f} s.",
        soft_wrap=True,
    )
    console.print(Text(f"SLA policy: {_describe_policy(policy)}"), soft_wrap=True)
    due = [
        f"{count} {what}"
        for count, what in (
            (summary.deemed_acceptances, "deemed acceptances"),
            (summary.follow_ups_due, "follow-ups due"),
        )
        if count
    ]
    if due:
        console.print(
            Text(
                f"At the end, system recorded {' and '.join(due)} (as servflow sla run-due "
                "does), dated when they came due."
            ),
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
    breaches = desk.breaches(at=end)
    at_risk = desk.at_risk(at=end)
    console.print(Rule(f"SLA clocks at the end ({_when(end, shown)})"))
    for title, alerts in (("Breached", breaches), ("At risk", at_risk)):
        if alerts:
            console.print(
                _alerts_table(alerts[:_DEMO_ALERT_ROWS], end, shown, title=title, total=len(alerts))
            )
        else:
            console.print(Text(f"{title}: none.", style="dim"))
    console.print(Rule("Summary"))
    console.print(Columns([_status_table(summary), _kind_table(summary), _figures(summary)]))
    console.print(Columns([_sla_outcomes_table(summary), _policy_table(policy)]))
    if summary.featured:
        console.print(Rule(f"The story of {summary.featured}: transferred, then reopened"))
        console.print(_request_view(desk.get(summary.featured), shown))
        history = desk.history(summary.featured)
        console.print(_history_table(history, shown, width=console.width))
    console.print(Rule("Try next"))
    example = breaches[0].ticket_code if breaches else summary.featured
    for line in _try_next(desk, summary, path, sla_example=example):
        console.print(Text(f"  {line}", style="bold"), soft_wrap=True)


def _policy_of(desk: ServiceDesk) -> SlaPolicy:
    """The newest SLA policy the store adopted (the built-in standard if none)."""
    adopted = desk.policies()
    return adopted[-1].policy if adopted else DEFAULT_POLICY


def _describe_policy(policy: SlaPolicy) -> str:
    calendar = policy.calendar
    holidays = ", ".join(f"{day:%d %b %Y}" for day in sorted(calendar.holidays))
    closed = f", closed on {holidays}" if holidays else ""
    return (
        f"{policy.name} v{policy.version}: business time {_opening_hours(policy)} "
        f"({calendar.timezone}){closed}; targets by priority and customer tier; clocks warn at "
        f"{policy.warn_at:.0%} of their target."
    )


def _opening_hours(policy: SlaPolicy) -> str:
    """A calendar's week in few words: ``Mon-Fri 09:00-14:00, 15:00-18:00``."""
    week = {
        day: ", ".join(
            f"{start:%H:%M}-{'24:00' if end == dt_time(0) else f'{end:%H:%M}'}"
            for start, end in spans
        )
        for day, spans in policy.calendar.hours
        if spans
    }
    if not week:
        return "never"
    days = list(week)
    names = [day.value.capitalize() for day in days]
    order = list(Weekday)
    indexes = [order.index(day) for day in days]
    if len(set(week.values())) == 1:
        consecutive = indexes == list(range(indexes[0], indexes[0] + len(indexes)))
        span = f"{names[0]}-{names[-1]}" if consecutive and len(names) > 1 else ", ".join(names)
        return f"{span} {next(iter(week.values()))}"
    return "; ".join(f"{name} {hours}" for name, hours in zip(names, week.values(), strict=True))


def _sla_outcomes_table(summary: DemoSummary) -> Table:
    states = [
        state for state in ClockState if any(summary.sla[c][state.value] for c in summary.sla)
    ]
    table = Table(title=f"SLA clocks at the end ({summary.sla_policy})", title_justify="left")
    table.add_column("clock")
    for state in states:
        table.add_column(_state_text(state), justify="right")
    for name, counts in summary.sla.items():
        table.add_row(_CLOCK_LABEL.get(name, name), *(str(counts[s.value] or "·") for s in states))
    return table


def _policy_table(policy: SlaPolicy) -> Table:
    table = Table(title="SLA targets (business time)", title_justify="left")
    table.add_column("rule")
    table.add_column("applies to")
    table.add_column("first response", justify="right")
    table.add_column("resolution", justify="right")
    for rule in (*policy.rules, policy.default):
        table.add_row(
            rule.name or "—",
            _rule_scope(rule) if rule is not policy.default else "anything else",
            _business(rule.first_response),
            _business(rule.resolution),
        )
    return table


def _rule_scope(rule: SlaRule) -> str:
    parts = [
        f"{label} {value}"
        for label, value in (("tier", rule.tier), ("priority", rule.priority), ("kind", rule.kind))
        if value is not None
    ]
    return ", ".join(parts) or "any request"


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
        ("SLA breached at the end", str(summary.breached)),
        ("SLA at risk at the end", str(summary.at_risk)),
        ("deemed acceptances", str(summary.deemed_acceptances)),
        ("by stage", ", ".join(f"{k} {v}" for k, v in summary.by_stage.items())),
        ("by tier", ", ".join(f"{k} {v}" for k, v in summary.by_tier.items())),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table


def _try_next(
    desk: ServiceDesk, summary: DemoSummary, path: str, *, sla_example: str | None
) -> list[str]:
    base = f"servflow --db {shlex.quote(path)}"
    end = f"--at {summary.ended_at.isoformat()}"
    lines = [f"{base} queue {end}", f"{base} queue waiting_on_customer {end}"]
    lines += [f"{base} sla breaches {end}", f"{base} sla at-risk {end}"]
    if sla_example:
        lines.append(f"{base} sla {sla_example} {end} --timeline")
    if summary.featured:
        lines += [
            f"{base} request show {summary.featured}",
            f"{base} request history {summary.featured}",
        ]
    lines.append(f"{base} audit verify")
    examples = summary.examples
    if fresh := examples.get(Status.NEW.value):
        lines.append(f"{base} request classify {fresh} --priority high")
    if done := examples.get(Status.COMPLETED.value):
        customer = desk.get(done).customer.id
        lines.append(f"{base} --actor customer:{customer} request accept {done} --satisfaction 5")
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
