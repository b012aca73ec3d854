"""Hostile input is refused with a typed error, before anything is recorded, on every store.

Regression tests of issue 13: a NUL byte that froze every PostgreSQL view (2), raw exceptions out
of the public API (6), unbounded sizes and echoed values (7), a DSN's password in a message and
upper-case schema names (8). ``tests/reliability/test_fuzz_api.py`` fuzzes the same ground.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from conftest import POSTGRES_DSN, assigned, drop_schema, open_one, require_postgres
from servflow import (
    Calendar,
    ConfigurationError,
    Customer,
    Request,
    RequestNotFoundError,
    ServflowError,
    ServiceDesk,
    SlaPolicy,
    SlaRule,
    ValidationFailedError,
)
from servflow.desk.stores import postgres_env

DeskFactory = Callable[..., ServiceDesk]
AGENT = "agent:ana"


def refused(desk: ServiceDesk, call: Callable[[], object]) -> ServflowError:
    """The typed error ``call`` raises; the log must be as it was."""
    head = desk.audit_head()
    with pytest.raises(ServflowError) as caught:
        call()
    assert desk.audit_head() == head, "a refused command appended events"
    return caught.value


def views_keep_up(desk: ServiceDesk) -> None:
    assert [s.lag for s in desk.projection_status()] == [0, 0, 0]


# -- 2: text every store can keep -------------------------------------------------------------

NUL_COMMANDS: dict[str, Callable[[ServiceDesk, Request], object]] = {
    "assign team": lambda d, r: d.assign(r, team="t\x00eam", actor=AGENT),
    "assign agent": lambda d, r: d.assign(r, team="t", agent="a\x00", actor=AGENT),
    "classify category": lambda d, r: d.classify(r, priority="low", category="\x00", actor=AGENT),
    "probe question": lambda d, r: d.probe(r, questions=["why\x00"], findings="f", actor=AGENT),
    "act action": lambda d, r: d.act(r, action="reboot\x00", actor=AGENT),
    "progress message": lambda d, r: d.report_progress(r, message="\x00", actor=AGENT),
    "actor": lambda d, r: d.report_progress(r, message="ok", actor="agent:a\x00na"),
    "open customer": lambda d, _: open_one(d, customer="ac\x00me"),
    "open customer name": lambda d, _: open_one(d, customer={"id": "a", "name": "A\x00"}),
    "open symptom": lambda d, _: open_one(d, symptom="broken\x00"),
    "surrogate": lambda d, _: open_one(d, symptom="broken \ud800"),
    "nonconformity": lambda d, r: d.log_nonconformity(
        r, description="late", severity="minor", root_cause="\x00", actor=AGENT
    ),
}


def test_after_a_refused_nul_byte_the_views_keep_up_and_rebuild(desk: ServiceDesk) -> None:
    """Issue 13, item 2: ``assign(team="t\x00eam")`` was accepted and froze PostgreSQL's views."""
    requests = [assigned(desk) for _ in range(3)]
    with pytest.raises(ValidationFailedError, match="NUL"):
        desk.assign(requests[0], team="t\x00eam", actor=AGENT)
    open_one(desk)
    views_keep_up(desk)
    assert desk.queue().total == 4
    assert desk.rebuild_projections() > 0
    assert desk.queue().total == 4


def test_a_customer_that_skipped_validation_is_checked_again(desk: ServiceDesk) -> None:
    customer = Customer(id="acme").model_copy(update={"id": "nul\x00"})
    error = refused(desk, lambda: open_one(desk, customer=customer))
    assert "customer.id" in str(error)


def test_policy_names_are_text_every_store_can_keep(desk: ServiceDesk) -> None:
    policy = SlaPolicy.standard().model_copy(update={"name": "nul\x00"})
    refused(desk, lambda: desk.adopt_policy(policy, actor=AGENT))
    with pytest.raises(ValueError, match="NUL"):
        Calendar(name="\x00", timezone="UTC")


# -- 6: typed errors only -----------------------------------------------------------------------

