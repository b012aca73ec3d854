"""The pydantic <-> stored-event mapper and the orjson transcoder.

``eventsourcing`` 9.5 maps dataclass events only. servflow's events are pydantic models:
this mapper stores ``model_dump(mode="json")`` as compact JSON (so an auditor can read a
stored payload with any JSON tool) and rebuilds the event by validating it again. Upcasting
keeps the library's convention: a stored ``class_version`` below the class's own is raised
one step at a time through the class's ``upcast_vN_vM`` static methods.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel

from servflow.errors import StoreError

__all__ = ["OrjsonTranscoder", "PydanticMapper"]

_ID_FIELDS = {"originator_id", "originator_version"}


class OrjsonTranscoder(Transcoder):
    """JSON bytes through orjson: compact, fast, and readable by any JSON tool."""

    def encode(self, obj: Any) -> bytes:  # noqa: ANN401 - any JSON value
        """Serialise a JSON-compatible object."""
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:  # noqa: ANN401 - any JSON value
        """Parse bytes written by ``encode``."""
        return orjson.loads(data)


class PydanticMapper(Mapper[UUID]):
    """Maps pydantic domain events to stored events and back, with upcasting."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """Serialise an event; id and version live in their own columns, not the payload."""
        model = cast("BaseModel", domain_event)
        state = model.model_dump(mode="json", exclude=_ID_FIELDS)
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = self.transcoder.encode(state)
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

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Rebuild (and validate) an event, upcasting older versions of its class first."""
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state: dict[str, Any] = self.transcoder.decode(data)
        except Exception as error:  # noqa: BLE001 - cipher, zlib and JSON each raise their own
            msg = (
                f"cannot read stored event {stored_event.originator_id} "
                f"v{stored_event.originator_version}: {error!r}; is the desk configured with the "
                "cipher key and compressor the events were written with?"
            )
            raise StoreError(msg) from None
        event_class: type[Any] = resolve_topic(stored_event.topic)
        version = state.pop("class_version", 1)
        target = getattr(event_class, "class_version", 1)
        while version < target:
            getattr(event_class, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(str(originator_id))
        return cast(
            "DomainEventProtocol[UUID]",
            event_class(
                originator_id=originator_id,
                originator_version=stored_event.originator_version,
                **state,
            ),
        )
