"""Every command group opens an encrypted store with ``$SERVFLOW_CIPHER_KEY``, as the API does.

The audit commands once had a desk factory of their own that ignored the key: run on their
own (``audit_app``, the store in ``$SERVFLOW_DB``), they failed on an encrypted store with a
traceback. The demo ignored it too, writing a store in clear that the other commands, given
the key, could not read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from servflow import ServiceDesk, new_cipher_key
from servflow.cli import app, audit_app

SYMPTOM = "The router drops the line every evening at nine"

Audit = Callable[..., Result]


@pytest.fixture
def key() -> str:
    return new_cipher_key()


@pytest.fixture
def db(tmp_path: Path, key: str) -> Path:
    """An encrypted SQLite store with one request opened and classified through the API."""
    path = tmp_path / "secret.db"
    with ServiceDesk.sqlite(str(path), cipher_key=key) as desk:
        request = desk.open(
            customer="acme",
            channel="web",
            kind="complaint",
            stage="post_sale",
            symptom=SYMPTOM,
            actor="customer:acme",
        )
        desk.classify(request, priority="high", actor="agent:ana")
    with sqlite3.connect(path) as connection:
        states = [bytes(row[0]) for row in connection.execute("SELECT state FROM stored_events")]
    assert states
    assert all(b"router" not in state for state in states)
    return path


@pytest.fixture(params=["servflow audit", "audit_app on its own"])
def audit(request: pytest.FixtureRequest, db: Path, monkeypatch: pytest.MonkeyPatch) -> Audit:
    """Run an audit command on ``db`` with the environment given, mounted or on its own."""
    for name in ("SERVFLOW_DB", "SERVFLOW_SCHEMA", "SERVFLOW_CIPHER_KEY", "SERVFLOW_COMPRESS"):
        monkeypatch.delenv(name, raising=False)
    mounted = request.param == "servflow audit"
    target: typer.Typer = app if mounted else audit_app
    prefix = ["--db", str(db), "audit"] if mounted else []

    def invoke(*args: str, env: dict[str, str]) -> Result:
        where = {} if mounted else {"SERVFLOW_DB": str(db)}
        return CliRunner().invoke(target, [*prefix, *args], env={"COLUMNS": "200", **where, **env})

    return invoke


def test_the_audit_commands_read_an_encrypted_store_with_the_key(audit: Audit, key: str) -> None:
    env = {"SERVFLOW_CIPHER_KEY": key}
    verified = audit("verify", "--json", env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["intact"] is True
    history = audit("history", "SR-000001", "--json", env=env)
    assert history.exit_code == 0, history.output
    entries = json.loads(history.stdout)
    assert [entry["event_type"] for entry in entries] == ["Opened", "Classified"]
    assert entries[0]["data"]["symptom"] == SYMPTOM
    logged = audit("log", "--json", env=env)
    assert logged.exit_code == 0, logged.output
    assert len(json.loads(logged.stdout)["rows"]) == 2


def test_without_the_key_replaying_an_encrypted_store_is_one_clear_refusal(
    audit: Audit, key: str
) -> None:
    refused = audit("history", "SR-000001", env={})
    assert refused.exit_code == 1, refused.output
    assert refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("error[store_error]: "), lines[0]
    assert "cipher key" in lines[0]
    assert "Traceback" not in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    assert key not in refused.output


def test_the_demo_writes_with_the_key_the_other_commands_read_with(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVFLOW_DB", raising=False)
    db = tmp_path / "demo.db"
    env = {"SERVFLOW_CIPHER_KEY": key, "COLUMNS": "200"}
    runner = CliRunner()
    made = runner.invoke(app, ["demo", "--db", str(db), "--requests", "5", "--json"], env=env)
    assert made.exit_code == 0, made.output
    with sqlite3.connect(db) as connection:
        states = [bytes(row[0]) for row in connection.execute("SELECT state FROM stored_events")]
    assert states
    assert all(b"actor" not in state for state in states)
    shown = runner.invoke(app, ["--db", str(db), "audit", "history", "SR-000001"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Opened" in shown.stdout