MINUS_12 = timezone(-timedelta(hours=12))
QUERIES: dict[str, Callable[[ServiceDesk, Request], object]] = {
    "occurred_at past year 9999 in UTC": lambda d, r: d.classify(
        r, priority="high", actor=AGENT, occurred_at=datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_12)
    ),
    "queue offset 2**63": lambda d, _: d.queue(offset=2**63),
    "get as_of 0": lambda d, r: d.get(r, as_of=0),  # type: ignore[arg-type]
    "audit_log since text": lambda d, _: d.audit_log(since="2026-01-01"),  # type: ignore[arg-type]
    "verify expected uuid": lambda d, _: d.verify(expected=uuid4()),  # type: ignore[arg-type]
    "queue team list": lambda d, _: d.queue(team=["a"]),  # type: ignore[arg-type]
    "queue team int": lambda d, _: d.queue(team=-1),  # type: ignore[arg-type]
    "queue team NUL": lambda d, _: d.queue(team="\x00"),
    "queue status date": lambda d, _: d.queue(status=datetime.now(UTC)),  # type: ignore[arg-type]
    "breaches limit 2**63": lambda d, _: d.breaches(limit=2**63),
    "at_risk at year 1 +12:00": lambda d, _: d.at_risk(
        at=datetime.min.replace(tzinfo=timezone(timedelta(hours=12)))
    ),
    "kpis team list": lambda d, _: d.kpis(  # type: ignore[call-overload]
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 12, 1, tzinfo=UTC),
        team=["x"],
    ),
    "kpis group_by unknown": lambda d, _: d.kpis(
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 12, 1, tzinfo=UTC),
        group_by=["weather"],
    ),
    "kpis group_by int": lambda d, _: d.kpis(  # type: ignore[call-overload]
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 12, 1, tzinfo=UTC),
        group_by=7,
    ),
    "get version text": lambda d, r: d.get(r, version="1"),  # type: ignore[arg-type]
    "complete follow_up_at text": lambda d, r: d.complete(
        r,
        outcome="follow_up",
        resolution="call back",
        follow_up_at="2026-01-01",  # type: ignore[arg-type]
        actor=AGENT,
    ),
    "adopt a policy copied past its checks": lambda d, _: d.adopt_policy(
        SlaPolicy.standard().model_copy(update={"version": 2**70}), actor=AGENT
    ),
    "audit_log event_type int": lambda d, _: d.audit_log(event_type=3),  # type: ignore[arg-type]
    "export to no file": lambda d, _: d.export(None),  # type: ignore[arg-type]
    "rebuild names int": lambda d, _: d.rebuild_projections(7),  # type: ignore[arg-type]
    "catch_up progress not callable": lambda d, _: d.catch_up(progress=1),  # type: ignore[arg-type]
    "follow without an event": lambda d, _: d.follow(None),  # type: ignore[arg-type]
    "probe with no questions": lambda d, r: d.probe(
        r,
        questions=None,  # type: ignore[arg-type]
        findings="x",
        actor=AGENT,
    ),
    "probe with questions as one text": lambda d, r: d.probe(
        r,
        questions="When does it fail?",  # type: ignore[arg-type]
        findings="x",
        actor=AGENT,
    ),
    "follow polling every 10**400 s": lambda d, _: d.follow(
        threading.Event(), poll_interval=10**400
    ),
    "correct a non-conformity named by text": lambda d, r: d.correct_nonconformity(
        r,
        "1",  # type: ignore[arg-type]
        correction="x",
        actor=AGENT,
    ),
}


@pytest.mark.parametrize("case", [*NUL_COMMANDS, *QUERIES])
def test_a_bad_argument_is_refused_with_a_validation_error_and_records_nothing(
    desk: ServiceDesk, case: str
) -> None:
    request = assigned(desk)
    call = NUL_COMMANDS.get(case) or QUERIES[case]
    error = refused(desk, lambda: call(desk, request))
    assert isinstance(error, ValidationFailedError), error
    if case in NUL_COMMANDS:
        assert any(word in str(error) for word in ("NUL", "surrogate", "unicode")), error
    views_keep_up(desk)
    assert desk.queue().total == 1


def test_a_policy_whose_targets_no_datetime_can_reach_is_refused(desk: ServiceDesk) -> None:
    """A ``timedelta.max`` target once stopped the SLA view (an OverflowError in its fold)."""
    with pytest.raises(ValueError, match="at most 365,000 days"):
        SlaRule(first_response=timedelta.max, resolution=timedelta.max)
    forever = SlaRule.model_construct(first_response=timedelta.max, resolution=timedelta.max)
    policy = SlaPolicy.standard().model_copy(update={"default": forever})
    error = refused(desk, lambda: desk.adopt_policy(policy, actor=AGENT))
    assert "365,000 days" in str(error)
    longest = timedelta(days=365_000)
    desk.adopt_policy(
        SlaPolicy(
            name="patient",
            calendar=Calendar.always_open(),
            default=SlaRule(first_response=longest, resolution=longest),
            deemed_acceptance_after=longest,
        ),
        actor=AGENT,
    )
    request = assigned(desk)
    desk.complete(request, outcome="resolved", resolution="done", actor=AGENT)
    views_keep_up(desk)
    assert desk.sla(request).resolution.state == "met"


