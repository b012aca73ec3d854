"""The ``servflow`` command line: run a desk from the shell, script it, and see the demo.

An adapter over :class:`servflow.ServiceDesk`: each sub-command is one desk command or query
on the store named by ``--db`` (an SQLite file by default, or a PostgreSQL DSN). Output is
Rich tables for people and ``--json`` for scripts. Every :class:`servflow.ServflowError`
becomes one line on stderr, ``error[<code>]: <message> (hint: ...)``, and exit code 1; usage
errors (unknown option, bad choice) are one line too, ``error[usage_error]: ...``, with Typer's
exit code 2; with ``--json`` each is a JSON object. Nothing here prints a traceback.

This module assembles the app from one module per command group and reads the global options,
which ``_group`` lets a command line give before or after the sub-command; ``_common`` holds
what the groups share (the session, the desk factory, the error guard).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from servflow.cli._common import DEFAULT_ACTOR, DEFAULT_DB, Session, guarded, refuse_unusable_db
from servflow.cli._group import RootGroup
from servflow.cli.audit import audit_app, export
from servflow.cli.automation import automation_app
from servflow.cli.customers import customer_app
from servflow.cli.demo import demo
from servflow.cli.directory import agent_app, team_app
from servflow.cli.importing import import_history
from servflow.cli.kpis import kpis, nonconformities
from servflow.cli.outbox import outbox_app
from servflow.cli.projections import projections_app, run_projections
from servflow.cli.queues import list_requests, queue
from servflow.cli.report import report
from servflow.cli.requests import request_app
from servflow.cli.serve import api_key_app, serve
from servflow.cli.sla import sla_app
from servflow.desk.options import postgres_schema
from servflow.errors import shown

__all__ = [
    "agent_app",
    "app",
    "audit_app",
    "customer_app",
    "main",
    "outbox_app",
    "projections_app",
    "request_app",
    "run_projections",
    "sla_app",
    "team_app",
]

app = typer.Typer(
    cls=RootGroup,
    name="servflow",
    help=(
        "An event-sourced service desk: open, work and close customer service requests. "
        "The global options may come before or after the command."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# The order of registration is the order of ``servflow --help``.
app.add_typer(request_app, name="request")
app.add_typer(audit_app, name="audit")
app.command("requests")(list_requests)
app.command("queue")(queue)
app.add_typer(sla_app, name="sla")
app.add_typer(customer_app, name="customer")
app.add_typer(team_app, name="team")
app.add_typer(agent_app, name="agent")
app.add_typer(projections_app, name="projections")
app.command("import")(import_history)
app.add_typer(outbox_app, name="outbox")
app.add_typer(automation_app, name="automation")
app.command("kpis")(kpis)
app.command("nonconformities")(nonconformities)
app.command("serve")(serve)
app.add_typer(api_key_app, name="api-key")
app.command("report")(report)
# `servflow export`: the same command as `servflow audit export`, where exports are looked for.
app.command("export")(export)
app.command("demo")(demo)


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {shown(name)}; use an IANA name such as Europe/Madrid or UTC"
        raise typer.BadParameter(msg, param_hint="'--tz'") from None


def _version(value: bool) -> None:  # noqa: FBT001 - Typer passes the flag positionally
    if value:
        # The installed package's metadata: no need to import the engine to say its version.
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            installed = version("servflow")
        except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
            from servflow import __version__ as installed  # noqa: PLC0415
        typer.echo(f"servflow {installed}")
        raise typer.Exit


@app.callback()
@guarded
def _root(
    ctx: typer.Context,
    *,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="SERVFLOW_DB",
            help=(
                "SQLite file, or a PostgreSQL connection string (postgresql://... or "
                "host=... dbname=...) to share one store between machines."
            ),
        ),
    ] = DEFAULT_DB,
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            envvar="SERVFLOW_ACTOR",
            help="Who records the commands: agent:<name>, customer:<id>, auditor:<name>.",
        ),
    ] = DEFAULT_ACTOR,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema",
            envvar="SERVFLOW_SCHEMA",
            help=(
                "PostgreSQL schema for servflow's tables (created by the first command that "
                "records; a lower-case identifier; not for SQLite)."
            ),
            show_default=False,
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            envvar="SERVFLOW_TZ",
            help=(
                "Time zone (IANA name) to show times in and to read date-times given without a "
                "UTC offset in (default: this machine's zone)."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON: the command's result (where it has --json) and any error.",
        ),
    ] = False,
    _: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """servflow: an event-sourced service desk on an SQLite file or PostgreSQL.

    The global options may come before or after the command.
    """
    del as_json  # errors read it from the command line (RootGroup); results from the command's
    source = ctx.get_parameter_source("db")
    session = Session(
        db=db,
        actor=actor,
        zone=_zone(tz),
        db_on_command_line=source is not None and source.name == "COMMANDLINE",
        # A bad name is refused here, before any command reaches a database with it.
        schema=postgres_schema(schema),
    )
    refuse_unusable_db(db)
    ctx.obj = session
    ctx.call_on_close(session.close)


def main() -> None:
    """Entry point of the ``servflow`` console script."""
    app(prog_name="servflow")
