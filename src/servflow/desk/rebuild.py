"""A rebuild whose passes over the log run in several processes at once, each with a share.

The requests are shared out among ``workers`` processes (``Share``: by the last hex digit of
their ids), each rebuilding every chosen projection for its own requests: this process empties
the projections' tables and marks them as being rebuilt (``rebuild_start``), each share's pass
runs in a process of its own (this one takes the first share) to the same end of the log, and
once every pass is done this process sets the projections' positions there (``rebuild_join``),
builds the indexes and catches up with what was written meanwhile (``rebuild_end``). Every
process decodes only its own requests' events and folds each request's tracker once for the
queue and SLA views together, so the work is split evenly, whatever the projections weigh.

While the passes run, no catch-up or inline pass applies events to the projections (they are
marked); queries read them as they fill. Should a pass fail, the views are emptied (a catch-up
fills them again) and a ``StoreError`` names the pass; should this process die, the views stay
marked (``ProjectionStatus.rebuilding``) until the next rebuild.

The other processes are fresh interpreters (``python -m servflow.desk.rebuild``: nothing of
this one is shared by ``fork``, and the caller's main module is not run again as
``multiprocessing``'s ``spawn`` would); each reads how to open the store on its standard input
(a cipher key never shows in a process listing) and writes its progress and outcome as JSON
lines on its standard output.
On SQLite the passes take turns at the store's single write lock, a checkpoint at a time; they
compute (decode, fold, measure) side by side. A pass holds the lock while it flushes its rows,
for minutes over millions of requests, so every pass waits for it up to ``LOCK_WAIT``, not the
store's lock timeout (5 seconds by default). An in-memory store is rebuilt in this process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import IO

from servflow.desk.options import MAX_WORKERS
from servflow.desk.stores import OpenedWith, Stores, opening_lock
from servflow.errors import StoreError
from servflow.projections.runner import Progress, ProgressCallback
from servflow.projections.shares import MAX_SHARES, Share

__all__ = ["LOCK_WAIT", "MAX_WORKERS", "rebuild"]

_log = logging.getLogger("servflow")
#: How often this process looks at the other passes once its own is done (seconds).
_POLL = 0.2
#: How long a pass waits for SQLite's write lock (seconds): the other passes take turns at it,
#: and one holds it while it flushes its rows, for minutes over millions of requests.
LOCK_WAIT = 6 * 3600


def rebuild(
    stores: Stores,
    names: Sequence[str],
    *,
    workers: int,
    progress: ProgressCallback | None = None,
) -> int:
    """Rebuild ``names`` with their passes in up to ``workers`` processes; events applied.

    Returns how many positions of the log the passes read (each reads the whole log, and
    folds its share of it) plus the events the final catch-up applied.
    """
    count = min(workers, MAX_SHARES) if stores.opened_with.shared else 1
    with stores.views.patient(LOCK_WAIT):
        return _rebuild(stores, names, count, progress)


def _rebuild(
    stores: Stores,
    names: Sequence[str],
    count: int,
    progress: ProgressCallback | None,
) -> int:
    projector = stores.projector
    head = projector.head()
    if count == 1 or not head:
        return projector.rebuild(names=names, progress=progress)
    projector.rebuild_start(names, shares=count)
    try:
        others: list[_Pass] = []
        try:
            others.extend(  # one by one: those started are stopped should the next fail
                _Pass(stores.opened_with, list(names), Share(index, count), head)
                for index in range(1, count)
            )
            started = time.perf_counter()

            def tick(latest: Progress) -> None:
                if progress is not None:
                    slowest = min([latest.done, *(p.done for p in others)])
                    progress(
                        Progress(
                            done=slowest,
                            total=max(latest.total, slowest),
                            position=latest.position,
                            head=latest.head,
                            elapsed=time.perf_counter() - started,
                        )
                    )

            read = projector.rebuild_pass(names, tick, share=Share(0, count), stop=head)
            for other in others:
                other.wait()
        finally:
            for other in others:
                other.stop()
        projector.rebuild_join(names, count, head)
    except BaseException:
        # Empty views that a catch-up fills, rather than views no catch-up may touch.
        try:
            projector.rebuild_start(names)
        except Exception:  # noqa: BLE001 - the first failure is the one to report
            _log.exception("servflow: the views of a failed rebuild could not be emptied")
        raise
    projector.rebuild_end(names)
    return read + projector.catch_up(names=names, progress=progress)


class _Pass:
    """A share's pass over the log in a process of its own."""

    def __init__(self, opened_with: OpenedWith, names: list[str], share: Share, stop: int) -> None:
        self.names = names
        self.share = share
        #: Positions of the log the pass has read so far, and its outcome once it ended.
        self.done = 0
        self._outcome: dict[str, object] | None = None
        # A file, not a pipe: a pass that writes much to it never waits for a reader.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by stop
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        stdin: IO[str] = self._process.stdin  # type: ignore[assignment]
        env = opened_with.env
        if env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite":
            env = {**env, "SQLITE_LOCK_TIMEOUT": str(LOCK_WAIT)}
        key = opened_with.audit_key
        stdin.write(
            json.dumps(
                {
                    "env": env,
                    "audit_key": key and key.hex(),
                    "names": names,
                    "share": [share.index, share.count],
                    "stop": stop,
                }
            )
        )
        stdin.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout: IO[str] = self._process.stdout  # type: ignore[assignment]
        for line in stdout:
            message = json.loads(line)
            if "done" in message:
                self.done = int(message["done"])
            else:
                self._outcome = message

    def wait(self) -> int:
        """Positions of the log the pass read, once it ended; a ``StoreError`` if it failed."""
        self._process.wait()
        self._reader.join()
        outcome = self._outcome or {}
        applied = outcome.get("applied")
        if isinstance(applied, int):
            return applied
        self._stderr.seek(0)
        said = self._stderr.read().strip().splitlines()
        detail = outcome.get("error") or (said or ["no output"])[-1]
        who = "+".join(self.names)
        msg = (
            f"the rebuild of {who} (share {self.share.index + 1} of {self.share.count}) "
            "in another process failed "
            f"(exit code {self._process.returncode}): {detail}"
        )
        raise StoreError(msg)

    def stop(self) -> None:
        """End the process if it still runs (this process's own pass failed)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()


@contextlib.contextmanager
def _opening(env: dict[str, str]) -> Iterator[None]:
    """Open a PostgreSQL store as desks do: one process at a time (its catalogue races)."""
    if "POSTGRES_DBNAME" not in env:
        yield
        return
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415 - optional extra

    dsn = make_conninfo(
        dbname=env["POSTGRES_DBNAME"],
        host=env.get("POSTGRES_HOST", "127.0.0.1"),
        port=env.get("POSTGRES_PORT", "5432"),
        user=env.get("POSTGRES_USER", "postgres"),
        password=env.get("POSTGRES_PASSWORD", ""),
    )
    with opening_lock(dsn, env.get("POSTGRES_SCHEMA") or "public"):
        yield


def _main() -> None:
    """A group's pass: how to open the store on standard input, JSON lines on standard output."""
    try:
        spec = json.loads(sys.stdin.read())
        key = spec["audit_key"]
        env: dict[str, str] = spec["env"]
        with _opening(env):
            stores = Stores(
                env,
                projections="external",
                audit_key=bytes.fromhex(key) if key else None,
                indexes=False,
            )
        try:

            def tick(progress: Progress) -> None:
                print(json.dumps({"done": progress.done}), flush=True)  # noqa: T201

            index, count = spec["share"]
            applied = stores.projector.rebuild_pass(
                spec["names"], tick, share=Share(int(index), int(count)), stop=int(spec["stop"])
            )
        finally:
            stores.close()
    except BaseException as error:  # noqa: BLE001 - reported to the process that waits
        detail = str(error) or traceback.format_exception_only(type(error), error)[-1].strip()
        print(json.dumps({"error": f"{type(error).__name__}: {detail}"}), flush=True)  # noqa: T201
        sys.exit(1)
    print(json.dumps({"applied": applied}), flush=True)  # noqa: T201


if __name__ == "__main__":
    _main()
