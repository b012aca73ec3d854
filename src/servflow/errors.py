"""Every error servflow raises on purpose.

All of them derive from :class:`ServflowError`, carry a stable ``code`` (documented in
``docs/reference/errors.md``, one anchor per code) and the identifiers a caller needs to act.
Each also inherits the nearest builtin, so ``except LookupError`` keeps working for callers
that do not know servflow. This module imports nothing from servflow.
"""

from __future__ import annotations

import reprlib
from typing import ClassVar
from uuid import UUID

__all__ = [
    "AuditKeyMismatchError",
    "ConcurrencyConflictError",
    "ConfigurationError",
    "CorruptEventError",
    "CustomerNotFoundError",
    "DeliveryError",
    "ImportSourceError",
    "InvalidTransitionError",
    "NonConformityNotFoundError",
    "OccurrenceOutOfOrderError",
    "RequestNotFoundError",
    "ServflowError",
    "StaleVersionError",
    "StoreError",
    "ValidationFailedError",
    "shown",
]

#: The most of a message an error keeps; what lies beyond is cut (``ServflowError``).
MAX_MESSAGE = 2_000
#: The most of a refused value a message shows (``shown``).
MAX_SHOWN = 60
#: Integers longer than this many bits are shown by their size (about 60 digits).
_MAX_BITS = 200


