"""The command line as a person meets it (issue 20, items 2-8 and 11).

Global options before or after the command, a ``key=value`` PostgreSQL connection string,
reading commands that never create a store, a file that is not a database, times labelled with
their zone and read in ``--tz``, help without ``<bool>`` or ``{TICKET}``, no blank headers,
``--limit``/``--offset`` on listings, full-width output to a pipe, JSON errors with ``--json``,
and an honest reason when the PostgreSQL tests skip. A last test walks every command with bad
input.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.testing import CliRunner, Result

from cli_output import ok, refused, runner_on
from conftest import POSTGRES_DSN, drop_schema, postgres_available, require_postgres
from servflow import ServiceDesk
from servflow.cli import app
from servflow.cli._common import is_dsn

ROOT = Path(__file__).resolve().parents[2]
#: 23:30 in Madrid on Wednesday 30 September 2026 (UTC+2): SR-1 opens then, SR-2 an hour later.
START = datetime(2026, 9, 30, 21, 30, tzinfo=UTC)
LATER = (START + timedelta(days=5)).isoformat()
LONG_NAME = "Compañía de Servicios Técnicos y Mantenimiento Integral del Noroeste Peninsular S.L."
SETTINGS = ("SERVFLOW_DB", "SERVFLOW_ACTOR", "SERVFLOW_TZ", "SERVFLOW_SCHEMA", "SERVFLOW_DEBUG")
OPEN = ["request", "open", "--customer", "acme", "--channel", "phone", "--kind", "complaint"]
OPEN += ["--stage", "post_sale", "--symptom", "No line"]
BAD_SCHEMA = "bad-schema;drop"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two requests: SR-1 urgent (breached by LATER), SR-2 for a customer with a long name."""
    path = tmp_path / "desk.db"
    now = [START]
    with ServiceDesk.sqlite(str(path), clock=lambda: now[0]) as desk:
        first = desk.open(
            customer="acme",
            channel="phone",
            kind="complaint",
            stage="post_sale",
            symptom="The line drops",
            actor="agent:ana",
        )
        desk.classify(first, priority="urgent", actor="agent:ana")
        now[0] = START + timedelta(hours=1)
        desk.open(
            customer={"id": "noroeste", "name": LONG_NAME},
            channel="web",
            kind="claim",
            stage="sale",
            symptom="Invoice twice",
            actor="agent:bob",
        )
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def invoke(args: list[str], **env: str | None) -> Result:
    """``servflow ARGS`` in-process, 200 columns wide unless ``env`` says otherwise."""
    return CliRunner().invoke(app, args, env={"COLUMNS": "200", **env})


# -- item 2: global options before or after the command -----------------------------------

#: Commands whose output must not change when the global options follow them.
AFTER_OR_BEFORE: list[list[str]] = [
    ["requests"],
    ["requests", "--open", "--json"],
    ["queue"],
    ["queue", "--json", "--at", LATER],
    ["request", "show", "SR-000001"],
    ["request", "history", "SR-000002"],
    ["sla", "SR-000001", "--at", LATER],
    ["sla", "show", "SR-000001", "--at", LATER, "--json"],
    ["sla", "breaches", "--at", LATER],
    ["sla", "at-risk", "--at", LATER],
    ["audit", "log"],
    ["audit", "log", "--actor", "agent:bob", "--json"],
    ["audit", "history", "SR-000001"],
    ["audit", "as-of", "SR-000001", "--version", "1"],
    ["audit", "queue", "--at", LATER],
    ["audit", "verify"],
    ["export", "--format", "csv"],
    ["customer", "list"],
    ["team", "list"],
    ["agent", "list"],
    ["outbox", "list"],
    ["projections", "status"],
]


