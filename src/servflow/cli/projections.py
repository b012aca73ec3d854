"""``servflow projections ...`` and ``python -m servflow.projections``: the read models.

Their status against the head of the log, a rebuild from the log, and a follower process that
keeps them up to date. The same commands run on their own (``run_projections``), where
``--db``/``--schema`` default to ``$SERVFLOW_DB``/``$SERVFLOW_SCHEMA``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from servflow.cli._common import (
    AsJson,
    Limit,
    Offset,
    console,
    desk_on,
    emit_json,
    guarded,
    page_of,
    say,
    session,
)
from servflow.cli.render import events_progress
from servflow.desk.options import MAX_WORKERS, postgres_schema
from servflow.errors import ValidationFailedError

if TYPE_CHECKING:
    from servflow.desk import ServiceDesk
    from servflow.projections.runner import Progress as ProjectionProgress
    from servflow.projections.runner import ProjectionStatus

__all__ = ["open_desk", "projections_app", "run_projections"]

projections_app = typer.Typer(
    help=(
        "Read models folded from the log: their status, a rebuild from the log, and a "
        "follower process that keeps them up to date."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: ``--db``/``--schema`` on the projection commands themselves, for the
#: ``python -m servflow.projections follow --db ...`` form; under ``servflow`` the global
#: options give them.
LocalDb = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file or postgresql:// DSN (default: the global --db, or $SERVFLOW_DB).",
        show_default=False,
    ),
]
LocalSchema = Annotated[
    str | None,
    typer.Option(
        "--schema",
        help="PostgreSQL schema (default: the global --schema, or $SERVFLOW_SCHEMA).",
        show_default=False,
    ),
]
Names = Annotated[
    list[str] | None,
    typer.Option("--name", help="Only this projection (repeat for several; default: all)."),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def open_desk(db: str, *, schema: str | None = None, existing: bool = False) -> ServiceDesk:
    """A desk that leaves its projections to this process: SQLite path or PostgreSQL DSN.

    No catch-up on opening: only the command (a rebuild, a follower) moves them.
    """
    return desk_on(db, existing=existing, schema=schema, projections="external")


def _projections_desk(
    ctx: typer.Context, db: str | None, schema: str | None, *, existing: bool
) -> ServiceDesk:
    """The command's own ``--db``/``--schema``, else the global ones (or their variables)."""
    current = session(ctx)
    # The command's own --schema is checked as the global one is, before any store is opened.
    chosen = postgres_schema(schema) if schema else current.schema
    desk = open_desk(db or current.db, schema=chosen, existing=existing)
    ctx.call_on_close(desk.close)
    return desk


def _check_names(desk: ServiceDesk, names: Sequence[str] | None) -> list[str] | None:
    """The projections named, refused when one is unknown; ``None`` for all."""
    if not names:
        return None
    known = [status.name for status in desk.projection_status()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        msg = (
            f"unknown projection{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(this store has: {', '.join(known)})"
        )
        raise ValidationFailedError(msg, errors=(("--name", "unknown projection"),))
    return list(dict.fromkeys(names))


def _status_rows(statuses: Sequence[ProjectionStatus]) -> list[dict[str, object]]:
    return [
        {
            "name": status.name,
            "version": status.version,
            "position": status.position,
            "head": status.head,
            "lag": status.lag,
            "skipped": status.skipped,
            "rebuilding": status.rebuilding,
        }
        for status in statuses
    ]


@projections_app.command("status")
@guarded
def projections_status(
    ctx: typer.Context,
    *,
    name: Names = None,
    db: LocalDb = None,
    schema: LocalSchema = None,
    as_json: AsJson = False,
) -> None:
    """Each projection's version and position against the head of the log, and its lag."""
    desk = _projections_desk(ctx, db, schema, existing=True)
    wanted = _check_names(desk, name)
    statuses = [s for s in desk.projection_status() if wanted is None or s.name in wanted]
    if as_json:
        emit_json(_status_rows(statuses))
        return
    table = Table(title="Projections", title_justify="left")
    table.add_column("name")
    for column in ("version", "position", "head", "lag", "skipped"):
        table.add_column(column, justify="right")
    for status in statuses:
        lag = Text(f"{status.lag:,}", style="green" if status.lag == 0 else "bold yellow")
        if status.rebuilding:
            lag = Text(f"{status.lag:,} (rebuilding)", style="bold yellow")
        skipped = Text(f"{status.skipped:,}", style="bold red" if status.skipped else "green")
        table.add_row(
            status.name,
            str(status.version),
            f"{status.position:,}",
            f"{status.head:,}",
            lag,
            skipped,
        )
    console().print(table)
    if any(status.rebuilding for status in statuses):
        say(
            "A rebuild in several processes is filling some projections (or died doing so: "
            "servflow projections rebuild starts them again)."
        )
    if any(status.skipped for status in statuses):
        say(
            "Some stored events could not be read and were skipped: "
            "servflow projections quarantine lists them."
        )


@projections_app.command("quarantine")
@guarded
def projections_quarantine(
    ctx: typer.Context,
    *,
    db: LocalDb = None,
    schema: LocalSchema = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """The stored events the projections skipped because they could not be read, and why.

    Exit 0 when there are none, 1 when there are (each also breaks ``servflow audit verify``
    when it was altered after it was recorded).
    """
    desk = _projections_desk(ctx, db, schema, existing=True)
    records = desk.quarantine()
    shown, info = page_of(records, limit, offset, noun="quarantined event")
    if as_json:
        emit_json([record.model_dump(mode="json") for record in shown])
    elif not records:
        say("No quarantined events: every stored event the projections read was readable.")
    else:
        table = Table(title=f"Quarantined events: {info}", title_justify="left")
        table.add_column("position", justify="right")
        table.add_column("request")
        table.add_column("version", justify="right")
        table.add_column("kind")
        table.add_column("reason")
        table.add_column("skipped by")
        for record in shown:
            table.add_row(
                f"{record.position:,}",
                str(record.request_id),
                str(record.version),
                record.kind,
                record.reason,
                ", ".join(record.projections),
            )
        console().print(table)
        say(
            f"{len(records):,} stored event{'s' if len(records) != 1 else ''} could not be read; "
            "restore them from a backup or an export, then rebuild the projections "
            "(docs/how-to/corruption.md)."
        )
    if records:
        raise typer.Exit(1)


@projections_app.command("rebuild")
@guarded
def projections_rebuild(
    ctx: typer.Context,
    *,
    name: Names = None,
    db: LocalDb = None,
    schema: LocalSchema = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes to share the requests out among, each rebuilding every projection "
            f"for its share (default: one per CPU, at most {MAX_WORKERS}; 1 rebuilds in this "
            "process).",
            min=1,
            max=MAX_WORKERS,
        ),
    ] = None,
) -> None:
    """Drop projections' tables and replay the whole log into them (all by default)."""
    desk = _projections_desk(ctx, db, schema, existing=True)
    names = _check_names(desk, name)
    chosen = names or [status.name for status in desk.projection_status()]
    count = workers or max(1, min(os.cpu_count() or 1, MAX_WORKERS))
    began = time.perf_counter()
    if quiet or as_json:
        events = desk.rebuild_projections(names, workers=count)
    else:
        events = _rebuild_with_progress(desk, names, ", ".join(chosen), count)
    seconds = time.perf_counter() - began
    if as_json:
        emit_json(
            {
                "projections": chosen,
                "events": events,
                "seconds": round(seconds, 3),
                "workers": count,
            }
        )
        return
    rate = f", {events / seconds:,.0f} events/s" if seconds > 0 and events else ""
    say(f"Rebuilt {', '.join(chosen)} from {events:,} events in {seconds:.1f} s{rate}.")


