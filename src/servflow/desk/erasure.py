"""Forgetting a customer (the right to erasure): record it, destroy the keys, erase the views.

``forget_customer`` records ``ErasureLedger.CustomerForgotten``; the store destroys the
customer's keys in the transaction that inserts it (``KeyRing.record``; in memory, once it is
saved), and the audit view erases the customer's personal fields when it applies it, so a
rebuild, which reads them as erased from the events, gives the same rows.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.application import AggregateNotFoundError

from servflow.desk.clock import DeskClock
from servflow.desk.stores import Stores
from servflow.desk.writer import Writer, project
from servflow.domain.base import refuse
from servflow.domain.erasure import ERASURE_LEDGER_ID, ErasureLedger, Forgetting
from servflow.domain.values import MAX_NAME, storable
from servflow.errors import ConfigurationError, CustomerNotFoundError, StoreError, shown
from servflow.persistence.store import translated

__all__ = ["ErasureDesk"]

_COMMAND = "forget_customer"


class ErasureDesk:
    """Forgets customers in an erasable store."""

    def __init__(self, stores: Stores, writer: Writer, clock: DeskClock) -> None:
        self._stores = stores
        self._writer = writer
        self._clock = clock

    def forget(
        self, customer_id: object, *, actor: str, occurred_at: datetime | None
    ) -> Forgetting:
        """Forget a customer (see ``ServiceDesk.forget_customer``)."""
        keyring = self._stores.keyring
        if keyring is None:
            msg = (
                "refused 'forget_customer': this store is not erasable; erasure is chosen when a "
                "store is created (ServiceDesk.sqlite(path, erasable=True), docs/how-to/erasure.md)"
            )
            raise ConfigurationError(msg)
        customer = _checked_customer(customer_id)
        roles = self._writer.roles
        if not roles.may_forget(actor):
            raise roles.forget_refusal(actor, customer)
        moment = self._clock.moment(occurred_at, _COMMAND)
        with translated():
            keyring.refresh()
            live, destroyed = keyring.keys_of(customer)
        if not live and not destroyed:
            raise CustomerNotFoundError(customer)
        if not live:
            return Forgetting(customer_id=customer, keys_destroyed=0, recorded=False)

        def attempt() -> tuple[ErasureLedger, bool]:
            ledger = self.ledger() or ErasureLedger.start(actor=actor, at=moment)
            ledger.forget(customer_id=customer, actor=actor, at=moment)
            return ledger, True

        if self._writer.until_saved(attempt) is None:
            msg = f"could not record the forgetting of customer {customer!r} after 8 attempts"
            raise StoreError(msg)
        return Forgetting(
            customer_id=customer,
            keys_destroyed=live,
            recorded=True,
            forgotten_at=moment.occurred_at,
        )

    def ledger(self) -> ErasureLedger | None:
        """The store's erasure ledger, if a customer was ever forgotten."""
        try:
            with translated():
                ledger: object = self._stores.store.repository.get(
                    ERASURE_LEDGER_ID, projector_func=project
                )
        except AggregateNotFoundError:
            return None
        return ledger if isinstance(ledger, ErasureLedger) else None


def _checked_customer(customer_id: object) -> str:
    """A customer id as requests carry it, else a ``ValidationFailedError``."""
    if not isinstance(customer_id, str) or not customer_id.strip():
        refuse(_COMMAND, "customer_id", f"must be a customer id (text), not {shown(customer_id)}")
    text = customer_id.strip()
    if len(text) > MAX_NAME:
        refuse(_COMMAND, "customer_id", f"has at most {MAX_NAME} characters, not {len(text):,}")
    try:
        storable(text)
    except ValueError as error:
        refuse(_COMMAND, "customer_id", str(error))
    return text
