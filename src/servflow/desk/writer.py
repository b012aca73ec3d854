"""The write path: load a request, let it check and record a command, save, keep it for next time.

Every command on an existing request goes through ``Writer.change``; new requests, policy
adoptions and due events go through ``Writer.until_saved``, which retries when another writer
got there first. A refused command appends nothing; the loser of a race on a request gets
``ConcurrencyConflictError``; no library or driver error leaves (``translated``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording

from servflow.desk.clock import DeskClock
from servflow.desk.stores import Stores
from servflow.desk.tickets import Ref, describe
from servflow.domain.external import ExternalRef, ExternalReference
from servflow.domain.lifecycle import Command
from servflow.domain.request import Moment, ServiceRequest
from servflow.domain.roles import Roles
from servflow.errors import (
    ConcurrencyConflictError,
    DuplicateExternalRefError,
    RequestNotFoundError,
    StaleVersionError,
)
from servflow.persistence.sql import stored_bytes
from servflow.persistence.store import store_error, translated

__all__ = ["Writer", "project"]

_T = TypeVar("_T")
#: Requests a desk keeps as it saved them, for its next command on them (``_checkout``).
_MAX_KEPT = 256
_MAX_SAVE_ATTEMPTS = 8


def project(aggregate: Any, events: Iterable[Any]) -> Any:  # noqa: ANN401 - the library's signature
    """Fold events into an aggregate (the repository's ``projector_func``)."""
    # The library's default projector asserts a runtime-checkable Protocol on every event,
    # which costs more than the fold itself for pydantic events.
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class Writer:
    """Loads, checks, records and saves: the one way a desk changes the log."""

    def __init__(self, stores: Stores, clock: DeskClock, roles: Roles) -> None:
        self._stores = stores
        self._clock = clock
        self.roles = roles
        self._kept = _Kept(_MAX_KEPT)
        #: The thread's gathering (``gathering``): what its commands recorded, not yet saved.
        self._local = threading.local()
        if stores.keyring is not None:
            # A request kept here holds what its customer's keys opened: gone with the keys.
            stores.keyring.on_dropped(self._kept.clear)

    def change(
        self, ref: Ref, command: Command, actor: str, occurred_at: datetime | None
    ) -> _Change:
        """``with`` it: the request and the command's moment; what the block records is saved.

        The roles are asked first (``PermissionDeniedError``). A block that raises records
        nothing. A save that loses a race raises ``ConcurrencyConflictError``: the caller may
        read the request again and retry.
        """
        request_id = self._stores.resolve(ref)
        self._stores.refresh_keys()
        request = self._checkout(request_id, ref)
        self._check_expected(request, command)
        self.check_roles(actor, command, request)
        return _Change(self, request, command, self._clock.moment(occurred_at, command, request))

    @contextmanager
    def expecting(self, request_id: UUID, version: int) -> Iterator[None]:
        """Within: commands on ``request_id`` are refused unless it is still at ``version``.

        Checked on the request as loaded for the command; the save then refuses any event
        another writer recorded meanwhile (``ConcurrencyConflictError``), so what is recorded
        is always recorded on top of ``version``.
        """
        expected: dict[UUID, int] = getattr(self._local, "expected", None) or {}
        previous = expected.get(request_id)
        self._local.expected = {**expected, request_id: version}
        try:
            yield
        finally:
            restored = dict(self._local.expected)
            if previous is None:
                restored.pop(request_id, None)
            else:
                restored[request_id] = previous
            self._local.expected = restored

    def _check_expected(self, request: ServiceRequest, command: Command) -> None:
        expected: dict[UUID, int] | None = getattr(self._local, "expected", None)
        version = None if not expected else expected.get(request.id)
        if version is not None and request.version != version:
            raise StaleVersionError(
                request_id=request.id,
                ticket_code=request.ticket_code,
                command=command,
                expected=version,
                actual=request.version,
            )

    @contextmanager
    def gathering(self, *, save: bool = True) -> Iterator[None]:
        """Within: this thread's commands keep what they record; it is saved in one go at the end.

        The block's requests (and the external references of those it opened) are saved in
        one transaction when it ends, all or nothing (``save=False`` drops them: a dry run).
        A command refused within leaves the others' events as they were: each command
        records one event, and a refused one records none. A block that raises saves
        nothing. The save may raise ``ConcurrencyConflictError`` (another writer changed one
        of the requests, or took a ticket code or external reference meanwhile): nothing of
        the block was recorded.
        """
        if getattr(self._local, "gathered", None) is not None:
            msg = "a desk's gatherings do not nest"
            raise RuntimeError(msg)
        gathered: dict[UUID, Any] = {}
        self._local.gathered = gathered
        try:
            yield
        finally:
            self._local.gathered = None
        if save and gathered:
            self._save_gathered(list(gathered.values()))

    def _gathered(self) -> dict[UUID, Any] | None:
        found: dict[UUID, Any] | None = getattr(self._local, "gathered", None)
        return found

    def _save_gathered(self, aggregates: list[Any]) -> None:
        keyring = self._stores.keyring
        requests = [a for a in aggregates if isinstance(a, ServiceRequest)]
        if keyring is not None:
            for request in requests:
                keyring.note(request.id, request.customer.id)
        with translated():
            try:
                recordings = self._stores.store.save(*aggregates)
            except IntegrityError:
                # Only requests and the claims of those opened are gathered: one is here.
                first = requests[0]
                raise ConcurrencyConflictError(
                    request_id=first.id, ticket_code=first.ticket_code, command=Command.IMPORT
                ) from None
        self._stores.saved(recordings)
        for request in requests:
            mine = [r for r in recordings if r.notification.originator_id == request.id]
            self.keep(request, mine)

    def save_changed(self, request: ServiceRequest, command: Command) -> None:
        """Save what a command recorded on a request; the loser of a race gets a conflict."""
        gathered = self._gathered()
        if gathered is not None:
            gathered[request.id] = request
            return
        keyring = self._stores.keyring
        if keyring is not None:
            keyring.note(request.id, request.customer.id)
        with translated():
            try:
                recordings = self._stores.store.save(request)
            except IntegrityError:
                raise ConcurrencyConflictError(
                    request_id=request.id, ticket_code=request.ticket_code, command=command
                ) from None
        self._stores.saved(recordings)
        self.keep(request, recordings)

    def until_saved(
        self,
        attempt: Callable[[], tuple[MutableOrImmutableAggregate[UUID] | None, _T]],
        *,
        attempts: int = _MAX_SAVE_ATTEMPTS,
    ) -> _T | None:
        """Run ``attempt`` and save what it returns, again while another writer got there first.

        ``attempt`` reads what it needs afresh and returns ``(aggregate, result)``; with no
        aggregate there is nothing to record and ``result`` is returned as it is. None when
        every attempt lost its race.
        """
        for _ in range(attempts):
            aggregate, result = attempt()
            if aggregate is None:
                return result
            with translated():
                try:
                    recordings = self._stores.store.save(aggregate)
                except IntegrityError:
                    continue  # another writer changed it meanwhile: look again
            self._stores.saved(recordings)
            return result
        return None

    def check_roles(self, actor: str, command: Command, request: ServiceRequest) -> None:
        """Refuse what the desk's roles do not let ``actor`` record on ``request``."""
        if not self.roles.allows(actor, command, customer_id=request.customer.id):
            raise self.roles.refusal(
                actor,
                command,
                customer_id=request.customer.id,
                where=f"{request.ticket_code} ({request.id})",
                request_id=request.id,
            )

    def save_new(self, request: ServiceRequest, external: ExternalReference | None = None) -> None:
        """Save a request just opened (with its external reference, in one transaction).

        ``IntegrityError`` when its ticket code is taken; ``DuplicateExternalRefError`` when
        its external reference is.
        """
        gathered = self._gathered()
        if gathered is not None:
            gathered[request.id] = request
            if external is not None:
                gathered[external.id] = external
            return
        keyring = self._stores.keyring
        if keyring is not None:
            keyring.note(request.id, request.customer.id)
        try:
            # Only aggregates: anything else (None) would send the save the library's slow way.
            saving = (request,) if external is None else (request, external)
            recordings = self._stores.store.save(*saving)
        except IntegrityError:
            if external is not None:
                self.check_external(ExternalRef(ref=external.ref, source=external.source))
            raise  # the ticket code is taken: the claim looks further up
        except PersistenceError as error:
            raise store_error(error) from None
        self._stores.saved(recordings)
        self.keep(request, recordings)

    def check_external(self, external: ExternalRef) -> None:
        """Refuse an external reference some request has (``DuplicateExternalRefError``)."""
        claimed = self._stores.claimed(external)
        if claimed is not None:
            raise DuplicateExternalRefError(
                str(external), request_id=claimed.request_id, ticket_code=claimed.ticket_code
            )

    # -- reading a request -----------------------------------------------------------------

    def load(self, request_id: UUID, ref: Ref, *, version: int | None = None) -> ServiceRequest:
        """The request as stored (at ``version``), or ``RequestNotFoundError``."""
        try:
            with translated():
                request: object = self._stores.store.repository.get(
                    request_id, version=version, projector_func=project
                )
        except AggregateNotFoundError:
            raise RequestNotFoundError(describe(ref)) from None
        if not isinstance(request, ServiceRequest):
            raise RequestNotFoundError(describe(ref), detail="that id is not a service request")
        return request

    def events(self, request_id: UUID, ref: Ref) -> list[ServiceRequest.Event]:
        """The request's events in order, or ``RequestNotFoundError``."""
        with translated():
            events = [
                e
                for e in self._stores.store.events.get(request_id)
                if isinstance(e, ServiceRequest.Event)
            ]
        if not events:
            raise RequestNotFoundError(describe(ref))
        return events

    def has(self, request_id: UUID) -> bool:
        """Whether the store has events of this id."""
        with translated():
            return bool(self._stores.store.recorder.select_events(request_id, limit=1))

    def _checkout(self, request_id: UUID, ref: Ref) -> ServiceRequest:
        """The request as stored now, for a command: the one this desk saved last, if still so.

        A request this desk saved is kept (``keep``) and taken out here, so no two commands
        share it and a command that fails leaves nothing behind. It is used only if the newest
        event it knows is still stored at its version with the same bytes; the events other
        writers added since are read and applied, as a load would. Otherwise it is loaded.
        """
        gathered = self._gathered()
        if gathered is not None and request_id in gathered:
            found: ServiceRequest = gathered[request_id]
            return found
        kept = self._kept.take(request_id)
        if kept is not None:
            request, state = kept
            with translated():
                stored = self._stores.store.recorder.select_events(
                    request_id, gt=request.version - 1
                )
            if (
                stored
                and stored[0].originator_version == request.version
                and stored_bytes(stored[0].state) == state
            ):
                mapper = self._stores.store.mapper
                for newer in stored[1:]:
                    event: Any = mapper.to_domain_event(newer)
                    request = event.mutate(request)
                return request
        return self.load(request_id, ref)

    def keep(self, request: ServiceRequest, recordings: Sequence[Recording[UUID]]) -> None:
        """Keep a request just saved for the desk's next command on it (see ``_checkout``)."""
        if recordings and recordings[-1].notification.originator_version == request.version:
            self._kept.put(request, bytes(recordings[-1].notification.state))


class _Change:
    """One command on one request: ``with`` gives the request and the moment, then saves."""

    __slots__ = ("_at", "_command", "_request", "_writer")

    def __init__(
        self, writer: Writer, request: ServiceRequest, command: Command, at: Moment
    ) -> None:
        self._writer = writer
        self._request = request
        self._command = command
        self._at = at

    def __enter__(self) -> tuple[ServiceRequest, Moment]:
        return self._request, self._at

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc_type is None:
            self._writer.save_changed(self._request, self._command)
        return False


class _Kept:
    """Requests as a desk last saved them, with their newest event's stored bytes (bounded).

    ``take`` removes what it returns: a request kept here is used by one command at a time.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[UUID, tuple[ServiceRequest, bytes]] = OrderedDict()

    def take(self, request_id: UUID) -> tuple[ServiceRequest, bytes] | None:
        """The kept request and its newest stored bytes, no longer kept; None if not kept."""
        with self._lock:
            return self._items.pop(request_id, None)

    def clear(self) -> None:
        """Keep nothing (keys were destroyed: what the kept requests hold may be erased)."""
        with self._lock:
            self._items.clear()

    def put(self, request: ServiceRequest, state: bytes) -> None:
        """Keep a request just saved, forgetting the least recently saved beyond the size."""
        with self._lock:
            self._items[request.id] = (request, state)
            self._items.move_to_end(request.id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
