"""The right to erasure: which fields are personal data, and the ledger of forgotten customers.

An erasable store (``ServiceDesk.sqlite(..., erasable=True)``) keeps the personal data of each
customer sealed under a key of that customer's own; forgetting the customer destroys the key
(crypto-shredding). The events stay, unchanged, so the log, its hash chain and every figure
computed from it stay as they were; only the personal fields read as ``ERASED`` from then on.

What is personal is decided here, once, per event class (``personal_fields``): the customer's
name (in requests and in the customer directory, with the record's contacts), and the free
text the customer wrote or said (the symptom they reported and the desk's
restatement of it, their replies, their acceptance comment, the reason they gave for
reopening, and the reason of a cancellation they recorded themselves). Ids, enumerations,
instants, actors and what the desk wrote (findings, actions, resolutions) are not sealed: the
workflow, the SLA and the KPIs depend on them, and a customer id is a pseudonym, not a name.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Self
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AwareDatetime, ValidationError

from servflow.domain.base import EventSourced, refused
from servflow.domain.directory import CustomerRecord
from servflow.domain.request import ServiceRequest
from servflow.domain.state import Moment
from servflow.domain.values import Actor, ShortText, Value

__all__ = [
    "ERASED",
    "ERASURE_LEDGER_ID",
    "ErasureLedger",
    "FieldPath",
    "Forgetting",
    "may_hold_personal",
    "personal_fields",
    "personal_fields_named",
]

#: What a personal field reads as once its customer was forgotten (valid for every such field).
ERASED = "[erased]"

#: Where a personal field sits in an event's stored JSON: the keys from the top.
FieldPath = tuple[str, ...]

_OPENED: tuple[FieldPath, ...] = (("customer", "name"), ("symptom",), ("synthesis",))
#: A customer record's personal details: the name and the contacts (a list, sealed whole).
_RECORD: tuple[FieldPath, ...] = (("name",), ("contacts",))
#: Event classes whose personal fields do not depend on who recorded them.
_ALWAYS: dict[type[Any], tuple[FieldPath, ...]] = {
    ServiceRequest.Opened: _OPENED,
    ServiceRequest.CustomerResponded: (("note",),),
    ServiceRequest.CustomerAccepted: (("comment",),),
    ServiceRequest.Reopened: (("reason",),),
    ServiceRequest.CustomerMessaged: (("text",),),
    CustomerRecord.Registered: _RECORD,
    CustomerRecord.Updated: _RECORD,
}
#: Event classes whose text is personal only when the customer recorded it.
_BY_CUSTOMER: dict[type[Any], tuple[FieldPath, ...]] = {
    ServiceRequest.Cancelled: (("reason",),),
    ServiceRequest.NoteAdded: (("text",),),
}


def _audit_name(cls: type[Any]) -> str:
    """An event class's name in the audit log (``Opened``, ``CustomerRecord.Registered``)."""
    return cls.__name__ if issubclass(cls, ServiceRequest.Event) else cls.__qualname__


_NAMES_ALWAYS = {_audit_name(cls): paths for cls, paths in _ALWAYS.items()}
_NAMES_BY_CUSTOMER = {_audit_name(cls): paths for cls, paths in _BY_CUSTOMER.items()}


def personal_fields(event_class: type[Any], actor: str) -> tuple[FieldPath, ...]:
    """The paths of an event's personal fields (empty for most events)."""
    paths = _ALWAYS.get(event_class)
    if paths is not None:
        return paths
    paths = _BY_CUSTOMER.get(event_class)
    if paths is not None and actor.startswith("customer:"):
        return paths
    return ()


def personal_fields_named(event_type: str, actor: str) -> tuple[FieldPath, ...]:
    """``personal_fields`` of an event by its audit-log name (``Opened``)."""
    paths = _NAMES_ALWAYS.get(event_type)
    if paths is not None:
        return paths
    paths = _NAMES_BY_CUSTOMER.get(event_type)
    if paths is not None and actor.startswith("customer:"):
        return paths
    return ()


def may_hold_personal(event_class: type[Any]) -> bool:
    """Whether events of this class can have personal fields at all (decided per class)."""
    return event_class in _ALWAYS or event_class in _BY_CUSTOMER


_LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "https://servflow.dev/erasure-ledger")
#: The id of a store's one erasure ledger: deterministic, so every process finds the same one.
ERASURE_LEDGER_ID: UUID = uuid5(_LEDGER_NAMESPACE, "default")


class ErasureLedger(EventSourced):
    """The customers a store forgot, who asked it and when: erasure leaves an audit trail.

    Its events carry the customer id (a pseudonym) and nothing personal.
    """

    class Event(EventSourced.Event):
        """Base of the ledger's events: who recorded it and when it happened."""

        actor: Actor
        occurred_at: AwareDatetime

        def apply(self, aggregate: Any) -> None:  # noqa: ANN401 - the library's signature
            """Fold this event into the ledger."""
            self.apply_to(aggregate)

        def apply_to(self, ledger: ErasureLedger) -> None:
            """Assign the event's state changes; never raise (it runs on every replay)."""

    class Started(Event, EventSourced.Created):
        """The store's erasure ledger was created (with its first forgetting)."""

        def apply_to(self, ledger: ErasureLedger) -> None:  # noqa: D102
            ledger.forgotten = []

    class CustomerForgotten(Event):
        """A customer's keys were destroyed: their personal data reads as erased from now on."""

        customer_id: ShortText

        def apply_to(self, ledger: ErasureLedger) -> None:  # noqa: D102
            ledger.forgotten.append(self.customer_id)

    # Declared for type checkers only (see ServiceRequest): the events assign it.
    if TYPE_CHECKING:
        forgotten: list[str]

    @classmethod
    def start(cls, *, actor: str, at: Moment) -> Self:
        """Create a store's (empty) erasure ledger."""
        try:
            return cls._create(
                cls.Started,
                id=ERASURE_LEDGER_ID,
                timestamp=at.recorded_at,
                occurred_at=at.occurred_at,
                actor=actor,
            )
        except ValidationError as error:
            raise refused(error, "forget_customer") from None

    def forget(self, *, customer_id: str, actor: str, at: Moment) -> None:
        """Record that ``customer_id`` is forgotten (the store destroys the keys with it)."""
        try:
            self.trigger_event(
                self.CustomerForgotten,
                timestamp=at.recorded_at,
                occurred_at=at.occurred_at,
                actor=actor,
                customer_id=customer_id,
            )
        except ValidationError as error:
            raise refused(error, "forget_customer") from None


class Forgetting(Value):
    """What ``forget_customer`` did: whose keys it destroyed, and whether it recorded that."""

    customer_id: str
    #: Keys destroyed by this call (0 when the customer was forgotten already).
    keys_destroyed: int
    #: Whether a ``CustomerForgotten`` was recorded (False: nothing was left to forget).
    recorded: bool
    #: When the forgetting happened (None when nothing was recorded).
    forgotten_at: datetime | None = None
