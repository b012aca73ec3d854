"""docs/reference/http-api.md is the OpenAPI schema of ``create_app``, written out: it cannot drift.

The page is rendered from ``app.openapi()``: every operation with its method, path, summary,
what it does, its success status and the error codes it documents. The test fails when the
page differs from the rendering; ``python tests/http/test_reference.py`` writes it anew.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from servflow import ServiceDesk
from servflow.http import ApiKeys, create_app

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "http-api.md"
_CODES = re.compile(r"`([a-z_]+)`")
_TAGS = {
    "commands": "Commands",
    "queries": "Queries",
    "audit": "Audit",
    "events": "Live events",
}

HEADER = """# HTTP API

Every operation of `servflow.http` as `create_app` serves it (the API under `/api`; mounted
with `router(desk, auth)` the paths keep their part after `/api`), rendered from its OpenAPI
schema (`/api/openapi.json`) by `tests/http/test_reference.py`, which fails when this page
differs from the schema. Each error is an `application/problem+json` problem carrying one of
the codes listed (the [error reference](errors.md) says what each means); every operation may
also answer `unauthenticated` (401), `forbidden` (403), `validation_failed` (422) and
`store_error` (503). How to use it: [Serve a UI over HTTP](../how-to/http.md).
"""


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.replace("|", "\\|").replace("``", "`")


def render(document: dict[str, Any]) -> str:
    """The page for an OpenAPI document."""
    common = {"unauthenticated", "forbidden", "validation_failed", "store_error"}
    sections: dict[str, list[str]] = {tag: [] for tag in _TAGS}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses: dict[str, Any] = operation["responses"]
            success = ", ".join(s for s in responses if int(s) < 400)
            errors = []
            for status, answer in responses.items():
                if int(status) < 400:
                    continue
                codes = [c for c in _CODES.findall(answer["description"]) if c not in common]
                errors += [f"{status} `{code}`" for code in codes]
            row = (
                f"| `{method.upper()}` | `{path}` | {operation['summary']} | "
                f"{_first_line(operation.get('description', ''))} | {success} | "
                f"{', '.join(errors) or '—'} |"
            )
            sections[operation["tags"][0]].append(row)
    out = [HEADER]
    for tag, rows in sections.items():
        out += [
            f"## {_TAGS[tag]}\n",
            "| method | path | summary | what it does | success | errors it documents |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    return "\n".join(out)


def rendered() -> str:
    desk = ServiceDesk()
    try:
        return render(create_app(desk, auth=ApiKeys()).openapi())
    finally:
        desk.close()


def test_the_http_api_reference_is_the_schema() -> None:
    assert PAGE.read_text(encoding="utf-8") == rendered(), (
        "docs/reference/http-api.md differs from the schema: python tests/http/test_reference.py"
    )


def test_the_reference_names_every_operation() -> None:
    desk = ServiceDesk()
    try:
        document = create_app(desk, auth=ApiKeys()).openapi()
    finally:
        desk.close()
    page = PAGE.read_text(encoding="utf-8")
    for path, item in document["paths"].items():
        for method in item:
            assert f"| `{method.upper()}` | `{path}` |" in page


if __name__ == "__main__":
    PAGE.write_text(rendered(), encoding="utf-8")
    sys.stdout.write(f"wrote {PAGE}\n")
