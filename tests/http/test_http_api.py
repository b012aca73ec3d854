"""The HTTP API over a real desk: commands, versions, pages, visibility, problems.

Every test runs on memory, SQLite and PostgreSQL, through FastAPI's ``TestClient`` (httpx).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import DeskFactory, FakeClock
from servflow import ServiceDesk
from servflow.domain.sla import DEFAULT_POLICY
from servflow.http import ApiKeys, create_app


class Client:
    """The app on a desk, with a key for each role."""

    def __init__(self, desk: ServiceDesk) -> None:
        keys = ApiKeys()
        self.headers = {
            name: {"Authorization": f"Bearer {keys.issue(actor, role)}"}
            for name, actor, role in (
                ("agent", "agent:ana", "agent"),
                ("lead", "supervisor:lee", "supervisor"),
                ("acme", "customer:acme", "customer"),
                ("globex", "customer:globex", "customer"),
                ("auditor", "auditor:eva", "auditor"),
            )
        }
        self.http = TestClient(create_app(desk, auth=keys))

    def post(self, who: str, path: str, body: object = None, **headers: str) -> Any:
        return self.http.post(f"/api{path}", json=body, headers={**self.headers[who], **headers})

    def get(self, who: str, path: str, **params: str | int) -> Any:
        return self.http.get(f"/api{path}", params=params, headers=self.headers[who])


@pytest.fixture
def client(make_desk: DeskFactory) -> Client:
    return Client(make_desk())


OPEN = {"channel": "web", "kind": "claim", "stage": "post_sale", "symptom": "Charged twice"}


def opened(client: Client, who: str = "agent", **fields: object) -> str:
    body = {"customer": "acme", **OPEN, **fields} if who == "agent" else {**OPEN, **fields}
    response = client.post(who, "/requests", body)
    assert response.status_code == 201, response.text
    return str(response.json()["ticket_code"])


def test_a_request_is_worked_to_closure_over_http(client: Client) -> None:
    response = client.post("acme", "/requests", OPEN)
    assert response.status_code == 201
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == "requests/SR-000001"
    assert response.json()["customer"]["id"] == "acme"
    steps = [
        ("agent", "classify", {"priority": "high"}, "classified"),
        ("agent", "assign", {"team": "billing", "agent": "ana"}, "assigned"),
        ("agent", "probe", {"questions": ["Which invoice?"], "findings": "F-1 twice"}, "assigned"),
        ("agent", "act", {"action": "Refund", "effort_minutes": 15, "cost": "2.50"}, "assigned"),
        ("agent", "report-progress", {"message": "Refund on its way"}, "assigned"),
        ("agent", "complete", {"outcome": "resolved", "resolution": "Refunded"}, "completed"),
        ("acme", "accept", {"satisfaction": 5, "comment": "Thanks"}, "closed"),
    ]
    for version, (who, command, body, status) in enumerate(steps, start=2):
        response = client.post(who, f"/requests/SR-000001/{command}", body)
        assert response.status_code == 200, (command, response.text)
        assert response.json()["status"] == status
        assert response.headers["ETag"] == f'"{version}"'
    request = client.get("agent", "/requests/SR-000001").json()
    assert (request["satisfaction"], request["actions"][0]["effort_minutes"]) == (5, 15)
    history = client.get("auditor", "/requests/SR-000001/history").json()
    assert [e["event_type"] for e in history] == [
        "Opened",
        "Classified",
        "Assigned",
        "Probed",
        "ActionTaken",
        "ProgressReported",
        "Completed",
        "CustomerAccepted",
    ]
    assert [e["actor"] for e in history][-1] == "customer:acme"


def test_holds_notes_non_conformities_and_the_other_commands(client: Client) -> None:
    code = opened(client)
    base = f"/requests/{code}"
    for who, command, body in [
        ("agent", "classify", {"priority": "normal"}),
        ("agent", "assign", {"team": "billing"}),
        ("agent", "wait-on-customer", {"reason": "Which invoice?"}),
        ("acme", "customer-responded", {"note": "F-1"}),
        ("agent", "hold", {"reason": "vendor", "note": "Bank"}),
        ("agent", "resume", {}),
        ("agent", "unassign", {"team": "billing"}),
        ("agent", "assign", {"team": "billing"}),
        ("agent", "complete", {"outcome": "resolved", "resolution": "Done"}),
        ("acme", "reopen", {"reason": "Not done"}),
        ("agent", "complete", {"outcome": "resolved", "resolution": "Done now"}),
        ("agent", "close", {"reason": "Customer silent"}),
    ]:
        response = client.post(who, f"{base}/{command}", body)
        assert response.status_code == 200, (command, response.text)
    note = client.post(
        "agent", f"{base}/notes", {"text": "Called the bank", "visibility": "internal"}
    )
    assert note.status_code == 201
    message = client.post("acme", f"{base}/messages", {"text": "All good now"})
    assert message.json()["by_customer"] is True
    logged = client.post(
        "agent", f"{base}/nonconformities", {"description": "Late", "severity": "minor"}
    )
    assert logged.json()["number"] == 1
    corrected = client.post(
        "lead", f"{base}/nonconformities/1/correct", {"correction": "Retrained"}
    )
    assert corrected.json()["correction"] == "Retrained"
    second = opened(client)
    cancelled = client.post("acme", f"/requests/{second}/cancel", {"reason": "Duplicate"})
    assert cancelled.json()["status"] == "cancelled"


def test_if_match_refuses_a_command_on_a_newer_state(client: Client) -> None:
    code = opened(client)
    client.post("agent", f"/requests/{code}/classify", {"priority": "low"}, **{"If-Match": '"1"'})
    # Another UI still holds version 1: its command is refused, nothing is recorded.
    stale = client.post(
        "agent", f"/requests/{code}/classify", {"priority": "urgent"}, **{"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    problem = stale.json()
    assert (problem["code"], problem["status"]) == ("stale_version", 412)
    assert "is at version 2, not 1" in problem["detail"]
    assert client.get("agent", f"/requests/{code}").json()["priority"] == "low"
    fresh = client.post(
        "agent", f"/requests/{code}/classify", {"priority": "urgent"}, **{"If-Match": 'W/"2"'}
    )
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == '"3"'
    anything = client.post("agent", f"/requests/{code}/assign", {"team": "l1"}, **{"If-Match": "*"})
    assert anything.status_code == 200
    bad = client.post(
        "agent", f"/requests/{code}/assign", {"team": "l2"}, **{"If-Match": "yesterday"}
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")


def test_problems_carry_servflow_s_codes(client: Client) -> None:
    code = opened(client)
    base = f"/requests/{code}"
    cases = [
        (client.get("agent", "/requests/SR-999999"), 404, "request_not_found"),
        (client.post("acme", f"{base}/accept", {"satisfaction": 5}), 409, "invalid_transition"),
        (client.post("agent", f"{base}/classify", {"priority": "asap"}), 422, "validation_failed"),
        (client.post("agent", f"{base}/classify", {"priority": "low", "x": 1}), 422,
         "validation_failed"),
        (client.post("acme", f"{base}/classify", {"priority": "low"}), 403, "forbidden"),
        (client.http.get(f"/api{base}"), 401, "unauthenticated"),
        (client.post("agent", f"{base}/nonconformities/7/correct", {"correction": "x"}), 404,
         "nonconformity_not_found"),
    ]  # fmt: skip
    for response, status, error in cases:
        assert response.status_code == status, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert (problem["status"], problem["code"]) == (status, error)
        assert problem["type"] == f"urn:servflow:error:{error}"
        assert problem["detail"]
    unauthenticated = client.http.get(f"/api/requests/{code}")
    assert unauthenticated.headers["WWW-Authenticate"] == "Bearer"
    duplicate = client.post(
        "agent", "/requests", {"customer": "acme", **OPEN, "external_ref": "INC1"}
    )
    assert duplicate.status_code == 201
    again = client.post("agent", "/requests", {"customer": "acme", **OPEN, "external_ref": "INC1"})
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_external_ref")


def test_a_customer_sees_only_their_own_requests_without_internal_notes(client: Client) -> None:
    mine = opened(client, "acme")
    theirs = opened(client, "globex")
    client.post(
        "agent", f"/requests/{mine}/notes", {"text": "VIP, be careful", "visibility": "internal"}
    )
    client.post(
        "agent", f"/requests/{mine}/notes", {"text": "We are on it", "visibility": "customer"}
    )
    seen = client.get("acme", f"/requests/{mine}").json()
    assert [n["text"] for n in seen["notes"]] == ["We are on it"]
    history = client.get("acme", f"/requests/{mine}/history").json()
    assert [e["event_type"] for e in history] == ["Opened", "NoteAdded"]
    assert history[-1]["data"]["text"] == "We are on it"
    # The desk sees everything.
    assert len(client.get("agent", f"/requests/{mine}").json()["notes"]) == 2
    # Another customer's request does not exist for them, whatever they try.
    assert client.get("acme", f"/requests/{theirs}").status_code == 404
    assert client.get("acme", f"/requests/{theirs}/history").status_code == 404
    assert client.get("acme", f"/requests/{theirs}/sla").status_code == 404
    assert client.post("acme", f"/requests/{theirs}/cancel", {"reason": "x"}).status_code == 404
    # Their queue is their own requests, whatever filter they send.
    page = client.get("acme", "/queue", customer="globex").json()
    assert [row["ticket_code"] for row in page["items"]] == [mine]
    # A customer opens for themselves only.
    other = client.post("acme", "/requests", {"customer": "globex", **OPEN})
    assert (other.status_code, other.json()["code"]) == (403, "forbidden")


def test_roles_keep_to_their_work(client: Client) -> None:
    code = opened(client)
    stricter = DEFAULT_POLICY.model_copy(update={"name": "stricter", "warn_at": 0.5})
    policy = {"policy": stricter.model_dump(mode="json")}
    assert client.post("agent", "/policies", policy).status_code == 403
    assert client.post("auditor", "/policies", policy).status_code == 403
    adopted = client.post("lead", "/policies", policy)
    assert adopted.status_code == 201, adopted.text
    assert adopted.json()["policy"]["name"] == "stricter"
    assert (
        client.post("auditor", f"/requests/{code}/classify", {"priority": "low"}).status_code == 403
    )
    assert client.get("auditor", f"/requests/{code}").status_code == 200
    assert client.get("auditor", "/audit/verify").json()["intact"] is True
    assert client.get("acme", "/audit/verify").status_code == 403
    assert client.get("acme", "/sla/breaches").status_code == 403
    assert (
        client.get(
            "acme", "/kpis", since="2026-01-01T00:00:00Z", until="2026-12-31T00:00:00Z"
        ).status_code
        == 403
    )


def test_lists_page_with_cursors(client: Client) -> None:
    codes = [opened(client) for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("agent", "/queue", **params).json()
        seen += [row["ticket_code"] for row in page["items"]]
        assert page["total"] == 5
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == codes
    events: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("auditor", "/audit/log", **params).json()
        events += [row["position"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert events == sorted(events)
    assert len(events) == 5
    bad = client.get("agent", "/queue", cursor="not-a-cursor")
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")


def test_as_of_sla_timeline_breaches_kpis_and_export(client: Client, clock: FakeClock) -> None:
    code = opened(client)
    before = clock.now
    clock.advance(hours=1)
    client.post("agent", f"/requests/{code}/classify", {"priority": "urgent"})
    then = client.get("agent", f"/requests/{code}", as_of=before.isoformat()).json()
    assert then["status"] == "new"
    clock.advance(hours=6)
    sla = client.get("agent", f"/requests/{code}/sla").json()
    assert sla["resolution"]["state"] == "breached"
    timeline = client.get("agent", f"/requests/{code}/sla/timeline").json()
    assert any(entry["kind"] == "breached" for entry in timeline)
    breaches = client.get("agent", "/sla/breaches").json()
    assert {(b["ticket_code"], b["clock"]) for b in breaches} >= {(code, "resolution")}
    kpis = client.get(
        "auditor", "/kpis", since=before.isoformat(), until=clock.now.isoformat()
    ).json()
    assert kpis["requests"] == 1
    export = client.http.get("/api/audit/export", headers=client.headers["auditor"])
    assert export.headers["content-type"].startswith("application/x-ndjson")
    assert len(export.text.splitlines()) == 2
    csv = client.http.get("/api/audit/export?format=csv", headers=client.headers["auditor"])
    assert csv.text.splitlines()[0].startswith("position,request_id")


def test_kpis_grouped_and_the_register_over_http(client: Client, clock: FakeClock) -> None:
    first, second = opened(client), opened(client)
    for code, team in ((first, "billing"), (second, "network")):
        client.post("agent", f"/requests/{code}/classify", {"priority": "normal"})
        assert client.post("agent", f"/requests/{code}/assign", {"team": team}).status_code == 200
    client.post(
        "agent",
        f"/requests/{second}/nonconformities",
        {"description": "Late", "severity": "major", "category": "sla"},
    )
    since, until = clock.now - timedelta(days=1), clock.now + timedelta(days=1)
    grouped = client.get(
        "auditor", "/kpis/groups", since=since.isoformat(), until=until.isoformat(),
        group_by="team",
    ).json()  # fmt: skip
    assert [g["key"] for g in grouped["groups"]] == [{"team": "billing"}, {"team": "network"}]
    assert grouped["total"]["requests"] == 2
    register = client.get("auditor", "/nonconformities").json()
    [entry] = register["entries"]
    assert (entry["ticket_code"], entry["severity"], entry["status"]) == (second, "major", "open")
    assert register["by_category"] == {"sla": 1}
    assert client.get("acme", "/nonconformities").status_code == 403
