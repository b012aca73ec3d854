"""Hostile command lines: refused with one clear line and a non-zero exit, never a traceback.

Bad dates (naive, out of range, overflowing when turned into UTC), numbers past 64 bits, NUL
bytes, huge values, files that are not SQLite databases, directories, malformed DSNs, unknown
options. A refusal by servflow is one line ``error[<code>]: ...`` on stderr and exit code 1
(``internal_error``, the guard's last resort, counts as a failure here); a usage error is one
line too, ``error[usage_error]: ...``, with Typer's exit code 2. A handful also run in a real
process (``python -m servflow.cli``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from servflow import ServiceDesk
from servflow.cli import app

HUGE = str(2**70)
#: The request the fixture's store holds: assigned, with one non-conformity.
TICKET = "SR-000001"
OPEN = ["request", "open", "--customer", "acme", "--channel", "web", "--kind", "claim"]
OPEN += ["--stage", "sale", "--symptom", "broken"]
USAGE = "usage"
PG = "postgresql://postgres@127.0.0.1:5432/test"

VALIDATION = "validation_failed"
Case = tuple[str, list[str], str]


def case(what: str, code: str, command: str, *more: str) -> Case:
    """A hostile command line: what it tries, its error code, its words (then any with blanks)."""
    return what, [*command.split(), *more], code


T = TICKET
OVER = "9999-12-31T23:59:59-12:00"  # in year 10000 in UTC
OPENS = " ".join(OPEN)
#: Hostile arguments after ``--db <the fixture's store>``.
CASES: list[Case] = [
    case("--at past year 9999 in UTC", VALIDATION, f"sla show {T} --at {OVER}"),
    case("--at before year 1 in UTC", VALIDATION, "sla breaches --at 0001-01-01T00:00+14:00"),
    case("--at in year 9999", VALIDATION, "sla run-due --at 9999-12-31T23:59:59+00:00"),
    case("--at not a date", VALIDATION, "sla at-risk --at tomorrow"),
    case(
        "--at a local time that happens twice",
        VALIDATION,
        f"--tz Europe/Madrid audit as-of {T} --at 2026-10-25T02:30",
    ),
    case("--at with a NUL", VALIDATION, "audit queue --at", "2026-03-02T10:00Z\x00"),
    case(
        "--occurred-at overflowing",
        VALIDATION,
        f"request progress {T} --message m --occurred-at {OVER}",
    ),
    case(
        "--follow-up-at overflowing",
        VALIDATION,
        f"request complete {T} --outcome follow_up --resolution r --follow-up-at {OVER}",
    ),
    case(
        "--since a local time that never happens",
        VALIDATION,
        "audit log --since 2026-03-29T02:30 --tz Europe/Madrid",
    ),
    case("--offset past 64 bits", VALIDATION, f"queue --offset {2**63}"),
    case("--after past 64 bits", VALIDATION, f"audit log --after {2**64}"),
    case("--limit past its range", USAGE, f"queue --limit {2**63}"),
    case("--effort past 64 bits", VALIDATION, f"request act {T} --action a --effort {HUGE}"),
    case("--cost NaN", VALIDATION, f"request act {T} --action a --cost NaN"),
    case("--cost 1e99999", VALIDATION, f"request act {T} --action a --cost 1e99999"),
    case(
        "a huge non-conformity number",
        "nonconformity_not_found",
        f"request correct {T} {HUGE}",
        "--correction",
        "c",
    ),
    case("--team with a NUL", VALIDATION, f"request assign {T} --team", "t\x00eam"),
    case("a queue filter with a NUL", VALIDATION, "queue --team", "\x00"),
    case("--customer with a NUL", VALIDATION, OPENS.replace("acme", "ac\x00me")),
    case("a 100,000-character ticket", "request_not_found", "request show", "x" * 100_000),
    case(
        "a 100,000-character actor",
        VALIDATION,
        f"--actor agent:{'a' * 100_000} request progress {T} --message m",
    ),
    case(
        "sixty long questions",
        VALIDATION,
        f"request probe {T} --findings f",
        *["-q", "q" * 20_000] * 60,
    ),
    case("an external ref with blanks", VALIDATION, f"{OPENS} --external-ref", "INC 1"),
    case(
        "an external source with a colon",
        VALIDATION,
        f"{OPENS} --external-ref I --external-source a:b",
    ),
    case("an unknown external ref", "request_not_found", "request show ext:servicenow:NOPE"),
    case("a customer id with a NUL", VALIDATION, "customer add", "ac\x00me"),
    case("an unknown customer tier", USAGE, "customer add acme --tier gold"),
    case("a team with a lone surrogate", VALIDATION, "team add", "b\ud800"),
    case("an unknown customer", "not_in_directory", "customer show nobody"),
    case("a huge agent name", VALIDATION, "agent add ana --name", "n" * 100_000),
    case("an unknown event type", VALIDATION, "audit log --type Exploded"),
    case("an unknown projection", VALIDATION, "projections rebuild --name nope"),
    case("an unknown time zone", USAGE, "--tz Mars/Olympus queue"),
    case("an unknown command", USAGE, "explode"),
    case("an unknown option", USAGE, "queue --bogus"),
    case("an unknown export format", USAGE, "audit export --format xml"),
]
#: Stores that cannot be opened (``{dir}``: a directory, ``{passwd}``: a text file in it).
STORES: list[Case] = [
    case("--db a text file, reading", "store_error", "--db {passwd} queue"),
    case("--db a text file, writing", "store_error", f"--db {{passwd}} {OPENS}"),
    case("--db a directory, reading", "store_error", "--db {dir} requests"),
    case("--db a directory, writing", "store_error", f"--db {{dir}} {OPENS}"),
    case("--db in a missing directory", "store_error", f"--db {{dir}}/missing/x.db {OPENS}"),
    case("--db with a NUL", "configuration_error", "--db", "x\x00y.db", *OPEN),
    case("a malformed DSN", "configuration_error", "--db postgresql://u:s3cr3t@[::1/db queue"),
    case("an upper-case schema", "configuration_error", f"--db {PG} --schema UpperCase queue"),
    case("no PostgreSQL there", "store_error", "--db postgresql://nobody:pw@127.0.0.1:1/x queue"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one assigned request with a non-conformity, and a text file beside it."""
    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "desk.db"
    with ServiceDesk.sqlite(str(db)) as desk:
        request = desk.open(
            customer="acme", channel="web", kind="claim", stage="sale", symptom="x", actor="agent:a"
        )
        desk.classify(request, priority="high", actor="agent:a")
        desk.assign(request, team="billing", actor="agent:a")
        desk.log_nonconformity(request, description="late", severity="minor", actor="agent:a")
    (folder / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    return db


def _arguments(arguments: list[str], db: Path) -> list[str]:
    folder = db.parent
    filled = [a.format(dir=folder, passwd=folder / "passwd") for a in arguments]
    return filled if filled[:1] == ["--db"] else ["--db", str(db), *filled]


def _run(arguments: list[str]) -> Result:
    env = {"COLUMNS": "200", "SERVFLOW_DEBUG": "", "SERVFLOW_DB": "", "SERVFLOW_SCHEMA": ""}
    return CliRunner().invoke(app, arguments, env=env)


def _check(code: str, exit_code: int, stdout: str, stderr: str) -> None:
    output = stdout + stderr
    assert "Traceback" not in output, output[-2000:]
    lines = stderr.strip().splitlines()
    if code == USAGE:
        assert exit_code == 2, output[-2000:]
        assert len(lines) == 1, stderr[-2000:]
        assert lines[0].startswith("error[usage_error]: "), lines[0][:500]
        return
    assert exit_code == 1, output[-2000:]
    assert len(lines) == 1, stderr[-2000:]
    assert lines[0].startswith(f"error[{code}]: "), lines[0][:500]
    message = lines[0].split(" (hint: ")[0]  # the hint is one short sentence per code
    assert len(message) < 1000, f"{len(message):,} characters"
    assert "s3cr3t" not in output


@pytest.mark.parametrize(
    ("arguments", "code"), [c[1:] for c in CASES + STORES], ids=[c[0] for c in CASES + STORES]
)
def test_a_hostile_command_line_is_refused_in_one_line(
    store: Path, arguments: list[str], code: str
) -> None:
    before = ServiceDesk.sqlite(str(store))
    head = before.audit_head()
    before.close()
    result = _run(_arguments(arguments, store))
    _check(code, result.exit_code, result.stdout, result.stderr)
    with ServiceDesk.sqlite(str(store)) as after:
        assert after.audit_head() == head, "a refused command appended events"


#: The cases a real process runs too (argv cannot carry a NUL byte).
IN_A_PROCESS = [
    "--at past year 9999 in UTC",
    "--offset past 64 bits",
    "--db a text file, reading",
    "--db a directory, writing",
    "a malformed DSN",
    "an unknown option",
]


@pytest.mark.parametrize("what", IN_A_PROCESS)
def test_a_hostile_command_line_in_a_real_process_prints_no_traceback(
    store: Path, what: str
) -> None:
    arguments, code = next(c[1:] for c in CASES + STORES if c[0] == what)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVFLOW_")}
    env["COLUMNS"] = "200"
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "servflow.cli", *_arguments(arguments, store)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    _check(code, done.returncode, done.stdout, done.stderr)


_NASTY = st.one_of(
    st.text(max_size=30).filter(lambda t: not t.startswith("-")),
    st.sampled_from(["\x00", "9999-12-31T23:59:59-12:00", HUGE, "-1", "NaN", "x" * 5000, ""]),
)


@settings(max_examples=settings().max_examples // 2)
@given(
    st.sampled_from(
        [
            ["queue", "--team"],
            ["queue", "--customer"],
            ["queue", "--at"],
            ["sla", "show", TICKET, "--at"],
            ["audit", "log", "--actor"],
            ["audit", "log", "--until"],
            ["audit", "as-of", TICKET, "--at"],
            ["request", "show"],
            ["request", "progress", TICKET, "--message"],
            ["request", "act", TICKET, "--action", "a", "--cost"],
        ]
    ),
    _NASTY,
)
def test_any_text_in_an_option_is_answered_or_refused_in_one_line(
    store: Path, command: list[str], value: str
) -> None:
    result = _run(["--db", str(store), *command, value])
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "error[internal_error]" not in output, output
    if result.exit_code == 1:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error[")
    else:
        assert result.exit_code in {0, 2}, output
