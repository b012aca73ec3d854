"""``servflow requests`` and ``servflow queue``: lists of requests to work on.

``requests`` lists every request on the store, filtered; ``queue`` is a page of a work queue
(open requests in work order, or a named queue) as of ``--at``, read from the queue view.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, tzinfo
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from servflow.cli._common import (
    Agent,
    AsJson,
    At,
    CustomerId,
    Limit,
    Offset,
    Priorities,
    Team,
    console,
    emit_json,
    guarded,
    session,
    table_width,
)
from servflow.cli.render import (
    local_time,
    priority_text,
    relative,
    stamp,
    status_text,
    zone_label,
)
from servflow.cli.tables import requests_table
from servflow.domain.choices import Kind, SpecialQueue, Tier
from servflow.domain.lifecycle import Status

if TYPE_CHECKING:
    from servflow.domain.view import Request
    from servflow.projections.queues import QueuePage

__all__ = ["list_requests", "queue"]

# -- listing -------------------------------------------------------------------------------


@guarded
def list_requests(
    ctx: typer.Context,
    *,
    status: Annotated[
        list[Status] | None,
        typer.Option("--status", "-s", help="Only these statuses (repeat for several)."),
    ] = None,
    team: Team = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only requests still open (not closed or cancelled).")
    ] = False,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """List requests with their status, priority, kind, team, agent and customer.

    In the order they were opened, a page at a time (--limit, then --offset for the next).
    """
    from servflow.desk.checks import page as page_checks  # noqa: PLC0415 - the engine's checks

    page_checks(limit, offset, "requests")
    current = session(ctx)
    desk = current.desk(existing=True)
    wanted = set(status or ())
    ids = desk.request_ids()
    # One more than the page says whether there is a next one (islice stops at sys.maxsize).
    end = min(offset + limit + 1, sys.maxsize)
    if wanted or team is not None or open_only:
        matching = (
            view
            for view in map(desk.get, ids)
            if (not wanted or view.status in wanted)
            and (team is None or view.team == team)
            and (not open_only or view.is_open)
        )
        page = list(islice(matching, offset, end))
    else:  # no filter: only the page's requests are read
        page = [desk.get(request_id) for request_id in islice(ids, offset, end)]
    views, more = page[:limit], len(page) > limit
    if as_json:
        emit_json([_row(view) for view in views])
        return
    shown = console()
    title = f"{len(views)} request{'s' if len(views) != 1 else ''}"
    shown.print(requests_table(views, current.zone, title=title))
    if offset or more:
        shown.print(Text(_list_info(views, offset, more=more), style="dim"), soft_wrap=True)


def _list_info(views: Sequence[Request], offset: int, *, more: bool) -> str:
    """Which requests the page shows, and how to ask for the next."""
    if not views:
        return f"No requests past the first {offset}."
    info = f"Showing {offset + 1} to {offset + len(views)}"
    return info + (f" · next page: --offset {offset + len(views)}." if more else ".")


def _row(view: Request) -> dict[str, Any]:
    """A listed request for ``--json``: its fields, no history."""
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

#: Marks a row one of whose events could not be read (``QueueRow.quarantined``).
_QUARANTINED = "⚠"

#: Statuses in which a request's resolution clock no longer runs.
_CLOCK_STOPPED = frozenset({Status.COMPLETED, Status.CLOSED, Status.CANCELLED})


@guarded
def queue(  # noqa: PLR0913 - one option per filter of ServiceDesk.queue
    ctx: typer.Context,
    special: Annotated[
        SpecialQueue | None,
        typer.Argument(
            metavar="QUEUE", help="A named queue (default: every open request).", show_default=False
        ),
    ] = None,
    *,
    team: Team = None,
    agent: Agent = None,
    status: Annotated[
        list[Status] | None,
        typer.Option("--status", "-s", help="Only these statuses (repeat; reaches closed ones)."),
    ] = None,
    priority: Priorities = None,
    kind: Annotated[
        list[Kind] | None, typer.Option(help="Only these kinds of need (repeat for several).")
    ] = None,
    customer: CustomerId = None,
    tier: Annotated[
        list[Tier] | None, typer.Option(help="Only customers of these tiers (repeat).")
    ] = None,
    hold_reason: Annotated[
        str | None,
        typer.Option(
            help="Only requests on this hold (vendor, ...; customer: waiting on the customer).",
            show_default=False,
        ),
    ] = None,
    include_imported: Annotated[
        bool,
        typer.Option(
            "--include-imported/--live-only",
            help="Also requests holding imported history (servflow import), or live work only.",
        ),
    ] = True,
    at: At = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """A work queue: open requests in work order (resolution due, priority, opening time)."""
    current = session(ctx)
    when = current.instant(at)
    page = current.desk(existing=True).queue(
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
        hold_reason=hold_reason,
        include_imported=include_imported,
    )
    if as_json:
        emit_json(
            {
                "at": when.isoformat(),
                **page.model_dump(mode="json"),
                "next_offset": page.next_offset,
            }
        )
        return
    shown = console()
    shown.print(_queue_table(page, special, when, current.zone, width=table_width(shown)))
    shown.print(Text(_page_info(page), style="dim"), soft_wrap=True)
    if any(row.quarantined for row in page.rows):
        shown.print(
            Text(
                f"{_QUARANTINED} an event of this request could not be read: the row shows it "
                "without that event (servflow projections quarantine lists them).",
                style="yellow",
            ),
            soft_wrap=True,
        )


def _queue_table(
    page: QueuePage,
    special: SpecialQueue | None,
    when: datetime,
    zone: tzinfo | None,
    *,
    width: int | None = 120,
) -> Table:
    """The page as a table; below 110 columns the kind and the customer are left to --json.

    ``width`` None (output to a pipe): every column.
    """
    wide = width is None or width >= 110  # noqa: PLR2004 - nine columns need about this much
    name = special.value.replace("_", " ") if special else "open requests"
    table = Table(title=f"Queue: {name} as of {local_time(when, zone)}", title_justify="left")
    table.add_column("ticket", no_wrap=True)
    table.add_column("status")
    table.add_column("priority")
    if wide:
        table.add_column("kind")
    table.add_column("team / agent")
    if wide:
        table.add_column("customer")
    table.add_column(f"opened ({zone_label(zone, when)})")
    table.add_column("resolution due")
    for row in page.rows:
        cells: list[str | Text] = [
            Text.assemble(
                (row.ticket_code, "bold"),
                (f" {_QUARANTINED}", "bold yellow") if row.quarantined else "",
            ),
            status_text(row.status),
            priority_text(row.priority),
        ]
        if wide:
            cells.append(row.kind.value)
        cells.append(f"{row.team or '—'} / {row.agent or '—'}")
        if wide:
            cells.append(f"{row.customer_id} · {row.tier.value}")
        cells += [stamp(row.opened_at, zone), _queue_due(row.status, row.resolution_due, when)]
        table.add_row(*cells)
    return table


def _queue_due(status: Status, due: datetime | None, when: datetime) -> Text:
    """The resolution clock's due instant relative to ``when``, if it still runs."""
    if status in _CLOCK_STOPPED:
        return Text("stopped", style="dim")
    if due is None:
        held = status in {Status.WAITING_ON_CUSTOMER, Status.ON_HOLD}
        return Text("paused" if held else "—", style="dim")
    return relative(due, when)


def _page_info(page: QueuePage) -> str:
    """Which rows the page shows of how many, and how to ask for the next."""
    if not page.rows:
        return f"No requests to show (of {page.total})." if page.total else "No requests match."
    first, last = page.offset + 1, page.offset + len(page.rows)
    info = f"Showing {first} to {last} of {page.total}"
    if page.next_offset is not None:
        info += f" · next page: --offset {page.next_offset}"
    return info + "."