@pytest.mark.parametrize("command", AFTER_OR_BEFORE, ids=" ".join)
def test_global_options_after_the_command_give_the_same_output_as_before_it(
    db: Path, clean_env: None, command: list[str]
) -> None:
    del clean_env
    given = {"--db": str(db), "--tz": "Europe/Madrid", "--actor": "auditor:eva"}
    if "--actor" in own_options(command):  # after it, audit log's own --actor, a filter
        del given["--actor"]
    options = [word for pair in given.items() for word in pair]
    before = invoke([*options, *command])
    after = invoke([*command, *options])
    equals = invoke([*command, *(f"{name}={value}" for name, value in given.items())])
    assert before.exit_code == 0, before.output
    assert (after.exit_code, after.stdout, after.stderr) == (0, before.stdout, before.stderr)
    assert (equals.exit_code, equals.stdout) == (0, before.stdout)


def own_options(command: list[str]) -> set[str]:
    """The options the sub-command of a command line declares itself."""
    tree = dict(commands(typer.main.get_command(app)))
    path = next((p for p in tree if list(p) == command[: len(p)]), None)
    if path is None:  # sla TICKET, short for sla show TICKET
        return set()
    return {opt for param in tree[path].params for opt in getattr(param, "opts", ())}


def test_a_recording_command_takes_the_actor_and_the_store_after_it(
    db: Path, clean_env: None
) -> None:
    del clean_env
    note = ["request", "note", "SR-000001", "--text", "Called back"]
    ok(invoke([*note, "--actor", "agent:zoe", "--db", str(db)]))
    with ServiceDesk.sqlite(str(db)) as desk:
        assert desk.history("SR-000001")[-1].actor == "agent:zoe"


def test_an_option_the_command_has_itself_stays_the_commands(db: Path, clean_env: None) -> None:
    del clean_env
    # audit log --actor filters by actor; the global --actor before it records nothing here.
    rows = json.loads(
        ok(invoke(["--db", str(db), "audit", "log", "--actor", "agent:bob", "--json"]))
    )
    assert {row["actor"] for row in rows["rows"]} == {"agent:bob"}
    # request show --version is the request's version, not servflow's.
    show = ["request", "show", "SR-000001", "--version", "1", "--db", str(db), "--json"]
    assert json.loads(ok(invoke(show)))["version"] == 1


def test_the_global_json_before_the_command_reaches_the_command(db: Path, clean_env: None) -> None:
    del clean_env
    after = ok(invoke(["--db", str(db), "requests", "--json"]))
    assert ok(invoke(["--json", "--db", str(db), "requests"])) == after
    assert json.loads(after)[0]["ticket_code"] == "SR-000001"


def test_a_mistyped_option_is_told_apart_from_a_global_one(db: Path, clean_env: None) -> None:
    del clean_env
    line = refused(invoke(["request", "show", "SR-000001", "--dbb", str(db)]), "usage_error", 2)
    assert "No such option: --dbb; did you mean --db?" in line
    assert "--customer" not in line
    # The old misleading hint: --actor after the command suggested options of the command.
    assert invoke(["request", "show", "SR-000001", "--actor", "x", "--db", str(db)]).exit_code == 0


def test_a_global_option_without_its_value_is_one_usage_line(clean_env: None) -> None:
    del clean_env
    line = refused(invoke(["requests", "--tz"]), "usage_error", 2)
    assert "'--tz'" in line


def test_a_group_added_later_takes_the_global_options_after_its_commands(
    clean_env: None,
) -> None:
    del clean_env
    later = typer.Typer()

    @later.command("where")
    def where(ctx: typer.Context) -> None:
        root = ctx.find_root().obj
        typer.echo(f"{root.db} {root.actor} {root.zone}")

    app.add_typer(later, name="later")
    try:
        out = ok(invoke(["later", "where", "--db", "x.db", "--actor", "agent:new", "--tz", "UTC"]))
    finally:
        app.registered_groups.pop()
    assert out.strip() == "x.db agent:new UTC"


# -- item 3: a libpq connection string is PostgreSQL -------------------------------------


