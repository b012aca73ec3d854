"""Crypto-shredding: personal fields sealed under a key per customer, destroyed to forget them.

In an erasable store the codec seals each personal field (``servflow.domain.erasure``) of an
event before it is stored: the field's JSON value becomes an envelope
``{"sealed": <base64 of nonce + AES-GCM ciphertext>, "key": <key id>}``. The keys live in the
store's own database (``sf_keys``: key id, customer id, key, created, forgotten); a new key's
row is written by a recording hook in the very transaction that inserts the first event sealed
under it, so no stored event ever names a key the store lacks. Reading an envelope decrypts it
while its key exists; once the key is destroyed the field reads as ``ERASED``.

Forgetting a customer is an event (``ErasureLedger.CustomerForgotten``): the hook that sees it
inserted destroys the customer's keys in the same transaction and moves the store's erasure
generation on (``sf_erasure``), so every process notices at its next ``refresh`` and drops
the keys it held in memory.

The views hold the personal fields sealed too: while the projector decodes and applies a batch
(``keeping``), the key ring keeps the envelopes it opened, and the audit view stores those very
envelopes (``seal_fields``) and opens them as it is read (``open_fields``).

Costs: a store that is not erasable has no key ring at all (the codec checks one attribute);
in an erasable one, events of classes without personal fields pay one dictionary lookup, a
key is read from the table once per process (then kept), and a new customer's key row rides
in the transaction of its first event.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from servflow.domain.directory import CustomerRecord
from servflow.domain.erasure import ERASED, ErasureLedger, FieldPath, personal_fields
from servflow.domain.request import ServiceRequest
from servflow.errors import ConfigurationError, StoreError
from servflow.persistence.sql import Tx, micros

__all__ = ["KEYS_TABLE", "SETTINGS_TABLE", "Envelope", "KeyRing", "is_envelope"]

#: A sealed field as stored: ``{"sealed": <base64 of nonce + ciphertext>, "key": <key id>}``.
Envelope = dict[str, Any]

#: One row per key: which customer it seals for, the key (NULL once destroyed), when.
KEYS_TABLE = "sf_keys"
#: One row when the store is erasable: the erasure generation (moves at each forgetting).
SETTINGS_TABLE = "sf_erasure"
_NONCE = 12
_KEY_BYTES = 32
#: Keys and request customers a process keeps in memory, at most (then it starts afresh).
_MAX_CACHED = 50_000
_FORGOTTEN_TOPIC = get_topic(ErasureLedger.CustomerForgotten)
_OPENED = ServiceRequest.Opened
_FORGOTTEN = ErasureLedger.CustomerForgotten
#: Every path that may hold an envelope, per event class (the by-actor rule included).
_SEALABLE: dict[type[Any], tuple[FieldPath, ...]] = {
    cls: personal_fields(cls, "customer:x")
    for cls in (
        ServiceRequest.Opened,
        ServiceRequest.CustomerResponded,
        ServiceRequest.CustomerAccepted,
        ServiceRequest.Reopened,
        ServiceRequest.Cancelled,
        ServiceRequest.CustomerMessaged,
        ServiceRequest.NoteAdded,
        CustomerRecord.Registered,
        CustomerRecord.Updated,
    )
}
#: What a sealed list of texts (a customer's contacts) reads as once its key is destroyed.
_ERASED_LIST = [ERASED]


def is_envelope(value: object) -> bool:
    """Whether a stored JSON value is a sealed field's envelope."""
    return isinstance(value, dict) and "sealed" in value and "key" in value


def _aesgcm(key: bytes) -> Any:  # noqa: ANN401 - cryptography's AESGCM; the extra is optional
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    return AESGCM(key)


