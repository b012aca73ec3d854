"""The pydantic <-> stored-event mapper and the orjson transcoder.

``eventsourcing`` 9.5 maps dataclass events only. servflow's events are pydantic models:
this mapper stores ``model_dump(mode="json")`` as compact JSON (so an auditor can read a
stored payload with any JSON tool) and rebuilds the event by validating it again. Upcasting
keeps the library's convention: a stored ``class_version`` below the class's own is raised
one step at a time through the class's ``upcast_vN_vM`` static methods.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel, ValidationError

from servflow.domain.base import DomainEvent
from servflow.errors import (
    CorruptEventError,
    StoreError,
    ValidationFailedError,
    shown,
)

if TYPE_CHECKING:
    from servflow.persistence.erasure import KeyRing

__all__ = ["MAX_EVENT_BYTES", "OrjsonTranscoder", "PydanticMapper", "topic_class"]

_ID_FIELDS = {"originator_id", "originator_version"}
#: The most bytes one event's JSON may take (before compression and encryption): each field
#: has its own limit, and this one bounds what they add up to (docs/reference/events.md#limits).
MAX_EVENT_BYTES = 256 * 1024


def _class_version(event_class: type[Any]) -> int:
    """The ``class_version`` an event class declares (1 if none), looked up once per class.

    A missing class attribute goes through pydantic's metaclass ``__getattr__``, which raises
    and catches an ``AttributeError``: that costs more than validating a small event, on every
    event read or written.
    """
    version = _CLASS_VERSIONS.get(event_class)
    if version is None:
        version = int(getattr(event_class, "class_version", 1))
        _CLASS_VERSIONS[event_class] = version
    return version


def _validates_directly(event_class: type[Any]) -> bool:
    """Whether ``model_validate`` builds this class exactly as calling it would.

    True for pydantic models that keep ``BaseModel.__init__``: both run the same validator,
    but ``model_validate`` skips the keyword-argument round trip through ``__init__``.
    """
    direct = _DIRECT.get(event_class)
    if direct is None:
        direct = issubclass(event_class, BaseModel) and event_class.__init__ is BaseModel.__init__
        _DIRECT[event_class] = direct
    return direct


_CLASS_VERSIONS: dict[type[Any], int] = {}
_DIRECT: dict[type[Any], bool] = {}

#: Keys no servflow version stores in a payload (the ids have their own columns): a payload
#: that names one goes the dict way, which refuses it as it always did. A key can be spelt
#: otherwise only with ``\\u`` escapes (which orjson writes for control characters alone):
#: such a payload goes the dict way too, so the byte test is exact.
_ID_KEYS = ('"originator_id"', '"originator_version"', "\\u")
#: What ends a payload the mapper stored for each class version above 1.
_VERSION_SUFFIXES: dict[int, bytes] = {}
#: The front spliced into a payload: the id fields, then the payload's own.
_Head = tuple[UUID, str]


def _version_suffix(target: int) -> bytes:
    suffix = _VERSION_SUFFIXES.get(target)
    if suffix is None:
        suffix = _VERSION_SUFFIXES.setdefault(target, b',"class_version":%d}' % target)
    return suffix


class OrjsonTranscoder(Transcoder):
    """JSON bytes through orjson: compact, fast, and readable by any JSON tool."""

    def encode(self, obj: Any) -> bytes:  # noqa: ANN401 - any JSON value
        """Serialise a JSON-compatible object."""
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:  # noqa: ANN401 - any JSON value
        """Parse bytes written by ``encode``."""
        return orjson.loads(data)


class PydanticMapper(Mapper[UUID]):
    """Maps pydantic domain events to stored events and back, with upcasting.

    In an erasable store its ``keyring`` seals the personal fields of the events it stores
    (before the size check, which counts what is stored) and opens them as it reads them.
    """

    #: The key ring of an erasable store (``servflow.persistence.erasure``), else None.
    keyring: KeyRing | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """Serialise an event; id and version live in their own columns, not the payload."""
        model = cast("BaseModel", domain_event)
        state = model.model_dump(mode="json", exclude=_ID_FIELDS)
        keyring = self.keyring
        if keyring is not None:
            keyring.seal(state, domain_event)
        class_version = _class_version(type(domain_event))
        if class_version > 1:
            state["class_version"] = class_version
        try:
            data = self.transcoder.encode(state)
        except orjson.JSONEncodeError as error:
            raise _unstorable(domain_event, f"it cannot be written as JSON ({error})") from None
        if len(data) > MAX_EVENT_BYTES:
            raise _unstorable(
                domain_event,
                f"it would take {len(data):,} bytes, more than the {MAX_EVENT_BYTES:,} an event "
                "may; shorten its texts or lists",
            )
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=data,
        )

    #: Asked once, on the first event whose bytes cannot be read: whether the store holds any
    #: event this desk can read (see ``readable``). If not, the desk's cipher key or compressor
    #: is not the store's: that is a ``StoreError`` about the settings, not a corrupt event.
    probe: Callable[[], bool] | None = None
    _settings_proven = False

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Rebuild (and validate) an event, upcasting older versions of its class first.

        An event stored by this class version, in a store that seals nothing, is validated
        straight from its JSON bytes (``_from_json``); any other (older versions to upcast,
        sealed fields to open, a payload the shortcut does not take) goes through a dict.
        Whatever cannot be read back (bytes, topic, fields, upcasting) raises
        ``CorruptEventError`` naming the request and version; the ``try`` blocks cost nothing
        until something fails.
        """
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
        except Exception as error:  # noqa: BLE001 - cipher and zlib each raise their own
            raise self._unreadable(stored_event, error) from None
        event_class = _EVENT_CLASSES.get(stored_event.topic)
        if event_class is None:
            event_class = _event_class(stored_event)
        if self.keyring is None and type(self.transcoder) is OrjsonTranscoder:
            event = self._from_json(data, stored_event, event_class)
            if event is not None:
                return event
        try:
            state: dict[str, Any] = self.transcoder.decode(data)
        except Exception as error:  # noqa: BLE001 - JSON parsers each raise their own
            raise self._unreadable(stored_event, error) from None
        return self._from_state(state, stored_event, event_class)

    #: The id front last spliced in: the events of one request come together.
    _head: _Head | None = None

    def _from_json(
        self, data: object, stored_event: StoredEvent, event_class: type[Any]
    ) -> DomainEventProtocol[UUID] | None:
        """The event validated straight from its JSON bytes, or None: then the dict way decides.

        The mapper writes compact JSON without the id fields, with ``"class_version":N`` last
        when the class's version is above 1. A payload of the class's version gets the id
        fields spliced in front and goes through pydantic's JSON parser: one pass, no dict in
        between, the same validators, an equal event (a property test compares both ways).
        Anything else returns None (an older version to upcast, a payload not as the mapper
        writes it, any failure), so the dict way gives the result, or the error, it always
        did: a leftover ``class_version`` or unknown key fails here (``extra="forbid"``).
        """
        if type(data) is not bytes or not _validates_directly(event_class):
            return None
        target = _class_version(event_class)
        if target > 1:
            suffix = _version_suffix(target)
            if not data.endswith(suffix):
                return None
            data = data[: -len(suffix)] + b"}"
        originator_id = stored_event.originator_id
        version = stored_event.originator_version
        head = self._head
        try:
            # Searched as text: CPython finds a ``str`` in a ``str`` faster than ``bytes``.
            text = data.decode()
            if _ID_KEYS[0] in text or _ID_KEYS[1] in text or _ID_KEYS[2] in text:
                return None
            if head is None or not (head[0] is originator_id or head[0] == originator_id):
                if not isinstance(originator_id, UUID):
                    originator_id = UUID(str(originator_id))
                head = (originator_id, f'{{"originator_id":"{originator_id}","originator_version":')
                self._head = head  # one assignment: threads sharing the mapper see a whole pair
            event = event_class.__pydantic_validator__.validate_json(
                f"{head[1]}{version:d},{text[1:]}"
            )
        except Exception:  # noqa: BLE001 - the dict way reports what is wrong, as it always did
            return None
        return cast("DomainEventProtocol[UUID]", event)

    def _from_state(
        self, state: dict[str, Any], stored_event: StoredEvent, event_class: type[Any]
    ) -> DomainEventProtocol[UUID]:
        """The event validated from its parsed payload: unsealed, upcast, then validated."""
        try:
            originator_id = stored_event.originator_id
            if not isinstance(originator_id, UUID):
                originator_id = UUID(str(originator_id))
            keyring = self.keyring
            if keyring is not None:
                keyring.unseal(state, event_class, (originator_id, stored_event.originator_version))
            version = state.pop("class_version", 1)
            target = _class_version(event_class)
            while version < target:
                getattr(event_class, f"upcast_v{version}_v{version + 1}")(state)
                version += 1
            if _validates_directly(event_class) and _ID_FIELDS.isdisjoint(state):
                # The same validation as ``event_class(**state)`` (the payload is not trusted
                # blindly), without unpacking the payload into keyword arguments and back.
                state["originator_id"] = originator_id
                state["originator_version"] = stored_event.originator_version
                return cast("DomainEventProtocol[UUID]", event_class.model_validate(state))
            return cast(
                "DomainEventProtocol[UUID]",
                event_class(
                    originator_id=originator_id,
                    originator_version=stored_event.originator_version,
                    **state,
                ),
            )
        except Exception as error:  # noqa: BLE001 - pydantic, upcasters, a payload not an object
            raise _corrupt(stored_event, "invalid", _reason(error)) from None

    def readable(self, stored_event: StoredEvent) -> bool:
        """Whether this mapper's cipher, compressor and JSON parser read the event's bytes."""
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            self.transcoder.decode(data)
        except Exception:  # noqa: BLE001 - cipher, zlib and JSON each raise their own
            return False
        return True

    def _unreadable(self, stored_event: StoredEvent, error: Exception) -> StoreError:
        """The error for bytes that do not decode: a corrupt event, or the wrong settings."""
        if not self._settings_proven:
            probe = self.probe
            if probe is not None and not probe():
                msg = (
                    f"cannot read stored event {stored_event.originator_id} "
                    f"v{stored_event.originator_version}: {error!r}; is the desk configured with "
                    "the cipher key and compressor the events were written with?"
                )
                return StoreError(msg)
            self._settings_proven = True
        return _corrupt(
            stored_event,
            "unreadable",
            f"{_reason(error)} (the bytes do not decode with the desk's cipher key, compressor "
            "and JSON parser)",
        )


