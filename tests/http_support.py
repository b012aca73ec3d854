"""What the HTTP adapter's tests share: one API key per role, and a status read off a stream.

``KEYS`` holds a key for each role the tests call in (``customer:acme`` owns the requests the
tests open; ``customer:globex`` is the other customer). ``first_status`` asks an ASGI app for
one response's status and disconnects at once: it works on endless responses (``/api/events``),
which a test client would wait for to end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import anyio

from servflow.http import ApiKeys, HttpRole

#: Who calls, by the name the tests give each role.
PRINCIPALS: Mapping[str, tuple[str, HttpRole]] = {
    "agent": ("agent:ana", HttpRole.AGENT),
    "supervisor": ("supervisor:sue", HttpRole.SUPERVISOR),
    "own": ("customer:acme", HttpRole.CUSTOMER),
    "other": ("customer:globex", HttpRole.CUSTOMER),
    "auditor": ("auditor:eva", HttpRole.AUDITOR),
}
#: The customer whose requests the tests open (``own``'s).
OWNER = "acme"


def issue_keys() -> tuple[ApiKeys, dict[str, str]]:
    """API keys for every role of ``PRINCIPALS``, and each key by the role's name."""
    keys = ApiKeys()
    issued = {name: keys.issue(actor, role) for name, (actor, role) in PRINCIPALS.items()}
    return keys, issued


def auth_headers(key: str | None) -> dict[str, str]:
    """The headers that present ``key`` (none for None)."""
    return {} if key is None else {"Authorization": f"Bearer {key}"}


def first_status(
    app: Any,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
    body: object = None,
) -> int:
    """The status an ASGI app answers a call with; the client leaves once it has it."""
    raw = b"" if body is None else json.dumps(body).encode()
    header_list = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if body is not None:
        header_list.append((b"content-type", b"application/json"))
    header_list.append((b"content-length", str(len(raw)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(params or {}).encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *header_list],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    status: list[int] = []

    async def run() -> None:
        answered = anyio.Event()
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": raw, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                answered.set()

        with anyio.fail_after(10):
            await app(scope, receive, send)

    anyio.run(run)
    return status[0]
