"""Every command opens a store with a keyed hash chain given ``$SERVFLOW_AUDIT_KEY`` (base64).

The command line once had no way to pass an ``audit_key``: on a keyed store it wrote links
under the plain hash, and a keyed ``verify`` then reported tampering. Now the key comes from the
environment, as the cipher key does; without it, with another key or with a malformed one, each
command is one ``error[...]`` line on stderr, no traceback, no key shown and nothing recorded.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli_output import refused
from conftest import POSTGRES_DSN, drop_schema, require_postgres
from servflow import AuditKeyMismatchError, ServiceDesk
from servflow.cli import app, audit_app
from servflow.projections.__main__ import main as projections_main

KEY = b"the audit key of this store: 32B"
OTHER = b"another audit key, also 32 bytes"
ENV_NAMES = (
    "SERVFLOW_DB",
    "SERVFLOW_SCHEMA",
    "SERVFLOW_AUDIT_KEY",
    "SERVFLOW_CIPHER_KEY",
    "SERVFLOW_COMPRESS",
)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


@dataclass
class Store:
    """A store with a keyed chain, and how the command line and the API name it."""

    db: str
    schema: str | None

    @property
    def options(self) -> list[str]:
        return ["--db", self.db] + (["--schema", self.schema] if self.schema else [])

    @property
    def variables(self) -> dict[str, str]:
        return {"SERVFLOW_DB": self.db} | ({"SERVFLOW_SCHEMA": self.schema} if self.schema else {})

    def desk(self, audit_key: bytes | None = KEY) -> ServiceDesk:
        if self.schema:
            return ServiceDesk.postgres(self.db, schema=self.schema, audit_key=audit_key)
        return ServiceDesk.sqlite(self.db, audit_key=audit_key)

    def head(self) -> tuple[int, str] | None:
        with self.desk() as desk:
            head = desk.audit_head()
        return (head.position, head.log_digest) if head else None

    def run(self, *args: str, key: str | None) -> Result:
        env = {"COLUMNS": "200"} | ({"SERVFLOW_AUDIT_KEY": key} if key is not None else {})
        return CliRunner().invoke(app, [*self.options, *args], env=env)


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        require_postgres()
        made = Store(POSTGRES_DSN, f"t_cli_{uuid.uuid4().hex[:10]}")
    else:
        made = Store(str(tmp_path / "keyed.db"), None)
    with made.desk() as desk:
        request_made = desk.open(
            customer="acme",
            channel="web",
            kind="claim",
            stage="post_sale",
            symptom="The invoice charges the visit twice",
            actor="agent:ana",
        )
        desk.classify(request_made, priority="high", actor="agent:ana")
    yield made
    if made.schema:
        drop_schema(made.schema)


def one_error_line(result: Result, code: str) -> str:
    """The refusal's one line, which shows no key."""
    line = refused(result, code)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for key in (KEY, OTHER):
        assert b64(key) not in result.output
        assert key.decode() not in result.output
    return line


COMMANDS: list[tuple[str, ...]] = [
    ("audit", "verify", "--json"),
    ("audit", "history", "SR-000001", "--json"),
    ("request", "show", "SR-000001", "--json"),
    ("queue", "--json"),
    ("projections", "status", "--json"),
    ("--actor", "agent:bob", "request", "assign", "SR-000001", "--team", "billing"),
]


def test_every_command_opens_a_keyed_store_with_the_key_in_the_environment(store: Store) -> None:
    for command in COMMANDS:
        result = store.run(*command, key=b64(KEY))
        assert result.exit_code == 0, (command, result.output)
    verified = store.run("audit", "verify", "--json", key=b64(KEY))
    assert json.loads(verified.stdout)["intact"] is True
    assert json.loads(verified.stdout)["events_checked"] == 3
    with store.desk() as desk:
        assert desk.get("SR-000001").team == "billing"
        assert desk.verify().intact


def test_audit_and_projections_on_their_own_take_the_key_too(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"COLUMNS": "200", "SERVFLOW_AUDIT_KEY": b64(KEY), **store.variables}
    verified = CliRunner().invoke(audit_app, ["verify", "--json"], env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["intact"] is True
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert projections_main(["rebuild", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 2
    monkeypatch.delenv("SERVFLOW_AUDIT_KEY")
    assert projections_main(["status"]) == 1
    assert capsys.readouterr().err.startswith("error[audit_key_mismatch]: ")


@pytest.mark.parametrize(
    ("key", "code", "says"),
    [
        (None, "audit_key_mismatch", "without an audit_key"),
        (b64(OTHER), "audit_key_mismatch", "not the one"),
        ("not base64!", "configuration_error", "SERVFLOW_AUDIT_KEY must be"),
        ("", "audit_key_mismatch", "without an audit_key"),  # empty is unset, as for the cipher
    ],
    ids=["without", "another", "malformed", "empty"],
)
def test_without_the_right_key_every_command_is_one_clear_refusal_and_records_nothing(
    store: Store, key: str | None, code: str, says: str
) -> None:
    head = store.head()
    for command in COMMANDS:
        line = one_error_line(store.run(*command, key=key), code)
        assert says in line, (command, line)
        if key:
            assert key not in line
    assert store.head() == head
    with store.desk() as desk:
        assert desk.get("SR-000001").team is None
        assert desk.verify().intact


def test_the_demo_writes_a_keyed_chain_under_the_key_in_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    env = {"SERVFLOW_AUDIT_KEY": b64(KEY), "COLUMNS": "200"}
    made = CliRunner().invoke(app, ["demo", "--db", str(db), "--requests", "5", "--json"], env=env)
    assert made.exit_code == 0, made.output
    with ServiceDesk.sqlite(str(db), audit_key=KEY) as desk:
        assert desk.verify().intact
    with pytest.raises(AuditKeyMismatchError):
        ServiceDesk.sqlite(str(db))
    verified = CliRunner().invoke(app, ["--db", str(db), "audit", "verify"], env=env)
    assert verified.exit_code == 0, verified.output