def _event_class(stored_event: StoredEvent) -> type[Any]:
    """The event class a stored topic names, or ``CorruptEventError``: only servflow's events.

    A topic is a module path: resolving one an attacker wrote must not reach any other class
    or function (which the mapper would then call with the payload).
    """
    topic = stored_event.topic
    if not topic.startswith("servflow.") and topic.partition(":")[0] not in sys.modules:
        # Not even imported: importing a module an attacker named could run its code.
        raise _corrupt(stored_event, "unknown_topic", f"{shown(topic)} is not a servflow event")
    try:
        found = resolve_topic(topic)
    except Exception as error:  # noqa: BLE001 - a missing module or attribute, a malformed topic
        raise _corrupt(stored_event, "unknown_topic", _reason(error)) from None
    if not (isinstance(found, type) and issubclass(found, DomainEvent)):
        raise _corrupt(stored_event, "unknown_topic", f"{shown(topic)} is not a servflow event")
    _EVENT_CLASSES[topic] = found
    return found


_EVENT_CLASSES: dict[str, type[Any]] = {}


def topic_class(topic: str) -> type[Any] | None:
    """The event class a stored topic names, as the mapper reads it; None if it names none."""
    found = _EVENT_CLASSES.get(topic)
    if found is None:
        probe = StoredEvent(originator_id=UUID(int=0), originator_version=0, topic=topic, state=b"")
        try:
            found = _event_class(probe)
        except CorruptEventError:
            return None
    return found


