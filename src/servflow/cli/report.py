"""``servflow report``: the period's charts and tables as one HTML file that opens offline.

``servflow report --since 2026-03-01T00:00Z --until 2026-04-01T00:00Z --out report.html`` writes
what ``servflow.desk.report.render_report`` draws; times show in ``--tz`` (default: this
machine's zone).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from servflow.cli._common import At, guarded, say, session
from servflow.cli.kpis import Since, Until

__all__ = ["report"]


@guarded
def report(
    ctx: typer.Context,
    *,
    since: Since = None,
    until: Until = None,
    at: At = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="The HTML file to write (replaced if it exists).", dir_okay=False
        ),
    ] = Path("report.html"),
    title: Annotated[str, typer.Option(help="The page's title.")] = "Service desk report",
) -> None:
    """Charts and tables of the requests opened in [--since, --until), as one HTML file."""
    current = session(ctx)
    start, end = current.period(since, until)
    zone = current.zone or datetime.now().astimezone().tzinfo
    when = current.instant(at)
    from servflow.desk.report import gather, render_figures  # noqa: PLC0415 - when drawing

    figures = gather(current.desk(existing=True), since=start, until=end, at=when, zone=zone)
    page = render_figures(figures, title=title)
    out.write_text(page, encoding="utf-8")
    total = figures.total
    say(
        f"Wrote {out} ({len(page.encode()):,} bytes): {total.requests:,} requests, "
        f"{len(figures.teams)} teams, {len(figures.register.entries)} non-conformities."
    )
