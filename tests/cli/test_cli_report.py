"""``servflow report`` and ``render_report``: one self-contained page, a chart per figure.

On the known two-week history of ``report_history``: the page names no address (no ``http``
anywhere, no ``src``, no ``href`` but in-page anchors, no ``<link>``, no script), holds one SVG
per chart with drawn series, and its team table has the expected numbers. An empty period says
"No data" in every chart instead of drawing a broken one. The browser test
(``tests/http/test_report_browser.py``) opens the same page in Chromium.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from datetime import UTC
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cli_output import Run, ok, refused, runner_on
from conftest import FakeClock
from report_history import DAY, build_report_history
from servflow import ServiceDesk, ValidationFailedError
from servflow.desk.report import SECTIONS, render_report

CHARTS = [key for _, keys in SECTIONS for key in keys]


class _Page(HTMLParser):
    """Every start tag with its attributes, and the charts' figures with their SVGs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chart: str | None = None
        self.depth = 0
        self.svgs: dict[str, int] = {}
        self.drawn: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        key = found.get("data-chart")
        if tag == "figure" and key:
            self.chart = key
            self.svgs[key] = self.drawn[key] = 0
        elif self.chart is not None and tag == "svg":
            self.svgs[self.chart] += 1
        elif self.chart is not None and tag in {"rect", "path", "circle"} and self.depth:
            self.drawn[self.chart] += 1
        if self.chart is not None and tag == "g" and "series" in (found.get("class") or ""):
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self.chart = None
            self.depth = 0


def parsed(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def assert_self_contained(page: str) -> _Page:
    """No address anywhere in the page: it opens with no network."""
    assert not re.search(r"https?:|//[\w.-]+\.\w", page, re.IGNORECASE), "an address in the page"
    assert "@import" not in page
    assert "url(" not in page
    found = parsed(page)
    for tag, attrs in found.tags:
        assert tag not in {"script", "link", "iframe", "img", "object", "embed"}, tag
        assert "src" not in attrs, (tag, attrs)
        for name in ("href", "xlink:href"):
            assert attrs.get(name) is None or str(attrs[name]).startswith("#"), (tag, attrs)
    return found


def team_rows(page: str) -> dict[str, list[str]]:
    """The team table: each row's cells (team first; ``total`` for the total row)."""
    [table] = re.findall(r'<table id="teams">(.*?)</table>', page, re.DOTALL)
    rows: dict[str, list[str]] = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.DOTALL):
        cells = [c.strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)]
        rows[cells[0]] = cells[1:]
    return rows


#: opened, completed, backlog, first response / resolved / updates on time, median first
#: response, median resolution, p90 resolution, first-contact resolution, reopened,
#: transferred, satisfaction, scores, hours on hold, effort (h), cost, non-conformities.
EXPECTED = {
    "a": ["3", "3", "0", "100%", "100%", "—", "1.0 h", "3.0 h", "6.0 h", "100%", "0%", "0%",
          "3.33", "3", "2.0", "1.8", "30.00", "2"],
    "b": ["3", "1", "2", "33%", "33%", "—", "5.5 h", "10.0 h", "10.0 h", "100%", "0%", "0%",
          "4.00", "1", "4.0", "0.8", "0", "1"],
    "total": ["6", "4", "2", "67%", "67%", "—", "1.0 h", "4.5 h", "10.0 h", "100%", "0%", "0%",
              "3.50", "4", "6.0", "2.5", "30.00", "3"],
}  # fmt: skip


def test_the_report_of_a_known_history(clock: FakeClock) -> None:
    desk = ServiceDesk(clock=clock)
    t0 = build_report_history(desk, clock)

    page = render_report(desk, since=t0, until=t0 + 14 * DAY, zone=ZoneInfo("Europe/Madrid"))

    found = assert_self_contained(page)
    assert list(found.svgs) == CHARTS
    assert found.svgs == dict.fromkeys(CHARTS, 1), "one SVG per chart"
    assert all(found.drawn[key] > 0 for key in CHARTS), found.drawn
    assert "No data" not in page
    assert team_rows(page) == EXPECTED
    # Times carry their zone: 09:00 UTC is 10:00 in Madrid (CET); the weeks are UTC's.
    assert "2026-03-02 10:00 Europe/Madrid" in page
    assert "2026-03-22 10:00 Europe/Madrid" in page  # the instant: the clock, T0 + 20 days
    assert "weeks are ISO weeks in UTC" in page
    for week in ("2026-W10", "2026-W11"):
        assert week in page
    # The register: three entries, two categories; its times in the zone.
    assert re.search(r"detected \(Europe/Madrid\)", page)
    assert page.count('<tr><th scope="row">SR-') == 3


def test_an_empty_period_says_no_data(clock: FakeClock) -> None:
    desk = ServiceDesk(clock=clock)
    page = render_report(desk, since=clock.now, until=clock.now + 7 * DAY)
    found = assert_self_contained(page)
    assert found.svgs == dict.fromkeys(CHARTS, 0)
    assert page.count('<p class="no-data">No data for this period</p>') == len(CHARTS)
    assert "No non-conformities detected in this period" in page
    assert "2026-03-02 09:00 UTC" in page


def test_drawing_leaves_the_imports_as_they_were(clock: FakeClock) -> None:
    """pygal's legacy import hook (no ``find_spec``) would make every missed import warn."""
    render_report(ServiceDesk(clock=clock), since=clock.now, until=clock.now + DAY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert importlib.util.find_spec("servflow_no_such_module") is None


def test_a_naive_or_empty_period_is_refused(clock: FakeClock) -> None:
    desk = ServiceDesk(clock=clock)
    with pytest.raises(ValidationFailedError):
        render_report(desk, since=clock.now, until=clock.now)
    with pytest.raises(ValidationFailedError):
        render_report(desk, since=clock.now.replace(tzinfo=None), until=clock.now + DAY)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner_on(tmp_path / "desk.db", monkeypatch)


def test_servflow_report_writes_the_page(run: Run, tmp_path: Path, clock: FakeClock) -> None:
    desk = ServiceDesk.sqlite(str(tmp_path / "desk.db"), clock=clock)
    t0 = build_report_history(desk, clock)
    desk.close()
    out = tmp_path / "report.html"
    since, until, at = (t0.isoformat(), (t0 + 14 * DAY).isoformat(),
                        (t0 + 20 * DAY).isoformat())  # fmt: skip

    said = ok(run("report", "--since", since, "--until", until, "--at", at, "--out", str(out)))

    assert f"Wrote {out}" in said
    assert "6 requests, 2 teams, 3 non-conformities" in said
    page = out.read_text(encoding="utf-8")
    found = assert_self_contained(page)
    assert found.svgs == dict.fromkeys(CHARTS, 1)
    assert team_rows(page) == EXPECTED
    assert "2026-03-02 09:00 UTC" in page  # --tz UTC
    line = refused(run("report", "--since", since, "--out", str(out)), "validation_failed")
    assert "--until" in line
    # The same page, rendered in Python, as of the same instant.
    desk = ServiceDesk.sqlite(str(tmp_path / "desk.db"), clock=clock)
    try:
        again = render_report(desk, since=t0, until=t0 + 14 * DAY, at=t0 + 20 * DAY, zone=UTC)
    finally:
        desk.close()
    assert team_rows(again) == EXPECTED
