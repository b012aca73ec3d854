"""The command line refuses what the actor may not record: one error line, no traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from servflow.cli import app


def test_a_customer_cannot_classify_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--db", str(tmp_path / "desk.db"), "--tz", "UTC"]
    opened = runner.invoke(
        app,
        [
            *base,
            "--actor",
            "customer:acme",
            "request",
            "open",
            "--customer",
            "acme",
            "--channel",
            "web",
            "--kind",
            "complaint",
            "--stage",
            "post_sale",
            "--symptom",
            "Router drops",
        ],
    )
    assert opened.exit_code == 0, opened.output
    result = runner.invoke(
        app, [*base, "--actor", "customer:acme", "request", "classify", "SR-1", "--priority", "low"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error[permission_denied]: SR-000001")
    assert "customer:acme" in lines[0]
