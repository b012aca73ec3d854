"""``ServiceDesk.dispatch``, ``outbox`` and ``retry_dead``: their arguments checked, then run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from servflow.desk.checks import page, refuse, whole
from servflow.desk.clock import checked_instant
from servflow.desk.outbox.dispatch import (
    DeliveryStatus,
    DispatchReport,
    Outbox,
    OutboxEntry,
    RetryPolicy,
)
from servflow.desk.outbox.message import Sender
from servflow.desk.outbox.templates import Templates

if TYPE_CHECKING:
    from servflow.desk.facade import ServiceDesk

__all__ = ["outbox_entries", "requeue_dead", "run_dispatch"]

_MAX_LEASE = timedelta(days=1)
_LONGEST = timedelta(days=3650)


def _outbox(desk: ServiceDesk) -> Outbox:
    found: Outbox | None = getattr(desk, "_outbox_service", None)
    if found is None:
        found = Outbox(desk)
        desk._outbox_service = found  # type: ignore[attr-defined]  # noqa: SLF001 - made once
    return found


def run_dispatch(
    desk: ServiceDesk,
    sender: Sender,
    *,
    at: datetime | None,
    limit: int | None,
    retry: RetryPolicy | None,
    expire_after: timedelta,
    templates: str | Path | None,
    language: str,
    lease: timedelta,
) -> DispatchReport:
    """Check the arguments of ``ServiceDesk.dispatch``, then run it."""
    command = "dispatch"
    if not isinstance(sender, Sender):
        refuse(command, "sender", "must have a send(message) method")
    now = desk._clock.now()  # noqa: SLF001 - the desk's own clock
    when = now if at is None else checked_instant(at, "at", command)
    if when > now:
        refuse(command, "at", "must not be after the desk's clock (messages are not sent early)")
    if limit is not None:
        whole(limit, "limit", command, low=1)
    if retry is not None and not isinstance(retry, RetryPolicy):
        refuse(command, "retry", "must be a RetryPolicy")
    for name, value in (("expire_after", expire_after), ("lease", lease)):
        if (
            not isinstance(value, timedelta)
            or value <= timedelta(0)
            or value > timedelta(days=3650)
        ):
            refuse(command, name, "must be a positive timedelta (at most ten years)")
    if lease > _MAX_LEASE:
        refuse(command, "lease", "must be at most a day")
    if templates is not None and not isinstance(templates, str | Path):
        refuse(command, "templates", "must be the path of a folder")
    if not isinstance(language, str) or not Templates.language_of(language):
        refuse(command, "language", "must be a language tag such as 'en' or 'es'")
    return _outbox(desk).dispatch(
        sender,
        at=when,
        limit=limit,
        retry=retry or RetryPolicy(),
        expire_after=expire_after,
        templates=Templates(templates, language=language),
        lease=lease,
    )


def outbox_entries(
    desk: ServiceDesk, *, status: DeliveryStatus | None, limit: int, offset: int
) -> list[OutboxEntry]:
    """Check the arguments of ``ServiceDesk.outbox``, then read it."""
    if status is not None and status not in get_args(DeliveryStatus):
        refuse("outbox", "status", f"must be one of {', '.join(get_args(DeliveryStatus))}")
    page(limit, offset, "outbox")
    return _outbox(desk).entries(status, limit, offset)


def requeue_dead(desk: ServiceDesk, keys: Sequence[str] | None) -> int:
    """Check the arguments of ``ServiceDesk.retry_dead``, then requeue."""
    if keys is not None:
        if isinstance(keys, str | bytes) or not isinstance(keys, Sequence | set | frozenset):
            refuse("retry_dead", "keys", "must be a list of message keys")
        if not all(isinstance(k, str) for k in keys):
            refuse("retry_dead", "keys", "must be a list of message keys")
        keys = list(keys)
    return _outbox(desk).requeue(keys, desk._clock.now())  # noqa: SLF001
