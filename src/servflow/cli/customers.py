"""``servflow customer``: what the desk does about a customer as a person (the right to erasure).

``servflow customer forget ID`` forgets a customer in an erasable store: their keys are
destroyed, so their name and the texts they wrote read as ``[erased]`` everywhere, while the
log, its hash chain and the KPIs stay as they were. A store is made erasable when it is
created, with ``SERVFLOW_ERASABLE=1`` in the environment of the command that creates it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from servflow.cli._common import AsJson, emit_json, guarded, parse_when, say, session

__all__ = ["customer_app"]

customer_app = typer.Typer(
    help="Customers as people: forget one (the right to erasure).",
    no_args_is_help=True,
)


@customer_app.command("forget")
@guarded
def forget(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer id (not the name).")],
    *,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            help="Who forgets the customer (a supervisor by default roles); default: the "
            "global --actor.",
            show_default=False,
        ),
    ] = None,
    occurred_at: Annotated[
        str | None,
        typer.Option(
            "--occurred-at",
            metavar="ISO-8601",
            help="When it happened, with a UTC offset (default: now).",
            show_default=False,
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Destroy a customer's keys: their personal data reads as erased from now on."""
    current = session(ctx)
    desk = current.desk(existing=True)
    done = desk.forget_customer(
        customer_id,
        actor=actor or current.actor,
        occurred_at=parse_when(occurred_at, "--occurred-at"),
    )
    if as_json:
        emit_json(done.model_dump(mode="json"))
    elif done.recorded:
        say(
            f"forgot customer {done.customer_id}: {done.keys_destroyed} key(s) destroyed; "
            "their personal data now reads as [erased]"
        )
    else:
        say(f"customer {done.customer_id} was forgotten already: nothing left to destroy")
