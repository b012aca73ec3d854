"""What every command group shares: the session, the one desk factory, the error guard.

Also the one parser of date-times given on the command line, the two ways of printing a result
(a plain line for people, ``--json`` for scripts) and the option types several groups take.
"""

from __future__ import annotations

import binascii
import functools
import json
import os
import shlex
from base64 import b64decode
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec, TypedDict, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from servflow.desk import ProjectionMode, ServiceDesk, TimeSource
from servflow.domain.policy import SlaPolicy
from servflow.domain.values import Priority
from servflow.errors import (
    ConfigurationError,
    ServflowError,
    StoreError,
    ValidationFailedError,
    shown,
)

__all__ = [
    "DEFAULT_ACTOR",
    "DEFAULT_DB",
    "Agent",
    "AsJson",
    "AsOf",
    "At",
    "CustomerId",
    "Limit",
    "Priorities",
    "Session",
    "Team",
    "Ticket",
    "console",
    "desk_on",
    "emit_json",
    "guarded",
    "instant",
    "is_dsn",
    "parse_when",
    "say",
    "session",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

DEFAULT_DB = "servflow.db"
DEFAULT_ACTOR = "agent:cli"
_DSN_PREFIXES = ("postgresql://", "postgres://")
#: What a refused date-time is shown to look like (the first example also for a missing offset).
_EXAMPLES = ("2026-09-07T10:30:00+02:00", "2026-09-07T08:30:00Z")
_TRUE = frozenset({"1", "true", "yes", "on"})


# -- the session and the desk --------------------------------------------------------------


@dataclass
class Session:
    """What the global options chose, and the desk they open (lazily, once)."""

    db: str
    actor: str
    zone: tzinfo | None
    db_on_command_line: bool
    schema: str | None = None
    opened: ServiceDesk | None = None

    def desk(self, *, existing: bool = False) -> ServiceDesk:
        """The desk on ``--db``; with ``existing``, refuse to create an empty SQLite file."""
        if self.opened is None:
            self.opened = desk_on(self.db, existing=existing, schema=self.schema)
        return self.opened

    def close(self) -> None:
        """Release the store's connections when the command is done."""
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def session(ctx: typer.Context) -> Session:
    """The root options' session; a group run on its own gets one from the environment.

    ``audit_app`` and ``python -m servflow.projections`` have no root options: their store is
    ``$SERVFLOW_DB`` (``$SERVFLOW_SCHEMA``), their actor ``$SERVFLOW_ACTOR``, and times show
    in this machine's zone.
    """
    root = ctx.find_root()
    if not isinstance(root.obj, Session):
        root.obj = Session(
            db=os.environ.get("SERVFLOW_DB") or DEFAULT_DB,
            actor=os.environ.get("SERVFLOW_ACTOR") or DEFAULT_ACTOR,
            zone=None,
            db_on_command_line=False,
            schema=os.environ.get("SERVFLOW_SCHEMA") or None,
        )
        root.call_on_close(root.obj.close)
    return root.obj


def is_dsn(db: str) -> bool:
    """Whether ``--db`` names a PostgreSQL server rather than an SQLite file."""
    return db.startswith(_DSN_PREFIXES)


def desk_on(
    db: str,
    *,
    existing: bool = False,
    schema: str | None = None,
    projections: ProjectionMode = "inline",
    clock: TimeSource | None = None,
    sla: SlaPolicy | None = None,
) -> ServiceDesk:
    """A desk on an SQLite file or a PostgreSQL DSN (``schema`` applies to PostgreSQL only).

    The one place the command line opens a store. Stored events are encrypted with
    ``$SERVFLOW_CIPHER_KEY`` when it is set, compressed when ``$SERVFLOW_COMPRESS`` is 1, and
    chained under ``$SERVFLOW_AUDIT_KEY`` (base64) when that is set (a key is never an option:
    it would stay in shell history). ``$SERVFLOW_ERASABLE=1`` creates an erasable store (a store
    created so stays erasable whatever later commands say).
    """
    opening = _Opening(
        projections=projections,
        clock=clock,
        sla=sla,
        cipher_key=os.environ.get("SERVFLOW_CIPHER_KEY") or None,
        compress=os.environ.get("SERVFLOW_COMPRESS", "").strip().lower() in _TRUE,
        audit_key=_audit_key(),
        erasable=os.environ.get("SERVFLOW_ERASABLE", "").strip().lower() in _TRUE,
    )
    if is_dsn(db):
        return ServiceDesk.postgres(db, schema=schema or None, **opening)
    if existing and not Path(db).is_file():
        msg = (
            f"no servflow database at {db}: open a request first "
            f"(servflow --db {shlex.quote(db)} request open ...) or run servflow demo"
        )
        raise StoreError(msg)
    return ServiceDesk.sqlite(db, **opening)


class _Opening(TypedDict):
    """What ``desk_on`` opens either store with."""

    projections: ProjectionMode
    clock: TimeSource | None
    sla: SlaPolicy | None
    cipher_key: str | None
    compress: bool
    audit_key: bytes | None
    erasable: bool


def _audit_key() -> bytes | None:
    """``$SERVFLOW_AUDIT_KEY``: the bytes of the store's ``audit_key``, given as base64 text."""
    text = (os.environ.get("SERVFLOW_AUDIT_KEY") or "").strip()
    if not text:
        return None
    try:
        key = b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        # Never echo the value: a message ends up in logs.
        msg = (
            "SERVFLOW_AUDIT_KEY must be the store's audit key as base64 text "
            "(the bytes given to the desk as audit_key=, base64-encoded)"
        )
        raise ConfigurationError(msg)
    return key


# -- errors and output ---------------------------------------------------------------------


def guarded(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn servflow's errors into one red line on stderr and exit code 1, never a traceback.

    Anything else that goes wrong is a bug in servflow: it is reported the same way, as
    ``error[internal_error]``, with the traceback only when ``SERVFLOW_DEBUG`` is set.
    """

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return command(*args, **kwargs)
        except ServflowError as error:
            _fail(error.code, str(error))
        except Exception as error:
            if _is_typers(error) or os.environ.get("SERVFLOW_DEBUG", "").strip().lower() in _TRUE:
                raise  # Typer's own ways out (an exit code, a usage error), or a developer's
            _fail(
                "internal_error",
                f"{type(error).__name__}: {shown(str(error))} (a bug in servflow; run again with "
                "SERVFLOW_DEBUG=1 for the traceback and report it)",
            )

    return run


def _is_typers(error: Exception) -> bool:
    # typer.Exit, typer.Abort and the click exceptions (vendored in recent Typer versions).
    return type(error).__module__.split(".")[0] in {"typer", "click"}


def _fail(code: str, message: str) -> NoReturn:
    text = " ".join(message.split())
    line = Text.assemble((f"error[{code}]: ", "bold red"), (text, "red"))
    Console(stderr=True, highlight=False).print(line, soft_wrap=True)
    raise typer.Exit(1)


def console() -> Console:
    """A console for tables: no guessing at numbers or paths to colour, no markup.

    What the cells show is the users' text (a symptom, a name, ``[erased]``): square brackets
    in it are text, never Rich markup to interpret (and drop).
    """
    return Console(highlight=False, markup=False)


def say(message: str) -> None:
    """One plain line for people: not wrapped, no markup."""
    console().print(Text(message), soft_wrap=True)


def emit_json(data: object) -> None:
    """The ``--json`` form of a result, for scripts."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# -- date-times ----------------------------------------------------------------------------


def parse_when(
    value: str | None, option: str, *, examples: Sequence[str] = _EXAMPLES
) -> datetime | None:
    """An aware datetime from ISO-8601 text, or a ``ValidationFailedError`` that says why not."""
    if value is None:
        return None
    try:
        if "\x00" in value:  # CPython's parser stops at a NUL and reads what came before
            raise ValueError(value)  # noqa: TRY301 - the same refusal as any other bad text
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        msg = f"{option} {shown(value)} is not an ISO-8601 date-time; write it like " + " or ".join(
            examples
        )
        raise ValidationFailedError(msg, errors=((option, "not an ISO-8601 date-time"),)) from None
    if when.tzinfo is None or when.utcoffset() is None:
        msg = (
            f"{option} {shown(value)} has no UTC offset, so it names no single instant; "
            f"add one, like {examples[0]} or ...Z for UTC"
        )
        raise ValidationFailedError(msg, errors=((option, "needs a UTC offset"),))
    return when


def instant(value: str | None, option: str = "--at") -> datetime:
    """``--at`` as an aware instant, or now (the time relative due times are counted from)."""
    return parse_when(value, option) or datetime.now(UTC)


# -- option types several groups take ------------------------------------------------------

Ticket = Annotated[
    str,
    typer.Argument(
        metavar="TICKET",
        help="Ticket code (SR-000123), request id or external reference (ext:INC0012345).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="ISO-8601",
        help="The instant to answer for, with a UTC offset (default: now).",
        show_default=False,
    ),
]
Limit = Annotated[int, typer.Option(help="Rows to show at most.", min=1, max=10_000)]
Team = Annotated[str | None, typer.Option(help="Only this team's requests.")]
Agent = Annotated[str | None, typer.Option(help="Only this agent's requests.")]
CustomerId = Annotated[
    str | None, typer.Option("--customer", help="Only this customer's requests.")
]
Priorities = Annotated[
    list[Priority] | None, typer.Option(help="Only these priorities (repeat for several).")
]
AsOf = Annotated[
    str | None,
    typer.Option(metavar="ISO-8601", help="The request as it stood at this instant."),
]
