"""The report's charts: pygal draws each as an SVG to inline in the page, or says "no data".

pygal (``pip install 'servflow[report]'``) is imported when a report is drawn. Its charts go in
the page with no script (``js=[]``: pygal's tooltips would load one from the network; the
config pygal writes for it anyway is taken out), no XML declaration, and neither pygal's comments
nor namespace declarations (an HTML page puts an inline ``<svg>`` in the SVG namespace itself),
so the page names no address at all.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from servflow.desk.kpis import Kpis
from servflow.desk.report.figures import WEEK_ZONE, ReportFigures
from servflow.domain.values import Channel, Kind
from servflow.errors import ConfigurationError

if TYPE_CHECKING:
    from pygal.graph.graph import Graph

__all__ = ["Chart", "charts"]

#: Colours that stay apart for readers with the common colour-vision deficiencies (Okabe-Ito).
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
#: pygal always writes its config for its tooltip script, even with no script to load.
_SCRIPT = re.compile(r"<script\b[^>]*?(?:/>|>.*?</script>)", re.DOTALL)
_NAMESPACE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


@dataclass(frozen=True)
class Chart:
    """One chart of the report: ``svg`` is None when there is nothing to draw."""

    key: str
    title: str
    caption: str
    svg: str | None


def _pygal() -> ModuleType:
    """pygal, without the import hook it adds to ``sys.meta_path``.

    pygal appends a finder for its map plugins (``pygal.maps.*``, unused here) that has only
    the legacy ``find_module``: from then on, every import the other finders miss makes Python
    warn (``ImportWarning: PluginImportFixer.find_spec() not found``), and 3.12 ignores it. It
    is taken out again so that drawing a report leaves the process's imports as they were.
    """
    try:
        pygal = importlib.import_module("pygal")
    except ImportError:
        msg = "the report's charts need the extra: pip install 'servflow[report]'"
        raise ConfigurationError(msg) from None
    fixer = getattr(pygal, "PluginImportFixer", None)
    if isinstance(fixer, type):
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, fixer)]
    return pygal


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _counts(kpis: Kpis | None, pick: str) -> dict[str, int]:
    """A week's requests per kind or per channel (none for an empty week)."""
    if kpis is None:
        return {}
    found = kpis.by_kind if pick == "kind" else kpis.by_channel
    return {member.value: count for member, count in found.items()}


