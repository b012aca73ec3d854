"""The stored schema as the tests see it: every event class servflow records."""

from __future__ import annotations

from eventsourcing.utils import get_topic

from servflow.domain.base import EventSourced


def stored_event_classes() -> list[type[EventSourced.Event]]:
    """Every event class servflow records (the library's ``Created`` aliases left out)."""
    found: list[type[EventSourced.Event]] = []
    pending: list[type[EventSourced.Event]] = [EventSourced.Event]
    while pending:
        cls = pending.pop()
        children = cls.__subclasses__()
        pending.extend(children)
        local = "<locals>" in cls.__qualname__ or not cls.__module__.startswith("servflow.")
        if not children and cls.__name__ != "Created" and not local:
            found.append(cls)
    return sorted(found, key=get_topic)
