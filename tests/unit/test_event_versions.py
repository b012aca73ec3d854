"""Every stored event class has a version and a path from each older version to it.

Event classes, their module paths and field names are stored schema: an event changes by
raising its ``class_version`` and adding the ``upcast_vN_vM`` static method that lifts a
stored older state, never by renaming. This guard fails for a class whose version skips a
step, and ``tests/integration/test_stored_fixture.py`` replays a log stored by 0.1.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic

from stored_schema import stored_event_classes


def test_there_are_stored_event_classes_to_guard() -> None:
    topics = {get_topic(cls) for cls in stored_event_classes()}
    assert "servflow.domain.request:ServiceRequest.Opened" in topics
    assert "servflow.domain.sla:SlaPolicyBook.PolicyAdopted" in topics


def test_every_event_class_has_a_version_and_an_upcasting_path() -> None:
    for cls in stored_event_classes():
        version = getattr(cls, "class_version", 1)
        assert isinstance(version, int), cls
        assert version >= 1, cls
        for step in range(1, version):
            upcast = getattr(cls, f"upcast_v{step}_v{step + 1}", None)
            assert callable(upcast), f"{get_topic(cls)} v{version} cannot lift a v{step} state"
