"""``servflow serve`` and ``servflow api-key``: the HTTP adapter from the shell."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli_output import Run, ok, refused, runner_on


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner_on(tmp_path / "desk.db", monkeypatch)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_api_keys_are_printed_once_and_kept_as_digests(run: Run, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    key = ok(run("api-key", "add", "--keys", str(keys), "--actor", "agent:ana", "--role", "agent"))
    key = key.strip()
    assert key.startswith("sfk_")
    stored = keys.read_text(encoding="utf-8")
    assert key not in stored
    assert json.loads(stored)["keys"][0]["actor"] == "agent:ana"
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    assert ok(run("api-key", "list", "--keys", str(keys))).split() == ["agent:ana", "agent"]
    line = refused(
        run("api-key", "add", "--keys", str(keys), "--actor", "customer:x", "--role", "agent"),
        "configuration_error",
    )
    assert "does not fit the role 'agent'" in line
    refused(
        run("api-key", "add", "--keys", str(keys), "--actor", "agent:bo", "--role", "boss"),
        "configuration_error",
    )


def test_serve_needs_keys(run: Run, tmp_path: Path) -> None:
    ok(run("request", "open", "--customer", "acme", "--channel", "web", "--kind", "claim",
           "--stage", "sale", "--symptom", "x"))  # fmt: skip
    line = refused(run("serve", "--keys", str(tmp_path / "none.json")), "configuration_error")
    assert "no API keys" in line


def test_serve_serves_the_api_until_interrupted(run: Run, tmp_path: Path) -> None:
    db = tmp_path / "desk.db"
    keys = tmp_path / "keys.json"
    ok(run("request", "open", "--customer", "acme", "--channel", "web", "--kind", "claim",
           "--stage", "sale", "--symptom", "The portal is down"))  # fmt: skip
    key = ok(run("api-key", "add", "--keys", str(keys), "--actor", "agent:ana", "--role", "agent"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVFLOW_")}
    server = subprocess.Popen(  # noqa: S603 - our own command line
        [
            sys.executable,
            "-m",
            "servflow.cli",
            "--db",
            str(db),
            "serve",
            "--port",
            str(port),
            "--keys",
            str(keys),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/queue"
        headers = {"Authorization": f"Bearer {key.strip()}"}
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(url, headers=headers, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert [row["ticket_code"] for row in response.json()["items"]] == ["SR-000001"]
        assert httpx.get(url, timeout=2).status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert b"Traceback" not in err
    assert b"serving http://127.0.0.1" in out
