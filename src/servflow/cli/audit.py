"""``servflow audit ...``: the auditors' commands — replay, time travel, verify, export.

Mounted on the main command line (``servflow audit ...``), so it takes the same global options
(``--db``, ``--tz``) and each command takes ``--json``; run on its own (``audit_app``), it opens
the store the environment names, as the main command line would. Exit codes scripts can rely
on: ``0`` success (for ``verify``: the log is intact), ``1`` the log was tampered with
(``verify``) or servflow refused the command (one line on stderr,
``error[<code>]: <message>``), ``2`` a usage error (unknown option, unreadable head file).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, get_args
from uuid import UUID

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from servflow.cli._common import (
    Agent,
    AsJson,
    AsOf,
    CustomerId,
    Offset,
    Priorities,
    Team,
    Ticket,
    console,
    emit_json,
    guarded,
    session,
)
from servflow.cli.render import brief, events_progress, local_time, stamp, zone_label
from servflow.domain.choices import ExportFormat, SpecialQueue
from servflow.domain.lifecycle import Status
from servflow.errors import ServflowError

if TYPE_CHECKING:
    from servflow.desk import ServiceDesk
    from servflow.domain.history import HistoryEntry
    from servflow.persistence.chain import Head, VerifyReport
    from servflow.projections.audit import AuditRow

__all__ = ["audit_app", "export"]

#: Below this many events a verify takes about a second: no progress bar.
_PROGRESS_FROM = 20_000
#: The date-times the refusals show as examples: the audit how-to's.
_EXAMPLES = ("2026-03-02T10:00+01:00",)

audit_app = typer.Typer(
    help="For auditors: replay a request's history, see the past, verify the log, export it.",
    no_args_is_help=True,
)


def _desk(ctx: typer.Context) -> ServiceDesk:
    """The store to audit, which must exist: auditing never creates one."""
    return session(ctx).desk(existing=True)


def _instant(ctx: typer.Context, value: str | None, option: str) -> datetime | None:
    """``--since``, ``--until`` or ``--at`` as an aware datetime (without an offset, in --tz)."""
    return session(ctx).when(value, option, examples=_EXAMPLES)


# -- reusable option types -----------------------------------------------------------------

Actor = Annotated[
    str | None, typer.Option("--actor", help="Only events recorded by this actor (agent:ana).")
]
EventType = Annotated[
    list[str] | None,
    typer.Option("--type", help="Only events of this type, e.g. Reopened (repeat for several)."),
]
Since = Annotated[
    str | None,
    typer.Option(
        metavar="ISO-8601",
        help="From this instant (inclusive); a date or a time without a UTC offset is in --tz.",
        show_default=False,
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        metavar="ISO-8601",
        help="Up to this instant (exclusive); a date or a time without a UTC offset is in --tz.",
        show_default=False,
    ),
]


class TimeBasisChoice(StrEnum):
    """Which of an event's times ``--since``/``--until`` bound."""

    OCCURRED = "occurred"
    RECORDED = "recorded"


By = Annotated[
    TimeBasisChoice,
    typer.Option("--by", help="Bound when events occurred, or when they were recorded."),
]


# -- history and the global log ------------------------------------------------------------


@audit_app.command("history")
@guarded
def history(ctx: typer.Context, ticket: Ticket, *, as_json: AsJson = False) -> None:
    """Replay every event of a request: log position, version, times, actor, what changed."""
    entries = _desk(ctx).history(ticket)
    if as_json:
        emit_json([entry.model_dump(mode="json") for entry in entries])
        return
    console().print(_history_table(entries, session(ctx).zone))


def _history_table(entries: Sequence[HistoryEntry], zone: tzinfo | None) -> Table:
    """Events as rows; the time recorded shows under the time it happened when they differ."""
    code = entries[0].ticket_code if entries else ""
    label = zone_label(zone, entries[0].occurred_at if entries else None)
    table = Table(title=f"History of {code} (times in {label})", title_justify="left")
    table.add_column("pos", justify="right", no_wrap=True, min_width=3)
    table.add_column("v", justify="right", no_wrap=True, min_width=1)
    table.add_column(f"occurred ({label})", no_wrap=True, min_width=19)
    table.add_column("actor", overflow="fold", max_width=16)
    table.add_column("event", overflow="fold", max_width=18)
    table.add_column("changes", min_width=16, ratio=1)
    for entry in entries:
        occurred = stamp(entry.occurred_at, zone, seconds=True)
        recorded = stamp(entry.recorded_at, zone, seconds=True)
        when = Text(occurred)
        if recorded != occurred:
            when.append(f"\nrec. {recorded}", style="dim")
        changes = "\n".join(
            f"{change.field}: {brief(change.before, 40)} → {brief(change.after, 40)}"
            for change in entry.changes
            if entry.event_type != "Opened"
        )
        table.add_row(
            str(entry.position),
            str(entry.version),
            when,
            entry.actor,
            Text(entry.event_type, style="bold"),
            changes or brief(entry.data.get("symptom"), 60),
        )
    return table


