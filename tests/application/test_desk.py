"""``ServiceDesk`` on every store: refusals append nothing, references, replay, imported time.

Every test that takes ``desk`` runs on memory, SQLite and PostgreSQL (see ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol
from uuid import UUID, uuid4

import pytest

import servflow
from conftest import assigned, open_one
from servflow import (
    ConcurrencyConflictError,
    ConfigurationError,
    Customer,
    InvalidTransitionError,
    NonConformityNotFoundError,
    OccurrenceOutOfOrderError,
    Priority,
    Request,
    RequestNotFoundError,
    ServflowError,
    ServiceDesk,
    Status,
    StoreError,
    ValidationFailedError,
)

Clock = Callable[[], datetime]
DeskFactory = Callable[..., ServiceDesk]


class FakeClockLike(Protocol):
    """The conftest ``clock``: says the time and is moved forward by hand."""

    def __call__(self) -> datetime: ...

    def advance(self, **kwargs: float) -> datetime: ...


def footprint(desk: ServiceDesk, ref: Request) -> tuple[Request, int, int]:
    """What a refused command must leave untouched: the state, the version, the log length."""
    current = desk.get(ref)
    return current, current.version, len(desk.history(ref))


DeskCommand = Callable[[ServiceDesk, Request, datetime], object]

#: Commands refused on an assigned request whose non-conformity #1 is already corrected.
#: Each gets the clock's current instant, to build an ``occurred_at`` from.
REFUSED: dict[str, tuple[type[ServflowError], DeskCommand]] = {
    "accepting work that is not completed": (
        InvalidTransitionError,
        lambda d, r, _: d.accept(r, satisfaction=5, actor="customer:acme"),
    ),
    "reopening work that is not completed": (
        InvalidTransitionError,
        lambda d, r, _: d.reopen(r, reason="No", actor="customer:acme"),
    ),
    "a customer reply nobody waited for": (
        InvalidTransitionError,
        lambda d, r, _: d.customer_responded(r, note="Hi", actor="customer:acme"),
    ),
    "an unknown priority": (
        ValidationFailedError,
        lambda d, r, _: d.classify(r, priority="whenever", actor="agent:ana"),
    ),
    "a negative effort": (
        ValidationFailedError,
        lambda d, r, _: d.act(r, action="Reset", effort_minutes=-5, actor="agent:ana"),
    ),
    "a negative cost": (
        ValidationFailedError,
        lambda d, r, _: d.act(r, action="Reset", cost="-1", actor="agent:ana"),
    ),
    "an actor without a kind": (
        ValidationFailedError,
        lambda d, r, _: d.report_progress(r, message="Soon", actor="ana"),
    ),
    "a blank finding": (
        ValidationFailedError,
        lambda d, r, _: d.probe(r, questions=["Why?"], findings="   ", actor="agent:ana"),
    ),
    "a transfer to nobody": (
        ValidationFailedError,
        lambda d, r, _: d.complete(r, outcome="transferred", resolution="x", actor="agent:ana"),
    ),
    "a follow-up without a date": (
        ValidationFailedError,
        lambda d, r, _: d.complete(r, outcome="follow_up", resolution="x", actor="agent:ana"),
    ),
    "an unknown severity": (
        ValidationFailedError,
        lambda d, r, _: d.log_nonconformity(r, description="x", severity="huge", actor="agent:a"),
    ),
    "a naive occurred_at": (
        ValidationFailedError,
        lambda d, r, now: d.report_progress(
            r, message="Soon", actor="agent:ana", occurred_at=now.replace(tzinfo=None)
        ),
    ),
    "an occurred_at in the future": (
        OccurrenceOutOfOrderError,
        lambda d, r, now: d.report_progress(
            r, message="Soon", actor="agent:ana", occurred_at=now + timedelta(seconds=1)
        ),
    ),
    "an occurred_at before the previous event": (
        OccurrenceOutOfOrderError,
        lambda d, r, now: d.report_progress(
            r, message="Soon", actor="agent:ana", occurred_at=now - timedelta(hours=1)
        ),
    ),
    "correcting an unknown non-conformity": (
        NonConformityNotFoundError,
        lambda d, r, _: d.correct_nonconformity(r, 2, correction="x", actor="auditor:eva"),
    ),
    "correcting a non-conformity twice": (
        InvalidTransitionError,
        lambda d, r, _: d.correct_nonconformity(r, 1, correction="y", actor="auditor:eva"),
    ),
}


# -- refusals append nothing ------------------------------------------------------------------


def test_a_refused_command_appends_nothing_to_the_log(desk: ServiceDesk, clock: Clock) -> None:
    for case, (error_type, command) in REFUSED.items():
        request = assigned(desk)
        nc = desk.log_nonconformity(
            request, description="Late", severity="minor", actor="auditor:e"
        )
        desk.correct_nonconformity(request, nc, correction="Rota fixed", actor="auditor:e")
        before = footprint(desk, request)
        assert before[1] == 5
        with pytest.raises(error_type) as caught:
            command(desk, request, clock())
        assert type(caught.value) is error_type, case
        assert footprint(desk, request) == before, case


def test_a_closed_request_refuses_reassignment(desk: ServiceDesk) -> None:
    request = assigned(desk)
    desk.complete(request, outcome="resolved", resolution="Fixed", actor="agent:ana")
    desk.accept(request, satisfaction=4, actor="customer:acme")
    before = footprint(desk, request)
    with pytest.raises(InvalidTransitionError) as caught:
        desk.assign(request, team="billing", actor="agent:lead")
    assert (caught.value.status, caught.value.command) == ("closed", "assign")
    assert request.ticket_code in str(caught.value)
    assert footprint(desk, request) == before


#: Openings refused for their input: (field, value, error type).
REFUSED_OPENINGS: list[tuple[str, object, type[ValidationFailedError]]] = [
    ("symptom", "  ", ValidationFailedError),
    ("kind", "gadget", ValidationFailedError),
    ("channel", "pigeon", ValidationFailedError),
    ("stage", "someday", ValidationFailedError),
    ("actor", "robot:x", ValidationFailedError),
    ("customer", "", ValidationFailedError),
    ("occurred_at", datetime(2026, 3, 2, 9, 0), ValidationFailedError),  # noqa: DTZ001 - naive
    ("occurred_at", datetime(2026, 3, 2, 9, 1, tzinfo=UTC), OccurrenceOutOfOrderError),
]


def test_a_refused_opening_stores_no_request_and_uses_up_no_ticket_code(
    desk: ServiceDesk, clock: Clock
) -> None:
    assert clock() == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for field, value, error_type in REFUSED_OPENINGS:
        with pytest.raises(error_type) as caught:
            open_one(desk, **{field: value})
        assert type(caught.value) is error_type, field
        assert caught.value.command == "open", field
        assert list(desk.request_ids()) == [], field
    first = open_one(desk)
    assert first.ticket_code == "SR-000001"
    for field, value, error_type in REFUSED_OPENINGS:
        with pytest.raises(error_type):
            open_one(desk, **{field: value})
        assert list(desk.request_ids()) == [first.id], field
    assert open_one(desk).ticket_code == "SR-000002"


# -- ticket codes and references --------------------------------------------------------------


def test_ticket_codes_are_given_in_sequence_and_request_ids_lists_them_in_order(
    desk: ServiceDesk,
) -> None:
    opened = [open_one(desk) for _ in range(12)]
    assert [r.ticket_code for r in opened] == [f"SR-{n:06d}" for n in range(1, 13)]
    assert list(desk.request_ids()) == [r.id for r in opened]
    assert len({r.id for r in opened}) == 12
    assert desk.get("SR-000012").id == opened[-1].id


def test_a_ticket_prefix_names_the_codes(make_desk: DeskFactory) -> None:
    desk = make_desk(ticket_prefix="HD")
    request = open_one(desk)
    assert request.ticket_code == "HD-000001"
    assert desk.get("hd-1").id == request.id


@pytest.mark.parametrize("prefix", ["", "sr", "1SR", "S-R", "ABCDEFGHIJK"])
def test_a_malformed_ticket_prefix_is_a_configuration_error(prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        ServiceDesk(ticket_prefix=prefix)


def test_a_request_is_found_by_every_kind_of_reference(desk: ServiceDesk) -> None:
    open_one(desk)
    request = open_one(desk)
    refs: list[UUID | str | Request] = [
        request.id,
        str(request.id),
        str(request.id).upper(),
        request.id.hex,
        "SR-000002",
        " SR-000002 ",
        "sr-000002",
        "sr-2",
        "SR-2",
        "SR-0000002",
        request,
    ]
    for ref in refs:
        assert desk.resolve(ref) == request.id, ref
        assert desk.get(ref) == request, ref
        assert desk.exists(ref), ref
    updated = desk.classify("sr-2", priority="low", actor="agent:ana")
    assert updated.id == request.id
    assert desk.report_progress(request, message="Stale views are refs too", actor="agent:a")
    assert desk.get(request).version == 3


UNKNOWN_REFS: list[str | UUID] = [
    "SR-000999",
    "SR-0",
    "HD-000001",
    "garbage",
    "",
    "SR-",
    "SR-12x",
    str(uuid4()),
    uuid4(),
]


def test_an_unknown_reference_is_not_found_by_queries_or_commands(desk: ServiceDesk) -> None:
    open_one(desk)
    for ref in UNKNOWN_REFS:
        assert not desk.exists(ref), ref
        with pytest.raises(RequestNotFoundError) as caught:
            desk.get(ref)
        assert str(ref).strip() in str(caught.value)
        with pytest.raises(RequestNotFoundError):
            desk.history(ref)
        with pytest.raises(RequestNotFoundError):
            desk.classify(ref, priority="low", actor="agent:ana")
        with pytest.raises(RequestNotFoundError):
            desk.get(ref, as_of=datetime(2030, 1, 1, tzinfo=UTC))
        with pytest.raises(RequestNotFoundError):
            desk.get(ref, version=1)
    assert len(list(desk.request_ids())) == 1


# -- replay: by version and as of an instant --------------------------------------------------


def test_a_request_is_read_back_at_each_of_its_versions(desk: ServiceDesk) -> None:
    request = assigned(desk)
    desk.probe(request, questions=["Since when?"], findings="Monday", actor="agent:ana")
    desk.complete(request, outcome="resolved", resolution="Fixed", actor="agent:ana")
    desk.reopen(request, reason="Not fixed", actor="customer:acme")
    desk.complete(request, outcome="resolved", resolution="Fixed now", actor="agent:ana")
    desk.accept(request, satisfaction=3, actor="customer:acme")
    expected = [
        (Status.NEW, None, 0),
        (Status.CLASSIFIED, None, 0),
        (Status.ASSIGNED, "network", 0),
        (Status.ASSIGNED, "network", 0),
        (Status.COMPLETED, "network", 0),
        (Status.ASSIGNED, "network", 1),
        (Status.COMPLETED, "network", 1),
        (Status.CLOSED, "network", 1),
    ]
    for version, (status, team, reopens) in enumerate(expected, start=1):
        view = desk.get(request, version=version)
        assert view.version == version
        assert (view.status, view.team, view.reopen_count) == (status, team, reopens)
    assert desk.get(request, version=8) == desk.get(request)
    assert len(desk.get(request, version=4).probes) == 1
    assert desk.get(request, version=3).probes == ()


def test_a_version_the_request_does_not_have_is_refused(desk: ServiceDesk) -> None:
    request = assigned(desk)
    for version in (0, -1):
        with pytest.raises(ValidationFailedError):
            desk.get(request, version=version)
    for version in (4, 99):
        with pytest.raises(RequestNotFoundError) as caught:
            desk.get(request, version=version)
        assert str(caught.value) == (
            f"no service request SR-000001 ({request.id}): it has 3 versions, not {version}"
        )
        with pytest.raises(RequestNotFoundError, match="it has 3 versions"):
            desk.get("sr-1", version=version)


def test_a_request_is_read_back_as_of_any_instant(desk: ServiceDesk, clock: FakeClockLike) -> None:
    opened_at = clock()
    request = open_one(desk)
    classified_at = clock.advance(minutes=10)
    desk.classify(request, priority="high", actor="agent:lead")
    assigned_at = clock.advance(minutes=30)
    desk.assign(request, team="network", actor="agent:lead")
    clock.advance(hours=2)
    desk.cancel(request, reason="Withdrawn", actor="customer:acme")

    with pytest.raises(RequestNotFoundError):
        desk.get(request, as_of=opened_at - timedelta(microseconds=1))
    cases = [
        (opened_at, Status.NEW, 1),
        (classified_at - timedelta(seconds=1), Status.NEW, 1),
        (classified_at, Status.CLASSIFIED, 2),
        (assigned_at - timedelta(minutes=1), Status.CLASSIFIED, 2),
        (assigned_at, Status.ASSIGNED, 3),
        (assigned_at + timedelta(hours=1), Status.ASSIGNED, 3),
        (clock(), Status.CANCELLED, 4),
        (clock() + timedelta(days=365), Status.CANCELLED, 4),
    ]
    for when, status, version in cases:
        view = desk.get(request, as_of=when)
        assert (view.status, view.version) == (status, version), when
        assert view == desk.get(request, version=version)
    local = assigned_at.astimezone(timezone(timedelta(hours=-5)))
    assert desk.get(request, as_of=local).status is Status.ASSIGNED


def test_as_of_must_be_an_aware_instant_and_excludes_version(
    desk: ServiceDesk, clock: Clock
) -> None:
    request = open_one(desk)
    with pytest.raises(ValidationFailedError):
        desk.get(request, as_of=clock().replace(tzinfo=None))
    with pytest.raises(ValidationFailedError):
        desk.get(request, as_of=clock(), version=1)


# -- imported history: occurred_at ------------------------------------------------------------


def test_imported_events_keep_when_they_happened_and_when_they_were_recorded(
    desk: ServiceDesk, clock: FakeClockLike
) -> None:
    now = clock()
    happened = [now - timedelta(days=3), now - timedelta(days=2), now - timedelta(days=2)]
    request = open_one(desk, occurred_at=happened[0], actor="integration:crm")
    clock.advance(seconds=1)
    desk.classify(request, priority="low", actor="integration:crm", occurred_at=happened[1])
    clock.advance(seconds=1)
    # the same instant as the previous event is allowed; given in another zone, same instant
    in_tokyo = happened[2].astimezone(timezone(timedelta(hours=9)))
    desk.assign(request, team="network", actor="integration:crm", occurred_at=in_tokyo)
    clock.advance(seconds=1)
    desk.report_progress(request, message="Live again", actor="agent:ana")

    entries = desk.history(request)
    assert [e.occurred_at for e in entries] == [*happened, clock()]
    assert [e.recorded_at for e in entries] == [
        now,
        now + timedelta(seconds=1),
        now + timedelta(seconds=2),
        now + timedelta(seconds=3),
    ]
    view = desk.get(request)
    assert view.opened_at == happened[0]
    assert (view.updated_at, view.recorded_at) == (clock(), clock())
    at_import = desk.get(request, version=3)
    assert (at_import.updated_at, at_import.recorded_at) == (
        happened[2],
        now + timedelta(seconds=2),
    )
    assert desk.get(request, as_of=happened[1] + timedelta(hours=1)).status is Status.ASSIGNED
    assert desk.get(request, as_of=happened[1] - timedelta(hours=1)).status is Status.NEW


def test_an_occurred_at_equal_to_the_clock_is_allowed(desk: ServiceDesk, clock: Clock) -> None:
    request = open_one(desk, occurred_at=clock())
    desk.classify(request, priority="low", actor="agent:ana", occurred_at=clock())
    assert desk.get(request).updated_at == clock()


def test_an_occurred_at_going_backwards_is_refused_naming_the_request(
    desk: ServiceDesk, clock: FakeClockLike
) -> None:
    request = open_one(desk)
    clock.advance(minutes=5)
    with pytest.raises(OccurrenceOutOfOrderError) as caught:
        desk.classify(
            request,
            priority="low",
            actor="agent:ana",
            occurred_at=clock() - timedelta(minutes=6),
        )
    assert caught.value.request_id == request.id
    assert caught.value.command == "classify"
    assert request.ticket_code in str(caught.value)
    assert len(desk.history(request)) == 1


# -- history -----------------------------------------------------------------------------------


def test_history_lists_every_event_with_actor_type_and_what_changed(
    desk: ServiceDesk, clock: FakeClockLike
) -> None:
    request = open_one(desk, customer=Customer(id="acme", name="ACME", tier="vip"))
    steps: list[tuple[str, Callable[[], object]]] = [
        ("agent:lead", lambda: desk.classify(request, priority="high", actor="agent:lead")),
        ("agent:lead", lambda: desk.assign(request, team="network", actor="agent:lead")),
        (
            "agent:ana",
            lambda: desk.wait_on_customer(request, reason="Need serial", actor="agent:ana"),
        ),
        (
            "customer:acme",
            lambda: desk.customer_responded(request, note="S/N 42", actor="customer:acme"),
        ),
        (
            "agent:ana",
            lambda: desk.act(request, action="Swap", effort_minutes=20, cost=15, actor="agent:ana"),
        ),
        (
            "agent:ana",
            lambda: desk.complete(
                request,
                outcome="transferred",
                resolution="Billing",
                to_team="billing",
                actor="agent:ana",
            ),
        ),
        ("agent:bob", lambda: desk.assign(request, team="billing", agent="bob", actor="agent:bob")),
        (
            "agent:bob",
            lambda: desk.complete(
                request, outcome="resolved", resolution="Refund", actor="agent:bob"
            ),
        ),
        ("customer:acme", lambda: desk.accept(request, satisfaction=4, actor="customer:acme")),
        (
            "auditor:eva",
            lambda: desk.log_nonconformity(
                request, description="Late", severity="major", actor="auditor:eva"
            ),
        ),
        (
            "auditor:eva",
            lambda: desk.correct_nonconformity(request, 1, correction="Rota", actor="auditor:eva"),
        ),
    ]
    for _, step in steps:
        clock.advance(minutes=7)
        step()
    entries = desk.history(request)
    assert [e.event_type for e in entries] == [
        "Opened",
        "Classified",
        "Assigned",
        "WaitingOnCustomer",
        "CustomerResponded",
        "ActionTaken",
        "Completed",
        "Assigned",
        "Completed",
        "CustomerAccepted",
        "NonConformityLogged",
        "NonConformityCorrected",
    ]
    assert [e.actor for e in entries] == ["agent:ana", *(actor for actor, _ in steps)]
    assert [e.version for e in entries] == list(range(1, 13))
    assert len(entries) == desk.get(request).version
    assert {e.request_id for e in entries} == {request.id}
    assert {e.ticket_code for e in entries} == {"SR-000001"}

    def changes(index: int) -> dict[str, tuple[object, object]]:
        return {c.field: (c.before, c.after) for c in entries[index].changes}

    assert changes(0)["status"] == (None, "new")
    assert changes(0)["customer"][1] == {
        "id": "acme",
        "name": "ACME",
        "tier": "vip",
        "language": None,
    }
    assert changes(1) == {"status": ("new", "classified"), "priority": (None, "high")}
    assert changes(2) == {"status": ("classified", "assigned"), "team": (None, "network")}
    assert changes(3) == {
        "status": ("assigned", "waiting_on_customer"),
        "waiting_reason": (None, "Need serial"),
    }
    assert changes(4) == {
        "status": ("waiting_on_customer", "assigned"),
        "waiting_reason": ("Need serial", None),
    }
    assert list(changes(5)) == ["actions"]
    assert changes(6) == {
        "status": ("assigned", "transferred"),
        "team": ("network", "billing"),
        "outcome": (None, "transferred"),
        "resolution": (None, "Billing"),
        "transfer_count": (0, 1),
    }
    assert changes(7) == {"status": ("transferred", "assigned"), "agent": (None, "bob")}
    assert changes(9)["status"] == ("completed", "closed")
    assert changes(9)["satisfaction"] == (None, 4)
    assert list(changes(10)) == ["nonconformities"]
    assert entries[5].data == {"action": "Swap", "effort_minutes": 20, "cost": "15"}
    assert entries[9].data == {"satisfaction": 4, "comment": None, "deemed": False}
    assert all(not ({"actor", "occurred_at", "originator_id"} & set(e.data)) for e in entries)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "builtin", "code"),
    [
        (ValidationFailedError, ValueError, "validation_failed"),
        (OccurrenceOutOfOrderError, ValueError, "occurrence_out_of_order"),
        (InvalidTransitionError, ValueError, "invalid_transition"),
        (RequestNotFoundError, LookupError, "request_not_found"),
        (NonConformityNotFoundError, LookupError, "nonconformity_not_found"),
        (ConcurrencyConflictError, RuntimeError, "concurrency_conflict"),
        (ConfigurationError, ValueError, "configuration_error"),
        (StoreError, RuntimeError, "store_error"),
    ],
)
def test_each_error_is_a_servflow_error_and_a_builtin_with_a_stable_code(
    error_type: type[ServflowError], builtin: type[Exception], code: str
) -> None:
    assert issubclass(error_type, ServflowError)
    assert issubclass(error_type, builtin)
    assert error_type.code == code
    assert error_type.__name__ in servflow.__all__


def test_error_codes_are_unique() -> None:
    errors = [getattr(servflow, name) for name in servflow.__all__]
    codes = [e.code for e in errors if isinstance(e, type) and issubclass(e, ServflowError)]
    assert len(codes) >= 9
    assert len(codes) == len(set(codes))


def test_callers_that_do_not_know_servflow_can_catch_builtins(memory_desk: ServiceDesk) -> None:
    with pytest.raises(LookupError):
        memory_desk.get("SR-000404")
    request = open_one(memory_desk)
    with pytest.raises(ValueError, match="SR-000001"):
        memory_desk.accept(request, satisfaction=5, actor="customer:acme")
    with pytest.raises(ValueError, match="priority"):
        memory_desk.classify(request, priority=Priority.HIGH.value + "!", actor="agent:ana")


def test_a_clock_that_returns_a_naive_time_is_a_configuration_error() -> None:
    desk = ServiceDesk(clock=lambda: datetime(2026, 3, 2, 9, 0))  # noqa: DTZ001 - the point
    with pytest.raises(ConfigurationError):
        open_one(desk)
