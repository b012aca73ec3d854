"""Notes and the customer's messages: a conversation beside the workflow, on every store.

The desk writes notes (``internal``, or a reply the customer sees); the customer writes messages.
Neither changes the status; a reply the customer sees is a response to them (the first one meets
the first-response clock), an internal note is not; a customer's message ends their silence while
a completion awaits acceptance. Both are in the request, its history, the audit log and exports.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from conftest import DeskFactory, FakeClock
from servflow import (
    ERASED,
    ClockState,
    InvalidTransitionError,
    PermissionDeniedError,
    Request,
    ServiceDesk,
    Status,
    ValidationFailedError,
    Visibility,
)
from servflow.domain.values import MAX_TEXT


def assigned(desk: ServiceDesk, customer: str = "acme") -> Request:
    request = desk.open(
        customer=customer,
        channel="email",
        kind="claim",
        stage="post_sale",
        symptom="The invoice is wrong",
        actor=f"customer:{customer}",
    )
    desk.classify(request, priority="normal", actor="agent:ana")
    return desk.assign(request, team="billing", agent="ana", actor="agent:ana")


def test_an_internal_note_is_no_response_and_a_reply_the_customer_sees_is(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    request = assigned(desk)
    clock.now += timedelta(minutes=20)
    internal = desk.note(request, text="Looks like a VAT rounding bug", actor="agent:ana")
    assert internal.visibility is Visibility.INTERNAL
    assert not internal.by_customer
    assert desk.sla(request).first_response.state is ClockState.RUNNING
    clock.now += timedelta(minutes=10)
    reply = desk.note(
        request, text="We are checking your invoice", visibility="customer", actor="agent:ana"
    )
    first = desk.sla(request).first_response
    assert first.state is ClockState.MET
    assert first.met_at == reply.at
    after = desk.get(request)
    assert after.status is Status.ASSIGNED  # a note changes no status
    assert [(n.text, n.visibility) for n in after.notes] == [
        ("Looks like a VAT rounding bug", Visibility.INTERNAL),
        ("We are checking your invoice", Visibility.CUSTOMER),
    ]
    # The queue and SLA views followed it, as a rebuild does.
    assert desk.breaches() == []
    view = next(row for row in desk.queue(limit=10).rows if row.ticket_code == request.ticket_code)
    assert view.status is Status.ASSIGNED


def test_the_customer_writes_about_their_own_requests_only(make_desk: DeskFactory) -> None:
    desk = make_desk()
    mine = assigned(desk, "acme")
    theirs = assigned(desk, "globex")
    message = desk.customer_message(mine, text="Any news?", actor="customer:acme")
    assert message.by_customer
    assert message.visibility is Visibility.CUSTOMER
    before = len(desk.history(theirs))
    with pytest.raises(PermissionDeniedError):
        desk.customer_message(theirs, text="Any news?", actor="customer:acme")
    with pytest.raises(PermissionDeniedError):
        desk.note(mine, text="I am the desk now", actor="customer:acme")
    assert len(desk.history(theirs)) == before
    # The desk records a phone call on the customer's behalf: still the customer's message.
    call = desk.customer_message(theirs, text="Called: still wrong", actor="agent:ana")
    assert (call.actor, call.by_customer) == ("agent:ana", True)
    assert desk.get(theirs).notes[-1].text == "Called: still wrong"


def test_notes_and_messages_are_taken_at_any_status_even_finished(make_desk: DeskFactory) -> None:
    desk = make_desk()
    request = assigned(desk)
    desk.complete(request, outcome="resolved", resolution="Credit note sent", actor="agent:ana")
    desk.accept(request, satisfaction=4, actor="customer:acme")
    desk.customer_message(request, text="Thanks!", actor="customer:acme")
    desk.note(request, text="Closed happy", actor="agent:ana")
    cancelled = assigned(desk)
    desk.cancel(cancelled, reason="duplicate", actor="agent:ana")
    desk.note(cancelled, text="Merged into the other one", actor="agent:ana")
    assert desk.get(request).status is Status.CLOSED
    assert desk.get(cancelled).status is Status.CANCELLED
    assert [n.text for n in desk.get(request).notes] == ["Thanks!", "Closed happy"]


def test_a_customer_message_ends_their_silence_before_a_deemed_acceptance(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    request = assigned(desk)
    desk.complete(request, outcome="resolved", resolution="Credit note sent", actor="agent:ana")
    silent = desk.get(request)
    # The standard policy deems acceptance after 40 h of business (24x7) time of silence.
    clock.now += timedelta(hours=30)
    desk.customer_message(request, text="Checking it tonight", actor="customer:acme")
    clock.now += timedelta(hours=20)  # 50 h after the completion, 20 h after the message
    assert desk.run_due() == []
    assert desk.get(request).status is Status.COMPLETED
    clock.now += timedelta(hours=21)
    actions = desk.run_due()
    assert [a.action for a in actions] == ["deemed_acceptance"]
    assert silent.completed_at is not None
    assert actions[0].occurred_at == silent.completed_at + timedelta(hours=70)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda d, r: d.note(r, text="", actor="agent:ana"), "text"),
        (lambda d, r: d.note(r, text="x", visibility="public", actor="agent:ana"), "visibility"),
        (lambda d, r: d.note(r, text="x" * (MAX_TEXT + 1), actor="agent:ana"), "text"),
        (lambda d, r: d.customer_message(r, text="  ", actor="customer:acme"), "text"),
        (lambda d, r: d.note(r, text="x", actor="nobody"), "actor"),
    ],
)
def test_bad_input_is_refused_and_records_nothing(
    make_desk: DeskFactory, call: object, field: str
) -> None:
    desk = make_desk()
    request = assigned(desk)
    before = len(desk.history(request))
    with pytest.raises(ValidationFailedError) as refused:
        call(desk, request)  # type: ignore[operator]
    assert field in str(refused.value)
    assert len(desk.history(request)) == before


def test_an_unknown_request_is_refused_by_name(make_desk: DeskFactory) -> None:
    desk = make_desk()
    with pytest.raises(Exception) as refused:  # noqa: PT011 - checked just below
        desk.note("SR-999999", text="x", actor="agent:ana")
    assert getattr(refused.value, "code", None) == "request_not_found"
    assert not isinstance(refused.value, InvalidTransitionError)


def test_notes_are_in_the_history_the_audit_log_and_the_exports(make_desk: DeskFactory) -> None:
    desk = make_desk()
    request = assigned(desk)
    desk.note(request, text="Escalated to finance", actor="agent:ana")
    desk.customer_message(request, text="Please hurry", actor="customer:acme")
    entries = desk.history(request)
    assert [e.event_type for e in entries[-2:]] == ["NoteAdded", "CustomerMessaged"]
    assert entries[-2].data == {"text": "Escalated to finance", "visibility": "internal"}
    changed = {change.field for change in entries[-1].changes}
    assert changed == {"notes"}
    log = desk.audit_log(event_type=["NoteAdded", "CustomerMessaged"])
    assert [row.event_type for row in log.rows] == ["NoteAdded", "CustomerMessaged"]
    out = io.StringIO()
    desk.export(out, format="jsonl")
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    texts = [row["data"].get("text") for row in exported if row["event_type"] == "CustomerMessaged"]
    assert texts == ["Please hurry"]


def test_in_an_erasable_store_the_customers_message_is_sealed_and_forgotten(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk(erasable=True)
    request = assigned(desk)
    desk.customer_message(request, text="My card ends 4242", actor="customer:acme")
    desk.note(request, text="Card noted", visibility="customer", actor="agent:ana")
    payloads = b"".join(
        stored.state for stored in desk._stores.store.recorder.select_events(request.id)
    )
    assert b"4242" not in payloads
    assert b"Card noted" in payloads  # the desk's own words stay in clear
    desk.forget_customer("acme", actor="supervisor:sue")
    assert [n.text for n in desk.get(request).notes] == [ERASED, "Card noted"]
