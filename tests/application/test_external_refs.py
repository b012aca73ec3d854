"""External references: a request's id in the system it came from, unique per source, a ref."""

from __future__ import annotations

import io
import json

import pytest

from conftest import DeskFactory, open_one
from servflow import (
    DuplicateExternalRefError,
    ExternalRef,
    RequestNotFoundError,
    ServiceDesk,
    ValidationFailedError,
)


def test_a_request_opened_with_an_external_ref_carries_it(desk: ServiceDesk) -> None:
    request = open_one(desk, external_ref="INC0012345", external_source="ServiceNow")
    assert (request.external_ref, request.external_source) == ("INC0012345", "servicenow")
    assert request.external == ExternalRef(ref="INC0012345", source="servicenow")
    assert str(request.external) == "ext:servicenow:INC0012345"
    plain = open_one(desk)
    assert (plain.external_ref, plain.external_source, plain.external) == (None, None, None)


def test_an_external_ref_names_its_request_wherever_a_ref_is_accepted(desk: ServiceDesk) -> None:
    first = open_one(desk, external_ref="INC1")
    second = open_one(desk, external_ref="INC1", external_source="bpi")
    assert desk.get("ext:INC1").id == first.id
    assert desk.get(" ext:INC1 ").id == first.id
    assert desk.get("EXT:bpi:INC1").id == second.id
    assert desk.get(ExternalRef(ref="INC1", source="BPI")).id == second.id
    assert desk.resolve("ext:bpi:INC1") == second.id
    assert desk.exists("ext:INC1")
    assert not desk.exists("ext:INC2")
    desk.classify("ext:INC1", priority="high", actor="agent:lead")
    desk.classify("ext:bpi:INC1", priority="low", actor="agent:lead")
    assigned = desk.assign("ext:bpi:INC1", team="network", actor="agent:lead")
    assert assigned.ticket_code == second.ticket_code
    assert [e.event_type for e in desk.history("ext:INC1")] == ["Opened", "Classified"]
    assert desk.sla("ext:INC1").resolution.target is not None
    out = io.StringIO()
    desk.export(out, request="ext:bpi:INC1")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["data"]["external_ref"] == "INC1"
    assert records[0]["data"]["external_source"] == "bpi"


def test_a_second_request_with_the_same_external_ref_is_refused(desk: ServiceDesk) -> None:
    first = open_one(desk, external_ref="INC1", external_source="servicenow")
    with pytest.raises(DuplicateExternalRefError) as refused:
        open_one(desk, external_ref="INC1", external_source="SERVICENOW")
    assert refused.value.code == "duplicate_external_ref"
    assert (refused.value.request_id, refused.value.ticket_code) == (first.id, first.ticket_code)
    assert "ext:servicenow:INC1" in str(refused.value)
    assert len(list(desk.request_ids())) == 1  # nothing recorded
    # The same ref from another source, or without a source, is another reference.
    assert open_one(desk, external_ref="INC1").ticket_code == "SR-000002"
    assert open_one(desk, external_ref="inc1", external_source="servicenow").external_ref == "inc1"


@pytest.mark.parametrize(
    ("ref", "source"),
    [
        ("", None),
        ("INC 1", None),
        ("A:B", None),
        ("x" * 101, None),
        ("INC1", "service now"),
        ("INC1", "a:b"),
        ("INC1", ""),
    ],
)
def test_a_malformed_external_ref_is_refused_and_records_nothing(
    desk: ServiceDesk, ref: str, source: str | None
) -> None:
    with pytest.raises(ValidationFailedError):
        open_one(desk, external_ref=ref, external_source=source)
    assert list(desk.request_ids()) == []


def test_a_source_without_an_external_ref_is_refused(desk: ServiceDesk) -> None:
    with pytest.raises(ValidationFailedError, match="external_source"):
        open_one(desk, external_source="servicenow")


def test_a_ref_with_a_colon_needs_its_source_and_resolves_with_it(desk: ServiceDesk) -> None:
    request = open_one(desk, external_ref="urn:x:1", external_source="jira")
    assert desk.get("ext:jira:urn:x:1").id == request.id


def test_an_unknown_external_ref_is_not_found(desk: ServiceDesk) -> None:
    with pytest.raises(RequestNotFoundError, match="no request has this external reference"):
        desk.get("ext:INC404")
    with pytest.raises(RequestNotFoundError):
        desk.classify("ext:servicenow:INC404", priority="low", actor="agent:lead")


def test_queue_rows_show_the_external_ref(desk: ServiceDesk) -> None:
    open_one(desk, external_ref="INC1", external_source="servicenow")
    open_one(desk)
    rows = desk.queue().rows
    assert [(r.external_ref, r.external_source) for r in rows] == [
        ("INC1", "servicenow"),
        (None, None),
    ]


def test_external_refs_survive_a_rebuild_and_a_reopened_store(
    make_desk: DeskFactory, store: str
) -> None:
    desk = make_desk()
    request = open_one(desk, external_ref="INC7", external_source="bpi")
    desk.rebuild_projections()
    assert desk.queue().rows[0].external_ref == "INC7"
    if store == "memory":
        return  # an in-memory store ends with its desk
    again = make_desk()
    assert again.get("ext:bpi:INC7").id == request.id
    with pytest.raises(DuplicateExternalRefError):
        open_one(again, external_ref="INC7", external_source="bpi")
