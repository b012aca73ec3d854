"""Real servers on 127.0.0.1 for the senders' tests: an HTTP receiver and an SMTP server.

Nothing here is a mock: the senders speak HTTP and SMTP over sockets to these servers, which
record what arrived and answer as a test tells them to.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from servflow import OutboundMessage

REQUEST = UUID("0b9b7f4e-3c1a-4f0e-9a51-2d0c6f1e8a10")


def outbound(**fields: Any) -> OutboundMessage:
    """A message owed to a customer, with plausible fields; ``fields`` overrides some."""
    values: dict[str, Any] = {
        "key": f"{REQUEST}:receipt:1",
        "kind": "receipt",
        "request_id": REQUEST,
        "ticket_code": "SR-000001",
        "customer_id": "acme",
        "to": ("ana@acme.example", "+34 600 000 000"),
        "language": "es",
        "subject": "Hemos recibido su solicitud SR-000001",
        "body": "Hola Ana,\n\nHemos recibido su solicitud. Le responderemos pronto.\n",
        "owed_at": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    }
    values.update(fields)
    return OutboundMessage(**values)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- HTTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request: a status, headers, after a pause."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as it reached the receiver."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 that records requests and answers as told."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: deque[Answer] = field(default_factory=deque)
    stop: threading.Event = field(default_factory=threading.Event)

    def answer(self, *answers: Answer) -> None:
        """Answer the next requests so, in order (then 200)."""
        self.answers.extend(answers)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected: nothing to print."""


@contextmanager
def http_receiver() -> Iterator[Receiver]:
    """A running receiver; stopped on leaving."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.received.append(
                Received(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
            )
            answer = receiver.answers.popleft() if receiver.answers else Answer()
            if answer.delay and receiver.stop.wait(answer.delay):
                return
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            """Tests read ``received``, not a log on stderr."""

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/servflow"
    try:
        yield receiver
    finally:
        receiver.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One mail as the SMTP server took it: the envelope and the bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes


@dataclass
class Recorder:
    """An aiosmtpd handler: records every mail; refuses recipients with ``refuse`` if set."""

    mails: list[Mail] = field(default_factory=list)
    refuse: str | None = None
    #: Recipients refused whatever ``refuse`` says (the others are taken).
    refused_addresses: frozenset[str] = frozenset()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        del server, session, rcpt_options
        if address in self.refused_addresses:
            return "550 5.1.1 No such user here"
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        del server, session
        content = envelope.content
        assert isinstance(content, bytes)
        self.mails.append(
            Mail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=content,
            )
        )
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(handler: Recorder, **smtp_options: Any) -> Iterator[Controller]:
    """An aiosmtpd server on 127.0.0.1 (a free port) running ``handler``; stopped on leaving."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp_options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port: int = listener.getsockname()[1]
        yield port