class _Short(reprlib.Repr):
    """``repr`` that never builds the whole of a huge value: strings, bytes, lists are cut."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxother = MAX_SHOWN
        self.maxlist = self.maxtuple = self.maxset = self.maxdict = 4
        self.maxlevel = 2

    def repr_int(self, value: int, level: int) -> str:
        """A huge integer by its size: Python refuses to write one of more than 4,300 digits."""
        if value.bit_length() > _MAX_BITS:
            return f"<an integer of {value.bit_length():,} bits>"
        return super().repr_int(value, level)

    def repr_bytes(self, value: bytes, level: int) -> str:  # noqa: ARG002 - reprlib's signature
        """Bytes like strings: the start, then ``...``."""
        start = value[: self.maxstring // 4]  # each byte may take four characters: b'\\x00'
        return repr(start) + ("..." if len(value) > len(start) else "")


_SHORT = _Short()


def shown(value: object) -> str:
    """A refused value as a message shows it: its ``repr``, cut to a short prefix if long.

    An error names what was refused so the caller can find it; it never carries it back whole (a
    50 MB actor must not return as a 50 MB message, in logs, terminals or HTTP responses).
    """
    text = _SHORT.repr(value)
    if isinstance(value, str | bytes) and len(value) > MAX_SHOWN:
        text += f" ({len(value):,} {'characters' if isinstance(value, str) else 'bytes'})"
    return text


class ServflowError(Exception):
    """Base of every error servflow raises on purpose; catch it to catch them all."""

    code: ClassVar[str] = "servflow_error"

    def __init__(self, message: str) -> None:
        if len(message) > MAX_MESSAGE:
            # A last guard: messages show refused values through ``shown``, which keeps them short.
            message = message[:MAX_MESSAGE] + f"... ({len(message):,} characters, cut)"
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationFailedError(ServflowError, ValueError):
    """A command's input was refused (empty text, out-of-range value, naive datetime, ...).

    Nothing was recorded. Fix the named field and send the command again.
    """

    code: ClassVar[str] = "validation_failed"

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        request_id: UUID | None = None,
        errors: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.command = command
        self.request_id = request_id
        #: ``(field, problem)`` pairs, one per refused field.
        self.errors = errors


class OccurrenceOutOfOrderError(ValidationFailedError):
    """An ``occurred_at`` lies before the request's previous event, or after the clock's now.

    A request's history must move forward in time, or SLA maths would be meaningless.
    Nothing was recorded. Send events of an imported history in the order they happened.
    """

    code: ClassVar[str] = "occurrence_out_of_order"


class InvalidTransitionError(ServflowError, ValueError):
    """The command is not allowed in the request's current status.

    Nothing was recorded. ``allowed`` lists the statuses in which the command is accepted;
    read the request again (``desk.get``) to see where it stands.
    """

    code: ClassVar[str] = "invalid_transition"

    def __init__(
        self,
        *,
        request_id: UUID,
        ticket_code: str,
        status: str,
        command: str,
        allowed: tuple[str, ...],
        reason: str | None = None,
    ) -> None:
        detail = reason or f"allowed only when status is one of: {', '.join(allowed)}"
        super().__init__(
            f"{ticket_code} ({request_id}) is {status}: refused command '{command}' ({detail})"
        )
        self.request_id = request_id
        self.ticket_code = ticket_code
        self.status = status
        self.command = command
        self.allowed = allowed


class PermissionDeniedError(ServflowError, PermissionError):
    """The actor's kind may not record this command (or not on someone else's request).

    Nothing was recorded. The desk's ``roles`` say which kinds of actor (agent, supervisor,
    customer, system, auditor, integration) may record which commands; customers act on their
    own requests only. Record it as an actor who may, or give the desk other roles.
    """

    code: ClassVar[str] = "permission_denied"

    def __init__(
        self,
        message: str,
        *,
        actor: str,
        command: str,
        request_id: UUID | None = None,
    ) -> None:
        super().__init__(message)
        self.actor = actor
        self.command = command
        self.request_id = request_id


class RequestNotFoundError(ServflowError, LookupError):
    """No request has the given id or ticket code in this store.

    Check the reference (a UUID, a ticket code such as ``SR-000123``, or a ``Request`` view)
    and the store the desk was opened on.
    """

    code: ClassVar[str] = "request_not_found"

    def __init__(self, ref: str, *, detail: str | None = None) -> None:
        super().__init__(f"no service request {ref}" + (f": {detail}" if detail else ""))
        self.ref = ref


class CustomerNotFoundError(ServflowError, LookupError):
    """No request of this store has personal data of the given customer id to forget.

    Nothing was recorded. Check the customer id (the ``id`` of the request's ``Customer``, not
    its name) and the store the desk was opened on.
    """

    code: ClassVar[str] = "customer_not_found"

    def __init__(self, customer_id: str) -> None:
        super().__init__(
            f"no customer {shown(customer_id)} in this store: no request of theirs holds "
            "personal data to forget"
        )
        self.customer_id = customer_id


class NonConformityNotFoundError(ServflowError, LookupError):
    """The request has no non-conformity with the given number.

    Use the ``NonConformity`` returned by ``log_nonconformity`` or one listed on the request.
    """

    code: ClassVar[str] = "nonconformity_not_found"

    def __init__(self, *, request_id: UUID, ticket_code: str, number: int) -> None:
        super().__init__(f"{ticket_code} ({request_id}) has no non-conformity #{shown(number)}")
        self.request_id = request_id
        self.ticket_code = ticket_code
        self.number = number


class DuplicateExternalRefError(ServflowError, ValueError):
    """Another request was already opened with this external reference from the same source.

    Nothing was recorded. An external reference (``external_ref``, per ``external_source``)
    names one request for good; ``request_id`` and ``ticket_code`` name the one that has it.
    Read that request (``desk.get("ext:...")``) instead of opening a second one.
    """

    code: ClassVar[str] = "duplicate_external_ref"

    def __init__(self, external: str, *, request_id: UUID, ticket_code: str) -> None:
        super().__init__(
            f"refused 'open': the external reference {external} is taken by {ticket_code} "
            f"({request_id}); nothing was recorded"
        )
        self.external = external
        self.request_id = request_id
        self.ticket_code = ticket_code
        self.command = "open"


class UnknownTeamError(ServflowError, LookupError):
    """The team is not in the desk's team directory (or was deactivated), and ad-hoc teams are off.

    Nothing was recorded. Register the team (``desk.register_team``), use a registered one
    (names match without regard to case or surrounding blanks), or open the desk with
    ``ad_hoc=True``. While no team is registered, a desk takes any team (``ad_hoc=None``).
    """

    code: ClassVar[str] = "unknown_team"

    def __init__(
        self, team: str, *, command: str, detail: str = "not in the team directory"
    ) -> None:
        super().__init__(f"refused '{command}': team {shown(team)} is {detail}")
        self.team = team
        self.command = command


class UnknownAgentError(ServflowError, LookupError):
    """The agent is not in the desk's agent directory (or was deactivated); ad-hoc names are off.

    Nothing was recorded. Register the agent (``desk.register_agent``), use a registered one,
    or open the desk with ``ad_hoc=True``. While no agent is registered, a desk takes any agent.
    """

    code: ClassVar[str] = "unknown_agent"

    def __init__(
        self, agent: str, *, command: str, detail: str = "not in the agent directory"
    ) -> None:
        super().__init__(f"refused '{command}': agent {shown(agent)} is {detail}")
        self.agent = agent
        self.command = command


class DirectoryConflictError(ServflowError, ValueError):
    """A customer, team or agent with this id is registered already.

    Nothing was recorded. Update the entry instead (``update_customer``, ``update_team``,
    ``update_agent``); team and agent ids match without regard to case or blanks.
    """

    code: ClassVar[str] = "directory_conflict"

    def __init__(self, *, kind: str, entry_id: str, command: str) -> None:
        super().__init__(
            f"refused '{command}': {kind} {shown(entry_id)} is registered already; "
            "nothing was recorded"
        )
        self.kind = kind
        self.entry_id = entry_id
        self.command = command


class NotInDirectoryError(ServflowError, LookupError):
    """No customer, team or agent with this id is registered in the desk's directories.

    Nothing was recorded. Check the id (team and agent ids match without regard to case or
    blanks) or register the entry first.
    """

    code: ClassVar[str] = "not_in_directory"

    def __init__(self, *, kind: str, entry_id: str, command: str) -> None:
        super().__init__(f"refused '{command}': no {kind} {shown(entry_id)} is registered")
        self.kind = kind
        self.entry_id = entry_id
        self.command = command


class ConcurrencyConflictError(ServflowError, RuntimeError):
    """Another writer recorded an event on the same request first; nothing of yours was recorded.

    Read the request again and retry the command if it still makes sense.
    """

    code: ClassVar[str] = "concurrency_conflict"

    def __init__(self, *, request_id: UUID, ticket_code: str, command: str) -> None:
        super().__init__(
            f"{ticket_code} ({request_id}) was changed by another writer during '{command}'; "
            "nothing was recorded, read it again and retry"
        )
        self.request_id = request_id
        self.ticket_code = ticket_code
        self.command = command


class StaleVersionError(ServflowError, RuntimeError):
    """The request is no longer at the version the caller last saw; nothing was recorded.

    Raised by a command run within ``ServiceDesk.expecting(ref, version)`` (an HTTP ``If-Match``)
    when another writer recorded an event since: read the request again and decide anew.
    """

    code: ClassVar[str] = "stale_version"

    def __init__(
        self, *, request_id: UUID, ticket_code: str, command: str, expected: int, actual: int
    ) -> None:
        super().__init__(
            f"{ticket_code} ({request_id}) is at version {actual}, not {expected}: refused "
            f"'{command}', nothing was recorded; read it again and retry if it still makes sense"
        )
        self.request_id = request_id
        self.ticket_code = ticket_code
        self.command = command
        self.expected = expected
        self.actual = actual


class ConfigurationError(ServflowError, ValueError):
    """A calendar, SLA policy or desk setting is invalid (unknown time zone, overlapping hours).

    The message names the setting; correct the configuration and load it again.
    """

    code: ClassVar[str] = "configuration_error"


class ImportSourceError(ServflowError, ValueError):
    """A file to import cannot be read as its mapping says (missing, not CSV or XES, no column).

    Nothing was imported from it. Rows that can be read but not used are not this error: an
    import reports them, by case and reason, and goes on.
    """

    code: ClassVar[str] = "import_source"


class AuditKeyMismatchError(ConfigurationError):
    """The desk's ``audit_key`` is not the one the store's hash chain was written with.

    The store records, with its first chain link, whether the chain is keyed and a fingerprint
    of the key; a desk without the key, with another key, or with a key on a chain written
    without one is refused as it opens, before it records anything. Open the desk with the
    store's own key (on the command line, ``SERVFLOW_AUDIT_KEY``), or with none for an
    unkeyed store. ``store_keyed`` and ``desk_keyed`` say which way round it was.
    """

    code: ClassVar[str] = "audit_key_mismatch"

    def __init__(self, *, store_keyed: bool, desk_keyed: bool) -> None:
        if not desk_keyed:
            problem = (
                "this store's hash chain is keyed (HMAC-SHA-256) but the desk was opened "
                "without an audit_key: open it with the store's audit_key"
            )
        elif store_keyed:
            problem = (
                "the desk's audit_key is not the one this store's hash chain was written with: "
                "open it with the store's audit_key"
            )
        else:
            problem = (
                "this store's hash chain is not keyed (SHA-256) but the desk was opened with an "
                "audit_key: open it without one (a chain keeps the key it was started with)"
            )
        super().__init__(f"{problem}; nothing was recorded")
        self.store_keyed = store_keyed
        self.desk_keyed = desk_keyed


class StoreError(ServflowError, RuntimeError):
    """The event store could not be reached or refused an operation for a reason not covered above.

    The message carries the store's own explanation; check the connection settings and retry.
    """

    code: ClassVar[str] = "store_error"


class DeliveryError(ServflowError, RuntimeError):
    """A sender could not deliver a message to the customer (the outbox tries again, or gives up).

    ``retryable`` False says trying again cannot help (a refused address, a 4xx answer): the
    message goes straight to the dead letters. ``retry_after``, when the receiver said how long
    to wait (an HTTP ``Retry-After``), is that many seconds. The message names the sender and
    the reason.
    """

    code: ClassVar[str] = "delivery_failed"

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        #: Seconds the receiver asked to wait before the next attempt, if it said.
        self.retry_after = retry_after


class CorruptEventError(StoreError):
    """A stored event cannot be read back: its bytes, its topic or its fields are not valid.

    Someone or something changed the stored row outside servflow (or a bug wrote it so).
    Reads and commands of that request raise this error, naming ``request_id``, ``version``
    and, when known, the log ``position``; every other request keeps working, and the
    projections skip the event and record it (``desk.quarantine()``). ``kind`` says what failed:
    ``unreadable`` (the bytes: cipher, compression, JSON), ``unknown_topic`` or ``invalid``
    (the fields, or their upcasting). Find it with ``desk.verify()``, then restore the row from a
    backup or an export (``docs/how-to/corruption.md``).
    """

    code: ClassVar[str] = "corrupt_event"

    def __init__(
        self,
        *,
        request_id: UUID | None,
        version: int | None,
        reason: str,
        kind: str = "invalid",
        topic: str | None = None,
        position: int | None = None,
    ) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(
            f"the stored event {request_id} v{version}{where} cannot be read ({kind}): {reason}; "
            "the request cannot be replayed until the event is restored (servflow audit verify "
            "finds every altered event)"
        )
        self.request_id = request_id
        self.version = version
        self.position = position
        self.topic = topic
        self.kind = kind
        self.reason = reason

    def at(self, position: int) -> CorruptEventError:
        """The same error, naming the event's position in the log."""
        if self.position == position:
            return self
        return CorruptEventError(
            request_id=self.request_id,
            version=self.version,
            reason=self.reason,
            kind=self.kind,
            topic=self.topic,
            position=position,
        )
