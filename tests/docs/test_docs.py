"""The docs are tested: their code runs, their tables match the code, and the site builds.

- Every ```python block of the home page, the tutorial and the how-to guides runs, in order,
  in one namespace per page, in a temporary directory. Blocks marked ```python skip do not;
  a page with a block naming a ``postgresql://`` server skips unless that server answers.
- Every ``servflow`` line of a how-to guide's ```bash blocks runs through Typer's test runner
  after the Python blocks before it (except lines whose ``--db`` names a PostgreSQL server,
  which would write to its default schema).
- The lifecycle table, the event catalogue and the error reference match the code exactly.
- ``mkdocs build --strict`` succeeds.
"""

from __future__ import annotations

import inspect
import itertools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

import servflow.errors
from conftest import require_postgres
from servflow import TRANSITIONS, ServiceRequest, Status
from servflow.cli import app
from servflow.cli._common import is_dsn
from servflow.desk.checks import MAX_PAGE
from servflow.domain.lifecycle import changes_of_status
from servflow.domain.policy import MAX_DURATION
from servflow.domain.values import EARLIEST, LATEST, MAX_ACTOR, MAX_ITEMS, MAX_NAME, MAX_TEXT
from servflow.persistence.codec import MAX_EVENT_BYTES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
POSTGRES_DSN = os.environ.get("SERVFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_SCHEMA = re.compile(r"""schema=["']([A-Za-z_][A-Za-z0-9_]*)["']""")
# Fields every event has; the catalogue lists them once, in a table of their own.
_BASE_FIELDS = frozenset(ServiceRequest.Event.model_fields) | {"originator_topic"}


@dataclass(frozen=True)
class Block:
    language: str
    skip: bool
    code: str


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a page, in order."""
    return [
        Block(language=m.group(1), skip="skip" in m.group(2).split(), code=m.group(3))
        for m in _FENCE.finditer(page.read_text(encoding="utf-8"))
    ]


def pages_with_code() -> list[Path]:
    return [
        DOCS / "index.md",
        *sorted((DOCS / "tutorial").glob("*.md")),
        *sorted((DOCS / "how-to").glob("*.md")),
    ]


def drop_schemas(names: set[str]) -> None:
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as connection:
        for name in names:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )


def shell_commands(code: str) -> Iterator[list[str]]:
    """The ``servflow`` command lines of a shell block, continuation lines joined."""
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        servers = [is_dsn(word) for before, word in itertools.pairwise(words) if before == "--db"]
        if words and words[0] == "servflow" and not any(servers):
            yield words[1:]


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The pages run where a reader of a checkout would: its examples are at hand.
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    for name in ("SERVFLOW_DB", "SERVFLOW_ACTOR", "SERVFLOW_TZ"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("page", pages_with_code(), ids=lambda p: str(p.relative_to(DOCS)))
def test_the_code_of_each_page_runs(page: Path, in_tmp_dir: Path) -> None:
    del in_tmp_dir
    runnable = [b for b in blocks(page) if not b.skip]
    python = [b for b in runnable if b.language == "python"]
    shell = page.parent.name == "how-to"
    assert python or shell, f"{page} has no code to run"
    schemas: set[str] = set()
    if any("postgresql://" in b.code for b in python):
        require_postgres()
        schemas = {name for b in python for name in _SCHEMA.findall(b.code)}
        drop_schemas(schemas)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    runner = CliRunner()
    try:
        for number, block in enumerate(runnable, start=1):
            if block.language == "python":
                exec(compile(block.code, f"{page.name}[{number}]", "exec"), namespace)  # noqa: S102
            elif block.language == "bash" and shell:
                for args in shell_commands(block.code):
                    result = runner.invoke(app, args, env={"COLUMNS": "200"})
                    assert result.exit_code == 0, (page.name, args, result.output)
    finally:
        if schemas:
            drop_schemas(schemas)


def test_the_lifecycle_table_matches_the_transitions_exactly() -> None:
    text = (DOCS / "explanation" / "lifecycle.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[0] == "command"
    assert header[1:] == [status.value for status in Status]
    documented: dict[str, frozenset[Status]] = {}
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not cells[0].startswith("`"):
            continue
        command = cells[0].strip("`")
        assert set(cells[1:]) <= {"✓", "—"}, line
        documented[command] = frozenset(
            Status(name) for name, mark in zip(header[1:], cells[1:], strict=True) if mark == "✓"
        )
    assert list(documented) == list(TRANSITIONS)
    assert documented == dict(TRANSITIONS)


_EDGE = re.compile(r"^\s+(\[\*\]|\w+) --> (\w+): (\w+)(?: \(([\w, ]+)\))?$")


def test_the_lifecycle_diagram_draws_every_change_of_status_the_table_allows() -> None:
    text = (DOCS / "explanation" / "lifecycle.md").read_text(encoding="utf-8")
    drawn = set()
    for line in text.splitlines():
        edge = _EDGE.match(line)
        if edge and edge[2] != "[*]":
            before = None if edge[1] == "[*]" else Status(edge[1])
            outcomes = tuple(o.strip() for o in edge[4].split(",")) if edge[4] else ()
            drawn.add((before, Status(edge[2]), edge[3], outcomes))
    table = {
        (before, after, command.value, tuple(o.value for o in outcomes))
        for before, after, command, outcomes in changes_of_status()
    }
    assert drawn == table


def event_classes() -> list[type[ServiceRequest.Event]]:
    """Every event of the aggregate (the library adds a ``Created`` alias we leave out)."""
    return [
        value
        for name, value in vars(ServiceRequest).items()
        if inspect.isclass(value)
        and issubclass(value, ServiceRequest.Event)
        and name not in {"Event", "Created"}
    ]


def test_the_event_catalogue_lists_every_event_with_every_field() -> None:
    text = (DOCS / "reference" / "events.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL))
    for event in event_classes():
        assert event.__name__ in sections, f"{event.__name__} is not in the catalogue"
        section = sections[event.__name__]
        documented = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
        fields = set(event.model_fields) - _BASE_FIELDS
        assert documented == fields, event.__name__
    for field in _BASE_FIELDS - {"originator_topic"}:
        assert f"| `{field}` |" in text, field


def test_the_documented_limits_are_the_ones_the_code_applies() -> None:
    text = (DOCS / "reference" / "events.md").read_text(encoding="utf-8")
    limits = text.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for value in (
        MAX_TEXT,
        MAX_NAME,
        MAX_ACTOR,
        MAX_ITEMS,
        MAX_EVENT_BYTES,
        MAX_PAGE,
        MAX_DURATION.days,
        2**31 - 1,
        1_000_000,
    ):
        assert f"{value:,}" in limits, value
    for instant in (EARLIEST, LATEST):
        assert instant.strftime("%Y-%m-%dT%H:%MZ") in limits, instant


def test_the_error_reference_has_one_anchor_per_error_code() -> None:
    text = (DOCS / "reference" / "errors.md").read_text(encoding="utf-8")
    anchors = re.findall(r"^## `(\w+)` \{ #(\w+) \}$", text, re.MULTILINE)
    assert all(title == anchor for title, anchor in anchors)
    codes = {
        value.code
        for value in vars(servflow.errors).values()
        if inspect.isclass(value) and issubclass(value, servflow.errors.ServflowError)
    }
    assert {anchor for _, anchor in anchors} == codes


@pytest.mark.slow
def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Built for reading from the file system too (the offline plugin): page.html, not page/.
    assert (tmp_path / "site" / "reference" / "api.html").is_file()


def test_no_page_tells_to_install_from_a_package_index_nothing_publishes_to_yet() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"pip install servflow(\s|$)", text), page
