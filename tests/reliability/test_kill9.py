"""The kill -9 suite, bounded and seeded: writers and a follower SIGKILLed while they work.

The same runs as ``python -m reliability`` (which fills ``docs/reliability.md`` from longer
ones), a few seconds per store: nothing acknowledged is lost, nothing is doubled, no process
hangs, nothing raises an untyped error, the chain verifies and the views equal a rebuild.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from reliability.jepsen import run_store

from conftest import POSTGRES_DSN, drop_schema, require_postgres

pytestmark = pytest.mark.slow


def check(outcome_text: str, healthy: bool, acknowledged: int, kills: int) -> None:  # noqa: FBT001
    assert healthy, outcome_text
    # Enough happened to mean something, even on a loaded machine (a process takes a second
    # or two to start there).
    assert acknowledged >= 10, outcome_text
    assert kills >= 3, outcome_text


ERASABLE = pytest.mark.parametrize("erasable", [False, True], ids=["plain", "erasable"])


def check_forgetting(outcome_text: str, erasable: bool, forgotten: int) -> None:  # noqa: FBT001
    # An erasable store's writers forget customers as they go (about one step in fifty).
    assert (forgotten > 0) == erasable, outcome_text


@ERASABLE
def test_sqlite_writers_and_follower_killed_lose_nothing(
    tmp_path: Path,
    erasable: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    outcome = run_store(
        "sqlite",
        str(tmp_path / "desk.db"),
        None,
        tmp_path,
        seconds=7,
        writers=3,
        kill_every=1,
        erasable=erasable,
    )
    check(repr(outcome), outcome.healthy, outcome.acknowledged, outcome.kills)
    check_forgetting(repr(outcome), erasable, outcome.forgotten)


@pytest.mark.postgres
@ERASABLE
def test_postgres_writers_and_follower_killed_lose_nothing(
    tmp_path: Path,
    erasable: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        outcome = run_store(
            "postgres",
            POSTGRES_DSN,
            schema,
            tmp_path,
            seconds=7,
            writers=3,
            kill_every=1,
            erasable=erasable,
        )
    finally:
        drop_schema(schema)
    check(repr(outcome), outcome.healthy, outcome.acknowledged, outcome.kills)
    check_forgetting(repr(outcome), erasable, outcome.forgotten)