@audit_app.command("log")
@guarded
def log(  # noqa: PLR0913 - one option per criterion
    ctx: typer.Context,
    *,
    actor: Actor = None,
    request: Annotated[
        str | None, typer.Option("--request", help="Only this request (ticket code or id).")
    ] = None,
    event_type: EventType = None,
    customer: CustomerId = None,
    since: Since = None,
    until: Until = None,
    by: By = TimeBasisChoice.OCCURRED,
    limit: Annotated[int, typer.Option(help="Rows per page.", min=1, max=10_000)] = 50,
    after: Annotated[
        int, typer.Option(help="Start after this log position (the next page's --after).", min=0)
    ] = 0,
    as_json: AsJson = False,
) -> None:
    """The global audit log: every request's events in log order, filtered and paged."""
    page = _desk(ctx).audit_log(
        actor=actor,
        request=request,
        event_type=event_type,
        customer=customer,
        since=_instant(ctx, since, "--since"),
        until=_instant(ctx, until, "--until"),
        by=by.value,
        limit=limit,
        after_position=after,
    )
    if as_json:
        emit_json(
            {
                "rows": [row.model_dump(mode="json") for row in page.rows],
                "next_after_position": page.next_after_position,
            }
        )
        return
    shown = console()
    shown.print(_log_table(page.rows, session(ctx).zone))
    if page.next_after_position is not None:
        shown.print(Text(f"More: add --after {page.next_after_position}", style="dim"))


def _log_table(rows: Sequence[AuditRow], zone: tzinfo | None) -> Table:
    """Events as rows (the time each was recorded is in ``--json`` and exports)."""
    label = zone_label(zone, rows[0].occurred_at if rows else None)
    table = Table(title=f"Audit log ({len(rows)} events)", title_justify="left")
    table.add_column("pos", justify="right", no_wrap=True, min_width=3)
    table.add_column("ticket", no_wrap=True, min_width=9)
    table.add_column("v", justify="right", no_wrap=True, min_width=1)
    table.add_column("event", overflow="fold", min_width=8)
    table.add_column(f"occurred ({label})", no_wrap=True, min_width=19)
    table.add_column("actor", overflow="fold", min_width=8)
    table.add_column("customer", overflow="fold", min_width=8)
    for row in rows:
        table.add_row(
            str(row.position),
            row.ticket_code or "—",
            str(row.version),
            Text(row.event_type, style="bold"),
            stamp(row.occurred_at, zone, seconds=True),
            row.actor,
            row.customer_id or "—",
        )
    return table


# -- time travel ---------------------------------------------------------------------------


