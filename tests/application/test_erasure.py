"""Crypto-shredding on every store: personal data sealed per customer, forgotten for good.

The stored events never hold a customer's name or the texts they wrote in clear; forgetting the
customer destroys their keys, after which every answer (requests, history, exports, the audit
view, another desk on the same store) shows those fields as ``ERASED``, while the log verifies,
the KPIs stay the same and a rebuild gives the very rows the views hold.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from conftest import DeskFactory, FakeClock, view_rows
from servflow import (
    ERASED,
    ConfigurationError,
    CustomerNotFoundError,
    PermissionDeniedError,
    Request,
    ServiceDesk,
    ValidationFailedError,
)

NAME = "Ana Pérez Quintana"
SYMPTOM = "My router at Calle Mayor 5 drops every evening"
NOTE = "Serial is XK-99812; call me on 600 123 456"
COMMENT = "Thanks, Luis was very kind"
REOPEN = "It dropped again at my flat in Getafe"
SECRETS = (NAME, SYMPTOM, NOTE, COMMENT, REOPEN)
#: What the desk wrote: never personal, never erased.
FINDINGS = "Drops at 21:00 daily"
RESOLUTION = "Firmware 2.1 installed"


def own(text: str, customer: str) -> str:
    """Acme's text as written; another customer's, reversed (so no one's contains another's)."""
    return text if customer == "acme" else text[::-1]


def worked(desk: ServiceDesk, clock: FakeClock, customer: str = "acme") -> Request:
    """A request of ``customer`` taken through replies, a reopening and an acceptance."""
    request = desk.open(
        customer={"id": customer, "name": own(NAME, customer), "tier": "premium"},
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom=own(SYMPTOM, customer),
        synthesis="Line drops nightly",
        actor="agent:ana",
    )
    clock.advance(minutes=5)
    desk.classify(request, priority="high", actor="agent:ana")
    desk.assign(request, team="network", agent="ana", actor="agent:ana")
    desk.wait_on_customer(request, reason="Need the serial number", actor="agent:ana")
    clock.advance(minutes=30)
    desk.customer_responded(request, note=own(NOTE, customer), actor=f"customer:{customer}")
    desk.probe(request, questions=["When?"], findings=FINDINGS, actor="agent:ana")
    desk.complete(request, outcome="resolved", resolution="First try", actor="agent:ana")
    clock.advance(hours=1)
    desk.reopen(request, reason=own(REOPEN, customer), actor=f"customer:{customer}")
    desk.complete(request, outcome="resolved", resolution=RESOLUTION, actor="agent:ana")
    clock.advance(hours=1)
    return desk.accept(
        request, satisfaction=4, comment=own(COMMENT, customer), actor=f"customer:{customer}"
    )


def stored_payloads(desk: ServiceDesk) -> list[bytes]:
    """Every stored event's bytes, as the store holds them."""
    recorder = desk._stores.store.recorder
    return [bytes(n.state) for n in recorder.select_notifications(start=1, limit=10_000)]


def table_texts(desk: ServiceDesk) -> str:
    """Every value of every view, chain and key table, as text (one big haystack)."""
    projector = desk._stores.projector
    found: list[str] = []
    with projector.views.transaction(commit=False) as tx:
        tables = [p.t(t) for p in projector.projections.values() for t in p.tables()]
        tables += [tx.dialect.table(t) for t in ("sf_chain", "sf_keys", "sf_erasure")]
        for table in tables:
            found += [repr(row) for row in tx.query(f"SELECT * FROM {table}")]  # noqa: S608
    return "\n".join(found)


def exported(desk: ServiceDesk, **criteria: Any) -> str:
    out = io.StringIO()
    desk.export(out, **criteria)
    return out.getvalue()


def test_personal_data_is_stored_sealed_and_reads_back_in_clear(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)
    request = worked(desk, clock)
    payloads = b"\n".join(stored_payloads(desk))
    for secret in SECRETS:
        assert secret.encode() not in payloads
    assert FINDINGS.encode() in payloads  # what the desk wrote stays readable
    assert b'"sealed"' in payloads
    assert desk.erasable
    got = desk.get(request)
    assert (got.customer.name, got.symptom, got.acceptance_comment) == (NAME, SYMPTOM, COMMENT)
    notes = [
        e.data.get("note") for e in desk.history(request) if e.event_type == "CustomerResponded"
    ]
    assert notes == [NOTE]
    assert NOTE in exported(desk)
    assert desk.verify().intact


def test_forgetting_a_customer_erases_them_everywhere_and_keeps_the_log_whole(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)
    request = worked(desk, clock)
    other = worked(desk, clock, customer="globex")
    since, until = clock.now - timedelta(days=1), clock.now + timedelta(days=1)
    at = clock.now
    kpis_before = desk.kpis(since=since, until=until, at=at)
    queue_before = desk.queue(status=["closed"]).rows
    clock.advance(minutes=1)

    done = desk.forget_customer("acme", actor="supervisor:eva")

    assert (done.customer_id, done.keys_destroyed, done.recorded) == ("acme", 1, True)
    assert done.forgotten_at == clock.now
    got = desk.get(request)
    assert (got.customer.id, got.customer.name, got.customer.tier) == ("acme", ERASED, "premium")
    assert (got.symptom, got.synthesis, got.acceptance_comment) == (ERASED, ERASED, ERASED)
    assert (got.resolution, got.satisfaction) == (RESOLUTION, 4)
    assert desk.get(request, version=1).customer.name == ERASED
    assert desk.get(request, as_of=clock.now).symptom == ERASED
    history = {e.event_type: e.data for e in desk.history(request)}
    assert history["CustomerResponded"]["note"] == ERASED
    assert history["Reopened"]["reason"] == ERASED
    assert history["Probed"]["findings"] == FINDINGS
    text = exported(desk) + exported(desk, format="csv") + exported(desk, request=request)
    for secret in SECRETS:
        assert secret not in text
    assert ERASED in text
    assert own(NAME, "globex") in exported(desk, request=other)  # globex keeps theirs
    rows = desk.audit_log(customer="acme").rows
    opened = next(row for row in rows if row.event_type == "Opened")
    assert (opened.data["customer"]["name"], opened.data["symptom"]) == (ERASED, ERASED)
    forgotten = desk.audit_log(event_type="ErasureLedger.CustomerForgotten").rows
    assert [(row.actor, row.data) for row in forgotten] == [
        ("supervisor:eva", {"customer_id": "acme"})
    ]
    assert desk.queue(status=["closed"]).rows == queue_before
    haystack = table_texts(desk)
    for secret in SECRETS:
        assert secret not in haystack
    assert desk.get(other).customer.name == own(NAME, "globex")
    assert desk.verify().intact
    assert desk.kpis(since=since, until=until, at=at) == kpis_before
    followed = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == followed


