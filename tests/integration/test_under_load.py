"""Real processes on one store at once: desks opening while others write, followers under writers.

Each run is bounded (writers stop after a few seconds, every wait has a deadline and a hung
process fails the test rather than the CI job) and seeded. Afterwards every acknowledged command
is in the log exactly once, and the views equal a rebuild from the log.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import random
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest
from reliability.jepsen import views_equal_rebuild

from conftest import POSTGRES_DSN, drop_schema, require_postgres
from servflow import Request, ServiceDesk

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

pytestmark = pytest.mark.slow

Mode = Literal["inline", "external"]
#: What a writer process reports: its name, the (request id, version) of every command the desk
#: acknowledged, the symptoms of the requests it opened, the errors servflow logged (views that
#: could not keep up) and the traceback it died of (if any).
Report = tuple[str, list[tuple[str, int]], list[str], list[str], str | None]

SEED = 20260302
#: How long the writers write, and how long anything may take after that before it counts as hung.
WRITING_SECONDS = 3.0
GRACE_SECONDS = 25.0


@dataclass(frozen=True)
class Store:
    """An SQLite file or a PostgreSQL schema that several processes open at once."""

    kind: str
    db: str
    schema: str | None

    def desk(self, projections: Mode) -> ServiceDesk:
        if self.schema is None:
            return ServiceDesk.sqlite(self.db, projections=projections)
        return ServiceDesk.postgres(self.db, schema=self.schema, projections=projections)

    def follow_command(self) -> list[str]:
        command = [sys.executable, "-m", "servflow.projections", "follow", "--db", self.db]
        command += ["--poll", "0.05"]
        return command + (["--schema", self.schema] if self.schema else [])


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield Store("sqlite", str(tmp_path / "busy.db"), None)
        return
    request.applymarker(pytest.mark.postgres)
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield Store("postgres", POSTGRES_DSN, schema)
    drop_schema(schema)


# -- a writer process -----------------------------------------------------------------------------


def write(
    store: Store,
    name: str,
    projections: Mode,
    reopen: bool,  # noqa: FBT001 - passed positionally to the child
    seed: int,
    start: Barrier,
    reports: Queue[Report],
) -> None:
    """Open requests and report progress on them for a while, then report what was acknowledged.

    With ``reopen`` the process opens a new desk every few commands, as short-lived workers do:
    opening a desk with inline projections catches its views up while the others write.
    """
    acknowledged: list[tuple[str, int]] = []
    symptoms: list[str] = []
    failure: str | None = None
    rng = random.Random(seed)  # noqa: S311 - a seeded workload, not cryptography
    # Each request's commands still to come; the writer works on its requests in random order,
    # so batches of the log change rows (and the queue's totals) in ever different orders.
    plans: dict[str, list[str]] = {}
    logged = Logged()
    logging.getLogger("servflow").addHandler(logged)
    try:
        start.wait(timeout=GRACE_SECONDS)
        deadline = time.monotonic() + WRITING_SECONDS
        desk: ServiceDesk | None = None
        while time.monotonic() < deadline:
            if desk is None:
                desk = store.desk(projections)
            waiting = [ref for ref, plan in plans.items() if plan]
            if not waiting or rng.random() < 0.3:
                symptom = f"{name}-{len(symptoms)}"
                request = desk.open(
                    customer=f"c{rng.randrange(5)}",
                    channel="web",
                    kind="complaint",
                    stage="post_sale",
                    symptom=symptom,
                    actor="agent:ana",
                )
                symptoms.append(symptom)
                plans[str(request.id)] = ["classify", "assign", "progress", "progress"]
            else:
                ref = rng.choice(waiting)
                request = command(desk, ref, plans[ref].pop(0), rng)
            acknowledged.append((str(request.id), request.version))
            if reopen and rng.random() < 0.3:
                desk.close()
                desk = None
        if desk is not None:
            desk.close()
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        failure = traceback.format_exc()
    reports.put((name, acknowledged, symptoms, logged.errors, failure))


class Logged(logging.Handler):
    """What servflow logged at WARNING or above in a writer process, one line each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        cause = f": {record.exc_info[1]!r}" if record.exc_info else ""
        self.errors.append(f"{record.getMessage()}{cause}")


def command(desk: ServiceDesk, ref: str, name: str, rng: random.Random) -> Request:
    """Send one command of a request's plan."""
    if name == "classify":
        return desk.classify(ref, priority=rng.choice(["low", "high"]), actor="agent:lead")
    if name == "assign":
        return desk.assign(ref, team=rng.choice(["network", "billing"]), actor="agent:lead")
    return desk.report_progress(ref, message="on it", actor="agent:ana")


@dataclass(frozen=True)
class WriterSpec:
    name: str
    projections: Mode
    reopen: bool


