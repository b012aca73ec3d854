"""The outbox's dispatcher killed with SIGKILL mid-run, then run again: nothing lost.

A real process dispatches a store's receipts to a sender that appends each message's key to a
file (and is slow, so the kill lands mid-run); it is killed with SIGKILL once some are out,
and a second dispatcher finishes after the first one's claims have run out. Every owed message
ends delivered, and at most the one in flight when the process died is handed over twice (an
idempotent sender drops it by key). Two dispatchers at once never hand a message over twice.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import POSTGRES_DSN, drop_schema, require_postgres
from servflow import ServiceDesk

REQUESTS = 30

DISPATCHER = textwrap.dedent(
    """
    import os, sys, time
    from datetime import timedelta
    from servflow import ServiceDesk

    db, schema, out, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

    class Slow:
        def send(self, message):
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(message.key + "\\n")
                handle.flush()
                os.fsync(handle.fileno())
            time.sleep(pause)

    if db.startswith("postgresql://"):
        desk = ServiceDesk.postgres(db, schema=schema)
    else:
        desk = ServiceDesk.sqlite(db)
    with desk:
        report = desk.dispatch(Slow(), lease=timedelta(seconds=1))
    print(report.delivered)
    """
)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        require_postgres()
        schema = f"k_{uuid.uuid4().hex[:12]}"
        yield POSTGRES_DSN, schema
        drop_schema(schema)
        return
    yield str(tmp_path / "outbox.db"), ""


def open_desk(db: str, schema: str) -> ServiceDesk:
    if db.startswith("postgresql://"):
        return ServiceDesk.postgres(db, schema=schema)
    return ServiceDesk.sqlite(db)


def seeded(db: str, schema: str) -> set[str]:
    with open_desk(db, schema) as desk:
        for number in range(REQUESTS):
            desk.open(
                customer=f"c{number}",
                channel="web",
                kind="report",
                stage="post_sale",
                symptom="It broke",
                actor="agent:ana",
            )
        desk.catch_up()
    return set()


def dispatcher(db: str, schema: str, out: Path, pause: float) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, "-c", DISPATCHER, db, schema or "-", str(out), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def keys_in(out: Path) -> list[str]:
    return out.read_text(encoding="utf-8").split() if out.exists() else []


def test_a_dispatcher_killed_mid_run_loses_nothing_and_repeats_at_most_one(
    store: tuple[str, str], tmp_path: Path
) -> None:
    db, schema = store
    seeded(db, schema)
    out = tmp_path / "sent.txt"
    first = dispatcher(db, schema, out, 0.05)
    deadline = time.monotonic() + 60
    while len(keys_in(out)) < 8 and time.monotonic() < deadline:
        if first.poll() is not None:
            pytest.fail(f"the dispatcher ended before it was killed: {first.communicate()}")
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    sent_before = len(keys_in(out))
    assert 8 <= sent_before < REQUESTS
    time.sleep(1.2)  # the killed dispatcher's claims run out
    second = dispatcher(db, schema, out, 0.0)
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    counts = Counter(keys_in(out))
    with open_desk(db, schema) as desk:
        entries = desk.outbox(limit=1000)
    assert len(entries) == REQUESTS
    assert {e.status for e in entries} == {"delivered"}
    assert set(counts) == {e.key for e in entries}
    assert sum(n - 1 for n in counts.values()) <= 1


def test_two_dispatchers_at_once_hand_each_message_over_once(
    store: tuple[str, str], tmp_path: Path
) -> None:
    db, schema = store
    seeded(db, schema)
    out = tmp_path / "sent.txt"
    runs = [dispatcher(db, schema, out, 0.01) for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
    counts = Counter(keys_in(out))
    assert len(counts) == REQUESTS
    assert set(counts.values()) == {1}
