"""``servflow kpis`` and ``servflow nonconformities``: the desk's figures, for people or scripts.

``servflow kpis --since 2026-03-01T00:00Z --until 2026-04-01T00:00Z --group-by team`` prints one
row per team (and the total); ``--json`` prints the whole ``KpiGroups`` (or ``Kpis``) for
scripts. ``servflow nonconformities`` prints the register of non-conformities.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from servflow.cli._common import (
    AsJson,
    At,
    Team,
    console,
    emit_json,
    guarded,
    say,
    session,
)
from servflow.cli.render import local_time, stamp
from servflow.domain.choices import GroupBy, Kind, NonConformityStatus, Severity

if TYPE_CHECKING:
    from servflow.desk.kpis import Kpis

__all__ = ["kpis", "nonconformities"]

Since = Annotated[
    str | None,
    typer.Option(
        metavar="ISO-8601", help="Start of the period (inclusive); without a UTC offset, in --tz."
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        metavar="ISO-8601", help="End of the period (exclusive); without a UTC offset, in --tz."
    ),
]


def _hours(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 3600:.1f} h"


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _row(label: str, figures: Kpis) -> list[str]:
    return [
        label,
        f"{figures.requests:,}",
        f"{figures.completed:,}",
        f"{figures.backlog:,}",
        _share(figures.first_response_compliance),
        _share(figures.sla_compliance),
        _hours(figures.resolution_time),
        _hours(figures.p90_resolution_time),
        _share(figures.reopen_rate),
        "" if figures.mean_satisfaction is None else f"{figures.mean_satisfaction:.2f}",
    ]


@guarded
def kpis(
    ctx: typer.Context,
    *,
    since: Since = None,
    until: Until = None,
    at: At = None,
    team: Team = None,
    kind: Annotated[Kind | None, typer.Option(help="Only requests of this kind.")] = None,
    group_by: Annotated[
        list[GroupBy] | None,
        typer.Option("--group-by", help="Group by team, agent, kind, ..., week or month (repeat)."),
    ] = None,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="Fold every request from the log (exact medians; slower) even where the "
            "KPI view answers.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """KPIs of the requests opened in [--since, --until), as the log stood at --at (or now).

    Now, the KPI view answers groupings by one of team, agent, kind, stage, channel,
    priority or tier (with or without week or month) from stored tallies, its medians
    from bins (within 0.5%); --at, other groupings and --exact fold the log.
    """
    current = session(ctx)
    start, end = current.period(since, until)
    desk = current.desk(existing=True)
    when = None if at is None else current.instant(at)
    grouped = desk.kpis(
        since=start,
        until=end,
        at=when,
        team=team,
        kind=kind,
        group_by=group_by or [],
        exact=exact,
    )
    if as_json:
        emit_json(
            grouped.model_dump(mode="json") if group_by else grouped.total.model_dump(mode="json")
        )
        return
    period = f"{local_time(start, current.zone)} to {local_time(end, current.zone)}"
    table = Table(title=f"KPIs of the requests opened from {period}")
    for column in ("group", "opened", "completed", "backlog", "first response on time",
                   "resolved on time", "resolution (median)", "resolution (p90)", "reopened",
                   "satisfaction"):  # fmt: skip
        table.add_column(column, justify="left" if column == "group" else "right")
    for group in grouped.groups:
        table.add_row(*_row(", ".join(group.key.values()), group.kpis))
    table.add_row(*_row("total", grouped.total), style="bold")
    console().print(table)


@guarded
def nonconformities(
    ctx: typer.Context,
    *,
    since: Since = None,
    until: Until = None,
    status: Annotated[
        NonConformityStatus | None, typer.Option(help="Only open or corrected ones.")
    ] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    as_json: AsJson = False,
) -> None:
    """The register of non-conformities: each, its correction, counts per severity."""
    current = session(ctx)
    register = current.desk(existing=True).nonconformities(
        since=current.when(since, "--since"),
        until=current.when(until, "--until"),
        status=status,
        severity=severity,
        category=category,
    )
    if as_json:
        emit_json(register.model_dump(mode="json"))
        return
    table = Table(title="Non-conformities")
    for column in ("ticket", "#", "severity", "category", "detected", "by", "status",
                   "time to correct", "description"):  # fmt: skip
        table.add_column(column)
    for entry in register.entries:
        table.add_row(
            entry.ticket_code,
            str(entry.number),
            entry.severity.value,
            entry.category or "",
            stamp(entry.detected_at, current.zone),
            entry.detected_by,
            entry.status.value,
            _hours(entry.time_to_correct),
            entry.description,
        )
    console().print(table)
    counts = ", ".join(f"{n} {s.value}" for s, n in register.by_severity.items())
    say(
        f"{len(register.entries)} non-conformities ({counts}); {register.open} open, "
        f"{register.corrected} corrected, median time to correct "
        f"{_hours(register.median_time_to_correct) or 'n/a'}."
    )
