"""The HTTP API: every command and query of a ``ServiceDesk``, for a UI written in anything.

``router(desk, auth)`` is a FastAPI ``APIRouter`` a company mounts in its own app (at any
prefix); ``servflow.http.create_app`` mounts it at ``/api`` with the console. Conventions:

- Commands are ``POST /requests`` (open) and ``POST /requests/{ref}/<command>``; each answers with
  the request as it now stands and its version as ``ETag``. Send that version back as
  ``If-Match`` and the command is refused with 412 (``stale_version``) if someone recorded an
  event since: a UI never overwrites a newer state unseen (``servflow.http.commands``).
- Queries are ``GET``; lists page with an opaque ``cursor`` (``servflow.http.queries``).
- Who calls, and in which role, comes from ``auth`` (``servflow.http.auth``), never from the
  call: a customer sees and works only their own requests and never the desk's internal
  notes; an auditor only reads; only a supervisor adopts SLA policies (``servflow.http.access``).
- Errors are ``application/problem+json`` with servflow's error code (``servflow.http.problems``).
- ``GET /events`` streams the log as it is recorded (``servflow.http.events``).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime.
import inspect
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from servflow.desk import ServiceDesk
from servflow.http.access import Access
from servflow.http.auth import Authenticate, Principal
from servflow.http.commands import add_commands
from servflow.http.events import POLL_INTERVAL, events_router
from servflow.http.queries import add_queries

__all__ = ["router"]


def router(
    desk: ServiceDesk, auth: Authenticate, *, poll_interval: float = POLL_INTERVAL
) -> APIRouter:
    """The API's routes on ``desk``, each call's caller named by ``auth``.

    ``poll_interval``: how often the event stream looks at the log where the store has no
    notifications (SQLite, memory); PostgreSQL's ``NOTIFY`` wakes it at once.
    """
    api = APIRouter()

    async def principal(request: Request) -> Principal:
        found = auth(request)
        if inspect.isawaitable(found):
            found = await found
        if not isinstance(found, Principal):
            msg = "the authenticator returned no Principal"
            raise TypeError(msg)
        return found

    caller = Annotated[Principal, Depends(principal)]
    if_match = Annotated[
        str | None,
        Header(
            description="The version last read (the ETag): the command is refused (412) if the "
            "request moved on since.",
        ),
    ]
    access = Access(desk)
    add_commands(api, access, caller, if_match)
    add_queries(api, access, caller)
    api.include_router(events_router(desk, principal, poll_interval))
    return api
