"""``servflow customer``: the customer directory, and the right to erasure.

``servflow customer add ID --name ... --tier vip`` registers a customer (new requests of theirs
take the record's tier, name and language), ``show`` and ``list`` read the directory.
``servflow customer forget ID`` forgets a customer in an erasable store: their keys are
destroyed, so their name and the texts they wrote read as ``[erased]`` everywhere, while the
log, its hash chain and the KPIs stay as they were. A store is made erasable when it is
created, with ``SERVFLOW_ERASABLE=1`` in the environment of the command that creates it.
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
from servflow.cli.tables import customers_table
from servflow.domain.choices import Tier

__all__ = ["customer_app"]

customer_app = typer.Typer(
    help="The customer directory (add, show, list) and the right to erasure (forget).",
    no_args_is_help=True,
)

OccurredAt = Annotated[
    str | None,
    typer.Option(
        "--occurred-at",
        metavar="ISO-8601",
        help="When it happened (default: now; without a UTC offset, in --tz).",
        show_default=False,
    ),
]


@customer_app.command("add")
@guarded
def add(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer id requests carry.")],
    *,
    name: Annotated[str | None, typer.Option(help="The customer's name.")] = None,
    tier: Annotated[Tier, typer.Option(help="The tier new requests take.")] = Tier.STANDARD,
    language: Annotated[str | None, typer.Option(help="Language (es, en...).")] = None,
    contact: Annotated[
        list[str] | None,
        typer.Option("--contact", help="An e-mail or phone number (repeat for several)."),
    ] = None,
    occurred_at: OccurredAt = None,
    as_json: AsJson = False,
) -> None:
    """Register a customer: new requests of theirs take the record's tier, name, language."""
    current = session(ctx)
    entry = current.desk().register_customer(
        customer_id,
        name=name,
        tier=tier,
        language=language,
        contacts=contact or [],
        actor=current.actor,
        occurred_at=current.when(occurred_at, "--occurred-at"),
    )
    if as_json:
        emit_json(entry.model_dump(mode="json"))
    else:
        say(f"registered customer {entry.id} ({entry.tier})")


@customer_app.command("show")
@guarded
def show(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer id.")],
    *,
    as_json: AsJson = False,
) -> None:
    """One customer's record."""
    entry = session(ctx).desk(existing=True).customer(customer_id)
    if as_json:
        emit_json(entry.model_dump(mode="json"))
    else:
        console().print(customers_table([entry], title=f"Customer {entry.id}"))


@customer_app.command("list")
@guarded
def list_customers(
    ctx: typer.Context,
    *,
    inactive: Annotated[bool, typer.Option("--inactive", help="Include deactivated ones.")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """Every registered customer, in the order registered, a page at a time."""
    entries = session(ctx).desk(existing=True).customers(include_inactive=inactive)
    shown, info = page_of(entries, limit, offset, noun="customer")
    if as_json:
        emit_json([e.model_dump(mode="json") for e in shown])
    else:
        console().print(customers_table(shown, title=info))


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
            help="When it happened (default: now; without a UTC offset, in --tz).",
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
        occurred_at=current.when(occurred_at, "--occurred-at"),
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