@pytest.mark.parametrize(
    ("db", "postgres"),
    [
        ("host=127.0.0.1 user=postgres dbname=test", True),
        ("  dbname=test", True),
        ("service=desk", True),
        ("postgresql://postgres@127.0.0.1/test", True),
        ("desk.db", False),
        ("./host=x.db", False),
        ("notes=1.db", False),
    ],
)
def test_a_libpq_connection_string_is_told_from_a_file_name(db: str, *, postgres: bool) -> None:
    assert is_dsn(db) is postgres


def conninfo() -> str:
    """The test server as a libpq ``key=value`` string."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: PLC0415

    return make_conninfo(**{k: str(v) for k, v in conninfo_to_dict(POSTGRES_DSN).items()})


@pytest.fixture
def schema() -> Iterator[str]:
    require_postgres()
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    drop_schema(name)


def schemas(*names: str) -> set[str]:
    """Which of ``names`` exist as schemas on the test server (information_schema)."""
    import psycopg  # noqa: PLC0415

    with psycopg.connect(POSTGRES_DSN) as connection:
        rows = connection.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY(%s)",
            (list(names),),
        ).fetchall()
    return {row[0] for row in rows}


@pytest.mark.postgres
def test_a_key_value_connection_string_opens_postgresql_and_writes_no_file(
    schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    del clean_env
    monkeypatch.chdir(tmp_path)
    dsn = conninfo()
    assert "=" in dsn
    assert not dsn.startswith("postgres")
    opened = json.loads(ok(invoke(["--db", dsn, "--schema", schema, *OPEN, "--json"])))
    assert opened["ticket_code"] == "SR-000001"
    listed = json.loads(ok(invoke(["requests", "--db", dsn, "--schema", schema, "--json"])))
    assert [row["ticket_code"] for row in listed] == ["SR-000001"]
    assert list(tmp_path.iterdir()) == []
    with ServiceDesk.postgres(POSTGRES_DSN, schema=schema) as desk:
        assert desk.get("SR-000001").symptom == "No line"


# -- item 4: reading never creates a PostgreSQL schema or its tables ---------------------

#: Commands that only read (or need a store that exists): none may create one.
READING: list[list[str]] = [
    ["requests"],
    ["queue"],
    ["request", "show", "SR-000001"],
    ["request", "history", "SR-000001"],
    ["sla", "SR-000001"],
    ["sla", "breaches"],
    ["sla", "at-risk"],
    ["sla", "run-due"],
    ["audit", "log"],
    ["audit", "history", "SR-000001"],
    ["audit", "verify"],
    ["audit", "queue", "--at", LATER],
    ["export"],
    ["customer", "list"],
    ["team", "list"],
    ["agent", "list"],
    ["outbox", "list"],
    ["outbox", "dead"],
    ["projections", "status"],
    ["projections", "quarantine"],
]


@pytest.mark.postgres
@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_reading_an_unknown_schema_is_one_line_and_creates_nothing(
    schema: str, clean_env: None, command: list[str]
) -> None:
    del clean_env
    result = invoke(["--db", POSTGRES_DSN, "--schema", schema, *command])
    line = refused(result, "store_error")
    assert f"PostgreSQL schema '{schema}' does not exist" in line
    assert schemas(schema) == set()


@pytest.mark.postgres
def test_reading_a_schema_without_a_store_is_refused_and_leaves_it_empty(
    schema: str, clean_env: None
) -> None:
    del clean_env
    import psycopg  # noqa: PLC0415

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    line = refused(invoke(["--db", POSTGRES_DSN, "--schema", schema, "requests"]), "store_error")
    assert "holds no servflow store" in line
    with psycopg.connect(POSTGRES_DSN) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchone()
    assert tables == (0,)


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["requests"], OPEN, ["projections", "status"]], ids=str)
def test_a_bad_schema_name_is_refused_before_any_sql(clean_env: None, command: list[str]) -> None:
    del clean_env
    require_postgres()
    line = refused(
        invoke(["--db", POSTGRES_DSN, "--schema", BAD_SCHEMA, *command]), "configuration_error"
    )
    assert "must be a lower-case PostgreSQL identifier" in line
    assert schemas(BAD_SCHEMA, "bad-schema", "bad") == set()
    # Not even a connection: the same refusal where no server listens.
    nowhere = "postgresql://postgres@127.0.0.1:1/test"
    refused(invoke([*command, "--db", nowhere, "--schema", BAD_SCHEMA]), "configuration_error")


# -- item 5: a file that is not a database ------------------------------------------------


def test_a_file_that_is_not_a_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_db = tmp_path / "notadb.db"
    shutil.copy(ROOT / "README.md", not_a_db)
    before = not_a_db.read_bytes()
    run = runner_on(not_a_db, monkeypatch)
    for command in (["requests"], ["queue"], ["audit", "log"], OPEN):
        line = refused(run(*command), "store_error")
        assert "file is not a database" in line
        assert "(hint: " in line
    assert not_a_db.read_bytes() == before


# -- item 6: times labelled with their zone, and read in --tz ---------------------------


def test_audit_output_labels_its_times_with_their_zone(db: Path, clean_env: None) -> None:
    del clean_env
    madrid = ["--db", str(db), "--tz", "Europe/Madrid"]
    assert "occurred (Europe/Madrid)" in ok(invoke([*madrid, "audit", "log"]))
    assert "(times in Europe/Madrid)" in ok(invoke([*madrid, "audit", "history", "SR-000001"]))
    as_of = ok(invoke([*madrid, "audit", "as-of", "SR-000001", "--at", "2026-09-30T21:45Z"]))
    assert "SR-000001 as of 2026-09-30 23:45 CEST" in as_of
    assert "opened (Europe/Madrid)" in as_of
    assert "2026-09-30 23:30:00" in as_of  # opened at 21:30 UTC
    assert "times in Europe/Madrid)" in ok(invoke([*madrid, "audit", "queue", "--at", LATER]))
    assert "times in UTC" in ok(invoke(["--db", str(db), "--tz", "UTC", "outbox", "list"]))


def test_a_date_without_an_offset_is_read_in_the_tz_zone(db: Path, clean_env: None) -> None:
    del clean_env
    since = ["audit", "log", "--since", "2026-10-01", "--json"]
    # Midnight in Madrid is 22:00 UTC the day before: SR-2 (22:30 UTC) opened after it, SR-1 not.
    rows = json.loads(ok(invoke(["--db", str(db), "--tz", "Europe/Madrid", *since])))["rows"]
    assert {row["ticket_code"] for row in rows} == {"SR-000002"}
    rows = json.loads(ok(invoke(["--db", str(db), "--tz", "UTC", *since])))["rows"]
    assert rows == []
    explicit = ["audit", "log", "--since", "2026-10-01T00:00+02:00", "--json"]
    assert ok(invoke(["--db", str(db), *explicit])) == ok(
        invoke(["--db", str(db), "--tz", "Europe/Madrid", *since])
    )


@pytest.fixture
def machine_in_madrid(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Madrid")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_without_tz_a_date_is_read_in_the_machines_zone(
    db: Path, clean_env: None, machine_in_madrid: None
) -> None:
    del clean_env, machine_in_madrid
    since = ["--db", str(db), "audit", "log", "--since", "2026-10-01", "--json"]
    rows = json.loads(ok(invoke(since)))["rows"]
    assert {row["ticket_code"] for row in rows} == {"SR-000002"}
    tz_help = ok(invoke(["--help"], COLUMNS="300"))
    assert "read date-times given without a UTC offset in (default: this machine's zone)" in (
        " ".join(tz_help.replace("│", " ").split())
    )


@pytest.mark.parametrize("local", ["2026-10-25T02:30", "2026-03-29T02:30"])
def test_a_local_time_a_clock_change_repeats_or_skips_is_refused(
    db: Path, clean_env: None, local: str
) -> None:
    del clean_env
    result = invoke(["--db", str(db), "--tz", "Europe/Madrid", "audit", "log", "--since", local])
    line = refused(result, "validation_failed")
    assert "happens twice or not at all in Europe/Madrid" in line


# -- item 7: headers and help ---------------------------------------------------------------


def header_cells(output: str) -> list[list[str]]:
    """The cells of every table header row (``┃ a ┃ b ┃``) in ``output``."""
    return [
        [cell.strip() for cell in line.strip().strip("┃").split("┃")]
        for line in output.splitlines()
        if line.strip().startswith("┃")
    ]


@pytest.mark.parametrize(
    "command",
    [["sla", "breaches", "--at", LATER], ["sla", "SR-000001", "--at", LATER]],
    ids=" ".join,
)
def test_sla_tables_have_no_blank_header(db: Path, clean_env: None, command: list[str]) -> None:
    del clean_env
    headers = header_cells(ok(invoke(["--db", str(db), *command])))
    assert headers
    assert all(all(headers_row) for headers_row in headers), headers


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under ``group``, by its path, as Typer's click tree holds it."""
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def every_command() -> list[tuple[str, ...]]:
    return [path for path, _ in commands(typer.main.get_command(app))]


