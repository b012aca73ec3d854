"""``servflow sla ...``: SLA clocks, one request's or the breached and at-risk ones.

Also ``run-due``, which records the time-based events (deemed acceptances, follow-ups due)
whose moment has come. ``servflow sla TICKET`` is short for ``servflow sla show TICKET``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from servflow.cli._common import (
    AsJson,
    At,
    Limit,
    Ticket,
    console,
    emit_json,
    guarded,
    say,
    session,
)
from servflow.cli.automation import load_rules, report_firings
from servflow.cli.render import (
    CLOCK_LABEL,
    STATE_STYLE,
    business,
    local_time,
    relative,
    stamp,
    state_text,
    zone_label,
)
from servflow.cli.tables import alerts_table
from servflow.domain.choices import ClockState

if TYPE_CHECKING:
    from servflow.domain.clocks import Clock, SlaStatus, TimelineEntry
    from servflow.domain.sla import DueAction

__all__ = ["sla_app"]


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


@sla_app.command("show")
@guarded
def sla_show(
    ctx: typer.Context,
    ticket: Ticket,
    *,
    at: At = None,
    known_at: Annotated[
        str | None,
        typer.Option(
            "--known-at",
            metavar="ISO-8601",
            help=(
                "Answer with what the desk had recorded by this instant (default: "
                "everything; reproduces what was reported before a correction); without a UTC "
                "offset, in --tz."
            ),
            show_default=False,
        ),
    ] = None,
    timeline: Annotated[
        bool, typer.Option("--timeline", help="Also explain how each clock got there.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """A request's SLA clocks: state, target, due, elapsed, remaining, paused, policy.

    The update clock is shown too where the rule sets an update target.
    """
    current = session(ctx)
    when = current.instant(at)
    desk = current.desk(existing=True)
    known = None if known_at is None else current.instant(known_at, "--known-at")
    status = desk.sla(ticket, at=when, known_at=known)
    entries = desk.sla_timeline(ticket, until=when, known_at=known) if timeline else None
    if as_json:
        data = status.model_dump(mode="json")
        if entries is not None:
            data["timeline"] = [entry.model_dump(mode="json") for entry in entries]
        emit_json(data)
        return
    shown = console()
    shown.print(_clocks_table(status, current.zone))
    if entries is not None:
        shown.print(_timeline_table(status.ticket_code, entries, current.zone))


def _clocks_table(status: SlaStatus, zone: tzinfo | None) -> Table:
    first = status.first_response
    rule = f", rule {first.rule}" if first.rule else ""
    table = Table(
        title=f"SLA of {status.ticket_code} as of {local_time(status.at, zone)}",
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
    table.add_column(f"due ({zone_label(zone, status.at)})")
    table.add_column("note")
    table.add_column("elapsed", justify="right")
    table.add_column("remaining", justify="right")
    table.add_column("paused", justify="right")
    for clock in status.clocks:
        remaining = Text(
            business(clock.remaining), style="red" if clock.remaining.total_seconds() < 0 else ""
        )
        table.add_row(
            CLOCK_LABEL[clock.name],
            state_text(clock.state),
            business(clock.target),
            stamp(clock.due, zone) if clock.due else "—",
            _clock_note(clock, status.at, zone),
            business(clock.elapsed),
            remaining,
            business(clock.paused) if clock.paused else "—",
        )
    return table


def _clock_note(clock: Clock, at: datetime, zone: tzinfo | None) -> Text:
    """When the clock was met, or why it shows no due instant, or how far that is.

    The update clock also says which cycle it is in and how many breached.
    """
    if clock.met_at is not None:
        note = Text(f"met {stamp(clock.met_at, zone)}", style="dim")
    elif clock.state is ClockState.CANCELLED:
        note = Text("stopped", style="dim")
    elif clock.state is ClockState.NOT_STARTED:
        note = Text("starts at the first response", style="dim")
    elif clock.due is None:
        note = Text("paused: due once it resumes", style="dim")
    else:
        note = relative(clock.due, at)
    from servflow.domain.clocks import UpdateClock  # noqa: PLC0415 - the engine's model

    if isinstance(clock, UpdateClock) and clock.cycle:
        breached = clock.breached_cycles
        note.append(
            f" (cycle {clock.cycle}; {breached} breached)",
            style="red" if breached else "dim",
        )
    return note


def _timeline_table(code: str, entries: Sequence[TimelineEntry], zone: tzinfo | None) -> Table:
    label = zone_label(zone, entries[0].at if entries else None)
    table = Table(title=f"SLA timeline of {code} (times in {label})", title_justify="left")
    table.add_column("when", no_wrap=True)
    table.add_column("clock", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("cause", no_wrap=True)
    table.add_column("explanation")
    for entry in entries:
        table.add_row(
            stamp(entry.at, zone),
            CLOCK_LABEL[entry.clock],
            Text(entry.kind.value.replace("_", " "), style=STATE_STYLE[entry.state]),
            entry.cause,
            entry.message,
        )
    return table


IncludeImported = Annotated[
    bool,
    typer.Option(
        "--include-imported", help="Also list requests holding imported history (servflow import)."
    ),
]


@sla_app.command("breaches")
@guarded
def sla_breaches(
    ctx: typer.Context,
    *,
    at: At = None,
    limit: Limit = 50,
    include_imported: IncludeImported = False,
    as_json: AsJson = False,
) -> None:
    """Clocks past their due instant and not met, earliest due first."""
    _alerts(ctx, at, limit, as_json=as_json, breached=True, imported=include_imported)


@sla_app.command("at-risk")
@guarded
def sla_at_risk(
    ctx: typer.Context,
    *,
    at: At = None,
    limit: Limit = 50,
    include_imported: IncludeImported = False,
    as_json: AsJson = False,
) -> None:
    """Running clocks in their warning window (not yet due), earliest due first."""
    _alerts(ctx, at, limit, as_json=as_json, breached=False, imported=include_imported)


def _alerts(
    ctx: typer.Context,
    at: str | None,
    limit: int,
    *,
    as_json: bool,
    breached: bool,
    imported: bool,
) -> None:
    """The breached clocks, or those at risk, as ``--json`` or a table under a heading."""
    current = session(ctx)
    when = current.instant(at)
    desk = current.desk(existing=True)
    listing = desk.breaches if breached else desk.at_risk
    alerts = listing(at=when, limit=limit, include_imported=imported)
    if as_json:
        emit_json([alert.model_dump(mode="json") for alert in alerts])
        return
    title = "Breached SLA clocks" if breached else "SLA clocks at risk"
    console().print(alerts_table(alerts, when, current.zone, title=title, limit=limit))


@sla_app.command("run-due")
@guarded
def sla_run_due(
    ctx: typer.Context,
    *,
    at: At = None,
    rules: Annotated[
        Path | None,
        typer.Option(help="Also run these automation rules (a .toml, .json or .yaml file)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Record the deemed acceptances and follow-ups whose moment has come, as system.

    With --rules, also run the automation rules (each fires once per condition).
    """
    current = session(ctx)
    when = current.instant(at)
    loaded = None if rules is None else load_rules(rules)
    desk = current.desk(existing=True)
    actions = desk.run_due(at=when)
    report = None if loaded is None else desk.automate(loaded, at=when)
    if as_json:
        due = [action.model_dump(mode="json") for action in actions]
        emit_json(due if report is None else {"due": due, "rules": report.model_dump(mode="json")})
        return
    if not actions:
        say(f"Nothing was due as of {local_time(when, current.zone)}.")
    else:
        events = f"{len(actions)} time-based event{'s' if len(actions) != 1 else ''}"
        say(f"Recorded {events} as of {local_time(when, current.zone)}:")
        console().print(_due_table(actions, when, current.zone))
    if report is not None:
        report_firings(report, current.zone)


_DUE_LABEL = {"deemed_acceptance": "deemed acceptance", "follow_up_due": "follow-up due"}


def _due_table(actions: Sequence[DueAction], when: datetime, zone: tzinfo | None) -> Table:
    table = Table()
    table.add_column("ticket", no_wrap=True)
    table.add_column("event")
    table.add_column(f"came due ({zone_label(zone, when)})", no_wrap=True)
    for action in actions:
        table.add_row(
            Text(action.ticket_code, style="bold"),
            _DUE_LABEL.get(action.action, action.action),
            stamp(action.occurred_at, zone),
        )
    return table