def _counted(chart: Graph[Any, Any], values: Iterable[int]) -> Graph[Any, Any]:
    """Whole numbers on the y axis of a chart of counts (pygal would tick 0.2, 0.4, ...)."""
    top = max(values, default=0)
    step = max(1, -(-top // 8))  # at most about eight ticks
    chart.y_labels = list(range(0, top + step + 1, step))
    return chart


def _has_data(values: Iterable[float | None]) -> bool:
    return any(value for value in values)


class _Drawer:
    """Makes pygal charts in the report's style and turns them into inline SVG."""

    def __init__(self) -> None:
        self._pygal = _pygal()
        style = importlib.import_module("pygal.style")
        self._style = style.Style(
            background="transparent",
            plot_background="transparent",
            foreground="#1f2933",
            foreground_strong="#1f2933",
            foreground_subtle="#9aa5b1",
            opacity=".85",
            opacity_hover="1",
            colors=PALETTE,
            font_family=_FONT,
            label_font_size=14,
            major_label_font_size=14,
            value_font_size=14,
            value_label_font_size=13,
            legend_font_size=15,
            title_font_size=16,
            no_data_font_size=16,
        )

    def make(self, kind: str, **options: Any) -> Graph[Any, Any]:  # noqa: ANN401 - pygal's options
        settings: dict[str, Any] = {
            "width": 640,
            "height": 380,
            "legend_at_bottom": True,
            "legend_at_bottom_columns": 3,
            "truncate_legend": -1,
            **options,
        }
        chart: Graph[Any, Any] = getattr(self._pygal, kind)(
            js=[], disable_xml_declaration=True, style=self._style, **settings
        )
        return chart

    @staticmethod
    def svg(chart: Graph[Any, Any]) -> str:
        drawn = chart.render(is_unicode=True)
        drawn = _SCRIPT.sub("", _COMMENT.sub("", drawn))
        return _NAMESPACE.sub("", drawn, count=0)


def _weekly(drawer: _Drawer, labels: Sequence[str], **options: Any) -> Graph[Any, Any]:  # noqa: ANN401
    many = len(labels) > 13  # noqa: PLR2004 - a quarter's weeks are all labelled
    chart = drawer.make(
        options.pop("kind"),
        x_label_rotation=30 if many else 0,
        show_minor_x_labels=not many,
        margin_right=36,  # room for the last week's label under a line's last point
        x_labels_major_count=13 if many else None,
        **options,
    )
    chart.x_labels = list(labels)
    return chart


def charts(figures: ReportFigures) -> list[Chart]:  # noqa: C901, PLR0912, PLR0915 - one chart after another
    """Every chart of the report, in the page's order."""
    drawer = _Drawer()
    weeks = [label for label, _ in figures.weeks]
    weekly = [kpis for _, kpis in figures.weeks]
    week_note = f"ISO weeks of the opening instant ({WEEK_ZONE})"
    drawn: list[Chart] = []

    def add(key: str, title: str, caption: str, chart: Graph[Any, Any] | None) -> None:
        drawn.append(Chart(key, title, caption, None if chart is None else drawer.svg(chart)))

    # -- volume per week, by kind and by channel --------------------------------------------
    for key, title, members, pick in (
        ("volume-kind", "Requests opened per week, by kind", [m.value for m in Kind], "kind"),
        ("volume-channel", "Requests opened per week, by channel", [m.value for m in Channel],
         "channel"),
    ):  # fmt: skip
        counted = [_counts(kpis, pick) for kpis in weekly]
        series = [(name, [found.get(name, 0) for found in counted]) for name in members]
        series = [(name, counts) for name, counts in series if any(counts)]
        chart = None
        if series:
            chart = _weekly(drawer, weeks, kind="StackedBar", y_title="requests")
            for name, counts in series:
                chart.add(name, counts)
            _counted(chart, [sum(week) for week in zip(*(c for _, c in series), strict=True)])
        add(key, title, f"{week_note}; stacked by the request's {pick} as of the report's instant.",
            chart)  # fmt: skip

    # -- resolution time per week -----------------------------------------------------------
    lines = {
        "median resolution": [_hours(k.resolution_time if k else None) for k in weekly],
        "p90 resolution": [_hours(k.p90_resolution_time if k else None) for k in weekly],
        "median first response": [_hours(k.first_response_time if k else None) for k in weekly],
    }
    chart = None
    if any(_has_data(values) for values in lines.values()):
        chart = _weekly(drawer, weeks, kind="Line", y_title="hours", allow_interruptions=True,
                        include_x_axis=True)  # fmt: skip
        for name, values in lines.items():
            chart.add(name, values)
    add("resolution-time", "Time to first response and to resolution, per week (hours)",
        f"{week_note}; wall-clock hours from opening, over the requests resolved by the "
        "report's instant (p90: 90th percentile).", chart)  # fmt: skip

    # -- SLA compliance per clock, per week -------------------------------------------------
    clocks = {
        "first response": [_percent(k.first_response_compliance if k else None) for k in weekly],
        "resolution": [_percent(k.sla_compliance if k else None) for k in weekly],
        "update": [_percent(k.update_compliance if k else None) for k in weekly],
    }
    chart = None
    if any(value is not None for values in clocks.values() for value in values):
        chart = _weekly(drawer, weeks, kind="Line", y_title="% on time", range=(0, 100),
                        allow_interruptions=True)  # fmt: skip
        for name, values in clocks.items():
            chart.add(name, values)
    add("sla-compliance", "SLA compliance per clock, per week (% on time)",
        f"{week_note}; met / (met + missed + breached) per clock, update cycles on time for the "
        "update clock; a gap is a week with nothing decided.", chart)  # fmt: skip

    # -- satisfaction -----------------------------------------------------------------------
    distribution = figures.total.satisfaction_distribution
    chart = None
    if any(distribution.values()):
        chart = drawer.make("Bar", show_legend=False, print_values=True, y_title="acceptances")
        chart.x_labels = [str(score) for score in range(1, 6)]
        chart.add("acceptances", [distribution.get(score, 0) for score in range(1, 6)])
        _counted(chart, distribution.values())
    add("satisfaction", "Satisfaction scores (1-5)",
        f"{figures.total.satisfaction_count} explicit acceptances with a score; deemed "
        "acceptances and closures by the desk have none.", chart)  # fmt: skip

    points = {
        "weeks": [
            {"value": (_hours(k.resolution_time), k.mean_satisfaction), "label": label}
            for label, k in figures.weeks
            if k is not None and k.resolution_time is not None and k.mean_satisfaction is not None
        ],
        "teams": [
            {
                "value": (_hours(row.kpis.resolution_time), row.kpis.mean_satisfaction),
                "label": row.team,
            }
            for row in figures.teams
            if row.kpis.resolution_time is not None and row.kpis.mean_satisfaction is not None
        ],
    }
    chart = None
    if any(points.values()):
        chart = drawer.make("XY", stroke=False, dots_size=6, print_labels=True,
                            x_title="median resolution time (hours)",
                            y_title="mean satisfaction (1-5)", range=(1, 5),
                            height=430)  # fmt: skip
        for name, dots in points.items():
            if dots:
                chart.add(name, dots)
    add("satisfaction-vs-resolution", "Satisfaction against resolution time",
        "Each point a week (by opening, UTC) or a team: does satisfaction rise when requests "
        "are resolved sooner?", chart)  # fmt: skip

    # -- backlog, holds ---------------------------------------------------------------------
    ages = figures.total.backlog_age
    chart = None
    if any(ages.values()):
        chart = drawer.make("Bar", show_legend=False, print_values=True, y_title="requests")
        chart.x_labels = list(ages)
        chart.add("backlog", list(ages.values()))
        _counted(chart, ages.values())
    add("backlog-age", "Backlog by age",
        f"{figures.total.backlog} requests of the period still open at "
        f"{figures.local(figures.at)}, by age then.", chart)  # fmt: skip

    holds = figures.total.hold_time_by_reason
    chart = None
    if any(spent > timedelta(0) for spent in holds.values()):
        chart = drawer.make("HorizontalBar", show_legend=False, print_values=True,
                            x_title="hours")  # fmt: skip
        chart.x_labels = list(holds)
        chart.add("hours on hold", [_hours(spent) for spent in holds.values()])
    add("hold-time", "Time on hold by reason (hours)",
        "Wall-clock hours on hold, summed per reason (customer: waiting on the customer).",
        chart)  # fmt: skip

    # -- non-conformities -------------------------------------------------------------------
    register = figures.register
    categories = sorted(register.by_category)
    chart = None
    if categories:
        chart = drawer.make("StackedBar", print_values=True, y_title="non-conformities")
        chart.x_labels = categories
        for status in ("open", "corrected"):
            chart.add(status, [
                sum(1 for e in register.entries
                    if (e.category or "(none)") == category and e.status.value == status)
                for category in categories
            ])  # fmt: skip
        _counted(chart, register.by_category.values())
    add("nonconformities", "Non-conformities by category",
        f"Detected in the period: {register.open} open, {register.corrected} corrected.",
        chart)  # fmt: skip

    corrections = figures.corrections_by_category()
    chart = None
    if any(spent is not None for spent in corrections.values()):
        chart = drawer.make("Bar", show_legend=False, print_values=True, y_title="hours")
        chart.x_labels = list(corrections)
        chart.add("median time to correct", [_hours(spent) for spent in corrections.values()])
    add("time-to-correct", "Median time to correct, by category (hours)",
        "From detection to correction, of the corrected non-conformities detected in the period.",
        chart)  # fmt: skip
    return drawn
