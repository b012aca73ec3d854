"""The built site, opened from the file system in headless Chromium, as a reader offline sees it.

The site is built with ``mkdocs build --strict`` into a temporary directory and every page is
opened from ``file://`` in Debian's Chromium (``/usr/bin/chromium``, driven by Playwright; no
browser is ever downloaded), with every request to a host refused and recorded:

- no page asks a host for anything (no CDN, no web fonts) and none logs an error;
- the lifecycle diagram is drawn, as an SVG with a node for every status;
- no table or code block is wider than the page (drawings marked ``.no-wrap`` scroll in their
  block by design);
- every link, stylesheet and script between the site's own files resolves, anchors included;
- the API page's ``docs/...md`` references are links to those pages;
- search works without a server.

Screenshots of the home, lifecycle and API pages go to ``$SERVFLOW_ARTIFACTS`` (``.artifacts/``
by default).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Route, sync_playwright

from servflow import Status

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("SERVFLOW_ARTIFACTS") or ROOT / ".artifacts")
# Desktop width; the theme's sidebars take their share.
VIEWPORT = {"width": 1280, "height": 900}
# Schemes that never leave the machine.
_LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})
# The 404 page is for a web server (absolute links from the site root): not opened from files.
_SERVER_ONLY = frozenset({"404.html"})
# Material draws each diagram into a closed shadow root: keep a handle on each for the checks.
_OPEN_SHADOWS = """
window.__shadowRoots = [];
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  const root = attach.call(this, init);
  window.__shadowRoots.push(root);
  return root;
};
"""
# Elements wider than the room they have: tables' scroll boxes and code blocks that should wrap.
_OVERFLOWING = """
() => {
  const wide = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) wide.push(["page", doc.scrollWidth, doc.clientWidth]);
  const boxes = document.querySelectorAll(
    "article .md-typeset__scrollwrap, article .highlight:not(.no-wrap) pre > code"
  );
  for (const box of boxes) {
    if (box.scrollWidth > box.clientWidth + 1) {
      wide.push([box.textContent.trim().slice(0, 60), box.scrollWidth, box.clientWidth]);
    }
  }
  return wide;
}
"""
_DIAGRAM = """
() => window.__shadowRoots
  .filter(root => root.host.classList.contains("mermaid"))
  .map(root => {
    const svg = root.querySelector("svg");
    return svg === null ? null : {
      nodes: svg.querySelectorAll("g.node").length,
      text: svg.textContent,
      width: svg.getBoundingClientRect().width,
    };
  })
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site") / "site"
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(target),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the site is checked in Debian's Chromium "
            "(apt-get install chromium); Playwright's own browsers are not used"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@dataclass