def test_the_walk_finds_every_group() -> None:
    found = {path[0] for path in every_command()}
    assert {"request", "audit", "sla", "customer", "projections", "outbox", "demo"} <= found


@pytest.mark.parametrize("path", [(), *every_command()], ids=lambda p: " ".join(p) or "servflow")
def test_help_shows_no_bool_and_no_braces(path: tuple[str, ...], clean_env: None) -> None:
    del clean_env
    shown = ok(invoke([*path, "--help"]))
    assert "<bool>" not in shown
    usage = next(line for line in shown.splitlines() if "Usage:" in line)
    assert "{" not in usage
    assert "}" not in usage


def test_an_argument_is_named_as_click_names_it(clean_env: None) -> None:
    del clean_env
    assert "Usage: servflow request show [OPTIONS] TICKET" in ok(
        invoke(["request", "show", "--help"])
    )
    assert "Usage: servflow queue [OPTIONS] [QUEUE]" in ok(invoke(["queue", "--help"]))


# -- item 8: listings page, pipes get every column, JSON errors --------------------------

#: The listings: each takes --limit, and --offset where it pages by rows.
LISTINGS = {
    ("requests",): True,
    ("queue",): True,
    ("sla", "breaches"): False,
    ("sla", "at-risk"): False,
    ("audit", "log"): False,  # pages with --after
    ("audit", "queue"): True,
    ("customer", "list"): True,
    ("team", "list"): True,
    ("agent", "list"): True,
    ("outbox", "list"): True,
    ("outbox", "dead"): True,
    ("projections", "quarantine"): True,
}