class KeyRing:
    """The per-customer keys of an erasable store: seal, unseal, create and destroy them.

    ``read`` opens a reading transaction on the store's database, or is None for a store in
    memory, whose keys live in this object only (nothing outlives the process there).
    """

    def __init__(
        self,
        read: Callable[[], AbstractContextManager[Tx]] | None,
        customer_of: Callable[[UUID], str | None],
        decode: Callable[[StoredEvent], object],
    ) -> None:
        if importlib.util.find_spec("cryptography") is None:
            msg = "an erasable store needs the extra: pip install 'servflow[encryption]'"
            raise ConfigurationError(msg)
        self._read = read
        self._customer_of = customer_of
        self._decode = decode
        self._stored_generation: int | None = None
        self._lock = threading.Lock()
        #: key id -> (customer id, cipher or None once destroyed).
        self._ciphers: dict[str, tuple[str, Any]] = {}
        #: customer id -> the key id this process seals with.
        self._current: dict[str, str] = {}
        #: request id -> customer id, for events that do not name their customer.
        self._customers: dict[UUID, str] = {}
        #: Keys made here whose rows are not known to be stored: key id -> row values.
        self._unstored: dict[str, tuple[str, str, int]] = {}
        #: In memory: every key's row (key id -> customer id, key or None).
        self._rows: dict[str, tuple[str, bytes | None]] = {}
        self._generation = 0
        self._local = threading.local()
        #: In memory: the envelopes sealed here, for the views that apply these very events
        #: (request id, version -> path -> envelope); taken as they are applied.
        self._sealed: dict[tuple[UUID, int], dict[FieldPath, Envelope]] = {}
        #: Called when keys were destroyed (here or, seen at ``refresh``, elsewhere).
        self._listeners: list[Callable[[], None]] = []

    # -- the tables ----------------------------------------------------------------------

    @staticmethod
    def create(tx: Tx) -> None:
        """Create the key table and the erasure settings table if they are missing."""
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.dialect.table(KEYS_TABLE)} (key_id TEXT PRIMARY KEY, "
            "customer_id TEXT NOT NULL, key_material TEXT, created_at BIGINT NOT NULL, "
            "forgotten_at BIGINT)"
        )
        tx.execute(
            f'CREATE INDEX IF NOT EXISTS "ix_{KEYS_TABLE}_customer" '
            f"ON {tx.dialect.table(KEYS_TABLE)} (customer_id)"
        )
        tx.execute(
            f"CREATE TABLE IF NOT EXISTS {tx.dialect.table(SETTINGS_TABLE)} "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), generation BIGINT NOT NULL)"
        )

    @staticmethod
    def settle(tx: Tx, *, erasable: bool, empty: bool) -> bool:
        """Whether the store is erasable, making a new (``empty``) one so when asked.

        Erasure is chosen when a store is created and recorded in it, so every desk that
        opens the store honours it; asking for it on a store that already holds events is
        refused (their personal data was never sealed).
        """
        table = tx.dialect.table(SETTINGS_TABLE)
        if tx.query(f"SELECT generation FROM {table} WHERE id = 1"):  # noqa: S608
            return True
        if not erasable:
            return False
        if not empty:
            msg = (
                "erasable=True: this store already holds events recorded without erasure; "
                "erasure is chosen when a store is created (open a new store with "
                "erasable=True and import the history into it)"
            )
            raise ConfigurationError(msg)
        tx.execute(
            f"INSERT INTO {table} (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"  # noqa: S608
        )
        return True

    # -- sealing ---------------------------------------------------------------------------

    def note(self, request_id: UUID, customer_id: str) -> None:
        """Remember whose request this is (the writer says so before it saves)."""
        customers = self._customers
        if request_id not in customers:
            if len(customers) >= _MAX_CACHED:
                customers.clear()
            customers[request_id] = customer_id

    def seal(self, state: dict[str, Any], event: Any) -> None:  # noqa: ANN401 - any event
        """Replace the personal fields of an event's JSON state by their envelopes."""
        paths = personal_fields(type(event), state.get("actor", ""))
        if not paths:
            return
        customer_id: str | None = None
        envelopes: dict[FieldPath, Envelope] = {}
        for path in paths:
            holder, name = _holder(state, path)
            if holder is None:
                continue
            value = holder.get(name)
            # A list of texts (contacts) is sealed whole, as its JSON, and says so ("json").
            listed = isinstance(value, list) and bool(value)
            if not listed and (not isinstance(value, str) or not value):
                continue
            if customer_id is None:
                customer_id = self._customer(state, event)
            key_id, cipher = self._sealing_key(customer_id)
            nonce = os.urandom(_NONCE)
            plain = orjson.dumps(value) if listed else str(value).encode()
            sealed = nonce + cipher.encrypt(nonce, plain, _aad(path))
            envelope: Envelope = {"sealed": base64.b64encode(sealed).decode("ascii"), "key": key_id}
            if listed:
                envelope["json"] = True
            holder[name] = envelopes[path] = envelope
        if envelopes and self._read is None:
            # In memory the views apply the events as recorded, not read back: they take the
            # envelopes from here (a save that failed leaves some, dropped when too many).
            if len(self._sealed) >= _MAX_CACHED:
                self._sealed.clear()
            self._sealed[(event.originator_id, event.originator_version)] = envelopes

    def _customer(self, state: dict[str, Any], event: Any) -> str:  # noqa: ANN401 - any event
        if isinstance(event, CustomerRecord.Event):
            return str(state["customer_id"])
        if isinstance(event, _OPENED):
            customer_id: str = state["customer"]["id"]
            self.note(event.originator_id, customer_id)
            return customer_id
        found = self._customers.get(event.originator_id)
        if found is None:
            found = self._customer_of(event.originator_id)
            if found is None:
                msg = (
                    f"cannot seal {type(event).__qualname__}: no customer for {event.originator_id}"
                )
                raise StoreError(msg)
            self.note(event.originator_id, found)
        return found

    def _sealing_key(self, customer_id: str) -> tuple[str, Any]:
        """The key this process seals a customer's fields with: the one it has, or a new one.

        A new key waits in ``_unstored`` until the hook writes its row in the transaction of
        the events sealed under it (``record``); this thread's save takes it along.
        """
        with self._lock:
            key_id = self._current.get(customer_id)
            if key_id is not None:
                entry = self._ciphers.get(key_id)
                if entry is not None and entry[1] is not None:
                    if key_id in self._unstored:
                        self._used().add(key_id)
                    return key_id, entry[1]
            key = os.urandom(_KEY_BYTES)
            key_id = uuid.uuid4().hex
            cipher = _aesgcm(key)
            if len(self._ciphers) >= _MAX_CACHED:
                self._ciphers.clear()
                self._current.clear()
                self._ciphers.update({k: self._cached(k) for k in self._unstored})
            self._ciphers[key_id] = (customer_id, cipher)
            self._current[customer_id] = key_id
            if self._read is None:
                self._rows[key_id] = (customer_id, key)
            else:
                created = micros(datetime.now().astimezone())
                self._unstored[key_id] = (
                    customer_id,
                    base64.b64encode(key).decode("ascii"),
                    created or 0,
                )
                self._used().add(key_id)
            return key_id, cipher

    def _cached(self, key_id: str) -> tuple[str, Any]:
        customer_id, material, _ = self._unstored[key_id]
        return customer_id, _aesgcm(base64.b64decode(material))

    def _used(self) -> set[str]:
        used: set[str] | None = getattr(self._local, "used", None)
        if used is None:
            used = self._local.used = set()
        return used

    # -- unsealing -------------------------------------------------------------------------

    def unseal(
        self, state: dict[str, Any], event_class: type[Any], origin: tuple[UUID, int] | None = None
    ) -> None:
        """Replace the envelopes in an event's JSON state by their text, or ``ERASED``.

        Inside ``keeping`` (and given the event's ``origin``: its request id and version), the
        envelopes that opened are kept for the views (``kept``).
        """
        paths = _SEALABLE.get(event_class)
        if paths is None:
            if event_class is _FORGOTTEN:
                self.forgot(str(state.get("customer_id")))
            return
        keep: dict[tuple[UUID, int], dict[FieldPath, Envelope]] | None = getattr(
            self._local, "kept", None
        )
        opened: dict[FieldPath, Envelope] | None = None
        for path in paths:
            holder, name = _holder(state, path)
            if holder is None:
                continue
            envelope = holder.get(name)
            if isinstance(envelope, dict) and is_envelope(envelope):
                text = holder[name] = self._open(envelope, path)
                if keep is not None and text not in (ERASED, _ERASED_LIST):
                    if opened is None:
                        opened = {}
                    opened[path] = envelope
        if opened is not None and keep is not None and origin is not None:
            keep[origin] = opened

    # -- the views -------------------------------------------------------------------------

    @contextlib.contextmanager
    def keeping(self) -> Iterator[None]:
        """While it lasts, this thread keeps the envelopes of the fields it opens (``kept``).

        The projector decodes a batch and applies it inside one: a view then stores a personal
        field as the very envelope its event holds (same key, same bytes), so a followed view
        equals a rebuild byte for byte and holds nothing in clear. Nested, the outer one keeps.
        """
        local = self._local
        if getattr(local, "kept", None) is not None:
            yield
            return
        local.kept = {}
        try:
            yield
        finally:
            local.kept = None

    def kept(self, request_id: UUID, version: int) -> Mapping[FieldPath, Envelope] | None:
        """The envelopes that opened in an event decoded inside this thread's ``keeping``.

        In memory, else those this key ring sealed the event with (taken: asked once).
        """
        keep: dict[tuple[UUID, int], dict[FieldPath, Envelope]] | None = getattr(
            self._local, "kept", None
        )
        found = None if keep is None else keep.get((request_id, version))
        if found is None and self._sealed:
            found = self._sealed.pop((request_id, version), None)
        return found

    def seal_fields(
        self, data: dict[str, Any], paths: Sequence[FieldPath], request_id: UUID, version: int
    ) -> None:
        """Put back, at ``paths`` of a view's JSON, the envelopes its event was stored with.

        The event must have been decoded inside this thread's ``keeping``: a personal text
        with no envelope kept is refused (``StoreError``) rather than stored in clear. A field
        read as ``ERASED`` (its key was destroyed) stays ``ERASED``.
        """
        kept = self.kept(request_id, version) or {}
        for path in paths:
            holder, name = _holder(data, path)
            if holder is None:
                continue
            envelope = kept.get(path)
            if envelope is not None:
                holder[name] = envelope
                continue
            value = holder.get(name)
            if isinstance(value, str) and value and value != ERASED:
                msg = (
                    f"no sealed envelope kept for {'.'.join(path)} of {request_id} v{version}: "
                    "a view may not hold it in clear"
                )
                raise StoreError(msg)

    def open_fields(self, data: dict[str, Any], paths: Sequence[FieldPath]) -> None:
        """Replace the envelopes at ``paths`` of a view's JSON by their text, or ``ERASED``."""
        for path in paths:
            holder, name = _holder(data, path)
            if holder is None:
                continue
            envelope = holder.get(name)
            if isinstance(envelope, dict) and is_envelope(envelope):
                holder[name] = self._open(envelope, path)

    def _open(self, envelope: dict[str, Any], path: FieldPath) -> Any:  # noqa: ANN401 - text or list
        """The text an envelope seals (a list for a "json" one), or what it reads as erased."""
        listed = bool(envelope.get("json"))
        cipher = self._cipher(str(envelope["key"]))
        if cipher is None:
            return list(_ERASED_LIST) if listed else ERASED
        try:
            sealed = base64.b64decode(envelope["sealed"])
            plain = cipher.decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(path))
            return orjson.loads(plain) if listed else str(plain.decode())
        except Exception as error:  # noqa: BLE001 - base64, AES-GCM and UTF-8 each raise their own
            msg = f"cannot open a sealed field ({'.'.join(path)}): {error!r}; was it altered?"
            raise StoreError(msg) from None

    def _cipher(self, key_id: str) -> Any:  # noqa: ANN401 - cryptography's AESGCM or None
        entry = self._ciphers.get(key_id)
        if entry is not None:
            return entry[1]
        if self._read is None:
            row = self._rows.get(key_id)
            if row is None or row[1] is None:
                return None
            return self._remember(key_id, row[0], row[1])
        generation = self._generation
        with self._read() as tx:
            rows = tx.query(
                f"SELECT customer_id, key_material FROM {tx.dialect.table(KEYS_TABLE)} "  # noqa: S608
                "WHERE key_id = ?",
                (key_id,),
            )
        if not rows:
            return None  # no such key: nothing to open it with (not remembered)
        customer_id, material = rows[0]["customer_id"], rows[0]["key_material"]
        key = None if material is None else base64.b64decode(material)
        with self._lock:
            if generation != self._generation:
                # Keys were destroyed while this one was read: not remembered, maybe stale.
                return None if key is None else _aesgcm(key)
        return self._remember(key_id, customer_id, key)

    def _remember(self, key_id: str, customer_id: str, key: bytes | None) -> Any:  # noqa: ANN401
        cipher = None if key is None else _aesgcm(key)
        with self._lock:
            if len(self._ciphers) >= _MAX_CACHED:
                self._ciphers.clear()
                self._current.clear()
                self._ciphers.update({k: self._cached(k) for k in self._unstored})
            self._ciphers[key_id] = (customer_id, cipher)
        return cipher

    # -- the hooks of the events' transaction ----------------------------------------------

    def record(self, tx: Tx, stored: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        """A recording hook: store the rows of new keys; destroy the keys of forgotten customers."""
        del ids
        used = self._used()
        if used:
            with self._lock:
                rows = [(k, *self._unstored[k]) for k in sorted(used) if k in self._unstored]
            tx.executemany(
                f"INSERT INTO {tx.dialect.table(KEYS_TABLE)} "  # noqa: S608
                "(key_id, customer_id, key_material, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key_id) DO NOTHING",
                rows,
            )
        forgotten = [s for s in stored if s.topic == _FORGOTTEN_TOPIC]
        if forgotten:
            for event in forgotten:
                self.destroy(tx, self._forgotten_customer(event))
            self._local.destroyed = True

    def _forgotten_customer(self, stored: StoredEvent) -> str:
        # Decoded through the codec: the events of an encrypted store are ciphertext.
        event: Any = self._decode(stored)
        return str(event.customer_id)

    def destroy(self, tx: Tx, customer_id: str) -> int:
        """Destroy every live key of a customer (in ``tx``); returns how many."""
        now = micros(datetime.now().astimezone())
        table = tx.dialect.table(KEYS_TABLE)
        found = tx.query(
            f"SELECT key_id FROM {table} WHERE customer_id = ? "  # noqa: S608
            "AND key_material IS NOT NULL",
            (customer_id,),
        )
        tx.execute(
            f"UPDATE {table} SET key_material = NULL, forgotten_at = ? "  # noqa: S608
            "WHERE customer_id = ? AND key_material IS NOT NULL",
            (now, customer_id),
        )
        tx.execute(
            f"UPDATE {tx.dialect.table(SETTINGS_TABLE)} SET generation = generation + 1 "  # noqa: S608
            "WHERE id = 1"
        )
        with self._lock:
            # The rows are gone once this commits; until it does nothing seals under them.
            for key_id, entry in list(self._ciphers.items()):
                if entry[0] == customer_id:
                    del self._ciphers[key_id]
            self._current.pop(customer_id, None)
            for key_id in [k for k, row in self._unstored.items() if row[0] == customer_id]:
                del self._unstored[key_id]
        return len(found)

    def outcome(self, committed: bool) -> None:  # noqa: FBT001 - the hook's signature
        """An outcome hook: the keys this thread's insert carried are stored, if it committed."""
        used = self._used()
        destroyed = getattr(self._local, "destroyed", False)
        self._local.destroyed = False
        if committed and used:
            with self._lock:
                for key_id in used:
                    self._unstored.pop(key_id, None)
        used.clear()
        if destroyed:
            self.dropped()

    # -- forgetting ------------------------------------------------------------------------

    def destroy_in_memory(self, customer_id: str) -> int:
        """Destroy a customer's keys in a store in memory; returns how many were live."""
        with self._lock:
            live = [k for k, (c, key) in self._rows.items() if c == customer_id and key is not None]
            for key_id in live:
                self._rows[key_id] = (customer_id, None)
            for key_id, entry in list(self._ciphers.items()):
                if entry[0] == customer_id:
                    del self._ciphers[key_id]
            self._current.pop(customer_id, None)
        self.dropped()
        return len(live)

    def keys_of(self, customer_id: str) -> tuple[int, int]:
        """How many keys of a customer are live and how many destroyed."""
        if self._read is None:
            with self._lock:
                rows = [key for c, key in self._rows.values() if c == customer_id]
            return sum(k is not None for k in rows), sum(k is None for k in rows)
        with self._read() as tx:
            found = tx.query(
                "SELECT SUM(CASE WHEN key_material IS NULL THEN 0 ELSE 1 END) AS live, "  # noqa: S608
                "SUM(CASE WHEN key_material IS NULL THEN 1 ELSE 0 END) AS gone "
                f"FROM {tx.dialect.table(KEYS_TABLE)} WHERE customer_id = ?",
                (customer_id,),
            )
        return int(found[0]["live"] or 0), int(found[0]["gone"] or 0)

    def forgot(self, customer_id: str) -> None:
        """A ``CustomerForgotten`` was read from the log: drop the customer's keys from memory.

        A follower replaying the log reads it before the customer's later events, so those
        are opened with the key's state in the table, never with one remembered from before.
        """
        with self._lock:
            for key_id, entry in list(self._ciphers.items()):
                if entry[0] == customer_id and key_id not in self._unstored:
                    del self._ciphers[key_id]
            if self._current.get(customer_id) not in self._unstored:
                self._current.pop(customer_id, None)

    def on_dropped(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever keys were destroyed (to drop what was read with them)."""
        self._listeners.append(listener)

    def dropped(self) -> None:
        """Keys were destroyed: forget every key held in memory and tell the listeners."""
        with self._lock:
            self._generation += 1
            if self._read is not None:
                self._ciphers = {k: self._cached(k) for k in self._unstored}
                self._current = {c: k for k, (c, _, _) in self._unstored.items()}
        for listener in self._listeners:
            listener()

    def refresh(self) -> None:
        """Notice keys another process destroyed since (one single-row read): drop them here."""
        if self._read is None:
            return
        with self._read() as tx:
            rows = tx.query(
                f"SELECT generation FROM {tx.dialect.table(SETTINGS_TABLE)} WHERE id = 1"  # noqa: S608
            )
        stored = int(rows[0]["generation"]) if rows else 0
        known, self._stored_generation = self._stored_generation, stored
        if known is not None and known != stored:
            self.dropped()


def _holder(state: dict[str, Any], path: FieldPath) -> tuple[dict[str, Any] | None, str]:
    """The dict that holds a path's last key (None if the path is not there), and that key."""
    holder: Any = state
    for part in path[:-1]:
        holder = holder.get(part) if isinstance(holder, dict) else None
    return (holder if isinstance(holder, dict) else None), path[-1]


def _aad(path: FieldPath) -> bytes:
    """What a ciphertext is bound to besides its key: the field it seals."""
    return ".".join(path).encode()
