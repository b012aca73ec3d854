"""The adapter behind a real uvicorn server on 127.0.0.1, on SQLite and on PostgreSQL.

Each test starts uvicorn in a thread on a free port of 127.0.0.1 (a socket bound to port 0)
and stops it at the end; the calls go over TCP with httpx. A request is opened, worked and
completed over HTTP; an ``If-Match`` naming an old version is refused with 412; the event
stream (``/api/events``) delivers each event once, resumes after ``Last-Event-ID``, and gives a
customer only its own requests' events without the desk's internal notes. On PostgreSQL the
stream is woken by ``LISTEN/NOTIFY``: each event arrives well under the one-second poll.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from conftest import POSTGRES_DSN, drop_schema, require_postgres
from http_support import OWNER, auth_headers, issue_keys
from servflow import Request, ServiceDesk
from servflow.http import create_app

BODY = {"channel": "web", "kind": "complaint", "stage": "post_sale", "symptom": "No dial tone"}


def open_for(desk: ServiceDesk, customer: str) -> Request:
    """A request of ``customer``, opened by the desk directly (not over HTTP)."""
    return desk.open(
        customer=customer, channel="web", kind="complaint", stage="post_sale",
        symptom="No dial tone", actor="agent:ana",
    )  # fmt: skip


@dataclass
class Server:
    """A desk served by uvicorn on 127.0.0.1; ``url`` ends in ``/api``."""

    desk: ServiceDesk
    url: str
    keys: dict[str, str]

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=auth_headers(self.keys[role]), timeout=10.0)


@contextlib.contextmanager
def serve(kind: str, tmp_path: Path) -> Iterator[Server]:
    """A desk on ``kind`` (sqlite, postgres) served by uvicorn in a thread, until the block ends."""
    schema = f"t_http_{uuid.uuid4().hex[:12]}"
    if kind == "postgres":
        require_postgres()
        desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema)
    else:
        desk = ServiceDesk.sqlite(str(tmp_path / "servflow.db"))
    auth, keys = issue_keys()
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))  # a free port, chosen by the system
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        create_app(desk, auth=auth), log_level="warning", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.02)
        yield Server(desk, f"http://127.0.0.1:{port}/api", keys)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listening.close()
        desk.close()
        if kind == "postgres":
            drop_schema(schema)
    assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with serve(request.param, tmp_path) as server:
        yield server


# -- a request worked over HTTP -------------------------------------------------------------------


def test_a_request_is_opened_worked_and_completed_over_http(served: Server) -> None:
    with served.client("own") as customer, served.client("agent") as agent:
        opened = customer.post("/requests", json=BODY)
        assert opened.status_code == 201, opened.text
        code = opened.json()["ticket_code"]
        assert opened.headers["ETag"] == f'"{opened.json()["version"]}"'
        steps = [
            ("classify", {"priority": "high"}),
            ("assign", {"team": "network", "agent": "ana"}),
            ("probe", {"findings": "No line voltage"}),
            ("act", {"action": "Replaced the cable", "effort_minutes": 30}),
            ("complete", {"outcome": "resolved", "resolution": "Cable replaced"}),
        ]
        for command, body in steps:
            answer = agent.post(f"/requests/{code}/{command}", json=body)
            assert answer.status_code == 200, (command, answer.text)
        accepted = customer.post(f"/requests/{code}/accept", json={"satisfaction": 5})
        assert accepted.status_code == 200, accepted.text
        final = agent.get(f"/requests/{code}").json()
    assert final["status"] == "closed"
    assert final["customer"]["id"] == OWNER
    history = served.desk.history(code)
    assert [e.actor for e in history][:2] == ["customer:acme", "agent:ana"]
    assert len(history) == 7


def test_if_match_with_an_old_version_is_refused_with_412(served: Server) -> None:
    with served.client("agent") as agent:
        code = agent.post("/requests", json={**BODY, "customer": OWNER}).json()["ticket_code"]
        read = agent.get(f"/requests/{code}")
        etag = read.headers["ETag"]
        first = agent.post(
            f"/requests/{code}/classify", json={"priority": "high"}, headers={"If-Match": etag}
        )
        assert first.status_code == 200, first.text
        assert first.headers["ETag"] != etag
        # a second UI still holding the first version: refused, nothing recorded
        stale = agent.post(
            f"/requests/{code}/classify", json={"priority": "low"}, headers={"If-Match": etag}
        )
        assert stale.status_code == 412
        assert stale.headers["content-type"].startswith("application/problem+json")
        assert stale.json()["code"] == "stale_version"
        now = agent.get(f"/requests/{code}")
        assert now.headers["ETag"] == first.headers["ETag"]
        assert now.json()["priority"] == "high"
        again = agent.post(
            f"/requests/{code}/classify",
            json={"priority": "low"},
            headers={"If-Match": now.headers["ETag"]},
        )
        assert again.status_code == 200


# -- the event stream -----------------------------------------------------------------------------


class Stream:
    """An SSE stream read in a thread; each message is put on ``messages`` with its arrival."""

    def __init__(self, server: Server, role: str, headers: dict[str, str] | None = None) -> None:
        self.messages: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._client = server.client(role)
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._error: list[BaseException] = []
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, args=(headers or {},), daemon=True)
        self._thread.start()
        assert self._connected.wait(10), self._error or "the stream did not answer"

    def _read(self, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", "/events", headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                self._connected.set()
                message: dict[str, Any] = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if not line:
                        if "id" in message:
                            self.messages.put((time.monotonic(), message))
                        message = {}
                    elif not line.startswith(":"):
                        field, _, value = line.partition(":")
                        message[field] = value.removeprefix(" ")
        except (httpx.HTTPError, AssertionError) as error:
            if not self._stop.is_set():
                self._error.append(error)

    def next(self, timeout: float = 5.0) -> tuple[float, dict[str, Any]]:
        return self.messages.get(timeout=timeout)

    def take(self, count: int) -> list[dict[str, Any]]:
        return [self.next()[1] for _ in range(count)]

    def quiet_for(self, seconds: float) -> bool:
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        """Hang up, as a browser closing its tab does (the blocked read returns at once)."""
        self._stop.set()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._client.close()
        assert not self._thread.is_alive(), "the stream's reader did not stop"


def test_the_stream_delivers_each_event_once_and_resumes_after_last_event_id(
    served: Server,
) -> None:
    stream = Stream(served, "agent")
    try:
        with served.client("agent") as agent:
            code = agent.post("/requests", json={**BODY, "customer": OWNER}).json()["ticket_code"]
            agent.post(f"/requests/{code}/classify", json={"priority": "high"})
            agent.post(f"/requests/{code}/assign", json={"team": "network"})
        seen = stream.take(3)
        assert stream.quiet_for(1.5)
    finally:
        stream.close()
    assert [m["event"] for m in seen] == ["Opened", "Classified", "Assigned"]
    positions = [int(m["id"]) for m in seen]
    assert positions == sorted(positions)
    assert json.loads(seen[0]["data"])["ticket_code"] == code
    # a browser reconnecting sends the last id it saw: the stream goes on from there
    served.desk.report_progress(code, message="On it", actor="agent:ana")
    resumed = Stream(served, "agent", headers={"Last-Event-ID": str(positions[0])})
    try:
        again = resumed.take(3)
        assert resumed.quiet_for(1.5)
    finally:
        resumed.close()
    assert [m["event"] for m in again] == ["Classified", "Assigned", "ProgressReported"]
    assert [int(m["id"]) for m in again[:2]] == positions[1:]


def test_a_customers_stream_holds_its_own_requests_without_internal_notes(
    served: Server,
) -> None:
    stream = Stream(served, "own")
    try:
        desk = served.desk
        theirs = open_for(desk, "globex")
        mine = open_for(desk, OWNER)
        desk.note(theirs.id, text="Globex note", visibility="customer", actor="agent:ana")
        desk.note(mine.id, text="Difficult customer", visibility="internal", actor="agent:ana")
        desk.note(mine.id, text="We are on it", visibility="customer", actor="agent:ana")
        seen = stream.take(2)
        assert stream.quiet_for(1.5)
    finally:
        stream.close()
    assert [m["event"] for m in seen] == ["Opened", "NoteAdded"]
    assert {json.loads(m["data"])["ticket_code"] for m in seen} == {mine.ticket_code}
    assert json.loads(seen[1]["data"])["data"]["text"] == "We are on it"


@pytest.mark.postgres
def test_on_postgresql_an_event_arrives_well_under_the_poll(tmp_path: Path) -> None:
    with serve("postgres", tmp_path) as served:
        stream = Stream(served, "agent")
        delays = []
        try:
            for _ in range(5):
                time.sleep(0.3)  # out of step with any poll
                started = time.monotonic()
                open_for(served.desk, OWNER)
                arrived, message = stream.next(timeout=5)
                assert message["event"] == "Opened"
                delays.append(arrived - started)
        finally:
            stream.close()
    # A poll once a second would take 0.5 s on average, and five events all under 0.3 s
    # would happen by chance once in 400 runs; NOTIFY takes milliseconds.
    assert max(delays) < 0.3, delays
    assert statistics.median(delays) < 0.15, delays
