"""``GET /events``: the events as they are recorded, as Server-Sent Events.

Each event of the log is one SSE message: ``id`` its log position, ``event`` its type, ``data``
the audit row (JSON). A client that reconnects sends ``Last-Event-ID`` (browsers do it
themselves) and resumes after that position: nothing is missed, nothing repeated. Filtered by
the caller's role: a customer gets the events of their own requests only, without the desk's
internal notes. Fed by PostgreSQL's ``NOTIFY`` where the store has it, by polling elsewhere;
rows come from the audit view, so with a follower they appear once it has applied them.
"""

# No ``from __future__ import annotations``: FastAPI reads the route's annotations at runtime.
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from servflow.desk import ServiceDesk
from servflow.http.access import entry_for_customer
from servflow.http.auth import HttpRole, Principal
from servflow.http.problems import documented
from servflow.projections.audit import AuditPage

__all__ = ["events_router"]

#: Rows read from the audit view at a time.
_BATCH = 200
#: How long a stream waits before it looks at the log again, by default (seconds). On
#: PostgreSQL a ``NOTIFY`` wakes it at once; elsewhere this is the poll interval.
POLL_INTERVAL = 0.25


def events_router(
    desk: ServiceDesk,
    principal: Any,  # noqa: ANN401 - a FastAPI dependency
    poll_interval: float = POLL_INTERVAL,
) -> APIRouter:
    """The ``/events`` route on ``desk``; ``principal`` is the API's caller dependency."""
    api = APIRouter()

    @api.get(
        "/events",
        tags=["events"],
        responses={
            **documented(),
            200: {"content": {"text/event-stream": {}}, "description": "The event stream."},
        },
        response_class=EventSourceResponse,
    )
    async def events(
        request: Request,
        caller: Annotated[Principal, Depends(principal)],
        last_event_id: Annotated[
            str | None, Header(description="Resume after this log position.")
        ] = None,
        after: Annotated[
            int | None,
            Query(ge=0, le=2**62, description="Resume after this log position (else: from now)."),
        ] = None,
    ) -> EventSourceResponse:
        """New events as they are recorded (``id`` = log position; resumable)."""
        start = _start(last_event_id, after)
        if start is None:
            head = await anyio.to_thread.run_sync(desk.audit_head)
            start = 0 if head is None else head.position
        customer = caller.customer_id

        def read(position: int) -> AuditPage:
            return desk.audit_log(customer=customer, after_position=position, limit=_BATCH)

        async def stream() -> AsyncIterator[dict[str, str]]:
            position = start
            wait = await anyio.to_thread.run_sync(desk.event_waiter)
            try:
                while not await request.is_disconnected():
                    page = await anyio.to_thread.run_sync(read, position)
                    for row in page.rows:
                        position = row.position
                        if caller.role is HttpRole.CUSTOMER and not entry_for_customer(
                            row.event_type, row.data
                        ):
                            continue
                        yield {
                            "id": str(row.position),
                            "event": row.event_type,
                            "data": orjson.dumps(row.model_dump(mode="json")).decode(),
                        }
                    if page.next_after_position is None:
                        await anyio.to_thread.run_sync(wait, poll_interval)
            finally:
                # Shielded: a client that hangs up cancels the stream, and an await in a
                # cancelled scope would raise at once, leaving PostgreSQL's LISTEN connection
                # open until the garbage collector found it.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(wait, -1.0)

        return EventSourceResponse(stream(), ping=15)

    return api


def _start(last_event_id: str | None, after: int | None) -> int | None:
    """Where a stream starts: after ``Last-Event-ID`` (or ``after``); None: from now."""
    if last_event_id is not None and last_event_id.strip().isdigit():
        return min(int(last_event_id.strip()), 2**62)
    return after
