"""Errors as RFC 9457 problem details, each carrying servflow's stable error code.

Every ``ServflowError`` leaves the adapter as ``application/problem+json`` with the status its
code maps to (``STATUS``), the code itself (``code``), and where the request's id is known, the
request. Requests FastAPI cannot validate (a body of the wrong shape) are ``validation_failed``
problems too, listing each bad field; a call without credentials is ``unauthenticated`` (401),
one its role does not allow is ``forbidden`` (403). Each route documents the codes it may
answer with in the OpenAPI schema (``documented``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from servflow.errors import ServflowError
from servflow.http.auth import Unauthenticated

__all__ = ["STATUS", "Forbidden", "Problem", "documented", "install", "problem_response"]

MEDIA_TYPE = "application/problem+json"

#: The HTTP status of each error code.
STATUS: Mapping[str, int] = {
    "validation_failed": 422,
    "occurrence_out_of_order": 422,
    "configuration_error": 422,
    "unknown_team": 422,
    "unknown_agent": 422,
    "invalid_transition": 409,
    "concurrency_conflict": 409,
    "duplicate_external_ref": 409,
    "directory_conflict": 409,
    "stale_version": 412,
    "precondition_failed": 412,
    "permission_denied": 403,
    "forbidden": 403,
    "unauthenticated": 401,
    "request_not_found": 404,
    "customer_not_found": 404,
    "nonconformity_not_found": 404,
    "not_in_directory": 404,
    "store_error": 503,
    "corrupt_event": 503,
    "audit_key_mismatch": 503,
}
_TITLES: Mapping[int, str] = {
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    422: "Unprocessable content",
    503: "Service unavailable",
}


class Problem(BaseModel):
    """An RFC 9457 problem: ``type`` names servflow's error code, ``code`` is that code."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None
    errors: list[dict[str, str]] | None = None


class Forbidden(Exception):  # noqa: N818 - the HTTP word, answered with 403
    """The caller's role may not do this (answered with 403 ``forbidden``)."""


def problem_response(
    code: str,
    detail: str,
    *,
    request_id: object = None,
    errors: Iterable[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The problem+json response for an error code."""
    status = STATUS.get(code, 500)
    body: dict[str, Any] = {
        "type": f"urn:servflow:error:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if request_id is not None:
        body["request_id"] = str(request_id)
    if errors:
        body["errors"] = [{"field": field, "problem": problem} for field, problem in errors]
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def _servflow_error(request: Request, error: Exception) -> JSONResponse:
    del request
    assert isinstance(error, ServflowError)  # noqa: S101 - registered for it
    errors = getattr(error, "errors", None)
    return problem_response(
        error.code,
        str(error),
        request_id=getattr(error, "request_id", None),
        errors=errors if isinstance(errors, tuple) else None,
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    del request
    assert isinstance(error, RequestValidationError)  # noqa: S101 - registered for it
    found = [
        (".".join(str(p) for p in e.get("loc", ())), str(e.get("msg", "invalid")))
        for e in error.errors()
    ]
    detail = "; ".join(f"{field}: {problem}" for field, problem in found[:10]) or "invalid"
    return problem_response("validation_failed", f"refused: {detail}", errors=found)


async def _http_error(request: Request, error: Exception) -> Response:
    """A body FastAPI cannot parse (not JSON) is a ``validation_failed`` problem too."""
    assert isinstance(error, HTTPException)  # noqa: S101 - registered for it
    if error.status_code == 400:  # noqa: PLR2004 - FastAPI's "error parsing the body"
        return problem_response(
            "validation_failed", f"refused: body: {error.detail}", errors=[("body", "not JSON")]
        )
    return await http_exception_handler(request, error)


async def _unauthenticated(request: Request, error: Exception) -> JSONResponse:
    del request
    return problem_response("unauthenticated", str(error), headers={"WWW-Authenticate": "Bearer"})


async def _forbidden(request: Request, error: Exception) -> JSONResponse:
    del request
    return problem_response("forbidden", str(error))


def install(app: Any) -> None:  # noqa: ANN401 - a FastAPI app or router's app
    """Answer servflow's errors, validation failures and auth failures as problems."""
    app.add_exception_handler(ServflowError, _servflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)


def documented(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each status it may answer with, and the codes behind it."""
    by_status: dict[int, list[str]] = {}
    for code in ("unauthenticated", "forbidden", "validation_failed", "store_error", *codes):
        by_status.setdefault(STATUS[code], []).append(code)
    return {
        status: {
            "model": Problem,
            "description": f"{_TITLES[status]}: " + ", ".join(f"`{c}`" for c in found),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, found in sorted(by_status.items())
    }
