"""Writers and a follower on one store, killed with SIGKILL at random; then the log is checked.

For a store (an SQLite file or a PostgreSQL schema) it runs writer processes (half with inline
projections, half leaving them to a follower) and one follower (``python -m
servflow.projections follow``) for a while, SIGKILLs one of them every ``kill_every`` seconds
and starts a fresh one in its place. Then it checks: every command a writer saw acknowledged is
in the log (lost), no request version or ticket code is there twice (duplicates), no process
outlived its deadline (hung), no call raised anything but a ``ServflowError`` (untyped), the hash
chain verifies, and the views, caught up, equal a rebuild.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability.writer import open_desk
from servflow import ServiceDesk

#: How long a process may take to end after its deadline or SIGTERM before it counts as hung.
GRACE_SECONDS = 20.0


@dataclass
class Outcome:
    """One row of the table: what ran, what was acknowledged, what was lost (must be 0)."""

    store: str
    processes: int
    seconds: float
    acknowledged: int = 0
    conflicts: int = 0
    refused: int = 0
    forgotten: int = 0
    kills: int = 0
    lost: int = 0
    duplicates: int = 0
    hung: int = 0
    untyped: int = 0
    verified: bool = False
    views_equal_rebuild: bool = False
    untyped_samples: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Nothing lost, doubled, hung or untyped; the chain verifies; the views are exact."""
        return (
            self.lost == self.duplicates == self.hung == self.untyped == 0
            and self.verified
            and self.views_equal_rebuild
        )


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    deadline: float


def run_store(
    store: str,
    db: str,
    schema: str | None,
    workdir: Path,
    *,
    seconds: float,
    writers: int = 4,
    kill_every: float = 1.0,
    seed: int = 20260302,
    erasable: bool = False,
) -> Outcome:
    """Run writers and a follower on the store with SIGKILLs, then check the log and views.

    ``erasable`` makes the store erasable: the writers then also forget customers (whose
    requests they keep working on, and who come back with new requests).
    """
    rng = random.Random(seed)  # noqa: S311 - a seeded schedule of kills
    name = f"{store} (erasable)" if erasable else store
    outcome = Outcome(store=name, processes=writers + 1, seconds=seconds)
    with open_desk(db, schema, "inline", erasable=erasable) as desk:
        desk.open(
            customer="c0",
            channel="web",
            kind="claim",
            stage="sale",
            symptom="seed",
            actor="agent:a",
        )
    started = time.monotonic()
    end = started + seconds
    acks: list[Path] = []
    counter = iter(range(1_000_000))

    def writer(slot: int) -> _Running:
        number = next(counter)
        ack = workdir / f"ack-{store}{'-erasable' if erasable else ''}-{number}.log"
        acks.append(ack)
        mode = "inline" if slot % 2 == 0 else "external"
        command = [sys.executable, "-m", "reliability.writer", "--db", db, "--ack", str(ack)]
        command += ["--projections", mode, "--seed", str(seed + number)]
        command += ["--seconds", f"{max(0.1, end - time.monotonic()):.2f}"]
        command += ["--schema", schema] if schema else []
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)  # noqa: S603 - our module
        return _Running(process, end + GRACE_SECONDS)

    def follower() -> _Running:
        command = [sys.executable, "-m", "servflow.projections", "follow", "--db", db, "--quiet"]
        command += ["--poll", "0.05"] + (["--schema", schema] if schema else [])
        process = subprocess.Popen(  # noqa: S603 - our own module
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return _Running(process, end + GRACE_SECONDS)

    slots: list[_Running] = [writer(slot) for slot in range(writers)]
    follow = follower()
    next_kill = started + kill_every
    while time.monotonic() < end:
        time.sleep(0.05)
        if time.monotonic() >= next_kill and end - time.monotonic() > kill_every / 2:
            victim = rng.randrange(writers + 1)
            if victim == writers:
                follow.process.send_signal(signal.SIGKILL)
                follow.process.wait()
                follow = follower()
            else:
                slots[victim].process.send_signal(signal.SIGKILL)
                slots[victim].process.wait()
                slots[victim] = writer(victim)
            outcome.kills += 1
            next_kill += kill_every
    follow.process.send_signal(signal.SIGTERM)
    for running in [*slots, follow]:
        try:
            running.process.wait(timeout=max(0.1, running.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            outcome.hung += 1
            running.process.kill()
            running.process.wait()
    _check(outcome, db, schema, acks)
    return outcome


def _check(outcome: Outcome, db: str, schema: str | None, acks: list[Path]) -> None:
    acknowledged: set[tuple[str, int]] = set()
    for ack in acks:
        if not ack.exists():
            continue
        for line in ack.read_text(encoding="utf-8").splitlines():
            if line == "CONFLICT":
                outcome.conflicts += 1
            elif line == "REFUSED":
                outcome.refused += 1
            elif line == "FORGOT":
                outcome.forgotten += 1
            elif line.startswith("UNTYPED"):
                outcome.untyped += 1
                outcome.untyped_samples.append(line[:500])
            elif line:
                request_id, version = line.split()
                acknowledged.add((request_id, int(version)))
    outcome.acknowledged = len(acknowledged)
    with open_desk(db, schema, "inline") as desk:
        stored: list[tuple[str, int]] = []

        recorder = desk._stores.store.recorder
        position = 0
        while batch := recorder.select_notifications(position, 1000, inclusive_of_start=False):
            stored += [(str(n.originator_id), n.originator_version) for n in batch]
            position = batch[-1].id
        codes = [desk.get(request_id).ticket_code for request_id in desk.request_ids()]
        outcome.lost = len(acknowledged - set(stored))
        outcome.duplicates = (len(stored) - len(set(stored))) + (len(codes) - len(set(codes)))
        outcome.verified = desk.verify().intact
        desk.catch_up()
        outcome.views_equal_rebuild = views_equal_rebuild(desk)


def view_rows(desk: ServiceDesk) -> dict[str, list[dict[str, Any]]]:
    """Every row of every projection's tables, in a stable order."""
    projector = desk._stores.projector
    found: dict[str, list[dict[str, Any]]] = {}
    with projector.views.transaction(commit=False) as tx:
        for projection in projector.projections.values():
            for table in projection.tables():
                rows = tx.query(f"SELECT * FROM {projection.t(table)}")
                found[table] = sorted(rows, key=repr)
    return found


def views_equal_rebuild(desk: ServiceDesk) -> bool:
    """Whether the views as they stand equal a rebuild from the log (which they become)."""
    followed = view_rows(desk)
    desk.rebuild_projections()
    rebuilt = view_rows(desk)
    for table in sorted(set(followed) | set(rebuilt)):
        if followed.get(table) != rebuilt.get(table):
            before, after = followed.get(table, []), rebuilt.get(table, [])
            extra = [r for r in before if r not in after][:3]
            missing = [r for r in after if r not in before][:3]
            print(
                f"views differ from a rebuild in {table}: followed only {extra}, rebuilt only "
                f"{missing}",
                file=sys.stderr,
            )
    return rebuilt == followed
