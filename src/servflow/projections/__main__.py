"""Run servflow's projections as a process of their own.

    python -m servflow.projections follow  --db servflow.db          # or a postgresql:// DSN
    python -m servflow.projections rebuild --db servflow.db [--name queues]
    python -m servflow.projections status  --db servflow.db

``follow`` catches up, then keeps following the log until SIGINT/SIGTERM; stopped and
restarted, it resumes from its tracking position, so nothing is lost or applied twice.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from servflow.desk import ServiceDesk
from servflow.errors import ServflowError
from servflow.projections.engine import Progress

__all__ = ["main", "open_desk"]


def open_desk(db: str, *, schema: str | None = None) -> ServiceDesk:
    """A desk that leaves its projections to this process: SQLite path or PostgreSQL DSN."""
    if db.startswith(("postgresql://", "postgres://")):
        return ServiceDesk.postgres(db, schema=schema, projections="external")
    return ServiceDesk.sqlite(db, projections="external")


def _report(progress: Progress) -> None:
    print(  # noqa: T201 - a command-line progress line
        f"applied {progress.done}/{progress.total} events, position {progress.position}, "
        f"{progress.rate:,.0f} events/s",
        file=sys.stderr,
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m servflow.projections``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m servflow.projections", description=__doc__)
    parser.add_argument("command", choices=("follow", "rebuild", "status"))
    parser.add_argument("--db", default=os.environ.get("SERVFLOW_DB", "servflow.db"))
    parser.add_argument("--schema", default=os.environ.get("SERVFLOW_SCHEMA"))
    parser.add_argument("--name", action="append", help="a projection (default: all)")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    progress = None if args.quiet else _report
    try:
        with open_desk(args.db, schema=args.schema) as desk:
            if args.command == "status":
                for status in desk.projection_status():
                    print(  # noqa: T201
                        f"{status.name} v{status.version}: position {status.position} "
                        f"of {status.head} (lag {status.lag})"
                    )
            elif args.command == "rebuild":
                done = desk.rebuild_projections(args.name, progress=progress)
                print(f"rebuilt from {done} events")  # noqa: T201
            else:
                stop = threading.Event()

                def request_stop(signum: int, frame: FrameType | None) -> None:
                    del signum, frame
                    stop.set()

                signal.signal(signal.SIGTERM, request_stop)
                signal.signal(signal.SIGINT, request_stop)
                print("following; stop with Ctrl-C", file=sys.stderr, flush=True)  # noqa: T201
                desk.follow(stop, poll_interval=args.poll, progress=progress)
    except ServflowError as error:
        print(f"error[{error.code}]: {error}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