def _corrupt(stored_event: StoredEvent, kind: str, reason: str) -> CorruptEventError:
    """The error for a stored event that cannot be read back (position: a notification's id)."""
    originator_id = stored_event.originator_id
    try:
        request_id = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
    except ValueError:
        request_id = None
    position = getattr(stored_event, "id", None)
    return CorruptEventError(
        request_id=request_id,
        version=stored_event.originator_version,
        reason=reason,
        kind=kind,
        topic=stored_event.topic,
        position=position if isinstance(position, int) else None,
    )


#: The most field problems a corrupt event's reason lists, and the most of an error's words.
_LISTED = 3
_LONGEST_REASON = 200


def _reason(error: Exception) -> str:
    """What went wrong, in one short line (pydantic's field problems, or the error's words)."""
    if isinstance(error, ValidationError):
        problems = [
            f"{'.'.join(map(str, detail['loc'])) or 'payload'}: {detail['msg']}"
            for detail in error.errors(include_url=False)
        ]
        listed = "; ".join(problems[:_LISTED])
        more = len(problems) - _LISTED
        return listed + (f"; and {more:,} more" if more > 0 else "")
    text = " ".join(str(error).split())
    if len(text) > _LONGEST_REASON:
        text = text[:_LONGEST_REASON] + "..."
    return f"{type(error).__name__}: {text}"


def _unstorable(event: DomainEventProtocol[UUID], problem: str) -> ValidationFailedError:
    """The refusal of an event the store cannot keep: nothing of it is recorded."""
    name = type(event).__qualname__
    return ValidationFailedError(
        f"{event.originator_id} v{event.originator_version}: refused {name}: {problem}",
        request_id=event.originator_id,
        errors=(("event", problem),),
    )