def test_forgetting_is_for_supervisors_and_refused_ones_change_nothing(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)
    request = worked(desk, clock)
    head = desk.audit_head()
    for actor in ("agent:ana", "customer:acme", "auditor:eva", "system"):
        with pytest.raises(PermissionDeniedError, match="may not forget"):
            desk.forget_customer("acme", actor=actor)
    with pytest.raises(ValidationFailedError, match="actor"):
        desk.forget_customer("acme", actor="nobody")
    with pytest.raises(ValidationFailedError, match="customer_id"):
        desk.forget_customer(42, actor="supervisor:eva")  # type: ignore[arg-type]
    with pytest.raises(CustomerNotFoundError) as caught:
        desk.forget_customer("initech", actor="supervisor:eva")
    assert (caught.value.code, caught.value.customer_id) == ("customer_not_found", "initech")
    assert desk.audit_head() == head
    assert desk.get(request).customer.name == NAME


def test_forgetting_twice_records_once(make_desk: DeskFactory, clock: FakeClock) -> None:
    desk = make_desk(erasable=True)
    worked(desk, clock)
    assert desk.forget_customer("acme", actor="supervisor:eva").recorded
    head = desk.audit_head()
    again = desk.forget_customer("acme", actor="supervisor:eva")
    assert (again.recorded, again.keys_destroyed, again.forgotten_at) == (False, 0, None)
    assert desk.audit_head() == head


def test_a_forgotten_customer_who_comes_back_gets_a_new_key(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)
    old = worked(desk, clock)
    desk.forget_customer("acme", actor="supervisor:eva")
    new = desk.open(
        customer={"id": "acme", "name": "Ana again"},
        channel="web",
        kind="information",
        stage="pre_sale",
        symptom="Do you sell fibre?",
        actor="customer:acme",
    )
    assert desk.get(new).customer.name == "Ana again"
    assert desk.get(old).customer.name == ERASED
    followed = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == followed
    assert desk.forget_customer("acme", actor="supervisor:eva").keys_destroyed == 1
    assert desk.get(new).symptom == ERASED


def test_a_cancellation_reason_is_personal_only_when_the_customer_gave_it(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)
    theirs = desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="x", actor="agent:a"
    )
    desk.cancel(theirs, reason="I found it myself", actor="customer:acme")
    ours = desk.open(
        customer="acme", channel="web", kind="claim", stage="sale", symptom="y", actor="agent:a"
    )
    desk.cancel(ours, reason="Duplicate of SR-000001", actor="agent:ana")
    clock.advance(minutes=1)
    desk.forget_customer("acme", actor="supervisor:eva")
    assert desk.get(theirs).cancel_reason == ERASED
    assert desk.get(ours).cancel_reason == "Duplicate of SR-000001"


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_another_desk_on_the_store_stops_reading_what_was_forgotten(
    make_desk: DeskFactory,
) -> None:
    writer = make_desk(erasable=True)
    request = writer.open(
        customer={"id": "acme", "name": NAME},
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom=SYMPTOM,
        actor="customer:acme",
    )
    reader = make_desk()  # not asked: the store says it is erasable
    assert reader.erasable
    assert reader.get(request).customer.name == NAME  # its keys are cached now
    reader.report_progress(request, message="Still on it", actor="agent:luis")  # kept there
    writer.forget_customer("acme", actor="supervisor:eva")
    assert reader.get(request).customer.name == ERASED
    assert reader.history(request)[0].data["symptom"] == ERASED
    assert SYMPTOM not in exported(reader)
    again = reader.report_progress(request, message="Done soon", actor="agent:luis")
    assert again.customer.name == ERASED


def test_erasure_is_chosen_when_a_store_is_created(
    make_desk: DeskFactory, clock: FakeClock, store: str
) -> None:
    desk = make_desk()
    worked(desk, clock)
    assert not desk.erasable
    with pytest.raises(ConfigurationError, match="not erasable"):
        desk.forget_customer("acme", actor="supervisor:eva")
    if store != "memory":
        with pytest.raises(ConfigurationError, match="already holds events"):
            make_desk(erasable=True)
    with pytest.raises(ConfigurationError, match="erasable must be"):
        ServiceDesk(erasable="yes")  # type: ignore[arg-type]


def test_json_and_csv_exports_name_the_erased_fields(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)
    request = worked(desk, clock)
    desk.forget_customer("acme", actor="supervisor:eva")
    lines = [json.loads(line) for line in exported(desk, request=request).splitlines()]
    assert lines[0]["data"]["customer"]["name"] == ERASED
    table = list(csv.DictReader(io.StringIO(exported(desk, format="csv"))))
    assert any(ERASED in row["data"] for row in table)