@pytest.mark.parametrize(("path", "pages"), LISTINGS.items(), ids=str)
def test_every_listing_takes_a_limit(path: tuple[str, ...], *, pages: bool) -> None:
    tree = dict(commands(typer.main.get_command(app)))
    names = {opt for param in tree[path].params for opt in getattr(param, "opts", ())}
    assert "--limit" in names
    assert ("--offset" in names) is pages


def test_requests_come_a_page_at_a_time(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = runner_on(db, monkeypatch)
    first = json.loads(ok(run("requests", "--limit", "1", "--json")))
    second = json.loads(ok(run("requests", "--limit", "1", "--offset", "1", "--json")))
    assert [r["ticket_code"] for r in first + second] == ["SR-000001", "SR-000002"]
    table = ok(run("requests", "--limit", "1"))
    assert "SR-000002" not in table
    assert "next page: --offset 1" in table
    assert "next page" not in ok(run("requests", "--limit", "1", "--offset", "1"))
    assert json.loads(ok(run("requests", "--status", "new", "--limit", "1", "--json"))) == [
        second[0]
    ]


def test_output_to_a_pipe_is_full_width(db: Path, clean_env: None) -> None:
    del clean_env
    piped = invoke(["--db", str(db), "--tz", "UTC", "requests"], COLUMNS=None)
    out = ok(piped)
    assert LONG_NAME in out
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) > 80
    shown = ok(invoke(["--db", str(db), "request", "show", "SR-000002"], COLUMNS=None))
    assert LONG_NAME in shown


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (["request", "show", "SR-000404", "--json"], "request_not_found", 1),
        (["--json", "request", "show", "SR-000404"], "request_not_found", 1),
        (["queue", "--bogus", "--json"], "usage_error", 2),
        (["--json", "projections", "follow", "--poll", "0"], "usage_error", 2),
    ],
)
def test_with_json_errors_are_json_on_stderr(
    db: Path, clean_env: None, args: list[str], code: str, exit_code: int
) -> None:
    del clean_env
    result = invoke(["--db", str(db), *args])
    assert result.exit_code == exit_code
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["hint"]