@audit_app.command("as-of")
@guarded
def as_of(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    at: AsOf = None,
    version: Annotated[
        int | None, typer.Option(help="The request as of this version instead.", min=1)
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show a request as it stood at a past instant (or version), replayed from the log."""
    if (at is None) == (version is None):
        msg = "give exactly one of --at and --version"
        raise typer.BadParameter(msg, param_hint="'--at' / '--version'")
    moment = _instant(ctx, at, "--at")
    request = _desk(ctx).get(ticket, as_of=moment, version=version)
    if as_json:
        emit_json(request.model_dump(mode="json"))
        return
    zone = session(ctx).zone
    label = zone_label(zone, moment or request.updated_at)
    when = f"as of {local_time(moment, zone)}" if moment is not None else f"at version {version}"
    table = Table(title=f"{request.ticket_code} {when}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in (
        ("version", str(request.version)),
        ("status", request.status.value),
        ("customer", request.customer.id),
        ("kind", request.kind.value),
        ("priority", request.priority.value if request.priority else "—"),
        ("team", request.team or "—"),
        ("agent", request.agent or "—"),
        ("probes", str(len(request.probes))),
        ("actions", str(len(request.actions))),
        ("outcome", request.outcome.value if request.outcome else "—"),
        ("non-conformities", str(len(request.nonconformities))),
        (f"opened ({label})", stamp(request.opened_at, zone, seconds=True)),
        (f"last event ({label})", stamp(request.updated_at, zone, seconds=True)),
    ):
        table.add_row(name, value)
    console().print(table)


@audit_app.command("queue")
@guarded
def queue(  # noqa: PLR0913 - one option per filter, and the page
    ctx: typer.Context,
    *,
    at: Annotated[
        str, typer.Option(metavar="ISO-8601", help="The instant to look at.", show_default=False)
    ],
    special: Annotated[SpecialQueue | None, typer.Option(help="A named queue.")] = None,
    team: Team = None,
    agent: Agent = None,
    status: Annotated[
        list[Status] | None, typer.Option(help="Only these statuses (repeat for several).")
    ] = None,
    priority: Priorities = None,
    customer: CustomerId = None,
    limit: Annotated[int, typer.Option(help="Rows to show.", min=1, max=10_000)] = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """A work queue as it stood at a past instant, folded from the log."""
    when = _instant(ctx, at, "--at")
    assert when is not None  # noqa: S101 - --at is required
    page = _desk(ctx).queue_as_of(
        when,
        special,
        team=team,
        agent=agent,
        status=status or (),
        priority=priority or (),
        customer=customer,
        limit=limit,
        offset=offset,
    )
    if as_json:
        emit_json(
            {
                "at": when.isoformat(),
                "total": page.total,
                "rows": page.model_dump(mode="json")["rows"],
                "next_offset": page.next_offset,
            }
        )
        return
    zone = session(ctx).zone
    label = zone_label(zone, when)
    table = Table(
        title=f"Queue as of {local_time(when, zone)} ({page.total} requests; times in {label})",
        title_justify="left",
    )
    for name in ("ticket", "status", "priority", "team", "agent", "customer", "opened", "due"):
        table.add_column(name)
    for row in page.rows:
        table.add_row(
            row.ticket_code,
            row.status.value,
            row.priority.value if row.priority else "—",
            row.team or "—",
            row.agent or "—",
            row.customer_id,
            stamp(row.opened_at, zone, seconds=True),
            stamp(row.resolution_due, zone, seconds=True),
        )
    shown = console()
    shown.print(table)
    if page.next_offset is not None:
        shown.print(Text(f"More: add --offset {page.next_offset}", style="dim"))


# -- verify --------------------------------------------------------------------------------


def _read_head(path: Path) -> Head:
    from pydantic import ValidationError  # noqa: PLC0415 - with a head file only

    from servflow.persistence.chain import Head  # noqa: PLC0415

    try:
        return Head.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a head saved by servflow"
        msg = f"cannot read the head {path}: {reason}"
        raise typer.BadParameter(msg, param_hint="'--head'") from None


@audit_app.command("verify")
@guarded
def verify(
    ctx: typer.Context,
    *,
    head: Annotated[
        Path | None,
        typer.Option(
            "--head",
            help="A head saved earlier (--save-head): also detect that the newest events went.",
            dir_okay=False,
        ),
    ] = None,
    save_head: Annotated[
        Path | None,
        typer.Option(
            "--save-head",
            help="If intact, write the log's head here, to keep elsewhere.",
            dir_okay=False,
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Recompute the hash chain over the whole log: exit 0 if intact, 1 if tampered with."""
    expected = _read_head(head) if head is not None else None
    desk = _desk(ctx)
    report = _verify_with_progress(desk, expected, show=not as_json)
    if report.intact and report.head is not None and save_head is not None:
        save_head.write_text(report.head.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        console().print(_verify_panel(desk, report, saved=save_head if report.intact else None))
    if not report.intact:
        raise typer.Exit(1)


def _verify_with_progress(desk: ServiceDesk, expected: Head | None, *, show: bool) -> VerifyReport:
    known = desk.audit_head()
    total = known.events if known is not None else 0
    if not show or total < _PROGRESS_FROM:
        return desk.verify(expected=expected)
    with events_progress() as bar:
        task = bar.add_task("Verifying", total=total)
        return desk.verify(
            expected=expected, progress=lambda done: bar.update(task, completed=done)
        )


def _verify_panel(  # noqa: C901 - the first break's fields, then every break
    desk: ServiceDesk, report: VerifyReport, *, saved: Path | None
) -> Panel:
    if report.intact:
        lines = [f"{report.events_checked:,} events checked; the stored log is intact."]
        if report.head is not None:
            lines.append(f"Head: position {report.head.position}, digest {report.head.log_digest}")
        if saved is not None:
            lines.append(f"Head saved to {saved}: keep it outside this store.")
        return Panel("\n".join(lines), title="✔ intact", border_style="green")
    tickets: dict[UUID, str] = {}

    def ticket(request_id: UUID) -> str:
        if request_id not in tickets:
            tickets[request_id] = _ticket_of(desk, request_id)
        return tickets[request_id]

    lines = [report.problem or "the log was tampered with"]
    if report.request_id is not None:
        lines.append(f"Request: {ticket(report.request_id)} ({report.request_id})")
    if report.version is not None:
        lines.append(f"Version: {report.version}")
    if report.position is not None:
        lines.append(f"Log position: {report.position}")
    lines.append(f"{report.events_checked:,} events checked before the break.")
    found = len(report.breaks) + report.more_breaks
    lines.append(
        f"{found:,} break{'s' if found != 1 else ''} in all, in {report.events_read:,} events read:"
    )
    for number, place in enumerate(report.breaks, start=1):
        where = [f"position {place.position}"]
        if place.request_id is not None:
            where.append(f"{ticket(place.request_id)} ({place.request_id})")
        if place.version is not None:
            where.append(f"v{place.version}")
        lines.append(f"{number}. [{place.kind}] {', '.join(where)}: {place.problem}")
    if report.more_breaks:
        lines.append(f"... and {report.more_breaks:,} more (the first {len(report.breaks)} shown)")
    # As text, not markup: a break's kind is written in brackets.
    return Panel(Text("\n".join(lines)), title="✘ TAMPERED", border_style="bold red")


def _ticket_of(desk: ServiceDesk, request_id: UUID) -> str:
    """The ticket code as the audit view recorded it (the stored event itself may be broken)."""
    with contextlib.suppress(ServflowError):
        rows = desk.audit_log(request=request_id, limit=1).rows
        if rows and rows[0].ticket_code:
            return rows[0].ticket_code
    return "unknown ticket"


# -- export --------------------------------------------------------------------------------


@audit_app.command("export")
@guarded
def export(  # noqa: PLR0913 - one option per criterion
    ctx: typer.Context,
    *,
    export_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl (JSON Lines), csv, or for process-mining tools xes or ocel (OCEL 2.0).",
            metavar="jsonl|csv|xes|ocel",
        ),
    ] = "jsonl",
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write, or - for standard output.")
    ] = "-",
    request: Annotated[
        str | None,
        typer.Option("--request", help="One request's history (with changes) instead of the log."),
    ] = None,
    actor: Actor = None,
    event_type: EventType = None,
    customer: CustomerId = None,
    since: Since = None,
    until: Until = None,
    by: By = TimeBasisChoice.OCCURRED,
    as_json: AsJson = False,
) -> None:
    """Export a request's history or the global log: JSON Lines, CSV, XES or OCEL (streamed)."""
    if export_format not in get_args(ExportFormat):
        msg = f"{export_format!r} is not jsonl, csv, xes or ocel"
        raise typer.BadParameter(msg, param_hint="'--format'")
    desk = _desk(ctx)
    criteria = {
        "request": request,
        "actor": actor,
        "event_type": event_type,
        "customer": customer,
        "since": _instant(ctx, since, "--since"),
        "until": _instant(ctx, until, "--until"),
        "by": by.value,
    }
    with _open_output(output) as fp:
        written = desk.export(fp, format=export_format, **criteria)  # type: ignore[arg-type]
    target = "standard output" if output == "-" else output
    if as_json:
        summary = {"rows": written, "format": export_format, "output": output}
        typer.echo(json.dumps(summary), err=output == "-")
        return
    noun = "rows" if export_format in {"jsonl", "csv"} else "events"
    Console(stderr=True, highlight=False).print(
        Text(f"Exported {written:,} {noun} as {export_format} to {target}"), soft_wrap=True
    )


@contextlib.contextmanager
def _open_output(output: str) -> Iterator[IO[bytes]]:
    """The export's destination as a binary stream; standard output for ``-``."""
    if output == "-":
        stream = typer.get_binary_stream("stdout")
        yield stream
        stream.flush()
        return
    try:
        fp = Path(output).open("wb")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        msg = f"cannot write {output}: {error.strerror}"
        raise typer.BadParameter(msg, param_hint="'--output'") from None
    with fp:
        yield fp
