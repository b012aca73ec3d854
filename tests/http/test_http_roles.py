"""Who may do what over HTTP: one row per operation of the OpenAPI schema, one column per role.

Each cell is the status that role gets, on a request freshly brought to a state where the
operation is allowed (so a refusal is the role's, never the lifecycle's). The columns: an agent,
a supervisor, the customer whose request it is (``own``), another customer (``other``), an
auditor, and a call with no key (``none``). What the table says, in words: a customer never
learns of another's request (404, as if it did not exist) and may send only the customer's
commands on its own; an auditor only reads; only a supervisor adopts SLA policies; without a
key, nothing (401). Every cell is checked on a memory desk and an SQLite desk; a test checks the
table names every operation of ``app.openapi()`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from http_support import OWNER, PRINCIPALS, auth_headers, first_status, issue_keys
from servflow import ServiceDesk
from servflow.domain.policy import SlaPolicy
from servflow.http import create_app

ROLES = ("agent", "supervisor", "own", "other", "auditor", "none")

# fmt: off
#: (method, path) -> the status of each role, in the order of ROLES.
TABLE: dict[tuple[str, str], tuple[int, int, int, int, int, int]] = {
    # live events: everyone who authenticates (a customer gets its own requests' events)
    ("GET", "/api/events"):                                  (200, 200, 200, 200, 200, 401),
    # commands: the desk's roles; the customer's own commands on its own requests only
    ("POST", "/api/requests"):                               (201, 201, 201, 403, 403, 401),
    ("POST", "/api/requests/{ref}/classify"):                (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/assign"):                  (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/probe"):                   (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/act"):                     (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/wait-on-customer"):        (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/customer-responded"):      (200, 200, 200, 404, 403, 401),
    ("POST", "/api/requests/{ref}/hold"):                    (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/resume"):                  (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/unassign"):                (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/report-progress"):         (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/complete"):                (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/accept"):                  (200, 200, 200, 404, 403, 401),
    ("POST", "/api/requests/{ref}/close"):                   (200, 200, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/reopen"):                  (200, 200, 200, 404, 403, 401),
    ("POST", "/api/requests/{ref}/cancel"):                  (200, 200, 200, 404, 403, 401),
    ("POST", "/api/requests/{ref}/notes"):                   (201, 201, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/messages"):                (201, 201, 201, 404, 403, 401),
    ("POST", "/api/requests/{ref}/nonconformities"):         (201, 201, 403, 403, 403, 401),
    ("POST", "/api/requests/{ref}/nonconformities/{number}/correct"):
                                                             (200, 200, 403, 403, 403, 401),
    # only a supervisor adopts a policy; the desk's roles and the auditor read the book
    ("POST", "/api/policies"):                               (403, 201, 403, 403, 403, 401),
    ("GET", "/api/policies"):                                (200, 200, 403, 403, 200, 401),
    # one request: its customer and the desk; another customer learns nothing (404)
    ("GET", "/api/requests/{ref}"):                          (200, 200, 200, 404, 200, 401),
    ("GET", "/api/requests/{ref}/history"):                  (200, 200, 200, 404, 200, 401),
    ("GET", "/api/requests/{ref}/sla"):                      (200, 200, 200, 404, 200, 401),
    ("GET", "/api/requests/{ref}/sla/timeline"):             (200, 200, 200, 404, 200, 401),
    # the queue: a customer's is its own requests
    ("GET", "/api/queue"):                                   (200, 200, 200, 200, 200, 401),
    # the desk's figures and the audit trail: the desk's roles and the auditor
    ("GET", "/api/sla/breaches"):                            (200, 200, 403, 403, 200, 401),
    ("GET", "/api/sla/at-risk"):                             (200, 200, 403, 403, 200, 401),
    ("GET", "/api/kpis"):                                    (200, 200, 403, 403, 200, 401),
    ("GET", "/api/kpis/groups"):                             (200, 200, 403, 403, 200, 401),
    ("GET", "/api/nonconformities"):                         (200, 200, 403, 403, 200, 401),
    ("GET", "/api/audit/log"):                               (200, 200, 403, 403, 200, 401),
    ("GET", "/api/audit/verify"):                            (200, 200, 403, 403, 200, 401),
    ("GET", "/api/audit/export"):                            (200, 200, 403, 403, 200, 401),
}
# fmt: on

TEXT = "The router drops the line every evening"


@dataclass(frozen=True)
class Call:
    """What an operation is sent: the state its request is brought to first, body, query."""

    state: str | None = "new"
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)


def _r(action: str) -> dict[str, Any]:
    return {"reason": action}


CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/api/events"): Call(state=None, params={"after": "0"}),
    ("POST", "/api/requests"): Call(
        state=None,
        body={
            "customer": OWNER,
            "channel": "web",
            "kind": "complaint",
            "stage": "post_sale",
            "symptom": TEXT,
        },
    ),
    ("POST", "/api/requests/{ref}/classify"): Call(body={"priority": "high"}),
    ("POST", "/api/requests/{ref}/assign"): Call("classified", {"team": "network", "agent": "ana"}),
    ("POST", "/api/requests/{ref}/probe"): Call("assigned", {"findings": "Line noise"}),
    ("POST", "/api/requests/{ref}/act"): Call("assigned", {"action": "Replaced the filter"}),
    ("POST", "/api/requests/{ref}/wait-on-customer"): Call("assigned", _r("Which model?")),
    ("POST", "/api/requests/{ref}/customer-responded"): Call("waiting", {"note": "Model X"}),
    ("POST", "/api/requests/{ref}/hold"): Call("assigned", {"reason": "customer"}),
    ("POST", "/api/requests/{ref}/resume"): Call("waiting", {}),
    ("POST", "/api/requests/{ref}/unassign"): Call("assigned", {}),
    ("POST", "/api/requests/{ref}/report-progress"): Call(body={"message": "On it"}),
    ("POST", "/api/requests/{ref}/complete"): Call(
        "assigned", {"outcome": "resolved", "resolution": "Filter replaced"}
    ),
    ("POST", "/api/requests/{ref}/accept"): Call("completed", {"satisfaction": 5}),
    ("POST", "/api/requests/{ref}/close"): Call("completed", _r("No answer")),
    ("POST", "/api/requests/{ref}/reopen"): Call("completed", _r("Drops again")),
    ("POST", "/api/requests/{ref}/cancel"): Call(body=_r("Fixed itself")),
    ("POST", "/api/requests/{ref}/notes"): Call(
        body={"text": "Called back", "visibility": "internal"}
    ),
    ("POST", "/api/requests/{ref}/messages"): Call(body={"text": "Any news?"}),
    ("POST", "/api/requests/{ref}/nonconformities"): Call(
        body={"description": "Called back late", "severity": "minor"}
    ),
    ("POST", "/api/requests/{ref}/nonconformities/{number}/correct"): Call(
        "nonconformity", {"correction": "Called back"}
    ),
    ("POST", "/api/policies"): Call(
        state=None, body={"policy": SlaPolicy.standard().model_dump(mode="json")}
    ),
    ("GET", "/api/policies"): Call(state=None),
    ("GET", "/api/requests/{ref}"): Call(),
    ("GET", "/api/requests/{ref}/history"): Call(),
    ("GET", "/api/requests/{ref}/sla"): Call(),
    ("GET", "/api/requests/{ref}/sla/timeline"): Call(),
    ("GET", "/api/queue"): Call(state=None),
    ("GET", "/api/sla/breaches"): Call(state=None),
    ("GET", "/api/sla/at-risk"): Call(state=None),
    ("GET", "/api/kpis"): Call(
        state=None, params={"since": "2026-01-01T00:00:00Z", "until": "2026-12-31T00:00:00Z"}
    ),
    ("GET", "/api/kpis/groups"): Call(
        state=None,
        params={
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-12-31T00:00:00Z",
            "group_by": "team",
        },
    ),
    ("GET", "/api/nonconformities"): Call(state=None),
    ("GET", "/api/audit/log"): Call(state=None),
    ("GET", "/api/audit/verify"): Call(state=None),
    ("GET", "/api/audit/export"): Call(state=None),
}

AGENT = "agent:lead"


def bring(desk: ServiceDesk, state: str) -> str:
    """A new request of ``OWNER`` brought to ``state``; its ticket code."""
    request = desk.open(
        customer=OWNER, channel="phone", kind="complaint", stage="post_sale", symptom=TEXT,
        actor=AGENT,
    )  # fmt: skip
    ref = request.ticket_code
    if state == "nonconformity":
        desk.log_nonconformity(ref, description="Late", severity="minor", actor=AGENT)
        return ref
    steps: list[Callable[[], object]] = [
        lambda: desk.classify(ref, priority="high", actor=AGENT),
        lambda: desk.assign(ref, team="network", agent="ana", actor=AGENT),
    ]
    upto = {"new": 0, "classified": 1, "assigned": 2, "waiting": 2, "completed": 2}[state]
    for step in steps[:upto]:
        step()
    if state == "waiting":
        desk.wait_on_customer(ref, reason="Which model?", actor=AGENT)
    if state == "completed":
        desk.complete(ref, outcome="resolved", resolution="Filter replaced", actor=AGENT)
    return ref


@dataclass
class Served:
    desk: ServiceDesk
    app: FastAPI
    keys: dict[str, str]


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    if request.param == "memory":
        desk = ServiceDesk()
    else:
        path: Path = tmp_path_factory.mktemp("roles") / "servflow.db"
        desk = ServiceDesk.sqlite(str(path))
    auth, keys = issue_keys()
    try:
        yield Served(desk, create_app(desk, auth=auth), keys)
    finally:
        desk.close()


def operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) of the app's OpenAPI schema."""
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_the_table_names_every_operation_of_the_schema_and_no_other(served: Served) -> None:
    assert set(TABLE) == operations(served.app)
    assert set(CALLS) == set(TABLE)


