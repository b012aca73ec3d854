"""External references: the id a request has in the system it came from (``INC0012345``).

A request may carry one external reference, given at opening: the ``ref`` and, optionally, the
``source`` system that named it (``servicenow``, ``bpi``). A reference is unique per source:
each one is an ``ExternalReference`` aggregate of its own whose id is derived from (source,
ref), saved in the very transaction that opens its request, so the store itself refuses a
second request with the same reference, across every writer (as ticket codes are kept unique).

Wherever a request reference is accepted, ``ext:<ref>`` (no source) or ``ext:<source>:<ref>``
names a request by its external reference. A source never holds ``:``, and a reference without
a source may not hold one either, so the text after ``ext:`` splits one way only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Self
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AfterValidator, StringConstraints, ValidationError

from servflow.domain.base import EventSourced, refused
from servflow.domain.state import Moment
from servflow.domain.values import Actor, Instant, ShortText, Value, storable
from servflow.errors import ValidationFailedError, shown

__all__ = [
    "EXTERNAL_PREFIX",
    "MAX_EXTERNAL_REF",
    "ExternalRef",
    "ExternalReference",
    "external_ref_id",
    "parse_external",
]

#: The prefix that marks a request reference as an external one: ``ext:INC0012345``.
EXTERNAL_PREFIX = "ext:"
#: The most characters an external reference holds.
MAX_EXTERNAL_REF = 100
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_BLANKS = re.compile(r"\s")


def _ref_text(value: str) -> str:
    if _BLANKS.search(value):
        msg = "must not contain blanks"
        raise ValueError(msg)
    return storable(value)


def _source_text(value: str) -> str:
    value = value.lower()
    if not _SOURCE.fullmatch(value):
        msg = (
            "must be 1-40 letters, digits, '_', '.' or '-', starting with a letter or digit "
            "(no ':')"
        )
        raise ValueError(msg)
    return value


#: The text of an external reference: no blanks, 1-100 characters, kept as given (case too).
RefText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_EXTERNAL_REF),
    AfterValidator(_ref_text),
]
#: The name of a source system: canonical lower case (``"ServiceNow"`` is ``"servicenow"``).
SourceName = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_source_text)]

_NAMESPACE = uuid5(NAMESPACE_URL, "https://servflow.dev/external-ref")


def external_ref_id(ref: str, source: str | None) -> UUID:
    """The id of the ``ExternalReference`` of (source, ref): the store keeps them unique by it."""
    return uuid5(_NAMESPACE, f"{source or ''}:{ref}")


class ExternalRef(Value):
    """A request's id in another system: the ``ref`` and the ``source`` system that named it.

    Usable wherever a request reference is (``desk.get(ExternalRef(ref="INC0012345"))``), as is
    its text ``str(ext)``: ``ext:INC0012345`` or ``ext:servicenow:INC0012345``.
    """

    ref: RefText
    source: SourceName | None = None

    @classmethod
    def of(cls, ref: object, source: object, *, command: str = "open") -> Self:
        """Validate a reference and its source, or refuse them (``ValidationFailedError``)."""
        try:
            value = cls.model_validate({"ref": ref, "source": source})
        except ValidationError as error:
            raise refused(error, command) from None
        if value.source is None and ":" in value.ref:
            msg = (
                f"refused '{command}': external_ref {shown(value.ref)} holds ':', which only a "
                "reference with a source may (give external_source=...)"
            )
            raise ValidationFailedError(
                msg, command=command, errors=(("external_ref", "holds ':' without a source"),)
            )
        return value

    @property
    def id(self) -> UUID:
        """The id of its ``ExternalReference`` aggregate."""
        return external_ref_id(self.ref, self.source)

    def __str__(self) -> str:
        if self.source is None:
            return f"{EXTERNAL_PREFIX}{self.ref}"
        return f"{EXTERNAL_PREFIX}{self.source}:{self.ref}"


def parse_external(text: str) -> ExternalRef | None:
    """The external reference ``text`` names (``ext:...``), None if it is not one."""
    if text[: len(EXTERNAL_PREFIX)].lower() != EXTERNAL_PREFIX:
        return None
    rest = text[len(EXTERNAL_PREFIX) :]
    source, colon, ref = rest.partition(":")
    try:
        if colon:
            return ExternalRef.model_validate({"ref": ref, "source": source})
        return ExternalRef.model_validate({"ref": rest})
    except ValidationError:
        return None


class ExternalReference(EventSourced):
    """One external reference, taken by one request for good: its id comes from (source, ref)."""

    class Event(EventSourced.Event):
        """Base of an external reference's events: who recorded it and when it happened."""

        actor: Actor
        occurred_at: Instant

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401 - the library's signature
            """Fold this event into the reference."""
            self.apply_to(aggregate)

        def apply_to(self, reference: ExternalReference) -> None:
            """Assign the event's state changes; never raise (it runs on every replay)."""

    class Claimed(Event, EventSourced.Created):
        """A request was opened with this external reference (in the same transaction)."""

        ref: RefText
        source: SourceName | None = None
        request_id: UUID
        ticket_code: ShortText

        def apply_to(self, reference: ExternalReference) -> None:  # noqa: D102
            reference.ref = self.ref
            reference.source = self.source
            reference.request_id = self.request_id
            reference.ticket_code = self.ticket_code

    # Declared for type checkers only (see ServiceRequest): the events assign them.
    if TYPE_CHECKING:
        ref: str
        source: str | None
        request_id: UUID
        ticket_code: str

    @classmethod
    def claim(
        cls, external: ExternalRef, *, request_id: UUID, ticket_code: str, actor: str, at: Moment
    ) -> Self:
        """The reference taken by a request being opened (saved with it)."""
        try:
            return cls._create(
                cls.Claimed,
                id=external.id,
                timestamp=at.recorded_at,
                occurred_at=at.occurred_at,
                actor=actor,
                ref=external.ref,
                source=external.source,
                request_id=request_id,
                ticket_code=ticket_code,
            )
        except ValidationError as error:
            raise refused(error, "open", where=ticket_code) from None
