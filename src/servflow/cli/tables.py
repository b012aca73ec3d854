"""The tables more than one command shows: requests, one request's story, SLA alerts.

``servflow request show`` and ``history``, ``requests``, ``sla breaches``/``at-risk`` and the
demo's report draw the same things the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from servflow.cli.render import (
    CLOCK_LABEL,
    brief,
    local_time,
    priority_text,
    relative,
    stamp,
    status_text,
    zone_label,
)

if TYPE_CHECKING:
    from servflow.domain.directory import AgentEntry, CustomerEntry, TeamEntry
    from servflow.domain.history import HistoryEntry
    from servflow.domain.view import Request
    from servflow.projections.sla import SlaAlert

__all__ = [
    "agents_table",
    "alerts_table",
    "customers_table",
    "history_table",
    "request_view",
    "requests_table",
    "teams_table",
]

#: Event fields worth quoting in a history when the state they leave does not show them.
_SAID = ("findings", "action", "message", "note", "reason", "description", "correction")


def requests_table(views: Iterable[Request], zone: tzinfo | None, *, title: str) -> Table:
    """Requests one a row: who has them, how urgent, since when."""
    views = list(views)
    label = zone_label(zone, views[0].opened_at if views else None)
    table = Table(title=title, title_justify="left")
    for name in ("ticket", "status", "priority", "kind", "team", "agent", "customer"):
        table.add_column(name, no_wrap=name == "ticket")
    table.add_column(f"opened ({label})", no_wrap=True)
    for view in views:
        table.add_row(
            Text(view.ticket_code, style="bold"),
            status_text(view.status),
            priority_text(view.priority),
            view.kind.value,
            view.team or "—",
            view.agent or "—",
            view.customer.name or view.customer.id,
            stamp(view.opened_at, zone),
        )
    return table


def request_view(request: Request, zone: tzinfo | None) -> Group:
    """Everything a person needs to pick a request up: a panel, then STAR and controls."""
    parts: list[Panel | Table] = [
        Panel(
            _facts(request, zone),
            title=Text(request.ticket_code, style="bold"),
            subtitle=str(request.id),
        )
    ]
    if request.probes:
        parts.append(_probes_table(request, zone))
    if request.actions:
        parts.append(_actions_table(request, zone))
    if request.notes:
        parts.append(_notes_table(request, zone))
    if request.nonconformities:
        parts.append(_nonconformities_table(request, zone))
    return Group(*parts)


def _notes_table(request: Request, zone: tzinfo | None) -> Table:
    table = Table(title="Notes and messages", title_justify="left")
    for name in ("#", "when", "by", "seen by", "text"):
        table.add_column(name)
    for number, note in enumerate(request.notes, start=1):
        seen = "desk" if note.visibility == "internal" else "customer"
        table.add_row(str(number), stamp(note.at, zone), note.actor, seen, note.text)
    return table


def _facts(request: Request, zone: tzinfo | None) -> Table:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    customer = request.customer
    who = f"{customer.name} ({customer.id})" if customer.name else customer.id
    people = f"{request.team or '—'}" + (f" / {request.agent}" if request.agent else "")

    def optional(value: datetime | None) -> str | None:
        return local_time(value, zone) if value else None

    def count(value: int) -> str | None:
        return str(value) if value else None

    rows: list[tuple[str, str | Text | None]] = [
        ("status", status_text(request.status)),
        ("priority", priority_text(request.priority)),
        ("kind", f"{request.kind} · {request.stage} · via {request.channel}"),
        ("category", request.category),
        ("external ref", None if request.external is None else str(request.external)),
        ("customer", f"{who} · {customer.tier}"),
        ("team / agent", people),
        ("opened", f"{local_time(request.opened_at, zone)} by {request.opened_by}"),
        ("updated", f"{local_time(request.updated_at, zone)} (version {request.version})"),
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
            stamp(item.at, zone),
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
            stamp(action.at, zone),
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
            f"{nc.correction} ({nc.corrected_by}, {local_time(nc.corrected_at, zone)})"
            if nc.is_corrected
            else Text("open", style="bold red")
        )
        table.add_row(
            str(nc.number),
            nc.severity.value,
            nc.description,
            f"{nc.logged_by}, {local_time(nc.logged_at, zone)}",
            corrected,
        )
    return table


def history_table(
    entries: Sequence[HistoryEntry], zone: tzinfo | None, *, width: int | None = 120
) -> Table:
    """Events as rows; the changes column gets whatever width the others leave.

    ``width`` None (output to a pipe): as wide as the changes need.
    """
    code = entries[0].ticket_code if entries else ""
    label = zone_label(zone, entries[0].occurred_at if entries else None)
    wide = width is None or width >= 120  # noqa: PLR2004 - below, dates and times take two lines
    time_width = 16 if wide else 10
    actor = min(max((len(e.actor) for e in entries), default=5), 24 if wide else 14)
    event = min(max((len(e.event_type) for e in entries), default=5), 22 if wide else 12)
    # Each of the 6 columns costs 3 characters of padding and border, plus the outer edge.
    changes = None if width is None else max(30, width - (2 + 2 * time_width + actor + event) - 19)
    table = Table(title=f"History of {code} (times in {label})", title_justify="left")
    table.add_column("v", width=2, justify="right")
    table.add_column("occurred", width=time_width)
    table.add_column("recorded", width=time_width)
    table.add_column("actor", width=actor, overflow="fold")
    table.add_column("event", width=event, overflow="fold")
    table.add_column("changes", width=changes)
    for entry in entries:
        recorded = stamp(entry.recorded_at, zone)
        occurred = stamp(entry.occurred_at, zone)
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
        lines.append(brief(entry.data.get("symptom"), 80))
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
            lines.append(f"{change.field}: {brief(change.before)} → {brief(change.after)}")
    shown = {change.after for change in entry.changes if isinstance(change.after, str)}
    for key in _SAID:
        value = entry.data.get(key)
        if isinstance(value, str) and value not in shown:
            lines.append(f"“{brief(value, 80)}”")
    return "\n".join(lines)


def _brief_when(value: object, zone: tzinfo | None) -> str:
    if isinstance(value, str):
        try:
            return local_time(datetime.fromisoformat(value), zone)
        except ValueError:
            pass
    return brief(value)


def alerts_table(
    alerts: Sequence[SlaAlert],
    at: datetime,
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
    heading = Text(f"{title} as of {local_time(at, zone)}: {shown}{more}", style="italic")
    if not alerts:
        return Group(heading)
    policies = sorted({f"{alert.policy} v{alert.policy_version}" for alert in alerts})
    table = Table(caption=f"policy {policies[0]}" if len(policies) == 1 else None)
    table.caption_justify = "left"
    table.add_column("ticket", no_wrap=True)
    table.add_column("clock")
    table.add_column(f"due ({zone_label(zone, at)})")
    table.add_column("time left")
    table.add_column("priority")
    table.add_column("team / agent")
    if len(policies) > 1:
        table.add_column("policy")
    for alert in alerts:
        note = relative(alert.due, at)
        if alert.is_paused:
            note.append(" · waiting on customer", style="dim")
        cells: list[str | Text] = [
            Text(alert.ticket_code, style="bold"),
            CLOCK_LABEL[alert.clock],
            stamp(alert.due, zone),
            note,
            priority_text(alert.priority),
            f"{alert.team or '—'} / {alert.agent or '—'}",
        ]
        if len(policies) > 1:
            cells.append(f"{alert.policy} v{alert.policy_version}")
        table.add_row(*cells)
    return Group(heading, table)


def customers_table(entries: Iterable[CustomerEntry], *, title: str) -> Table:
    """Customers of the directory: id, name, tier, language, contacts, whether active."""
    table = Table(title=title)
    for column in ("customer", "name", "tier", "language", "contacts", "active"):
        table.add_column(column)
    for e in entries:
        table.add_row(
            e.id,
            e.name or "—",
            e.tier.value,
            e.language or "—",
            ", ".join(e.contacts) or "—",
            "yes" if e.active else "no",
        )
    return table


def teams_table(entries: Iterable[TeamEntry], *, title: str) -> Table:
    """Teams of the directory: id, display name, members, whether active."""
    table = Table(title=title)
    for column in ("team", "name", "members", "active"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.id, e.name, ", ".join(e.members) or "—", "yes" if e.active else "no")
    return table


def agents_table(entries: Iterable[AgentEntry], *, title: str) -> Table:
    """Agents of the directory: id, name, teams, whether active."""
    table = Table(title=title)
    for column in ("agent", "name", "teams", "active"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.id, e.name, ", ".join(e.teams) or "—", "yes" if e.active else "no")
    return table
