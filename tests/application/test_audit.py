"""Auditing through the desk, on every store: history positions, the global log, time travel,
exports that read back to exactly what the desk says.

Every test that takes ``desk`` runs on memory, SQLite and PostgreSQL (see ``conftest.py``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, cast
from zoneinfo import ZoneInfo

import orjson
import pytest

from conftest import DeskFactory, FakeClock
from servflow import (
    AUDIT_EXPORT_FIELDS,
    HISTORY_EXPORT_FIELDS,
    AuditRow,
    HistoryEntry,
    Request,
    RequestNotFoundError,
    ServiceDesk,
    SlaPolicy,
    Status,
    ValidationFailedError,
)
from servflow.desk.export import read_export, write_export

MADRID = ZoneInfo("Europe/Madrid")


def open_one(desk: ServiceDesk, customer: str = "acme", actor: str = "agent:ana") -> Request:
    return desk.open(
        customer=customer,
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The router drops the line every evening",
        actor=actor,
    )


def a_busy_morning(desk: ServiceDesk, clock: FakeClock) -> list[Request]:
    """Three requests whose events interleave in the log; ana, bob and a customer act."""
    a = open_one(desk, customer="acme")
    clock.advance(minutes=5)
    b = open_one(desk, customer="bolt", actor="agent:bob")
    clock.advance(minutes=5)
    desk.classify(a, priority="high", actor="agent:ana")
    desk.assign(a, team="billing", agent="ana", actor="agent:bob")
    clock.advance(minutes=5)
    c = open_one(desk, customer="acme", actor="agent:bob")
    desk.classify(b, priority="low", actor="agent:bob")
    clock.advance(minutes=5)
    desk.act(a, action="Refunded the visit", effort_minutes=10, actor="agent:ana")
    desk.complete(a, outcome="resolved", resolution="Refunded", actor="agent:ana")
    clock.advance(minutes=5)
    desk.reopen(a, reason="Still charged twice", actor="customer:acme")
    return [a, b, c]


def every_row(desk: ServiceDesk, **criteria: object) -> list[AuditRow]:
    return list(desk.audit_log(limit=10_000, **criteria).rows)  # type: ignore[arg-type]


# -- history ---------------------------------------------------------------------------------


def test_history_entries_carry_their_log_positions_in_increasing_order(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    a, b, _ = a_busy_morning(desk, clock)
    history = desk.history(a)
    positions = [entry.position for entry in history]
    assert positions == sorted(set(positions))
    assert [entry.version for entry in history] == list(range(1, len(history) + 1))
    # The log interleaves requests: b was opened between a's first and second events.
    assert positions[0] < desk.history(b)[0].position < positions[1]
    by_log = {(row.request_id, row.version): row.position for row in every_row(desk)}
    assert all(by_log[(entry.request_id, entry.version)] == entry.position for entry in history)


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_history_positions_survive_reopening_the_store(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    a, _, _ = a_busy_morning(desk, clock)
    before = desk.history(a)
    desk.close()
    again = make_desk()
    assert again.history(a) == before


def test_history_of_something_that_is_not_a_request_is_refused(desk: ServiceDesk) -> None:
    from servflow.domain.sla import SLA_POLICY_BOOK_ID  # noqa: PLC0415

    with pytest.raises(RequestNotFoundError):
        desk.history(SLA_POLICY_BOOK_ID)
    with pytest.raises(RequestNotFoundError):
        desk.history("SR-999999")


# -- the global audit log --------------------------------------------------------------------


def test_the_audit_log_holds_every_event_in_log_order(desk: ServiceDesk, clock: FakeClock) -> None:
    requests = a_busy_morning(desk, clock)
    rows = every_row(desk)
    histories = [entry for request in requests for entry in desk.history(request)]
    assert [r.position for r in rows] == sorted(e.position for e in histories)
    by_position = {e.position: e for e in histories}
    for row in rows:
        entry = by_position[row.position]
        assert (row.request_id, row.ticket_code, row.version) == (
            entry.request_id,
            entry.ticket_code,
            entry.version,
        )
        assert (row.event_type, row.actor, row.data) == (entry.event_type, entry.actor, entry.data)
        assert (row.occurred_at, row.recorded_at) == (entry.occurred_at, entry.recorded_at)
    customers = {r.ticket_code: r.customer_id for r in rows}
    assert customers == {"SR-000001": "acme", "SR-000002": "bolt", "SR-000003": "acme"}


def test_the_audit_log_filters_by_actor_request_type_and_customer(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    a, b, c = a_busy_morning(desk, clock)
    assert [(r.ticket_code, r.event_type) for r in every_row(desk, actor="agent:bob")] == [
        ("SR-000002", "Opened"),
        ("SR-000001", "Assigned"),
        ("SR-000003", "Opened"),
        ("SR-000002", "Classified"),
    ]
    assert [r.version for r in every_row(desk, request=a)] == [1, 2, 3, 4, 5, 6]
    assert [r.version for r in every_row(desk, request="SR-000002")] == [1, 2]
    assert {r.request_id for r in every_row(desk, event_type="Opened")} == {a.id, b.id, c.id}
    both = every_row(desk, event_type=["Completed", "Reopened"])
    assert [r.event_type for r in both] == ["Completed", "Reopened"]
    assert {r.ticket_code for r in every_row(desk, customer="acme")} == {"SR-000001", "SR-000003"}
    combined = every_row(desk, customer="acme", actor="agent:bob", event_type="Opened")
    assert [r.ticket_code for r in combined] == ["SR-000003"]
    assert every_row(desk, actor="agent:nobody") == []


def test_the_audit_log_time_range_is_half_open_on_when_events_happened(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    start = clock.now
    a_busy_morning(desk, clock)
    window = every_row(
        desk, since=start + timedelta(minutes=5), until=start + timedelta(minutes=15)
    )
    assert [(r.ticket_code, r.event_type) for r in window] == [
        ("SR-000002", "Opened"),
        ("SR-000001", "Classified"),
        ("SR-000001", "Assigned"),
    ]
    madrid = (start + timedelta(minutes=25)).astimezone(MADRID)
    assert [r.event_type for r in every_row(desk, since=madrid)] == ["Reopened"]


def test_the_time_range_can_bound_when_events_were_recorded_instead(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    open_one(desk)
    last_week = clock.now - timedelta(days=7)
    old = desk.open(
        customer="legacy",
        channel="email",
        kind="claim",
        stage="sale",
        symptom="Imported from the old helpdesk",
        actor="integration:legacy",
        occurred_at=last_week,
    )
    happened = every_row(desk, until=clock.now - timedelta(days=1))
    assert [r.ticket_code for r in happened] == [old.ticket_code]
    recorded = every_row(desk, until=clock.now - timedelta(days=1), by="recorded")
    assert recorded == []
    assert len(every_row(desk, since=clock.now, by="recorded")) == 2


def test_the_audit_log_pages_by_position_without_gaps_or_repeats(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    a_busy_morning(desk, clock)
    everything = every_row(desk)
    seen: list[AuditRow] = []
    page = desk.audit_log(limit=4)
    while True:
        assert len(page.rows) <= 4
        seen.extend(page.rows)
        if page.next_after_position is None:
            break
        page = desk.audit_log(limit=4, after_position=page.next_after_position)
    assert seen == everything


def test_new_events_arriving_while_paging_are_neither_skipped_nor_repeated(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    a, _, _ = a_busy_morning(desk, clock)
    first = desk.audit_log(limit=5)
    assert first.next_after_position is not None
    clock.advance(minutes=1)
    desk.report_progress(a, message="Checking the invoice", actor="agent:ana")
    rest = desk.audit_log(after_position=first.next_after_position)
    assert [*first.rows, *rest.rows] == every_row(desk)
    assert rest.rows[-1].event_type == "ProgressReported"
    assert rest.next_after_position is None


def test_store_level_events_are_in_the_log_without_a_ticket(make_desk: DeskFactory) -> None:
    desk = make_desk(sla=SlaPolicy.standard())
    open_one(desk)
    rows = every_row(desk)
    book = [r for r in rows if r.ticket_code is None]
    assert {r.event_type for r in book} <= {"SlaPolicyBook.Started", "SlaPolicyBook.PolicyAdopted"}
    assert book
    assert all(r.customer_id is None for r in book)
    adopted = every_row(desk, event_type="SlaPolicyBook.PolicyAdopted")
    assert adopted == [r for r in book if r.event_type == "SlaPolicyBook.PolicyAdopted"]


def test_the_audit_log_refuses_unknown_types_naive_times_and_bad_pages(
    desk: ServiceDesk,
) -> None:
    with pytest.raises(ValidationFailedError, match="unknown event type 'opened'"):
        desk.audit_log(event_type="opened")
    with pytest.raises(ValidationFailedError, match="naive"):
        desk.audit_log(since=datetime(2026, 3, 2, 9, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationFailedError, match="limit"):
        desk.audit_log(limit=0)
    with pytest.raises(ValidationFailedError, match="after_position"):
        desk.audit_log(after_position=-1)
    with pytest.raises(ValidationFailedError, match="occurred"):
        desk.audit_log(by="whenever")  # type: ignore[arg-type]


def test_a_rebuilt_audit_view_equals_the_one_followed_event_by_event(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    a_busy_morning(desk, clock)
    followed = every_row(desk)
    assert desk.rebuild_projections(["audit"]) >= len(followed)
    assert every_row(desk) == followed


# -- time travel -----------------------------------------------------------------------------


def monday(hour: int, minute: int = 0) -> datetime:
    """Monday 2 March 2026 in Madrid (UTC+1), the day the hand-built history happened."""
    return datetime(2026, 3, 2, hour, minute, tzinfo=MADRID)


def last_mondays_history(desk: ServiceDesk) -> dict[str, str]:
    """Six requests imported with the times they happened on Monday; the clock is a week on."""

    def opened(name: str, hour: int, minute: int) -> str:
        return desk.open(
            customer=f"cust-{name}",
            channel="phone",
            kind="claim",
            stage="post_sale",
            symptom=f"Request {name}",
            actor="agent:desk",
            occurred_at=monday(hour, minute),
        ).ticket_code

    def step(ticket: str, command: str, hour: int, minute: int, **fields: object) -> None:
        getattr(desk, command)(
            ticket, actor="agent:lead", occurred_at=monday(hour, minute), **fields
        )

    codes: dict[str, str] = {}
    # A: billing's from 08:30, completed only at 11:00.
    codes["A"] = a = opened("A", 8, 0)
    step(a, "classify", 8, 10, priority="high")
    step(a, "assign", 8, 30, team="billing", agent="ana")
    step(a, "complete", 11, 0, outcome="resolved", resolution="Refunded")
    # B: billing's, but resolved and accepted before 10:00.
    codes["B"] = b = opened("B", 8, 15)
    step(b, "classify", 8, 20, priority="low")
    step(b, "assign", 9, 0, team="billing", agent="bob")
    step(b, "complete", 9, 30, outcome="resolved", resolution="Explained the invoice")
    desk.accept(b, satisfaction=5, actor="customer:cust-B", occurred_at=monday(9, 45))
    # C: the field team's at 10:00; transferred to billing at 10:30.
    codes["C"] = c = opened("C", 8, 20)
    step(c, "classify", 8, 25, priority="normal")
    step(c, "assign", 8, 40, team="field", agent="eva")
    step(c, "complete", 10, 30, outcome="transferred", resolution="Billing", to_team="billing")
    # D: opened at 09:50, still in triage at 10:00; billing takes it at 10:05.
    codes["D"] = d = opened("D", 9, 50)
    step(d, "classify", 10, 2, priority="urgent")
    step(d, "assign", 10, 5, team="billing", agent="ana")
    # E: billing's, waiting on the customer from 09:00 to 11:00.
    codes["E"] = e = opened("E", 7, 0)
    step(e, "classify", 7, 5, priority="normal")
    step(e, "assign", 7, 10, team="billing", agent="bob")
    step(e, "wait_on_customer", 9, 0, reason="Needs the serial number")
    desk.customer_responded(e, note="SN-1", actor="customer:cust-E", occurred_at=monday(11, 0))
    # F: opened after 10:00.
    codes["F"] = opened("F", 10, 1)
    return codes


@pytest.fixture
def a_week_later(clock: FakeClock) -> FakeClock:
    clock.now = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    return clock


def tickets(page: object) -> dict[str, Status]:
    return {row.ticket_code: row.status for row in page.rows}  # type: ignore[attr-defined]


def test_what_was_in_billings_queue_at_ten_last_monday(
    desk: ServiceDesk, a_week_later: FakeClock
) -> None:
    del a_week_later
    code = last_mondays_history(desk)
    at_ten = desk.queue_as_of(monday(10), team="billing")
    assert tickets(at_ten) == {code["A"]: Status.ASSIGNED, code["E"]: Status.WAITING_ON_CUSTOMER}
    assert at_ten.total == 2
    assert tickets(desk.queue_as_of(monday(10), team="field")) == {code["C"]: Status.ASSIGNED}
    assert tickets(desk.queue_as_of(monday(10), "triage")) == {code["D"]: Status.NEW}
    assert tickets(desk.queue_as_of(monday(10), status="closed")) == {code["B"]: Status.CLOSED}
    at_noon = desk.queue_as_of(monday(12), team="billing")
    assert tickets(at_noon) == {
        code["A"]: Status.COMPLETED,
        code["C"]: Status.TRANSFERRED,
        code["D"]: Status.ASSIGNED,
        code["E"]: Status.ASSIGNED,
    }
    assert desk.queue_as_of(monday(6), team="billing").total == 0


def test_an_instant_is_inclusive_like_get_as_of(desk: ServiceDesk, a_week_later: FakeClock) -> None:
    del a_week_later
    code = last_mondays_history(desk)
    # B's acceptance happened at exactly 09:45: at 09:45 it is closed, a second before it is not.
    just_before = desk.queue_as_of(monday(9, 45) - timedelta(seconds=1), team="billing")
    assert tickets(just_before)[code["B"]] is Status.COMPLETED
    assert code["B"] not in tickets(desk.queue_as_of(monday(9, 45), team="billing"))
    assert desk.get(code["B"], as_of=monday(9, 45)).status is Status.CLOSED


def test_the_queue_as_of_now_is_the_live_queue(desk: ServiceDesk, a_week_later: FakeClock) -> None:
    last_mondays_history(desk)
    now = a_week_later.now
    for special in (None, "triage", "unassigned", "awaiting_acceptance", "transferred_in"):
        for team in (None, "billing", "field"):
            live = desk.queue(special, team=team, at=now)
            assert desk.queue_as_of(now, special, team=team) == live, (special, team)
    assert desk.queue_as_of(now, status=["closed"]) == desk.queue(status=["closed"], at=now)
    paged = desk.queue_as_of(now, limit=2, offset=1)
    assert paged == desk.queue(limit=2, offset=1, at=now)


def test_queue_as_of_refuses_naive_instants_and_unknown_filters(desk: ServiceDesk) -> None:
    with pytest.raises(ValidationFailedError, match="timezone-aware"):
        desk.queue_as_of(datetime(2026, 3, 2, 10, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationFailedError):
        desk.queue_as_of(monday(10), "nowhere")
    with pytest.raises(ValidationFailedError):
        desk.queue_as_of(monday(10), limit=0)


# -- exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
@pytest.mark.parametrize("mode", ["binary", "text"])
def test_an_export_of_the_log_reads_back_as_the_audit_log(
    desk: ServiceDesk, clock: FakeClock, export_format: str, mode: str
) -> None:
    a_busy_morning(desk, clock)
    fp: io.BytesIO | io.StringIO = io.BytesIO() if mode == "binary" else io.StringIO()
    written = desk.export(fp, format=export_format)  # type: ignore[arg-type]
    fp.seek(0)
    assert list(read_export(fp, format=export_format)) == every_row(desk)  # type: ignore[arg-type]
    assert written == len(every_row(desk))


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_an_export_of_a_request_reads_back_as_its_history(
    desk: ServiceDesk, clock: FakeClock, export_format: str
) -> None:
    a, _, _ = a_busy_morning(desk, clock)
    fp = io.BytesIO()
    assert desk.export(fp, format=export_format, request="SR-000001") == 6  # type: ignore[arg-type]
    fp.seek(0)
    entries = list(read_export(fp, format=export_format))  # type: ignore[arg-type]
    assert entries == desk.history(a)
    assert all(isinstance(entry, HistoryEntry) for entry in entries)


def test_export_field_names_are_the_documented_ones(desk: ServiceDesk, clock: FakeClock) -> None:
    a_busy_morning(desk, clock)
    log_csv, request_csv, request_jsonl = io.StringIO(), io.StringIO(), io.BytesIO()
    desk.export(log_csv, format="csv")
    desk.export(request_csv, format="csv", request="SR-000001")
    desk.export(request_jsonl, request="SR-000001")
    assert next(csv.reader(io.StringIO(log_csv.getvalue()))) == list(AUDIT_EXPORT_FIELDS)
    assert next(csv.reader(io.StringIO(request_csv.getvalue()))) == list(HISTORY_EXPORT_FIELDS)
    first = orjson.loads(request_jsonl.getvalue().splitlines()[0])
    assert list(first) == list(HISTORY_EXPORT_FIELDS)
    assert first["customer_id"] == "acme"
    assert first["occurred_at"] == "2026-03-02T09:00:00Z"
    assert AUDIT_EXPORT_FIELDS == (
        "position",
        "request_id",
        "ticket_code",
        "version",
        "event_type",
        "occurred_at",
        "recorded_at",
        "actor",
        "customer_id",
        "data",
    )
    assert (*AUDIT_EXPORT_FIELDS, "changes") == HISTORY_EXPORT_FIELDS


def test_an_export_takes_the_audit_log_filters(desk: ServiceDesk, clock: FakeClock) -> None:
    start = clock.now
    a_busy_morning(desk, clock)
    criteria: dict[str, object] = {
        "actor": "agent:bob",
        "since": start + timedelta(minutes=5),
        "until": start + timedelta(minutes=20),
    }
    fp = io.BytesIO()
    desk.export(fp, **criteria)  # type: ignore[arg-type]
    fp.seek(0)
    assert list(read_export(fp)) == every_row(desk, **criteria)
    fp = io.BytesIO()
    assert desk.export(fp, request="SR-000001", event_type="Reopened") == 1
    fp = io.BytesIO()
    assert desk.export(fp, request="SR-000001", customer="bolt") == 0


def test_an_export_pages_through_the_log_in_batches(desk: ServiceDesk, clock: FakeClock) -> None:
    a_busy_morning(desk, clock)
    expected = len(every_row(desk))
    desk._stores.trail._batch = 3  # small batches: several pages even for a small log
    read: list[int] = []
    original = desk._stores.trail.page

    def counting(*args: object, **kwargs: object) -> object:
        page = original(*args, **kwargs)  # type: ignore[arg-type]
        read.append(len(page.rows))
        return page

    desk._stores.trail.page = counting  # type: ignore[method-assign,assignment]
    fp = io.BytesIO()
    assert desk.export(fp) == expected
    assert expected == 9
    assert read == [3, 3, 3]


def test_an_export_refuses_unknown_requests_and_formats(desk: ServiceDesk) -> None:
    with pytest.raises(RequestNotFoundError):
        desk.export(io.BytesIO(), request="SR-000404")
    with pytest.raises(ValidationFailedError, match="format"):
        desk.export(io.BytesIO(), format="xml")  # type: ignore[arg-type]


def test_writing_an_export_streams_in_constant_memory() -> None:
    class Sink(io.RawIOBase):
        def __init__(self) -> None:
            self.writes = 0
            self.size = 0

        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            self.writes += 1
            self.size += len(data)  # type: ignore[arg-type]
            return len(data)  # type: ignore[arg-type]

    sink = Sink()

    def records() -> Iterator[dict[str, object]]:
        for n in range(5_500):
            # Rows leave in batches: by row 2,500 the first two thousand have been written.
            if n == 2_500:
                assert sink.writes == 2
            yield {"position": n, "data": {"n": n}}

    fp = cast("IO[bytes]", sink)
    assert write_export(fp, records(), format="csv", fields=("position", "data")) == 5_500
    assert sink.writes == 6