CELLS = [(op, role) for op in TABLE for role in ROLES]


@pytest.mark.parametrize(("op", "role"), CELLS, ids=[f"{m} {p} as {r}" for (m, p), r in CELLS])
def test_each_role_gets_the_status_the_table_says(
    served: Served, op: tuple[str, str], role: str
) -> None:
    method, template = op
    call = CALLS[op]
    path = template
    if call.state is not None:
        path = path.replace("{ref}", bring(served.desk, call.state)).replace("{number}", "1")
    expected = TABLE[op][ROLES.index(role)]
    before = served.desk.audit_head()
    status = first_status(
        served.app,
        method,
        path,
        headers=auth_headers(served.keys.get(role)),
        params=call.params,
        body=call.body,
    )
    assert status == expected, (method, path, role)
    if method == "POST":
        recorded = served.desk.audit_head() != before
        assert recorded == (status < 400), "a refused call records nothing, an allowed one does"


# -- what a customer sees -----------------------------------------------------------------------


def test_a_customer_never_sees_the_desks_internal_notes(served: Served) -> None:
    ref = bring(served.desk, "assigned")
    served.desk.note(ref, text="Customer is difficult", visibility="internal", actor=AGENT)
    served.desk.note(ref, text="We are on it", visibility="customer", actor=AGENT)
    client = TestClient(served.app)
    seen = {}
    for role in ("own", "agent", "auditor"):
        headers = auth_headers(served.keys[role])
        request = client.get(f"/api/requests/{ref}", headers=headers).json()
        history = client.get(f"/api/requests/{ref}/history", headers=headers).json()
        seen[role] = (
            sorted(n["text"] for n in request["notes"]),
            sorted(e["data"]["text"] for e in history if e["event_type"] == "NoteAdded"),
        )
    assert seen["own"] == (["We are on it"], ["We are on it"])
    both = ["Customer is difficult", "We are on it"]
    assert seen["agent"] == seen["auditor"] == (both, both)
    # nor in the answer to its own command
    answered = client.post(
        f"/api/requests/{ref}/messages",
        json={"text": "Thanks"},
        headers=auth_headers(served.keys["own"]),
    )
    assert answered.status_code == 201
    request = client.get(f"/api/requests/{ref}", headers=auth_headers(served.keys["own"])).json()
    assert "Customer is difficult" not in str(request)


