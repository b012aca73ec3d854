"""``servflow customer/team/agent`` and ``request open --external-ref``: directories on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_output import Run, ok, refused, runner_on
from servflow import ServiceDesk


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "desk.db"


@pytest.fixture
def run(db: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner_on(db, monkeypatch)


OPEN = ("request", "open", "--customer", "acme", "--channel", "web", "--kind", "complaint")
OPEN_REST = ("--stage", "post_sale", "--symptom", "The invoice is wrong")


def test_customers_are_added_shown_and_listed(run: Run) -> None:
    said = ok(
        run(
            "customer", "add", "acme", "--name", "Acme Corp", "--tier", "vip",
            "--contact", "ops@acme.example", "--contact", "+34 600",
        )
    )  # fmt: skip
    assert said.strip() == "registered customer acme (vip)"
    shown = ok(run("customer", "show", "acme"))
    assert "Acme Corp" in shown
    assert "ops@acme.example, +34 600" in shown
    listed = json.loads(ok(run("customer", "list", "--json")))
    assert [(c["id"], c["tier"], c["active"]) for c in listed] == [("acme", "vip", True)]
    opened = json.loads(ok(run(*OPEN, *OPEN_REST, "--json")))
    assert opened["customer"] == {
        "id": "acme",
        "name": "Acme Corp",
        "tier": "vip",
        "language": None,
    }
    line = refused(run("customer", "add", "acme"), "directory_conflict")
    assert "'acme' is registered already" in line
    refused(run("customer", "show", "nobody"), "not_in_directory")


def test_teams_and_agents_are_added_listed_and_checked(run: Run, db: Path) -> None:
    assert ok(run("team", "add", "Billing ", "--member", "Ana")).strip() == (
        "registered team billing (Billing)"
    )
    assert "billing" in ok(run("team", "list"))
    ok(run("agent", "add", "Ana", "--name", "Ana Pérez", "--team", "billing"))
    agents = json.loads(ok(run("agent", "list", "--json")))
    assert agents == [{"id": "ana", "name": "Ana Pérez", "teams": ["billing"], "active": True}]
    ok(run(*OPEN, *OPEN_REST))
    ok(run("request", "classify", "SR-000001", "--priority", "high"))
    refused(run("request", "assign", "SR-000001", "--team", "network"), "unknown_team")
    refused(
        run("request", "assign", "SR-000001", "--team", "billing", "--agent", "bob"),
        "unknown_agent",
    )
    said = ok(run("request", "assign", "SR-000001", "--team", "BILLING", "--agent", "ANA"))
    assert "billing/ana" in said
    with ServiceDesk.sqlite(str(db)) as desk:
        assert [e.event_type for e in desk.history("SR-000001")][-1] == "Assigned"
        assert len(desk.history("SR-000001")) == 3
    refused(run("team", "add", "billing"), "directory_conflict")


def test_a_request_opened_with_an_external_ref_is_found_by_it(run: Run) -> None:
    said = ok(
        run(*OPEN, *OPEN_REST, "--external-ref", "INC0012345", "--external-source", "ServiceNow")
    )
    assert said.startswith("Opened SR-000001 as ext:servicenow:INC0012345 ")
    shown = ok(run("request", "show", "ext:servicenow:INC0012345"))
    assert "ext:servicenow:INC0012345" in shown
    assert "SR-000001" in shown
    line = refused(
        run(*OPEN, *OPEN_REST, "--external-ref", "INC0012345", "--external-source", "servicenow"),
        "duplicate_external_ref",
    )
    assert "taken by SR-000001" in line
    refused(run("request", "show", "ext:INC404"), "request_not_found")
