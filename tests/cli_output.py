"""What the command-line tests check of a command's output, shared by their modules."""

from __future__ import annotations

from typer.testing import Result


def refused(result: Result, code: str, exit_code: int = 1) -> str:
    """The one line a refused command prints, after checking its form and exit code."""
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error[{code}]: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]
