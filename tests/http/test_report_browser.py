"""The report in a real browser: Debian's chromium, driven by Playwright, with no network.

``servflow report`` writes the known two-week history's page (``report_history``) to a file;
headless Chromium opens it from ``file://`` with every request that is not that file refused
(and counted), takes a screenshot, and checks that every chart rendered: one SVG in each chart's
figure, laid out with a size, with drawn series (bars, lines, dots), and nothing logged to the
console nor thrown.

The browser is ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it),
never one Playwright downloads. The screenshot is kept at ``$SERVFLOW_ARTIFACTS/report.png``,
by default ``.artifacts/report.png`` at the checkout's root (ignored by git).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, Route, sync_playwright

from cli_output import Run, ok, runner_on
from conftest import FakeClock
from report_history import DAY, build_report_history
from servflow import ServiceDesk
from servflow.desk.report import SECTIONS

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SERVFLOW_ARTIFACTS") or ROOT / ".artifacts")
CHARTS = [key for _, keys in SECTIONS for key in keys]
#: What a chart draws its data with: bars (rect), lines (path), dots (circle), in pygal's series.
DRAWN = ".series rect, .series path, .series circle"


def check_charts(page: Page) -> None:
    """Every chart drawn (an SVG with a size and drawn series), and the team table."""
    assert page.title() == "Service desk report"
    figures = page.locator("figure.chart")
    assert figures.count() == len(CHARTS)
    for key in CHARTS:
        figure = page.locator(f'figure.chart[data-chart="{key}"]')
        assert figure.count() == 1, key
        assert figure.locator("svg").count() == 1, f"{key}: one SVG"
        drawn = figure.locator(DRAWN).count()
        assert drawn > 0, f"{key}: nothing drawn"
        box = figure.locator("svg").bounding_box()
        assert box is not None, f"{key}: not laid out"
        assert box["width"] > 300, f"{key}: {box}"
        assert box["height"] > 100, f"{key}: {box}"
        assert figure.locator(".no-data").count() == 0, key
    teams = page.locator("#teams tbody tr")
    assert teams.count() == 3  # a, b and the total
    assert page.locator('#teams tr[data-team="a"] th').inner_text() == "a"
    # The page runs no script at all.
    assert page.evaluate("document.scripts.length") == 0


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner_on(tmp_path / "desk.db", monkeypatch)


def test_every_chart_of_the_report_renders_in_chromium(
    run: Run, tmp_path: Path, clock: FakeClock
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"no {CHROMIUM}: apt-get install chromium (CI installs it; never a download)")
    desk = ServiceDesk.sqlite(str(tmp_path / "desk.db"), clock=clock)
    t0 = build_report_history(desk, clock)
    desk.close()
    page_file = tmp_path / "report.html"
    ok(run("report", "--since", t0.isoformat(), "--until", (t0 + 14 * DAY).isoformat(),
           "--at", clock.now.isoformat(), "--out", str(page_file)))  # fmt: skip
    url = page_file.resolve().as_uri()

    problems: list[str] = []
    elsewhere: list[str] = []

    def logged(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            problems.append(f"{message.type}: {message.text}")

    def only_the_file(route: Route) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", only_the_file)
            page = context.new_page()
            page.on("console", logged)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(url, wait_until="load")
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)

            check_charts(page)
        except Error as error:  # pragma: no cover - Playwright's own failure, with its log
            pytest.fail(f"the browser failed: {error}")
        finally:
            browser.close()

    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    assert problems == []
    assert elsewhere == [], "the page asked for something other than itself"
