"""The API keeps the promises of its OpenAPI schema: schemathesis calls every operation.

With an agent's key on every call, schemathesis draws calls from the schema (valid ones, and
ones the schema refuses) and checks each answer: never a 5xx, every status one the operation
documents, every body of the schema's shape and media type. Each error answer is also checked
here to be ``application/problem+json`` carrying servflow's error code, whose status is the one
``STATUS`` maps the code to. ``/api/events`` is left out of the draws (its stream never ends on
its own; ``test_uvicorn.py`` reads it over a real socket). The desk holds a few requests, so
that the draws that name one (``HD-...``) may find it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from http_support import auth_headers, issue_keys
from servflow import ServiceDesk
from servflow.http import STATUS, create_app

DESK = ServiceDesk()
_AUTH, KEYS = issue_keys()
APP = create_app(DESK, auth=_AUTH)
for number in range(3):
    DESK.open(
        customer="acme", channel="web", kind="complaint", stage="sale",
        symptom=f"Charged twice ({number})", actor="agent:ana",
    )  # fmt: skip

schema = schemathesis.openapi.from_asgi("/api/openapi.json", APP).exclude(path="/api/events")
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module", autouse=True)
def _close_desk() -> Iterator[None]:
    yield
    DESK.close()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_is_one_the_schema_documents(case: Any) -> None:
    response = case.call_and_validate(
        headers=auth_headers(KEYS["agent"]),
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    # Starlette itself answers a method the path has not (405, drawn by schemathesis too).
    if response.status_code >= 400 and case.method.upper() == case.operation.method.upper():
        assert response.headers["content-type"][0].startswith(PROBLEM), response.text
        problem = response.json()
        assert isinstance(problem["code"], str), problem
        assert STATUS[problem["code"]] == response.status_code == problem["status"], problem
        assert problem["type"] == f"urn:servflow:error:{problem['code']}"


def test_every_documented_error_is_a_problem_with_a_code() -> None:
    document = APP.openapi()
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    errors = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400:
                    continue
                errors += 1
                # FastAPI lists the Problem under application/json too; the body is the same.
                assert PROBLEM in answer["content"], (method, path, status)
                for media in answer["content"].values():
                    assert media["schema"] == {"$ref": "#/components/schemas/Problem"}, (
                        method, path, status,
                    )  # fmt: skip
                assert "`" in answer["description"], (method, path, status)  # names its codes
            assert {"401", "422"} <= set(operation["responses"]), (method, path)
    assert errors > 100