def test_a_customers_queue_holds_its_own_requests_only(served: Served) -> None:
    mine = bring(served.desk, "new")
    served.desk.open(
        customer="globex", channel="web", kind="complaint", stage="sale", symptom=TEXT,
        actor=AGENT,
    )  # fmt: skip
    client = TestClient(served.app)
    for role, customer in (("own", OWNER), ("other", "globex")):
        rows = client.get(
            "/api/queue",
            params={"customer": OWNER, "limit": 500},  # asking for another's changes nothing
            headers=auth_headers(served.keys[role]),
        ).json()["items"]
        assert rows
        assert {r["customer_id"] for r in rows} == {customer}
    codes = {r["ticket_code"] for r in client.get(
        "/api/queue", params={"limit": 500}, headers=auth_headers(served.keys["own"])
    ).json()["items"]}  # fmt: skip
    assert mine in codes


def test_a_customer_opens_for_itself_only(served: Served) -> None:
    client = TestClient(served.app)
    body = dict(CALLS["POST", "/api/requests"].body or {})
    del body["customer"]
    opened = client.post("/api/requests", json=body, headers=auth_headers(served.keys["own"]))
    assert opened.status_code == 201
    assert opened.json()["customer"]["id"] == OWNER
    actor = served.desk.history(opened.json()["ticket_code"])[0].actor
    assert actor == PRINCIPALS["own"][0]
