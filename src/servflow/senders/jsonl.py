"""A sender that appends each message to a JSON Lines file: an inbox to read, test or forward."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from servflow.desk.outbox import OutboundMessage
from servflow.errors import ConfigurationError, DeliveryError, shown

__all__ = ["JsonlSender"]

# JSON escapes every control character, so a line holds no ``\n`` or ``\r``; these three are
# the other line breaks ``str.splitlines`` knows, which JSON may leave raw inside a string.
_OTHER_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def jsonl_line(message: OutboundMessage) -> bytes:
    """One message as one line of JSON (UTF-8, ISO datetimes), ending with a newline."""
    text = message.model_dump_json().translate(_OTHER_BREAKS)
    return (text + "\n").encode("utf-8")


class JsonlSender:
    """Appends each message to a JSON Lines file, one object per line, written to disk per message.

    Every field of the message is written (datetimes in ISO 8601, the request id as text); read a
    line back with ``OutboundMessage.model_validate_json(line)``. Each line is flushed and
    ``fsync``-ed before ``send`` returns, so a message the outbox counts as delivered is on disk.
    The outbox delivers at least once: after a crash between the write and the outbox's record of
    it, the same message is appended again. Readers drop a line whose ``key`` they have seen.

    One sender may be shared by threads: lines are never interleaved. A file that cannot be
    written (a missing directory, a full disk, a path that is a directory) raises a retryable
    ``DeliveryError``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            msg = f"JsonlSender: path must be a file path, not {shown(path)}"
            raise ConfigurationError(msg)
        self.path = Path(path)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JsonlSender({str(self.path)!r})"

    def send(self, message: OutboundMessage) -> None:
        """Append ``message`` as one line and wait until it is on disk."""
        line = jsonl_line(message)
        with self._lock:
            try:
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    written = 0
                    while written < len(line):  # one write almost always; a signal may cut it
                        written += os.write(descriptor, line[written:])
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            except OSError as error:
                msg = (
                    f"JsonlSender could not write message {shown(message.key)} to "
                    f"{shown(str(self.path))}: {error.strerror or error}"
                )
                raise DeliveryError(msg, retryable=True) from error