@pytest.mark.parametrize(
    "settings",
    [
        {"ticket_prefix": ["SR"]},
        {"ticket_prefix": "SR\n"},
        {"projections": ["inline"]},
        {"sla": SlaPolicy.standard().model_copy(update={"version": 0})},
        {"env": {"PERSISTENCE_MODULE": 1}},
        {"path": "x\x00y.db"},
        {"path": 7},
        {"cipher_key": b"0" * 32},
        {"path": "/etc/passwd"},
    ],
    ids=repr,
)
def test_a_desk_with_hostile_settings_is_refused_with_a_typed_error(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    on_file = bool({"path", "cipher_key"} & set(settings))
    opened: Callable[..., ServiceDesk] = ServiceDesk.sqlite if on_file else ServiceDesk
    if on_file:
        settings = {"path": str(tmp_path / "desk.db"), **settings}
    with pytest.raises(ServflowError):
        opened(**settings)


def test_the_desk_refuses_a_clock_that_is_not_one() -> None:
    with pytest.raises(ConfigurationError, match="clock"):
        ServiceDesk(clock=5)  # type: ignore[arg-type]
    desk = ServiceDesk(clock=lambda: "now")  # type: ignore[arg-type, return-value]
    with pytest.raises(ConfigurationError, match="clock"):
        open_one(desk)
    with pytest.raises(ConfigurationError, match="audit_key"):
        ServiceDesk(audit_key="secret")  # type: ignore[arg-type]


# -- 7: sizes ------------------------------------------------------------------------------------


def test_a_probe_holds_at_most_fifty_questions(desk: ServiceDesk) -> None:
    request = assigned(desk)
    error = refused(
        desk,
        lambda: desk.probe(request, questions=["q" * 20_000] * 2621, findings="f", actor=AGENT),
    )
    assert "questions" in str(error)
    assert len(str(error)) < 500
    desk.probe(request, questions=["why?"] * 50, findings="f", actor=AGENT)


def test_an_event_larger_than_256_kib_is_refused(desk: ServiceDesk) -> None:
    request = assigned(desk)
    # Fourteen questions of 20,000 characters: each field within its limit, 280 kB together.
    error = refused(
        desk, lambda: desk.probe(request, questions=["q" * 20_000] * 14, findings="f", actor=AGENT)
    )
    assert "262,144" in str(error)
    assert error.request_id == request.id  # type: ignore[attr-defined]
    views_keep_up(desk)
    desk.probe(request, questions=["q" * 20_000] * 12, findings="f", actor=AGENT)


@pytest.mark.parametrize(
    "call",
    [
        lambda d, r: d.assign(r, team="t", actor="agent:" + "a" * 50_000_000),
        lambda d, _: d.get("x" * 50_000_000),
        lambda d, _: d.audit_log(actor="agent:" + "a" * 50_000_000),
        lambda d, _: d.queue(team="t" * 50_000_000),
        lambda d, _: open_one(d, customer="c" * 50_000_000),
    ],
    ids=["actor", "ref", "actor filter", "team filter", "customer"],
)
def test_a_huge_value_comes_back_as_a_short_prefix(
    memory_desk: ServiceDesk, call: Callable[[ServiceDesk, Request], object]
) -> None:
    request = assigned(memory_desk)
    error = refused(memory_desk, lambda: call(memory_desk, request))
    assert len(str(error)) < 600, len(str(error))


def test_a_reference_is_read_only_when_short(memory_desk: ServiceDesk) -> None:
    request = open_one(memory_desk)
    assert memory_desk.get(f"  {request.ticket_code}  ").id == request.id
    with pytest.raises(RequestNotFoundError, match="100,000 characters"):
        memory_desk.get(" " * (100_000 - len(request.ticket_code)) + request.ticket_code)


# -- 8: secrets and schema names -----------------------------------------------------------------


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:s3cr3t-pw@[::1/db",
        "postgresql://u:s3cr3t-pw%zz@host/db",
        "host=x password=s3cr3t-pw 'unterminated",
        "host=x password=pw s3cr3t-pw",
    ],
)
def test_a_malformed_dsn_never_shows_its_password(dsn: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid PostgreSQL connection string") as caught:
        postgres_env(dsn, pool_size=5, cipher_key=None, compress=False)
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize("schema", ["UpperCase", "with space", 'q"uote', "pg_mine", "9lives"])
@pytest.mark.postgres
def test_a_schema_name_postgres_would_fold_is_refused_before_anything_is_created(
    schema: str,
) -> None:
    require_postgres()
    import psycopg  # noqa: PLC0415

    drop_schema(schema)  # left by a run of an older servflow, which created it
    with pytest.raises(ConfigurationError, match="lower-case PostgreSQL identifier"):
        ServiceDesk.postgres(POSTGRES_DSN, schema=schema)
    with psycopg.connect(POSTGRES_DSN) as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    assert found == (0,)


@pytest.mark.postgres
def test_a_lower_case_schema_name_with_digits_and_underscores_works() -> None:
    require_postgres()
    schema = f"_servflow_{uuid4().hex[:8]}_2"
    try:
        with ServiceDesk.postgres(POSTGRES_DSN, schema=schema) as desk:
            request = open_one(desk)
            assert desk.get(request.ticket_code).ticket_code == request.ticket_code
    finally:
        drop_schema(schema)