class Visit:
    """A page opened offline, and what it tried and said on the way."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def visit(browser: Browser, site: Path) -> Iterator[Visit]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.add_init_script(_OPEN_SHADOWS)
    seen = Visit(page=context.new_page())

    def refuse_hosts(route: Route) -> None:
        if urlsplit(route.request.url).scheme in _LOCAL_SCHEMES:
            route.continue_()
        else:
            seen.requests.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(f"{message.text} ({message.location.get('url')})")

    def page_error(error: Error) -> None:
        seen.errors.append(str(error))

    context.route("**/*", refuse_hosts)
    seen.page.on("console", console)
    seen.page.on("pageerror", page_error)
    seen.page.on(
        "request",
        lambda request: (
            seen.requests.append(request.url)
            if urlsplit(request.url).scheme not in _LOCAL_SCHEMES
            else None
        ),
    )
    seen.page.set_default_timeout(15_000)
    del site
    yield seen
    context.close()


def pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name not in _SERVER_ONLY)


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


@pytest.mark.slow
def test_every_page_renders_offline_asks_no_host_and_fits_the_page(
    site: Path, visit: Visit
) -> None:
    wide: dict[str, list[object]] = {}
    for html in pages(site):
        visit.page.goto(html.as_uri(), wait_until="load")
        if overflowing := visit.page.evaluate(_OVERFLOWING):
            wide[str(html.relative_to(site))] = overflowing
    assert visit.requests == [], "pages asked hosts for these (the site must work offline)"
    assert visit.errors == []
    assert wide == {}, "wider than the page: tables and code must wrap"


@pytest.mark.slow
def test_the_home_page_shows_and_searches_without_a_server(site: Path, visit: Visit) -> None:
    visit.page.goto((site / "index.html").as_uri(), wait_until="load")
    screenshot(visit.page, "home")
    visit.page.locator("label.md-search__icon, .md-search__input").first.click()
    # Typed as a reader types: the theme searches on key presses.
    visit.page.locator("input.md-search__input").press_sequentially("lifecycle", delay=30)
    found = visit.page.locator(".md-search-result__item a").first
    found.wait_for()
    assert (found.get_attribute("href") or "").startswith(
        (site / "explanation" / "lifecycle.html").as_uri()
    )
    assert visit.requests == []
    assert visit.errors == []


@pytest.mark.slow
def test_the_lifecycle_diagram_is_drawn_as_an_svg_and_its_table_fits(
    site: Path, visit: Visit
) -> None:
    page = visit.page
    page.goto((site / "explanation" / "lifecycle.html").as_uri(), wait_until="load")
    page.wait_for_function("window.__shadowRoots.some(r => r.querySelector('svg g.node'))")
    diagrams = page.evaluate(_DIAGRAM)
    screenshot(page, "lifecycle")
    assert len(diagrams) == 1, diagrams
    drawn = diagrams[0]
    assert drawn is not None, "the diagram was not drawn"
    assert drawn["width"] > 200
    assert drawn["nodes"] >= len(Status)
    assert all(status.value in drawn["text"] for status in Status), drawn["text"]
    assert page.locator("pre.mermaid").count() == 0, "the diagram's source is shown as text"
    table = page.locator("article table", has_text="waiting_on_customer").first
    room = page.locator("article").bounding_box()
    box = table.bounding_box()
    assert room is not None
    assert box is not None
    assert box["x"] + box["width"] <= room["x"] + room["width"] + 1, (box, room)
    assert page.evaluate(_OVERFLOWING) == []
    assert visit.requests == []
    assert visit.errors == []


@pytest.mark.slow
def test_the_api_page_links_to_the_guides_it_names(site: Path, visit: Visit) -> None:
    page = visit.page
    api = site / "reference" / "api.html"
    page.goto(api.as_uri(), wait_until="load")
    guide = page.locator("a:has(> code)", has_text="docs/how-to/migrate.md").first
    guide.scroll_into_view_if_needed()
    screenshot(page, "api", full_page=False)
    assert guide.get_attribute("href") == "../how-to/migrate.html"
    assert page.locator("a.autorefs-internal").count() > 0
    guide.click()
    page.wait_for_url("**/how-to/migrate.html")
    assert page.locator("h1").first.inner_text().startswith("Migrate from another helpdesk")
    assert visit.requests == []
    assert visit.errors == []


class _Links(HTMLParser):
    """The targets a page links to and the anchors it offers."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()
        self.unlinked_guides: list[str] = []
        self._in_link = 0
        self._code: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if element_id := values.get("id"):
            self.ids.add(element_id)
        for name in ("href", "src"):
            if (value := values.get(name)) and tag in {"a", "link", "script", "img"}:
                self.targets.append(value)
        if tag == "a":
            self._in_link += 1
        elif tag == "code" and not self._in_link:
            self._code = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = max(0, self._in_link - 1)
        elif tag == "code" and self._code is not None:
            text = "".join(self._code)
            if re.fullmatch(r"docs/[\w./-]+\.md(#[\w-]+)?", text):
                self.unlinked_guides.append(text)
            self._code = None

    def handle_data(self, data: str) -> None:
        if self._code is not None:
            self._code.append(data)


def test_every_link_between_the_sites_own_files_resolves(site: Path) -> None:
    parsed: dict[Path, _Links] = {}
    for html in pages(site):
        parsed[html] = _Links()
        parsed[html].feed(html.read_text(encoding="utf-8"))
    broken: list[str] = []
    for html, links in parsed.items():
        for target in links.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:
                continue  # a link to another site: followed only by the reader
            path = (html.parent / unquote(parts.path)).resolve() if parts.path else html
            where = f"{html.relative_to(site)} -> {target}"
            if not path.is_file():
                broken.append(f"{where}: no such file")
            elif parts.fragment and path.suffix == ".html":
                anchors = parsed[path].ids if path in parsed else set()
                if unquote(parts.fragment) not in anchors:
                    broken.append(f"{where}: no such anchor")
    assert broken == []
    unlinked = {str(h.relative_to(site)): p.unlinked_guides for h, p in parsed.items()}
    assert {page: names for page, names in unlinked.items() if names} == {}
