"""``GET /api/events``: the log as it is recorded, over a real server, filtered by role.

A uvicorn server on 127.0.0.1 (a free port, started and stopped here) serves an SQLite desk;
clients read the Server-Sent Events stream with httpx.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from servflow import ServiceDesk
from servflow.http import ApiKeys, create_app

OPEN = {"channel": "web", "kind": "claim", "stage": "post_sale", "symptom": "Charged twice"}


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    desk: ServiceDesk

    def headers(self, who: str, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **more}

    def post(self, who: str, path: str, body: object) -> httpx.Response:
        response = httpx.post(f"{self.url}/api{path}", json=body, headers=self.headers(who))
        assert response.status_code in {200, 201}, response.text
        return response


@dataclass
class Listener:
    """Reads the event stream in a thread until it has ``wanted`` events."""

    server: Server
    who: str
    wanted: int
    resume_after: str | None = None
    got: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def run(self) -> None:
        more = {} if self.resume_after is None else {"Last-Event-ID": self.resume_after}
        with httpx.stream(
            "GET",
            f"{self.server.url}/api/events",
            headers=self.server.headers(self.who, **more),
            timeout=15,
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("id:"):
                    self.ids.append(line[3:].strip())
                elif line.startswith("data:"):
                    self.got.append(json.loads(line[5:]))
                    if len(self.got) >= self.wanted:
                        return

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        time.sleep(0.3)  # connected: the stream starts from the head of the log
        return thread


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    desk = ServiceDesk.sqlite(str(tmp_path / "desk.db"))
    keys = ApiKeys()
    issued = {
        "agent": keys.issue("agent:ana", "agent"),
        "acme": keys.issue("customer:acme", "customer"),
        "globex": keys.issue("customer:globex", "customer"),
    }
    port = free_port()
    config = uvicorn.Config(create_app(desk, auth=keys), host="127.0.0.1", port=port)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running.started
    yield Server(f"http://127.0.0.1:{port}", issued, desk)
    running.should_exit = True
    thread.join(timeout=10)
    desk.close()


def test_events_arrive_as_recorded_and_resume_after_the_last_id(server: Server) -> None:
    listener = Listener(server, "agent", wanted=3)
    thread = listener.start()
    started = time.monotonic()
    server.post("agent", "/requests", {"customer": "acme", **OPEN})
    server.post("agent", "/requests/SR-000001/classify", {"priority": "high"})
    server.post("agent", "/requests/SR-000001/assign", {"team": "billing"})
    thread.join(timeout=10)
    assert [e["event_type"] for e in listener.got] == ["Opened", "Classified", "Assigned"]
    assert time.monotonic() - started < 5
    assert listener.ids == [str(e["position"]) for e in listener.got]
    # A client that lost the stream after the first event resumes exactly after it.
    again = Listener(server, "agent", wanted=2, resume_after=listener.ids[0])
    again.start().join(timeout=10)
    assert [e["event_type"] for e in again.got] == ["Classified", "Assigned"]


def test_a_customer_s_stream_holds_their_requests_without_internal_notes(
    server: Server,
) -> None:
    listener = Listener(server, "acme", wanted=3)
    thread = listener.start()
    server.post("globex", "/requests", OPEN)
    server.post("acme", "/requests", OPEN)
    server.post("agent", "/requests/SR-000002/notes", {"text": "Difficult customer"})
    server.post("agent", "/requests/SR-000002/notes", {"text": "On it", "visibility": "customer"})
    server.post("agent", "/requests/SR-000001/classify", {"priority": "low"})
    server.post("agent", "/requests/SR-000002/classify", {"priority": "low"})
    thread.join(timeout=10)
    assert [(e["ticket_code"], e["event_type"]) for e in listener.got] == [
        ("SR-000002", "Opened"),
        ("SR-000002", "NoteAdded"),
        ("SR-000002", "Classified"),
    ]
    assert listener.got[1]["data"]["text"] == "On it"


def test_the_stream_needs_a_key(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/events", timeout=5)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