def _rebuild_with_progress(
    desk: ServiceDesk, names: list[str] | None, label: str, workers: int
) -> int:
    with events_progress(rate=True) as bar:
        task = bar.add_task(f"Rebuilding {label}", total=None, rate="")

        def tick(progress: ProjectionProgress) -> None:
            bar.update(
                task,
                completed=progress.done,
                total=progress.total,
                rate=f"{progress.rate:,.0f} events/s",
            )

        return desk.rebuild_projections(names, progress=tick, workers=workers)


@projections_app.command("follow")
@guarded
def projections_follow(
    ctx: typer.Context,
    *,
    poll: Annotated[
        float,
        typer.Option(
            help="Seconds between looks at the log (PostgreSQL also wakes on NOTIFY).",
            min=0.01,
            max=3600,
        ),
    ] = 0.5,
    due_every: Annotated[
        float | None,
        typer.Option(
            help="Also record what time brings (sla run-due) at most every this many seconds.",
            min=1,
            max=86_400,
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(help="With --due-every, also run these automation rules."),
    ] = None,
    db: LocalDb = None,
    schema: LocalSchema = None,
    quiet: Quiet = False,
) -> None:
    """Keep the projections up to date until Ctrl-C or SIGTERM (then exit 0).

    Catches up first, then applies new events as they are recorded. Stopped and restarted, it
    resumes from the positions it recorded: nothing is lost or applied twice. With
    --due-every (and --rules), it also records the time-based events and runs the rules.
    """
    from servflow.cli.automation import load_rules  # noqa: PLC0415 - when a file is given

    loaded = None if rules is None else load_rules(rules)
    desk = _projections_desk(ctx, db, schema, existing=False)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    def report(progress: ProjectionProgress) -> None:
        _note(
            f"applied {progress.done:,}/{progress.total:,} events, position "
            f"{progress.position:,} of {progress.head:,}, {progress.rate:,.0f} events/s"
        )

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not quiet:
            _note(f"following the log; stop with Ctrl-C (polling every {poll:g} s)")
        desk.follow(
            stop,
            poll_interval=poll,
            progress=None if quiet else report,
            due_every=due_every,
            rules=loaded,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not quiet:
        head = max((status.position for status in desk.projection_status()), default=0)
        _note(f"stopped at position {head:,}")


def _note(message: str) -> None:
    """A progress line for a long-running process, on stderr (flushed: logs see it at once)."""
    print(message, file=sys.stderr, flush=True)  # noqa: T201 - a command-line log line


def run_projections(argv: Sequence[str] | None = None) -> int:
    """Run the projection commands as ``python -m servflow.projections``; return the exit code."""
    try:
        projections_app(
            args=list(argv) if argv is not None else None,
            prog_name="python -m servflow.projections",
        )
    except SystemExit as stopped:
        code = stopped.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0  # pragma: no cover - a Typer app always ends with SystemExit
