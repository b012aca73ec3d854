"""``servflow outbox``: the messages owed to customers, their delivery and the dead letters.

``servflow outbox run --jsonl messages.jsonl`` (or ``--webhook URL``, ``--smtp HOST``) hands
what is owed to a sender, ``list`` and ``dead`` show the outbox, ``retry`` sends dead letters
back to be tried again. Secrets come from the environment, never from the command line:
``SERVFLOW_WEBHOOK_SECRET`` signs webhook calls, ``SERVFLOW_SMTP_USER`` and
``SERVFLOW_SMTP_PASSWORD`` log in to the mail server.
"""

from __future__ import annotations

import os
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from servflow.cli._common import AsJson, Limit, Offset, console, emit_json, guarded, say, session
from servflow.cli.render import stamp, zone_label
from servflow.errors import ConfigurationError, ValidationFailedError

if TYPE_CHECKING:
    from servflow.desk.outbox import OutboxEntry, Sender

__all__ = ["outbox_app"]

outbox_app = typer.Typer(
    help="Messages owed to customers: run the dispatcher, list them, retry the dead letters.",
    no_args_is_help=True,
)

Status = Annotated[
    str | None,
    typer.Option(help="Only these: pending, delivered, dead or expired.", show_default=False),
]


def _sender(
    jsonl: Path | None,
    webhook: str | None,
    smtp: str | None,
    mail_from: str | None,
    *,
    starttls: bool,
) -> Sender:
    from servflow.senders import JsonlSender, SmtpSender, WebhookSender  # noqa: PLC0415 - when sending

    given = (("--jsonl", jsonl), ("--webhook", webhook), ("--smtp", smtp))
    if sum(value is not None for _, value in given) != 1:
        problem = "exactly one of --jsonl PATH, --webhook URL, --smtp HOST[:PORT]"
        msg = f"say where messages go: {problem}"
        raise ValidationFailedError(msg, errors=(("sender", problem),))
    if jsonl is not None:
        return JsonlSender(jsonl)
    if webhook is not None:
        secret = os.environ.get("SERVFLOW_WEBHOOK_SECRET")
        if not secret:
            msg = "set SERVFLOW_WEBHOOK_SECRET: webhook calls are signed with it"
            raise ConfigurationError(msg)
        return WebhookSender(webhook, secret=secret)
    assert smtp is not None  # noqa: S101 - one was chosen
    if not mail_from:
        msg = "--smtp needs --mail-from ADDRESS (the messages' From)"
        raise ValidationFailedError(msg, errors=(("--mail-from", "missing"),))
    host, _, port = smtp.partition(":")
    if port and not port.isdigit():
        msg = f"--smtp {smtp!r}: the port must be a number"
        raise ValidationFailedError(msg, errors=(("--smtp", "bad port"),))
    return SmtpSender(
        host,
        int(port or 25),
        sender=mail_from,
        starttls=starttls,
        username=os.environ.get("SERVFLOW_SMTP_USER") or None,
        password=os.environ.get("SERVFLOW_SMTP_PASSWORD") or None,
    )


@outbox_app.command("run")
@guarded
def run(
    ctx: typer.Context,
    *,
    jsonl: Annotated[
        Path | None, typer.Option(help="Append the messages to this JSON Lines file.")
    ] = None,
    webhook: Annotated[str | None, typer.Option(help="POST them to this URL, signed.")] = None,
    smtp: Annotated[
        str | None, typer.Option(help="Mail them through this server, HOST[:PORT].")
    ] = None,
    mail_from: Annotated[str | None, typer.Option(help="The From of mailed messages.")] = None,
    starttls: Annotated[bool, typer.Option(help="Upgrade the mail connection to TLS.")] = False,
    limit: Annotated[int | None, typer.Option(help="Hand over at most this many.", min=1)] = None,
    templates: Annotated[Path | None, typer.Option(help="A folder of your own templates.")] = None,
    language: Annotated[str, typer.Option(help="For customers without a language.")] = "en",
    as_json: AsJson = False,
) -> None:
    """Hand the messages owed by now to a sender: at least once, retried, dead letters kept."""
    sender = _sender(jsonl, webhook, smtp, mail_from, starttls=starttls)
    report = (
        session(ctx)
        .desk(existing=True)
        .dispatch(sender, limit=limit, templates=templates, language=language)
    )
    if as_json:
        emit_json(report.model_dump(mode="json"))
        return
    say(
        f"{report.delivered:,} delivered, {report.retried:,} to retry, {report.dead:,} dead, "
        f"{report.expired:,} expired ({report.collected:,} newly owed) in {report.seconds:.1f} s."
    )


def _show(entries: list[OutboxEntry], title: str, zone: tzinfo | None, *, as_json: bool) -> None:
    if as_json:
        emit_json([entry.model_dump(mode="json") for entry in entries])
        return
    label = zone_label(zone, entries[0].owed_at if entries else None)
    table = Table(title=f"{title} (times in {label})")
    for column in (
        "key",
        "kind",
        "status",
        "attempts",
        "owed at",
        "next / delivered",
        "last error",
    ):
        table.add_column(column)
    for entry in entries:
        when = entry.next_attempt_at or entry.delivered_at
        table.add_row(
            entry.key,
            entry.kind,
            entry.status,
            str(entry.attempts),
            stamp(entry.owed_at, zone),
            "" if when is None else stamp(when, zone),
            entry.last_error or "",
        )
    console().print(table)


@outbox_app.command("list")
@guarded
def list_entries(
    ctx: typer.Context,
    *,
    status: Status = None,
    limit: Limit = 50,
    offset: Offset = 0,
    as_json: AsJson = False,
) -> None:
    """The outbox's messages (of one status), oldest owed first."""
    current = session(ctx)
    entries = current.desk(existing=True).outbox(status=status, limit=limit, offset=offset)  # type: ignore[arg-type]
    title = f"Outbox{'' if status is None else f' ({status})'}"
    _show(entries, title, current.zone, as_json=as_json)


@outbox_app.command("dead")
@guarded
def dead(
    ctx: typer.Context, *, limit: Limit = 50, offset: Offset = 0, as_json: AsJson = False
) -> None:
    """The dead letters: messages that could not be delivered."""
    current = session(ctx)
    entries = current.desk(existing=True).outbox(status="dead", limit=limit, offset=offset)
    _show(entries, "Dead letters", current.zone, as_json=as_json)


@outbox_app.command("retry")
@guarded
def retry(
    ctx: typer.Context,
    keys: Annotated[
        list[str] | None, typer.Argument(help="Message keys (default: every dead letter).")
    ] = None,
    *,
    as_json: AsJson = False,
) -> None:
    """Send dead letters back to be tried again by the next run."""
    count = session(ctx).desk(existing=True).retry_dead(keys or None)
    if as_json:
        emit_json({"requeued": count})
        return
    say(f"{count:,} dead letter{'s' if count != 1 else ''} back in the queue.")
