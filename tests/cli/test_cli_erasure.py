"""``servflow customer forget``: the command line forgets a customer, and shows them erased.

A store is made erasable by the command that creates it (``SERVFLOW_ERASABLE=1``); every later
command honours what the store says. Refusals are one ``error[<code>]`` line, never a traceback.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from servflow import ERASED
from servflow.cli import app

NAME = "Ana Pérez Quintana"
SYMPTOM = "My router at Calle Mayor 5 drops"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SERVFLOW_DB", "SERVFLOW_SCHEMA", "SERVFLOW_CIPHER_KEY", "SERVFLOW_ERASABLE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "erasable.db"


def run(db: Path, *args: str, erasable: bool = False) -> Result:
    env = {"SERVFLOW_ERASABLE": "1"} if erasable else {}
    return CliRunner().invoke(app, ["--db", str(db), *args], env=env)


def opened(db: Path) -> None:
    result = run(
        db,
        "--actor",
        "customer:acme",
        "request",
        "open",
        "--customer",
        "acme",
        "--customer-name",
        NAME,
        "--channel",
        "phone",
        "--kind",
        "complaint",
        "--stage",
        "post_sale",
        "--symptom",
        SYMPTOM,
        erasable=True,
    )
    assert result.exit_code == 0, result.output


def test_the_cli_forgets_a_customer_and_shows_them_erased(db: Path) -> None:
    opened(db)
    with sqlite3.connect(db) as connection:
        states = [bytes(row[0]) for row in connection.execute("SELECT state FROM stored_events")]
    assert all(NAME.encode() not in state for state in states)
    shown = run(db, "request", "show", "SR-000001")
    assert NAME in shown.output

    result = run(db, "customer", "forget", "acme", "--actor", "supervisor:eva")

    assert result.exit_code == 0, result.output
    assert "forgot customer acme: 1 key(s) destroyed" in result.output
    for args in (
        ("request", "show", "SR-000001"),
        ("audit", "history", "SR-000001"),
        ("audit", "log", "--json"),
        ("audit", "export", "--request", "SR-000001"),
    ):
        output = run(db, *args).output
        assert NAME not in output
        assert SYMPTOM not in output
        assert ERASED in output
    as_json = json.loads(run(db, "request", "show", "SR-000001", "--json").output)
    assert as_json["customer"]["name"] == ERASED
    verified = run(db, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    again = run(db, "customer", "forget", "acme", "--actor", "supervisor:eva", "--json")
    assert json.loads(again.output)["recorded"] is False


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("customer", "forget", "acme"), "permission_denied"),  # the global actor: agent:cli
        (("customer", "forget", "acme", "--actor", "agent:ana"), "permission_denied"),
        (("customer", "forget", "nobody", "--actor", "supervisor:eva"), "customer_not_found"),
        (("customer", "forget", "acme", "--actor", "boss"), "validation_failed"),
    ],
)
def test_refused_forgetting_is_one_line_and_changes_nothing(
    db: Path, args: tuple[str, ...], code: str
) -> None:
    opened(db)
    result = run(db, *args)
    assert result.exit_code == 1
    assert result.output.startswith(f"error[{code}]: ")
    assert "Traceback" not in result.output
    assert NAME in run(db, "request", "show", "SR-000001").output


def test_forgetting_in_a_store_that_is_not_erasable_says_how_to_make_one(db: Path) -> None:
    opened_plain = run(
        db,
        "request",
        "open",
        "--customer",
        "acme",
        "--channel",
        "web",
        "--kind",
        "claim",
        "--stage",
        "sale",
        "--symptom",
        "x",
    )
    assert opened_plain.exit_code == 0, opened_plain.output
    result = run(db, "customer", "forget", "acme", "--actor", "supervisor:eva")
    assert result.exit_code == 1
    assert result.output.startswith("error[configuration_error]: ")
    assert "erasable=True" in result.output
