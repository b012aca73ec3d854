"""The desk's report: one self-contained HTML page of charts and tables for a period.

``render_report(desk, since=, until=)`` answers the page as text; ``servflow report`` writes it
to a file. It opens with no network: the style is inline, the charts are inline SVG drawn by
pygal (``pip install 'servflow[report]'``), and there is no script. What it shows, and where
each figure comes from, is in ``docs/how-to/report.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from importlib.metadata import version
from typing import TYPE_CHECKING

from servflow.desk.report.charts import Chart, charts
from servflow.desk.report.figures import ReportFigures, TeamRow, gather, zone_name

if TYPE_CHECKING:
    from servflow.desk.facade import ServiceDesk

__all__ = [
    "SECTIONS",
    "Chart",
    "ReportFigures",
    "TeamRow",
    "gather",
    "render_figures",
    "render_report",
]

#: The register's entries listed in the page at most (the chart counts them all).
MAX_ENTRIES = 200

#: The page's sections, in order, and the charts (``Chart.key``) each holds.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Volume", ("volume-kind", "volume-channel")),
    ("Times and service levels", ("resolution-time", "sla-compliance")),
    ("Satisfaction", ("satisfaction", "satisfaction-vs-resolution")),
    ("Backlog and holds", ("backlog-age", "hold-time")),
    ("Non-conformities", ("nonconformities", "time-to-correct")),
)


def render_report(
    desk: ServiceDesk,
    *,
    since: datetime,
    until: datetime,
    at: datetime | None = None,
    zone: tzinfo | None = None,
    title: str = "Service desk report",
) -> str:
    """The report on the requests opened in ``[since, until)``, as the log stood at ``at``.

    ``at`` defaults to the desk's clock now; times are shown in ``zone`` (default UTC), each
    labelled with it. Naive datetimes and an empty period are refused as ``desk.kpis`` refuses
    them (``ValidationFailedError``); without pygal, ``ConfigurationError`` says which extra
    to install.
    """
    figures = gather(desk, since=since, until=until, at=at, zone=zone)
    return render_figures(figures, title=title)


def render_figures(figures: ReportFigures, *, title: str = "Service desk report") -> str:
    """The page for figures already gathered (``gather``)."""
    import jinja2  # noqa: PLC0415 - only a report needs it (``import servflow`` stays quick)

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("servflow.desk.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        hours=_hours,
        percent=_percent,
        score=_score,
        total_hours=_total_hours,
        local=lambda value: f"{value.astimezone(figures.zone):%Y-%m-%d %H:%M}",
    )
    rows: list[tuple[str | None, object]] = [(row.team, row.kpis) for row in figures.teams]
    rows.append((None, figures.total))
    return env.get_template("report.html.j2").render(
        title=title,
        version=version("servflow"),
        f=figures,
        t=figures.total,
        zone=zone_name(figures.zone, figures.at),
        charts=charts(figures),
        sections=SECTIONS,
        team_rows=rows,
        max_entries=MAX_ENTRIES,
    )


def _hours(value: timedelta | None) -> str:
    return "—" if value is None else f"{value.total_seconds() / 3600:.1f} h"


def _total_hours(values: Iterable[timedelta]) -> str:
    return f"{sum(values, timedelta(0)).total_seconds() / 3600:.1f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