# -- item 11: why the PostgreSQL tests skip ---------------------------------------------


@pytest.mark.postgres
def test_a_missing_test_database_is_named_as_such_not_as_a_missing_server() -> None:
    require_postgres()
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    missing = make_conninfo(POSTGRES_DSN, dbname=f"servflow_missing_{uuid.uuid4().hex[:8]}")
    reason = postgres_available(missing)
    assert reason is not None
    assert "no PostgreSQL server" not in reason
    assert "answers, but its database 'servflow_missing_" in reason
    assert "createdb" in reason


def test_the_readme_says_how_to_create_the_test_database() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "createdb -h 127.0.0.1 -U postgres test" in readme


# -- every command, bad input ---------------------------------------------------------------


def filled(command: Any) -> list[str]:
    """Values for a command's required arguments and options, of the types they take."""

    def value(param: Any) -> str:
        descriptor = param.type_descriptor
        if descriptor.is_choice and descriptor.choices:
            return str(getattr(descriptor.choices[0], "value", descriptor.choices[0]))
        if descriptor.annotation in {int, float}:
            return "1"
        if param.name == "ticket":
            return "SR-000001"
        return "x"

    words: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        if isinstance(param, TyperArgument):
            words.append(value(param))
        elif isinstance(param, TyperOption):
            words += [param.opts[0], value(param)]
    return words


def bad_inputs(folder: Path) -> dict[str, list[str]]:
    not_a_db = folder / "notadb.db"
    if not not_a_db.exists():
        shutil.copy(ROOT / "README.md", not_a_db)
    return {
        "not a database": ["--db", str(not_a_db)],
        "a bad DSN": ["--db", "postgresql://u:s3cr3t@[::1/db"],
        "a bad schema": ["--db", str(folder / "fresh.db"), "--schema", BAD_SCHEMA],
    }


class TookTooLong(BaseException):
    """A command of the walk ran on instead of refusing its bad input (a BaseException: no
    guard of servflow's turns it into a refusal)."""


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Stop a command that runs on (a server, a follower) rather than hang the suite."""

    def stop(signum: int, frame: object) -> None:
        del signum, frame
        raise TookTooLong

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("bad", ["not a database", "a bad DSN", "a bad schema"])
@pytest.mark.parametrize("path", every_command(), ids=" ".join)
def test_every_command_refuses_bad_input_in_one_line(
    path: tuple[str, ...], bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    command = dict(commands(typer.main.get_command(app)))[path]
    words = [*path, *filled(command), *bad_inputs(tmp_path)[bad]]  # global options after
    with deadline(30):
        result = invoke(words)
    assert result.exit_code != 0, (words, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, (words, result.stderr)
    assert lines[0].startswith("error["), lines[0]
    assert "Traceback" not in result.output
    assert "s3cr3t" not in result.output
    assert not (tmp_path / "fresh.db").exists()


def test_the_walk_refuses_before_and_after_alike(tmp_path: Path, clean_env: None) -> None:
    del clean_env
    for bad in bad_inputs(tmp_path).values():
        first, second = invoke([*bad, "queue"]), invoke(["queue", *bad])
        assert (first.exit_code, first.stderr) == (second.exit_code, second.stderr)
