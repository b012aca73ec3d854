"""What every command group shares: the session, the one desk factory, the error guard.

Also the one parser of date-times given on the command line, the two ways of printing a result
(a plain line for people, ``--json`` for scripts) and the option types several groups take.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import importlib.util
import json
import os
import re
import shlex
import sys
from base64 import b64decode
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypedDict, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.text import Text

from servflow.desk.options import postgres_schema
from servflow.domain.choices import Priority
from servflow.errors import (
    ConfigurationError,
    ServflowError,
    StoreError,
    ValidationFailedError,
    shown,
)

if TYPE_CHECKING:
    from servflow.desk import ProjectionMode, ServiceDesk, TimeSource
    from servflow.domain.policy import SlaPolicy

__all__ = [
    "DEFAULT_ACTOR",
    "DEFAULT_DB",
    "Agent",
    "AsJson",
    "AsOf",
    "At",
    "CustomerId",
    "Limit",
    "Offset",
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
    "page_of",
    "parse_when",
    "refuse_unusable_db",
    "report_error",
    "say",
    "session",
    "table_width",
    "zone_name",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")

DEFAULT_DB = "servflow.db"
DEFAULT_ACTOR = "agent:cli"
_DSN_PREFIXES = ("postgresql://", "postgres://")
#: The first ``keyword=`` of a libpq connection string (``host=127.0.0.1 dbname=desk``).
_CONNINFO_START = re.compile(r"\s*([a-z_]+)\s*=")
#: libpq's connection keywords: ``--db`` starting with one of them names a PostgreSQL server.
_LIBPQ_KEYWORDS = frozenset(
    {
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth",
        "channel_binding", "connect_timeout", "client_encoding", "options", "application_name",
        "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode",
        "sslnegotiation", "requiressl", "sslcompression", "sslcert", "sslkey", "sslpassword",
        "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib",
        "gssdelegation", "service", "target_session_attrs", "load_balance_hosts",
    }
)  # fmt: skip
#: The table of a servflow event store in its PostgreSQL schema (eventsourcing names it after
#: the application, ``servflow``): a schema without it holds no store to read.
_EVENTS_TABLE = "servflow_events"
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
        """The desk on ``--db``; with ``existing``, refuse to create a store that is not there.

        Reading commands pass ``existing``: they never create an SQLite file, nor a PostgreSQL
        schema or its tables.
        """
        if self.opened is None:
            self.opened = desk_on(self.db, existing=existing, schema=self.schema)
        return self.opened

    def when(
        self, value: str | None, option: str, *, examples: Sequence[str] = ()
    ) -> datetime | None:
        """A date-time option's value; one without a UTC offset is read in ``--tz``."""
        return parse_when(value, option, zone=self.zone, examples=examples or _EXAMPLES)

    def period(self, since: str | None, until: str | None) -> tuple[datetime, datetime]:
        """``--since`` and ``--until``, both required, read as ``when`` does."""
        start = self.when(since, "--since")
        end = self.when(until, "--until")
        if start is None or end is None:
            missing = [name for name, value in (("--since", start), ("--until", end)) if not value]
            msg = (
                f"say the period: {' and '.join(missing)} (ISO 8601; without a UTC offset, in --tz)"
            )
            raise ValidationFailedError(msg, errors=tuple((name, "missing") for name in missing))
        return start, end

    def instant(self, value: str | None, option: str = "--at") -> datetime:
        """``--at`` (or another instant) read as ``when`` does, or now."""
        return instant(value, option, zone=self.zone)

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
    """Whether ``--db`` names a PostgreSQL server rather than an SQLite file.

    A ``postgresql://`` URL, or a libpq connection string of ``keyword=value`` pairs
    (``host=127.0.0.1 user=postgres dbname=desk``): never a file name. A file whose name starts
    like one is given with a directory, ``./host=x.db``.
    """
    if db.startswith(_DSN_PREFIXES):
        return True
    start = _CONNINFO_START.match(db)
    return start is not None and start.group(1) in _LIBPQ_KEYWORDS


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
    from servflow.desk import ServiceDesk  # noqa: PLC0415 - the engine, once a command needs it

    if is_dsn(db):
        if existing:
            _require_postgres_store(db, schema or None)
        return ServiceDesk.postgres(db, schema=schema or None, **opening)
    if existing and not Path(db).is_file():
        msg = (
            f"no servflow database at {db}: open a request first "
            f"(servflow --db {shlex.quote(db)} request open ...) or run servflow demo"
        )
        raise StoreError(msg)
    return ServiceDesk.sqlite(db, **opening)


