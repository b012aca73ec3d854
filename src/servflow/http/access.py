"""Who may do what to which request, over HTTP: the rules every route applies.

``Access`` holds the desk and the checks: a role allowed (``allow``), a request the caller may
see (``own``: a customer sees their own only; another's is a 404, never a 403, so they learn
nothing of it), what a customer is shown (``shown``: no internal notes), a command run for the
caller with ``If-Match`` (``command``), and the answer with its version as ``ETag``.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime.
import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Response

from servflow.desk import ServiceDesk
from servflow.domain.state import Note
from servflow.domain.values import Visibility
from servflow.domain.view import Request as RequestView
from servflow.errors import RequestNotFoundError, ValidationFailedError
from servflow.http.auth import HttpRole, Principal
from servflow.http.problems import Forbidden

__all__ = [
    "CUSTOMER_COMMANDS",
    "DESK_ROLES",
    "MAX_LIMIT",
    "Access",
    "cursor_position",
    "entry_for_customer",
    "make_cursor",
]

_T = TypeVar("_T")

DESK_ROLES = frozenset({HttpRole.AGENT, HttpRole.SUPERVISOR})
#: Commands a customer may send on their own requests.
CUSTOMER_COMMANDS = frozenset(
    {"open", "customer_responded", "accept", "reopen", "cancel", "customer_message"}
)
#: The most rows a page holds.
MAX_LIMIT = 500
#: The most digits of a version in ``If-Match`` (versions are 64-bit integers).
_MAX_DIGITS = 18


class Access:
    """The desk behind the routes, and the checks each route makes for its caller."""

    def __init__(self, desk: ServiceDesk) -> None:
        self.desk = desk

    @staticmethod
    def allow(caller: Principal, roles: frozenset[HttpRole], what: str) -> None:
        """Refuse (403) a caller whose role is not among ``roles``."""
        if caller.role not in roles:
            msg = f"a {caller.role.value} may not {what}"
            raise Forbidden(msg)

    def own(self, caller: Principal, ref: str) -> RequestView:
        """The request, if the caller may see it (a customer: their own only; else 404)."""
        found = self.desk.get(ref)
        if caller.customer_id is not None and found.customer.id != caller.customer_id:
            raise RequestNotFoundError(ref)  # a customer learns nothing of others' requests
        return found

    @staticmethod
    def shown(caller: Principal, request: RequestView) -> RequestView:
        """The request as the caller may see it: a customer never sees internal notes."""
        if caller.role is not HttpRole.CUSTOMER:
            return request
        return request.model_copy(
            update={"notes": tuple(n for n in request.notes if _for_customer(n))}
        )

    def answer(self, caller: Principal, request: RequestView, response: Response) -> RequestView:
        """The request shown to the caller, its version as ``ETag``."""
        response.headers["ETag"] = f'"{request.version}"'
        return self.shown(caller, request)

    def recorded(
        self,
        caller: Principal,
        ref: str,
        name: str,
        if_match: str | None,
        run: Callable[[str], _T],
        response: Response,
    ) -> _T:
        """``command``, then the request's new version as the answer's ``ETag``."""
        done = self.command(caller, ref, name, if_match, run)
        response.headers["ETag"] = f'"{self.desk.get(ref).version}"'
        return done

    def command(
        self,
        caller: Principal,
        ref: str,
        name: str,
        if_match: str | None,
        run: Callable[[str], _T],
    ) -> _T:
        """Run a command on ``ref`` for the caller: role, ownership, If-Match, then the desk."""
        allowed = DESK_ROLES | ({HttpRole.CUSTOMER} if name in CUSTOMER_COMMANDS else set())
        self.allow(caller, frozenset(allowed), f"send {name!r}")
        current = self.own(caller, ref)
        version = _version(if_match)
        if version is None:
            return run(str(current.id))
        with self.desk.expecting(current.id, version):
            return run(str(current.id))


def _for_customer(note: Note) -> bool:
    return note.visibility is Visibility.CUSTOMER


def entry_for_customer(event_type: str, data: dict[str, Any]) -> bool:
    """Whether a customer may see an event of their request: not the desk's internal notes."""
    return not (event_type == "NoteAdded" and data.get("visibility") != Visibility.CUSTOMER.value)


def _version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` names (``"7"``, ``W/"7"``, ``7``); None for none or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > _MAX_DIGITS or int(text) < 1:
        msg = f'If-Match {if_match[:40]!r} names no version (send the ETag, such as "7")'
        raise ValidationFailedError(msg, errors=(("If-Match", "not a version"),))
    return int(text)


def make_cursor(kind: str, value: int) -> str:
    """An opaque cursor naming where the next page of a list starts (``cursor_position``)."""
    raw = json.dumps({kind: value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_position(cursor: str | None, kind: str) -> int:
    """The position a cursor of ``kind`` resumes at (0: the first page)."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)[kind]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        msg = "cursor: not a cursor of this list (send back a next_cursor as given)"
        raise ValidationFailedError(msg, errors=(("cursor", "not a cursor of this list"),))
    return value
