"""The reference console in a real browser: Debian's chromium, driven by Playwright.

A uvicorn server on 127.0.0.1 (a free port, in a thread, started and stopped here) serves an
SQLite desk. The page signs in with an agent's key; a request opened through the API (httpx,
not the page) appears in its queue within a second, from the event stream and without a reload;
the page then works it to completion through its forms (classify, assign, complete), and the
API agrees. A refused command's problem ``detail`` is shown to the user; nothing else is logged
to the browser's console.

The browser is ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it),
never one Playwright downloads. The screenshot is kept at ``$SERVFLOW_ARTIFACTS/console.png``,
by default ``.artifacts/console.png`` at the checkout's root (ignored by git).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from servflow import ServiceDesk
from servflow.http import ApiKeys, create_app
from servflow.http.app import CONSOLE

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SERVFLOW_ARTIFACTS") or ROOT / ".artifacts")
#: The desk's stream looks at an SQLite log this often (seconds; PostgreSQL is woken by NOTIFY).
POLL = 0.2  # the event stream's poll on SQLite (the default, 0.25 s, would do too)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # a free port, held from now on: no race for it
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An SQLite desk behind a real server: its URL, and an agent's API key."""
    if not CHROMIUM.exists():
        pytest.fail(f"no {CHROMIUM}: apt-get install chromium (CI installs it; never a download)")
    desk = ServiceDesk.sqlite(str(tmp_path / "desk.db"))
    keys = ApiKeys()
    key = keys.issue("agent:ana", "agent")
    try:
        with serving(create_app(desk, auth=keys, poll_interval=POLL)) as base:
            yield base, key
    finally:
        desk.close()


@contextmanager
def browser_page() -> Iterator[tuple[Page, list[str]]]:
    """A page of a headless chromium, and the errors its console logs."""
    errors: list[str] = []

    def logged(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", logged)
            page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
            page.set_default_timeout(5000)
            yield page, errors
        finally:
            browser.close()


def work_to_completion(page: Page) -> None:
    """Classify, assign and complete the request shown, through the page's forms."""
    status = page.locator('#detail dd[data-field="status"]')
    classify = page.locator("#classify")
    classify.get_by_label("Priority").select_option("high")
    classify.get_by_role("button", name="Classify").click()
    expect(status).to_have_text("classified")

    assign = page.locator("#assign")
    assign.get_by_label("Team").fill("support")
    assign.get_by_label("Agent (optional)").fill("agent:ana")
    assign.get_by_role("button", name="Assign").click()
    expect(status).to_have_text("assigned")

    complete = page.locator("#complete")
    complete.get_by_label("Outcome").select_option("resolved")
    complete.get_by_label("Resolution").fill("Replaced the door seal.")
    complete.get_by_role("button", name="Complete").click()
    expect(status).to_have_text("completed")


def test_the_console_shows_a_new_request_live_and_works_it_to_completion(
    served: tuple[str, str],
) -> None:
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    with browser_page() as (page, errors), httpx.Client(base_url=base, headers=auth) as api:
        page.goto(f"{base}/console")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#live")).to_have_attribute("data-state", "open")
        expect(page.locator("#queue-caption")).to_contain_text("in work order: 0")

        opened = api.post(
            "/api/requests",
            json={
                "customer": "acme",
                "channel": "phone",
                "kind": "complaint",
                "stage": "post_sale",
                "symptom": "The dishwasher leaks.",
            },
        )
        assert opened.status_code == 201, opened.text
        ticket = opened.json()["ticket_code"]
        row = page.locator(f'#queue-rows tr[data-ticket="{ticket}"]')
        expect(row).to_be_visible(timeout=1000)  # live, from the event stream: no reload
        expect(row.locator('td[data-field="status"]')).to_have_text("new")
        expect(row.locator('td[data-clock="resolution"] time')).to_contain_text("in ")

        row.get_by_role("button", name=ticket).click()
        detail = page.locator("#detail")
        status = detail.locator('dd[data-field="status"]')
        expect(page.locator("#detail-title")).to_have_text(f"Request {ticket}")
        expect(status).to_have_text("new")
        expect(page.locator("#history li")).to_have_count(1)

        work_to_completion(page)
        expect(row.locator('td[data-field="status"]')).to_have_text("completed")
        expect(row.locator('td[data-field="priority"]')).to_have_text("high")
        expect(page.locator("#history li")).to_have_count(4)
        expect(detail.locator("#clocks")).to_contain_text("met")

        stored = api.get(f"/api/requests/{ticket}")
        assert stored.status_code == 200
        request = stored.json()
        assert (request["status"], request["priority"]) == ("completed", "high")
        assert (request["team"], request["agent"]) == ("support", "agent:ana")
        assert request["resolution"] == "Replaced the door seal."
        history = api.get(f"/api/requests/{ticket}/history").json()
        assert [e["event_type"] for e in history] == [
            "Opened",
            "Classified",
            "Assigned",
            "Completed",
        ]

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "console.png", full_page=True)
        assert errors == []

        # A command the desk refuses: its problem's detail is shown, readably.
        page.locator("#classify").get_by_role("button", name="Classify").click()
        expect(page.locator("#message")).to_contain_text("Conflict")
        expect(page.locator("#message")).to_contain_text("classify")
        assert all("409" in error for error in errors), errors  # the browser logs the 409 only

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("API key")).to_be_visible()
        assert page.evaluate("sessionStorage.length") == 0


def test_the_console_is_three_files_that_load_nothing_from_elsewhere() -> None:
    assert sorted(p.name for p in CONSOLE.iterdir()) == ["console.css", "console.js", "index.html"]
    for file in CONSOLE.iterdir():
        text = file.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[\w.-]+\.\w+/", text), file.name  # no CDN, no font