def refuse_unusable_db(db: str) -> None:
    """Refuse a ``--db`` that can name no store, before any command runs.

    A PostgreSQL connection string that does not parse (its password masked), or a file that
    exists and is no SQLite database (``cp README.md notadb.db``): every command, even one that
    would not open the store, answers with the one line that says so.
    """
    if "\x00" in db:
        return  # refused where the store opens, as a path no file can have
    if is_dsn(db):
        if importlib.util.find_spec("psycopg") is not None:  # else the store says what to install
            from servflow.desk.stores import postgres_env  # noqa: PLC0415 - with PostgreSQL only

            postgres_env(db, pool_size=1, cipher_key=None, compress=False)
        return
    path = Path(db)
    if not path.is_file():
        return  # missing or a directory: the command that needs a store says so
    import sqlite3  # noqa: PLC0415 - only for a file given as --db

    # Read through SQLite, never with open(): closing another descriptor of a database file
    # would drop the POSIX locks a connection of this process holds on it.
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db_file:
            db_file.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as error:
        if "not a database" not in str(error):
            return  # locked, unreadable...: the command that opens it says why
        msg = (
            f"{shown(db)} is not a servflow database (file is not a database): give --db the "
            "SQLite file servflow made, or a new file name"
        )
        raise StoreError(msg) from None


def _require_postgres_store(dsn: str, schema: str | None) -> None:
    """Refuse a PostgreSQL schema that holds no servflow store, without creating anything.

    Opening a desk creates its schema and tables; a command that only reads (or needs what a
    store already holds) must not leave an empty store behind a mistyped ``--schema``.
    """
    from servflow.desk.stores import postgres_env  # noqa: PLC0415 - with PostgreSQL only

    # The same refusals as opening: a malformed string (its password masked), a bad schema.
    params = postgres_env(dsn, pool_size=1, cipher_key=None, compress=False)
    name = postgres_schema(schema) or "public"
    import psycopg  # noqa: PLC0415 - optional extra, loaded with PostgreSQL only

    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            found = connection.execute(
                "SELECT to_regnamespace(%s) IS NOT NULL, "
                "to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
                (name, name, _EVENTS_TABLE),
            ).fetchone()
    except psycopg.Error as error:
        msg = f"cannot connect to PostgreSQL: {error}"
        raise StoreError(msg) from None
    schema_exists, store_exists = found or (False, False)
    if store_exists:
        return
    where = f"database {shown(params['POSTGRES_DBNAME'])}"
    if not schema_exists:
        problem = f"PostgreSQL schema {shown(name)} does not exist in {where}"
    else:
        problem = f"PostgreSQL schema {shown(name)} in {where} holds no servflow store"
    msg = f"{problem} (reading never creates one: check --schema, or record something first)"
    raise StoreError(msg)


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


#: What to do next, by error code, when the message does not say it (the reference in
#: docs/reference/errors.md has the long form).
_HINTS = {
    "validation_failed": "correct the value the message names and run the command again",
    "occurrence_out_of_order": "give each request's times in the order they happened, not "
    "after now",
    "invalid_transition": "servflow request show TICKET says where the request stands",
    "permission_denied": "record it as an actor who may (--actor), see the roles how-to",
    "request_not_found": "servflow requests lists the requests on this --db",
    "customer_not_found": "servflow customer list lists the customers on this --db",
    "not_in_directory": "servflow customer list, team list or agent list show the directory",
    "unknown_team": "servflow team list shows the teams; servflow team add registers one",
    "unknown_agent": "servflow agent list shows the agents; servflow agent add registers one",
    "nonconformity_not_found": "servflow request show TICKET lists its non-conformities",
    "concurrency_conflict": "someone else recorded first: run the command again",
    "configuration_error": "check --db, --schema, --tz and the SERVFLOW_* variables",
    "store_error": "check --db (an SQLite file made by servflow, or a PostgreSQL connection "
    "string) and --schema",
    "corrupt_event": "servflow audit verify finds altered events; see the corrupt events how-to",
    "audit_key_mismatch": "set SERVFLOW_AUDIT_KEY to the store's own key",
    "usage_error": "servflow --help lists the commands and the global options",
    "internal_error": "a bug in servflow: run again with SERVFLOW_DEBUG=1 for the traceback "
    "and report it",
}
_DEFAULT_HINT = "see the error reference in the docs for this code"