def run_writers(store: Store, writers: list[WriterSpec]) -> list[Report]:
    """Run writer processes together and collect their reports; fail on a hung or failed one."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(writers))
    reports: Queue[Report] = context.Queue()
    processes: list[SpawnProcess] = [
        context.Process(
            target=write,
            args=(store, w.name, w.projections, w.reopen, SEED + i, start, reports),
            name=w.name,
        )
        for i, w in enumerate(writers)
    ]
    for process in processes:
        process.start()
    collected: list[Report] = []
    try:
        deadline = time.monotonic() + WRITING_SECONDS + GRACE_SECONDS
        while len(collected) < len(processes) and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                collected.append(reports.get(timeout=0.5))
        for process in processes:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
        hung = [p.name for p in processes if p.is_alive()]
        assert not hung, f"writer processes still running after {GRACE_SECONDS} s: {hung}"
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    failures = {name: failure for name, *_, failure in collected if failure}
    assert not failures, "\n".join(f"{name}:\n{text}" for name, text in failures.items())
    # Views that fell behind because of a lock conflict are a defect too, if not a lost event.
    logged = {name: errors[:3] for name, _, _, errors, _ in collected if errors}
    assert not logged, f"servflow logged errors under load: {logged}"
    assert sorted(name for name, *_ in collected) == sorted(w.name for w in writers)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return collected


def check_log_holds_exactly(desk: ServiceDesk, reports: list[Report], before: set[str]) -> None:
    """Every acknowledged command is in the log once, and nothing else was recorded."""
    acknowledged = [pair for _, pairs, *_ in reports for pair in pairs]
    assert acknowledged
    assert len(acknowledged) == len(set(acknowledged))
    logged: list[tuple[str, int]] = []
    symptoms: list[str] = []
    for request_id in desk.request_ids():
        if str(request_id) in before:
            continue
        request = desk.get(request_id)
        symptoms.append(request.symptom)
        logged += [(str(request_id), v) for v in range(1, request.version + 1)]
    assert sorted(logged) == sorted(acknowledged)
    assert sorted(symptoms) == sorted(s for _, _, opened, *_ in reports for s in opened)


def check_views_equal_a_rebuild(desk: ServiceDesk) -> None:
    statuses = desk.projection_status()
    assert all(status.lag == 0 for status in statuses), statuses
    assert views_equal_rebuild(desk)


def seed_store(store: Store) -> set[str]:
    """Create the store and record a few requests; returns their ids."""
    with store.desk("inline") as desk:
        for n in range(3):
            desk.open(
                customer="acme",
                channel="phone",
                kind="claim",
                stage="sale",
                symptom=f"seed-{n}",
                actor="agent:ana",
            )
        return {str(i) for i in desk.request_ids()}


# -- desks opening while others write (inline projections) ---------------------------------------


def test_desks_opening_and_catching_up_while_others_write_all_finish_and_lose_nothing(
    store: Store,
) -> None:
    """Inline desks open, write and close over and over beside a writer that leaves the views.

    Every inline desk then finds its views behind and catches up, on opening and after its own
    commands, while the other desks do the same: catch-ups overtake each other all the time.
    """
    before = seed_store(store)
    writers = [WriterSpec("feeder", "external", reopen=False)]
    writers += [WriterSpec(f"inline{n}", "inline", reopen=True) for n in range(3)]
    reports = run_writers(store, writers)
    with store.desk("inline") as desk:
        check_log_holds_exactly(desk, reports, before)
        check_views_equal_a_rebuild(desk)


# -- followers while writers write ---------------------------------------------------------------


@contextlib.contextmanager
def followers(store: Store, count: int, logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``python -m servflow.projections follow`` processes, stopped by SIGTERM (exit 0)."""
    started: list[subprocess.Popen[bytes]] = []
    files = [(logs / f"follower{n}.log").open("wb") for n in range(count)]
    try:
        started += [
            subprocess.Popen(store.follow_command(), stderr=log)  # noqa: S603 - our own module
            for log in files
        ]
        yield started
        for process in started:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=GRACE_SECONDS) for process in started]
        texts = [(logs / f"follower{n}.log").read_text() for n in range(count)]
        assert codes == [0] * count, texts
        for text in texts:
            assert "Traceback" not in text, text
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        for log in files:
            log.close()


def wait_until_caught_up(desk: ServiceDesk, running: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline:
        dead = [p.returncode for p in running if p.poll() is not None]
        assert not dead, f"a follower died (exit status {dead})"
        if all(status.lag == 0 for status in desk.projection_status()):
            return
        time.sleep(0.1)
    pytest.fail(f"the followers did not catch up in {GRACE_SECONDS} s")


def test_two_followers_keep_running_under_writers_and_their_views_equal_a_rebuild(
    store: Store, tmp_path: Path
) -> None:
    before = seed_store(store)
    with store.desk("external") as desk, followers(store, 2, tmp_path) as running:
        wait_until_caught_up(desk, running)
        writers = [WriterSpec(f"writer{n}", "external", reopen=False) for n in range(2)]
        reports = run_writers(store, writers)
        wait_until_caught_up(desk, running)
        check_log_holds_exactly(desk, reports, before)
    with store.desk("external") as desk:
        check_views_equal_a_rebuild(desk)
