"""Run servflow's projections as a process of their own.

    python -m servflow.projections follow  --db servflow.db          # or a postgresql:// DSN
    python -m servflow.projections rebuild --db servflow.db [--name queues]
    python -m servflow.projections status  --db servflow.db [--json]

The same commands as ``servflow projections ...`` (one implementation, in
``servflow.cli.projections``): ``--db`` and ``--schema`` default to ``$SERVFLOW_DB`` and
``$SERVFLOW_SCHEMA``. ``follow`` catches up, then keeps following the log until SIGINT/SIGTERM
and exits 0; stopped and restarted, it resumes from its tracking position, so nothing is lost
or applied twice.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m servflow.projections``; returns the exit code."""
    from servflow.cli import run_projections  # noqa: PLC0415 - the CLI imports the desk, late

    return run_projections(argv)


if __name__ == "__main__":
    raise SystemExit(main())
