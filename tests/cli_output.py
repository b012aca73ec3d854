"""What the command-line tests check of a command's output, shared by their modules."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from servflow.cli import app

#: A command line run on a test's store: ``run("queue", "--json")``.
Run = Callable[..., Result]
#: Settings from the environment a command line test must not inherit.
_SETTINGS = ("SERVFLOW_DB", "SERVFLOW_ACTOR", "SERVFLOW_TZ", "SERVFLOW_WEBHOOK_SECRET")


def runner_on(db: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``servflow --db DB --tz UTC ...`` in-process, with no setting from the environment."""
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", str(db), "--tz", "UTC", *args], env={"COLUMNS": "200"})

    return invoke


def ok(result: Result) -> str:
    """The output of a command that succeeded (checked)."""
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(result: Result, code: str, exit_code: int = 1) -> str:
    """The one line a refused command prints, after checking its form and exit code.

    With ``--json`` that line is ``{"error": {"code", "message", "hint"}}``; it is returned as
    the plain form, ``error[<code>]: <message> (hint: <hint>)``.
    """
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    if lines[0].startswith("{"):
        error = json.loads(lines[0])["error"]
        assert set(error) == {"code", "message", "hint"}, error
        assert error["code"] == code, lines[0]
        return f"error[{code}]: {error['message']} (hint: {error['hint']})"
    assert lines[0].startswith(f"error[{code}]: "), lines[0]
    assert "(hint: " in lines[0], lines[0]
    return lines[0]
