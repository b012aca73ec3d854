"""``servflow demo``: simulate a busy service desk into a fresh SQLite file, then report.

The report shows what the other commands would: open work, the oldest requests, breached and
at-risk SLA clocks, a summary, one request's story, and commands to try next on the file.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from datetime import time as dt_time
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.columns import Columns
from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from servflow.cli._common import (
    AsJson,
    console,
    desk_on,
    emit_json,
    guarded,
    is_dsn,
    session,
    table_width,
)
from servflow.cli.render import (
    CLOCK_LABEL,
    business,
    events_progress,
    local_time,
    state_text,
    status_text,
)
from servflow.cli.tables import alerts_table, history_table, request_view, requests_table
from servflow.domain.choices import ClockState
from servflow.domain.lifecycle import Status
from servflow.errors import ConfigurationError

if TYPE_CHECKING:
    from servflow.demo import DemoSummary, SimClock
    from servflow.desk import ServiceDesk
    from servflow.domain.policy import SlaPolicy, SlaRule

__all__ = ["demo"]

_DEMO_DB = "demo.db"
#: Column headers of the open-work table, in lifecycle order.
_OPEN_COLUMNS = (
    (Status.NEW, "new"),
    (Status.CLASSIFIED, "classified"),
    (Status.ASSIGNED, "in progress"),
    (Status.WAITING_ON_CUSTOMER, "waiting on customer"),
    (Status.ON_HOLD, "on hold"),
    (Status.TRANSFERRED, "transferred"),
    (Status.COMPLETED, "awaiting acceptance"),
)


@guarded
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
    current = session(ctx)
    path = db or (current.db if current.db_on_command_line else _DEMO_DB)
    if is_dsn(path):
        msg = "the demo writes a fresh SQLite file; give --db a file path, not a PostgreSQL DSN"
        raise ConfigurationError(msg)
    target = Path(path)
    _make_room(target, force=force)
    from servflow.demo import DEFAULT_START, SimClock, demo_policy  # noqa: PLC0415 - when run

    clock = SimClock(DEFAULT_START)
    shown = console()
    began = time.perf_counter()
    # Projections are built once at the end: much faster than after each of thousands of events.
    with desk_on(str(target), projections="external", clock=clock, sla=demo_policy()) as desk:
        summary = _simulate_with_progress(desk, clock, requests, seed, show=not as_json)
        elapsed = time.perf_counter() - began
        if as_json:
            emit_json({"db": str(target), **summary.model_dump(mode="json")})
            return
        _print_demo(shown, desk, summary, path=path, elapsed=elapsed, zone=current.zone)


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
    from servflow.demo import simulate  # noqa: PLC0415 - when run

    if not show:
        return simulate(desk, clock=clock, requests=requests, seed=seed)
    with events_progress() as bar:
        task = bar.add_task(f"Simulating {requests} requests", total=None)

        def tick(done: int, total: int) -> None:
            if done % 50 == 0 or done == total:
                bar.update(task, completed=done, total=total)
            if done == total:
                bar.update(task, description="Updating the projections and measuring the SLAs")

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
    console.print(Rule(Text.assemble(("servflow demo", "bold"), ": a simulated service desk")))
    console.print(
        Text.assemble(
            f"Simulated {summary.requests} requests ({summary.events:,} events) from "
            f"{local_time(summary.started_at, shown)} to {local_time(end, shown)} into ",
            (str(path), "bold"),
            f" in {elapsed:.1f} s.",
        ),
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
        console.print(requests_table(waiting, shown, title="Oldest open work"))
    breaches = desk.breaches(at=end)
    at_risk = desk.at_risk(at=end)
    console.print(Rule(f"SLA clocks at the end ({local_time(end, shown)})"))
    for title, alerts in (("Breached", breaches), ("At risk", at_risk)):
        if alerts:
            console.print(
                alerts_table(alerts[:_DEMO_ALERT_ROWS], end, shown, title=title, total=len(alerts))
            )
        else:
            console.print(Text(f"{title}: none.", style="dim"))
    console.print(Rule("Summary"))
    by_status = _counts_table("status", summary.by_status, lambda name: status_text(Status(name)))
    by_kind = _counts_table("kind", summary.by_kind)
    console.print(Columns([by_status, by_kind, _figures(summary)]))
    console.print(Columns([_sla_outcomes_table(summary), _policy_table(policy)]))
    if summary.featured:
        console.print(Rule(f"The story of {summary.featured}: transferred, then reopened"))
        console.print(request_view(desk.get(summary.featured), shown))
        history = desk.history(summary.featured)
        console.print(history_table(history, shown, width=table_width(console)))
    console.print(Rule("Try next"))
    example = breaches[0].ticket_code if breaches else summary.featured
    for line in _try_next(desk, summary, path, sla_example=example):
        console.print(Text(f"  {line}", style="bold"), soft_wrap=True)


def _policy_of(desk: ServiceDesk) -> SlaPolicy:
    """The newest SLA policy the store adopted (the built-in standard if none)."""
    adopted = desk.policies()
    from servflow.domain.sla import DEFAULT_POLICY  # noqa: PLC0415 - when reporting

    return adopted[-1].policy if adopted else DEFAULT_POLICY


#: A calendar with more holidays than this is described by their count and span.
_HOLIDAYS_LISTED = 3


def _describe_policy(policy: SlaPolicy) -> str:
    calendar = policy.calendar
    days = sorted(calendar.holidays)
    if len(days) > _HOLIDAYS_LISTED:
        closed = f", closed on {len(days)} holidays from {days[0]:%d %b %Y} to {days[-1]:%d %b %Y}"
    else:
        holidays = ", ".join(f"{day:%d %b %Y}" for day in days)
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
    from servflow.domain.calendar import Weekday  # noqa: PLC0415 - when reporting

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
        table.add_column(state_text(state), justify="right")
    for name, counts in summary.sla.items():
        table.add_row(CLOCK_LABEL.get(name, name), *(str(counts[s.value] or "·") for s in states))
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
            business(rule.first_response),
            business(rule.resolution),
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


def _counts_table(
    what: str, counts: dict[str, int], label: Callable[[str], str | Text] = str
) -> Table:
    """How many requests have each value of ``what`` (a status, a kind), one value a row."""
    table = Table(title=f"By {what}", title_justify="left")
    table.add_column(what)
    table.add_column("requests", justify="right")
    for name, count in counts.items():
        table.add_row(label(name), str(count))
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