def guarded(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn servflow's errors into one red line on stderr and exit code 1, never a traceback.

    Anything else that goes wrong is a bug in servflow: it is reported the same way, as
    ``error[internal_error]``, with the traceback only when ``SERVFLOW_DEBUG`` is set. With
    ``--json`` (the command's, or the global one) the line is a JSON object instead.
    """

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return command(*args, **kwargs)
        except ServflowError as error:
            _fail(error.code, str(error), as_json=_json_wanted(args, kwargs))
        except Exception as error:
            if _is_typers(error) or os.environ.get("SERVFLOW_DEBUG", "").strip().lower() in _TRUE:
                raise  # Typer's own ways out (an exit code, a usage error), or a developer's
            _fail(
                "internal_error",
                f"{type(error).__name__}: {shown(str(error))}",
                as_json=_json_wanted(args, kwargs),
            )

    return run


#: Where the root command line notes that ``--json`` was asked for (``typer.Context.meta``).
JSON_ERRORS = "servflow.json_errors"


def _json_wanted(args: Sequence[object], kwargs: dict[str, Any]) -> bool:
    """Whether the command's ``--json``, or the global one, asks for JSON."""
    if kwargs.get("as_json") is True:
        return True
    for value in (*args, *kwargs.values()):
        if isinstance(value, typer.Context):
            return bool(value.find_root().meta.get(JSON_ERRORS))
    return False


def _is_typers(error: Exception) -> bool:
    # typer.Exit, typer.Abort and the click exceptions (vendored in recent Typer versions).
    return type(error).__module__.split(".")[0] in {"typer", "click"}


def report_error(code: str, message: str, *, hint: str | None = None, as_json: bool) -> None:
    """An error as servflow shows it on stderr: one line, its code, what happened, what to do.

    ``error[<code>]: <message> (hint: <hint>)``, or with ``as_json`` the object
    ``{"error": {"code": ..., "message": ..., "hint": ...}}`` on one line.
    """
    text = " ".join(message.split())
    advice = hint or _HINTS.get(code, _DEFAULT_HINT)
    if as_json:
        line = {"error": {"code": code, "message": text, "hint": advice}}
        sys.stderr.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stderr.flush()
        return
    shown_line = Text.assemble(
        (f"error[{code}]: ", "bold red"), (text, "red"), (f" (hint: {advice})", "dim")
    )
    Console(stderr=True, highlight=False).print(shown_line, soft_wrap=True)


def _fail(code: str, message: str, *, as_json: bool) -> NoReturn:
    report_error(code, message, as_json=as_json)
    raise typer.Exit(1)


#: How wide a table may be when its output goes to a pipe or a file: as wide as it needs.
_UNBOUNDED = 100_000
#: The width of what has none of its own (a rule) when nothing beside it has one either.
_NATURAL = 80


class _Output(Console):
    """Standard output for tables: a terminal's width, or when piped as wide as each print needs.

    Rich assumes 80 columns when standard output is no terminal, so ``servflow requests | cat``
    would wrap and cut cells. Piped, each print is measured first and laid out at that width:
    nothing wraps that would not wrap on a wide enough terminal. ``COLUMNS`` still wins.
    """

    def __init__(self) -> None:
        super().__init__(highlight=False, markup=False)
        self.fits = not self.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit()
        if self.fits:
            self.width = _UNBOUNDED

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: ANN401 - Console.print's
        """Print as ``Console.print`` does, piped at the width the objects need."""
        if self.fits and objects and not kwargs.get("soft_wrap"):
            options = self.options.update_width(_UNBOUNDED)
            widths = [self.measure(item, options=options).maximum for item in objects]
            # What has no width of its own (a rule, columns) spans the rest, or 80 columns.
            self.width = max([w for w in widths if w < _UNBOUNDED] or [_NATURAL])
            try:
                super().print(*objects, **kwargs)
            finally:
                self.width = _UNBOUNDED
            return
        super().print(*objects, **kwargs)


def console() -> Console:
    """A console for tables: no guessing at numbers or paths to colour, no markup.

    What the cells show is the users' text (a symptom, a name, ``[erased]``): square brackets
    in it are text, never Rich markup to interpret (and drop). Piped, tables are as wide as
    their content (``_Output``).
    """
    return _Output()


def table_width(shown: Console) -> int | None:
    """The width a table's layout may take on ``shown``: None when it is unbounded (piped)."""
    return None if isinstance(shown, _Output) and shown.fits else shown.width


def page_of(
    entries: Sequence[_T], limit: int, offset: int, *, noun: str
) -> tuple[Sequence[_T], str]:
    """A page of a listing read whole, and the title that says which and how to get the next."""
    shown = entries[offset : offset + limit]
    total = f"{len(entries)} {noun}{'s' if len(entries) != 1 else ''}"
    if len(shown) == len(entries):
        return shown, total
    if not shown:
        return shown, f"{total}; none past the first {offset}"
    info = f"{total}: {offset + 1} to {offset + len(shown)}"
    if offset + len(shown) < len(entries):
        info += f" (next page: --offset {offset + len(shown)})"
    return shown, info


def say(message: str) -> None:
    """One plain line for people: not wrapped, no markup."""
    console().print(Text(message), soft_wrap=True)


def emit_json(data: object) -> None:
    """The ``--json`` form of a result, for scripts."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# -- date-times ----------------------------------------------------------------------------


def zone_name(zone: tzinfo | None) -> str:
    """A zone as a sentence names it: ``Europe/Madrid``, or this machine's."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    if zone is not None:
        return str(zone)
    return f"this machine's zone ({datetime.now().astimezone().tzname() or 'local time'})"


def parse_when(
    value: str | None,
    option: str,
    *,
    zone: tzinfo | None = None,
    examples: Sequence[str] = _EXAMPLES,
) -> datetime | None:
    """An aware datetime from ISO-8601 text, or a ``ValidationFailedError`` that says why not.

    A date-time without a UTC offset (or a date alone, its midnight) is read in ``zone``, the
    zone of ``--tz`` (None: this machine's, as the output shows it); one a daylight-saving
    change makes ambiguous or skips is refused, as it names no single instant there.
    """
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
    if when.tzinfo is not None and when.utcoffset() is not None:
        return when
    return _in_zone(when.replace(tzinfo=None), value, option, zone, examples)


def _in_zone(
    local: datetime, value: str, option: str, zone: tzinfo | None, examples: Sequence[str]
) -> datetime:
    """A wall-clock time read in ``zone`` (None: this machine's), if it names one instant."""
    try:
        if zone is None:  # the machine's rules, as datetime.astimezone applies them
            earlier, later = (local.replace(fold=fold).astimezone() for fold in (0, 1))
        else:
            earlier, later = (local.replace(tzinfo=zone, fold=fold) for fold in (0, 1))
        offsets = {earlier.utcoffset(), later.utcoffset()}
    except (OverflowError, ValueError, OSError):
        msg = f"{option} {shown(value)} is out of range in {zone_name(zone)}"
        raise ValidationFailedError(msg, errors=((option, "out of range"),)) from None
    if len(offsets) > 1:
        msg = (
            f"{option} {shown(value)} happens twice or not at all in {zone_name(zone)} (a "
            f"daylight-saving change), so it names no single instant; add a UTC offset, like "
            f"{examples[0]}"
        )
        raise ValidationFailedError(msg, errors=((option, "ambiguous local time"),))
    return earlier


def instant(value: str | None, option: str = "--at", *, zone: tzinfo | None = None) -> datetime:
    """``--at`` as an aware instant, or now (the time relative due times are counted from)."""
    return parse_when(value, option, zone=zone) or datetime.now(UTC)


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
        help="The instant to answer for (default: now); without a UTC offset, in --tz.",
        show_default=False,
    ),
]
Limit = Annotated[int, typer.Option(help="Rows to show at most.", min=1, max=10_000)]
Offset = Annotated[int, typer.Option(help="Skip this many rows (the next page).", min=0)]
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
    typer.Option(
        metavar="ISO-8601",
        help="The request as it stood at this instant (without a UTC offset, in --tz).",
    ),
]
