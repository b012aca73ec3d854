"""``servflow team`` and ``servflow agent``: the team and agent directories.

``servflow team add Billing --member ana`` registers a team (its id is the name in lower case:
``billing``); from the first team on, assignments to unknown teams are refused. ``servflow agent
add ana --name "Ana Pérez" --team billing`` registers an agent. ``list`` reads each directory.
"""

from __future__ import annotations

from typing import Annotated

import typer

from servflow.cli._common import (
    AsJson,
    Limit,
    Offset,
    console,
    emit_json,
    guarded,
    page_of,
    say,
    session,
)
from servflow.cli.tables import agents_table, teams_table

__all__ = ["agent_app", "team_app"]

team_app = typer.Typer(help="The team directory: add and list teams.", no_args_is_help=True)
agent_app = typer.Typer(help="The agent directory: add and list agents.", no_args_is_help=True)

OccurredAt = Annotated[
    str | None,
    typer.Option(
        "--occurred-at",
        metavar="ISO-8601",
        help="When it happened (default: now; without a UTC offset, in --tz).",
        show_default=False,
    ),
]
Inactive = Annotated[bool, typer.Option("--inactive", help="Include deactivated ones.")]


@team_app.command("add")
@guarded
def add_team(
    ctx: typer.Context,
    team: Annotated[str, typer.Argument(help="The team's name (its id is it in lower case).")],
    *,
    name: Annotated[str | None, typer.Option(help="Display name (default: TEAM).")] = None,
    member: Annotated[
        list[str] | None, typer.Option("--member", help="An agent id (repeat for several).")
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Register a team; from the first one on, unknown teams are refused in assignments."""
    current = session(ctx)
    entry = current.desk().register_team(
        team,
        name=name,
        members=member or [],
        actor=current.actor,
        occurred_at=current.when(occurred_at, "--occurred-at"),
    )
    if as_json:
        emit_json(entry.model_dump(mode="json"))
    else:
        say(f"registered team {entry.id} ({entry.name})")


@team_app.command("list")
@guarded
def list_teams(
    ctx: typer.Context,
    *,
    inactive: Inactive = False,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """Every registered team, in the order registered, a page at a time."""
    entries = session(ctx).desk(existing=True).teams(include_inactive=inactive)
    shown, info = page_of(entries, limit, offset, noun="team")
    if as_json:
        emit_json([e.model_dump(mode="json") for e in shown])
    else:
        console().print(teams_table(shown, title=info))


@agent_app.command("add")
@guarded
def add_agent(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="The agent's id (ana for agent:ana).")],
    *,
    name: Annotated[str | None, typer.Option(help="The agent's name (default: AGENT).")] = None,
    team: Annotated[
        list[str] | None, typer.Option("--team", help="A team id (repeat for several).")
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Register an agent; from the first one on, unknown agents are refused in assignments."""
    current = session(ctx)
    entry = current.desk().register_agent(
        agent,
        name=name,
        teams=team or [],
        actor=current.actor,
        occurred_at=current.when(occurred_at, "--occurred-at"),
    )
    if as_json:
        emit_json(entry.model_dump(mode="json"))
    else:
        say(f"registered agent {entry.id} ({entry.name})")


@agent_app.command("list")
@guarded
def list_agents(
    ctx: typer.Context,
    *,
    inactive: Inactive = False,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """Every registered agent, in the order registered, a page at a time."""
    entries = session(ctx).desk(existing=True).agents(include_inactive=inactive)
    shown, info = page_of(entries, limit, offset, noun="agent")
    if as_json:
        emit_json([e.model_dump(mode="json") for e in shown])
    else:
        console().print(agents_table(shown, title=info))
