"""``python -m reliability [--seconds N] [--writers N] [--soak] [--markdown FILE]``.

Runs the kill -9 suite on SQLite and on PostgreSQL (``SERVFLOW_TEST_POSTGRES``, default the
local test database) and prints the table of ``docs/reliability.md``; exits 1 if any row lost,
doubled, hung or raised an untyped error. ``--soak`` runs ten minutes per store;
``--erasable`` adds a run of each store made erasable, whose writers also forget customers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from reliability.jepsen import Outcome, run_store

POSTGRES = os.environ.get("SERVFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
COLUMNS = (
    "store",
    "processes",
    "seconds",
    "acknowledged",
    "conflicts",
    "refused",
    "forgotten",
    "kills",
    "lost",
    "duplicates",
    "hung",
    "untyped",
    "verified",
    "views_equal_rebuild",
)


def table(outcomes: Sequence[Outcome]) -> str:
    """The outcomes as a Markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for outcome in outcomes:
        cells = [str(getattr(outcome, name)) for name in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def drop_schema(schema: str) -> None:
    """Remove a PostgreSQL schema the run made."""
    import psycopg  # noqa: PLC0415 - only with PostgreSQL
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every store; 0 when every row is healthy."""
    parser = argparse.ArgumentParser(prog="python -m reliability")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, default=1.0)
    parser.add_argument("--soak", action="store_true", help="600 s per store")
    parser.add_argument(
        "--erasable",
        action="store_true",
        help="also run each store erasable, the writers forgetting customers as they go",
    )
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    seconds = 600.0 if args.soak else args.seconds
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="servflow-reliability-") as folder:
        work = Path(folder)
        for erasable in (False, True) if args.erasable else (False,):
            suffix = "-erasable" if erasable else ""
            outcomes.append(
                run_store(
                    "sqlite",
                    str(work / f"desk{suffix}.db"),
                    None,
                    work,
                    seconds=seconds,
                    writers=args.writers,
                    kill_every=args.kill_every,
                    erasable=erasable,
                )
            )
            schema = f"reliability_{uuid.uuid4().hex[:10]}"
            try:
                outcomes.append(
                    run_store(
                        "postgres",
                        POSTGRES,
                        schema,
                        work,
                        seconds=seconds,
                        writers=args.writers,
                        kill_every=args.kill_every,
                        erasable=erasable,
                    )
                )
            finally:
                drop_schema(schema)
    text = table(outcomes)
    print(text)
    for outcome in outcomes:
        for sample in outcome.untyped_samples[:3]:
            print(f"untyped ({outcome.store}): {sample}", file=sys.stderr)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0 if all(outcome.healthy for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
