"""``servflow outbox run|list|dead|retry``: the outbox from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_output import Run, ok, refused, runner_on


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return runner_on(tmp_path / "desk.db", monkeypatch)


def test_the_outbox_runs_to_a_file_lists_and_retries(run: Run, tmp_path: Path) -> None:
    ok(run("customer", "add", "acme", "--language", "es", "--contact", "it@acme.es"))
    ok(
        run(
            "request", "open", "--customer", "acme", "--channel", "web", "--kind", "complaint",
            "--stage", "post_sale", "--symptom", "The invoice is wrong",
        )
    )  # fmt: skip
    ok(run("request", "cancel", "SR-000001", "--reason", "Duplicate"))
    sent = tmp_path / "sent.jsonl"
    report = json.loads(ok(run("outbox", "run", "--jsonl", str(sent), "--json")))
    assert (report["delivered"], report["dead"]) == (2, 0)
    lines = [json.loads(line) for line in sent.read_text(encoding="utf-8").splitlines()]
    assert [(m["kind"], m["language"], m["to"]) for m in lines] == [
        ("receipt", "es", ["it@acme.es"]),
        ("cancellation", "es", ["it@acme.es"]),
    ]
    listed = json.loads(ok(run("outbox", "list", "--json")))
    assert [e["status"] for e in listed] == ["delivered", "delivered"]
    assert "receipt" in ok(run("outbox", "list"))
    assert json.loads(ok(run("outbox", "dead", "--json"))) == []
    assert json.loads(ok(run("outbox", "retry", "--json"))) == {"requeued": 0}
    # Nothing owed twice: a second run hands nothing over.
    again = json.loads(ok(run("outbox", "run", "--jsonl", str(sent), "--json")))
    assert again["delivered"] == 0


def test_the_outbox_says_what_it_needs(run: Run, tmp_path: Path) -> None:
    ok(
        run(
            "request", "open", "--customer", "acme", "--channel", "web", "--kind", "complaint",
            "--stage", "post_sale", "--symptom", "The invoice is wrong",
        )
    )  # fmt: skip
    line = refused(run("outbox", "run"), "validation_failed")
    assert "exactly one of --jsonl" in line
    refused(run("outbox", "run", "--jsonl", "a", "--smtp", "mail.local"), "validation_failed")
    line = refused(
        run("outbox", "run", "--webhook", "https://hooks.example/x"), "configuration_error"
    )
    assert "SERVFLOW_WEBHOOK_SECRET" in line
    refused(run("outbox", "run", "--smtp", "mail.local"), "validation_failed")
    refused(run("outbox", "list", "--status", "lost"), "validation_failed")
    # A folder where the file should be: the delivery fails, is recorded and retried later.
    folder = tmp_path / "a-folder"
    folder.mkdir()
    report = json.loads(ok(run("outbox", "run", "--jsonl", str(folder), "--json")))
    assert (report["delivered"], report["retried"]) == (0, 1)
    [entry] = json.loads(ok(run("outbox", "list", "--status", "pending", "--json")))
    assert entry["attempts"] == 1
    assert entry["last_error"].startswith("DeliveryError")
