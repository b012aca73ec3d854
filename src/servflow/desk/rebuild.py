"""A rebuild whose passes over the log run in several processes at once.

Each projection has its own tables and its own tracking position, so projections can be
rebuilt apart: this process empties every chosen projection's tables (``rebuild_start``), the
projections are shared out among ``workers`` groups, each group's pass over the whole log runs
in a process of its own (this one takes the first group), each opening the store as this desk
did, and once every pass is done this process builds the indexes and catches up with what was
written meanwhile (``rebuild_end``). Every pass commits its rows with its projections'
positions, as a rebuild in one process does, so the positions are exact at every commit and a
rebuild stopped half-way leaves views that a catch-up finishes.

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

__all__ = ["LOCK_WAIT", "MAX_WORKERS", "WEIGHTS", "groups", "rebuild"]

#: How much of a rebuild's work each projection is, roughly; unknown ones count as 1. Measured
#: on a time-ordered log, each alone in one process: queues 5.6 s, SLA 4.1 s, the audit trail
#: 2.1 s. Two processes then rebuild the queues in one and SLA and audit in the other (5.6 s
#: against 5.2 s), not the queues and the audit trail beside SLA (6.7 s against 4.1 s).
WEIGHTS = {"queues": 2.7, "sla": 2.0, "audit": 1.0}
#: How often this process looks at the other passes once its own is done (seconds).
_POLL = 0.2
#: How long a pass waits for SQLite's write lock (seconds): the other passes take turns at it,
#: and one holds it while it flushes its rows, for minutes over millions of requests.
LOCK_WAIT = 6 * 3600


def groups(names: Sequence[str], workers: int) -> list[list[str]]:
    """The projections shared out among at most ``workers`` groups, heaviest first.

    Each projection goes to the lightest group so far (``WEIGHTS``); empty groups are left out.
    Deterministic: the same names and workers give the same groups.
    """
    count = max(1, min(workers, len(names)))
    bins: list[list[str]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for name in sorted(names, key=lambda n: (-WEIGHTS.get(n, 1.0), n)):
        lightest = loads.index(min(loads))
        bins[lightest].append(name)
        loads[lightest] += WEIGHTS.get(name, 1.0)
    return [b for b in bins if b]


def rebuild(
    stores: Stores,
    names: Sequence[str],
    *,
    workers: int,
    progress: ProgressCallback | None = None,
) -> int:
    """Rebuild ``names`` with their passes in up to ``workers`` processes; events applied.

    Returns the most events any pass applied (every pass reads the whole log) plus those the
    final catch-up applied.
    """
    chosen = groups(names, workers if stores.opened_with.shared else 1)
    with stores.views.patient(LOCK_WAIT):
        return _rebuild(stores, names, chosen, progress)


def _rebuild(
    stores: Stores,
    names: Sequence[str],
    chosen: list[list[str]],
    progress: ProgressCallback | None,
) -> int:
    projector = stores.projector
    if len(chosen) == 1:
        return projector.rebuild(names=names, progress=progress)
    projector.rebuild_start(names)
    others = [_Pass(stores.opened_with, group) for group in chosen[1:]]
    try:
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

        own = projector.rebuild_pass(chosen[0], tick)
        applied = max([own, *(p.wait() for p in others)])
    finally:
        for other in others:
            other.stop()
    projector.rebuild_end(names)
    return applied + projector.catch_up(names=names, progress=progress)


class _Pass:
    """A group's pass over the log in a process of its own."""

    def __init__(self, opened_with: OpenedWith, names: list[str]) -> None:
        self.names = names
        #: Events the pass has applied so far, and its outcome once it ended.
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
        stdin.write(json.dumps({"env": env, "audit_key": key and key.hex(), "names": names}))
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
        """Events the pass applied, once it ended; a ``StoreError`` if it failed."""
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
            f"the rebuild of {who} in another process failed "
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

            applied = stores.projector.rebuild_pass(spec["names"], tick)
        finally:
            stores.close()
    except BaseException as error:  # noqa: BLE001 - reported to the process that waits
        detail = str(error) or traceback.format_exception_only(type(error), error)[-1].strip()
        print(json.dumps({"error": f"{type(error).__name__}: {detail}"}), flush=True)  # noqa: T201
        sys.exit(1)
    print(json.dumps({"applied": applied}), flush=True)  # noqa: T201


if __name__ == "__main__":
    _main()
