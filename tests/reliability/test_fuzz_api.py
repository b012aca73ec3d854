"""Hostile arguments to every public command and query of ``ServiceDesk``, on every store.

Each example sends a few calls whose arguments are, one by one, left out, sensible, or hostile:
wrong types, NUL bytes and unpaired surrogates, strings and lists past every limit, integers past
64 bits, naive datetimes and aware ones that overflow on their way to UTC, odd references, values
of servflow's own types that skipped validation. Every call must succeed or raise a
``ServflowError`` (whose message the guard never had to cut), never anything else; a refused
command appends nothing (the log's head is unchanged); the views keep up with the log, so nothing
a command accepted stops them (a NUL byte once froze every PostgreSQL view); the hash chain stays
intact and the views rebuild.

Bounded for CI: ``_EXAMPLES_PER_PROFILE_EXAMPLE`` times the hypothesis profile's
``max_examples`` (``ci``: 300 examples per store, a few seconds each).
"""

from __future__ import annotations

import inspect
import io
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FakeClock
from servflow import (
    Customer,
    RetryPolicy,
    ServflowError,
    ServiceDesk,
    SlaPolicy,
    SlaRule,
    ValidationFailedError,
)
from servflow.errors import MAX_MESSAGE

DeskFactory = Callable[..., ServiceDesk]

_EXAMPLES_PER_PROFILE_EXAMPLE = 3
_CALLS_PER_EXAMPLE = 4

#: Commands: a refusal must leave the log as it was.
COMMANDS = frozenset(
    {
        "open",
        "classify",
        "assign",
        "probe",
        "act",
        "wait_on_customer",
        "customer_responded",
        "hold",
        "resume",
        "unassign",
        "report_progress",
        "complete",
        "accept",
        "reopen",
        "cancel",
        "log_nonconformity",
        "correct_nonconformity",
        "note",
        "customer_message",
        "adopt_policy",
        "run_due",
        "forget_customer",
        "register_customer",
        "update_customer",
        "deactivate_customer",
        "register_team",
        "update_team",
        "deactivate_team",
        "register_agent",
        "update_agent",
        "deactivate_agent",
        "import_events",
        "dispatch",
        "retry_dead",
        "automate",
    }
)
#: Queries, and the projections' upkeep (which records no event).
QUERIES = frozenset(
    {
        "get",
        "history",
        "exists",
        "resolve",
        "request_ids",
        "queue",
        "queue_as_of",
        "verify",
        "audit_head",
        "audit_log",
        "export",
        "sla",
        "sla_timeline",
        "sla_whatif",
        "breaches",
        "at_risk",
        "policies",
        "kpis",
        "catch_up",
        "rebuild_projections",
        "projection_status",
        "quarantine",
        "follow",
        "customer",
        "customers",
        "teams",
        "agents",
        "outbox",
        "nonconformities",
    }
)
#: Public methods that are neither: the constructors (``test_fuzz_cli`` opens hostile stores),
#: ``close`` (it also releases the desk; a request's closure is covered by the lifecycle tests),
#: and what returns a tool rather than an answer: ``expecting`` (a context manager: its
#: arguments are checked on entry, below) and ``event_waiter`` (tests/http).
NOT_FUZZED = frozenset({"sqlite", "postgres", "close", "expecting", "event_waiter"})

_TEXTS = (
    "",
    "   ",
    "\x00",
    "t\x00eam",
    "\ud800",
    "a\udfffb",
    "\x1b[31mred",
    "agent:" + "a" * 300,
    "agent:ana\n",
    "x" * 20_001,
    "y" * 300_000,
    "SR-0",
    "SR-999999999999",
    " sr-000001 ",
    "SR-000001\x00",
    "00000000-0000-0000-0000-000000000000",
    "system",
    "customer:",
    "2026-01-01",
    "NaN",
    "1e1000",
)
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=23, minutes=59))]
)
_EXTREME_INSTANTS = (
    datetime.max.replace(tzinfo=timezone(-timedelta(hours=12))),
    datetime.min.replace(tzinfo=timezone(timedelta(hours=12))),
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=12))),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
)


class _Odd:
    """An object no argument should be."""

    def __repr__(self) -> str:
        return "<odd>"


def _closed() -> io.StringIO:
    closed = io.StringIO()
    closed.close()
    return closed


def _unvalidated() -> list[object]:
    """Values of servflow's types that skipped validation (``model_copy``, ``model_construct``)."""
    standard = SlaPolicy.standard()
    forever = SlaRule.model_construct(first_response=timedelta.max, resolution=timedelta.max)
    return [
        Customer(id="acme").model_copy(update={"id": "nul\x00"}),
        Customer(id="acme").model_copy(update={"id": "x" * 300, "tier": "gold"}),
        standard.model_copy(update={"version": 2**40}),
        standard.model_copy(update={"name": "nul\x00"}),
        standard.model_copy(update={"warn_at": float("nan")}),
        standard.model_copy(update={"default": forever}),
        SlaPolicy.model_construct(name="bare"),  # type: ignore[call-arg]
    ]


HOSTILE: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, 2**63 - 1, -(2**63) - 1, 2**64, 10**5000, -1, 0, 10**6 + 1]),
    st.floats(),
    st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("1e1000")]),
    st.text(max_size=12),
    st.sampled_from(_TEXTS),
    st.binary(max_size=8),
    st.lists(st.one_of(st.text(max_size=4), st.integers(), st.none()), max_size=3),
    # Past the list limit; within it, but past the event's size; far past both.
    st.sampled_from([["q" * 20_000] * 60, ["q" * 20_000] * 14, ["q"] * 100_000]),
    st.dictionaries(st.text(max_size=4), st.one_of(st.text(max_size=4), st.integers()), max_size=3),
    st.just({"k" * 10_000: "v", **{f"x{n}": n for n in range(50)}}),
    st.datetimes(),
    # Aware instants up to 2500: further on, SLA maths on business calendars walks every date
    # (slow, not wrong); the extremes come from _EXTREME_INSTANTS.
    st.datetimes(max_value=datetime(2500, 1, 1), timezones=_ZONES),  # noqa: DTZ001 - bounds
    st.sampled_from(_EXTREME_INSTANTS),
    st.dates(),
    st.timedeltas(),
    st.uuids(),
    st.builds(_Odd),
    st.builds(_closed),
    st.sampled_from(_unvalidated()),
)
_LEFT_OUT = object()


class _Sink:
    """A sender that takes everything."""

    def send(self, message: object) -> None:
        del message


class _Failing:
    """A sender that fails every time, with an exception of its own."""

    def send(self, message: object) -> None:
        del message
        msg = "down"
        raise OSError(msg)


IMPORT_SOURCE = Path(__file__).resolve().parents[1] / "fixtures" / "import-old.csv"
IMPORT_MAPPING: dict[str, object] = {
    "source": {"name": "old", "timezone": "Europe/Madrid"},
    "fields": {"case": "case", "time": "time", "state": "status", "team": "team"},
    "states": {"new": "queue", "working": "work", "resolved": "complete", "closed": "close"},
}
_TEXT_PARAMETERS = (
    "symptom",
    "synthesis",
    "reason",
    "note",
    "message",
    "text",
    "resolution",
    "action",
    "findings",
    "diagnosis",
    "description",
    "root_cause",
    "corrective_action",
    "correction",
    "comment",
)


def _stopped() -> threading.Event:
    stop = threading.Event()
    stop.set()
    return stop


def _sensible(
    desk: ServiceDesk, clock: FakeClock, refs: list[Any]
) -> Mapping[str, st.SearchStrategy[Any]]:
    """Sensible values for each parameter name, so that calls get past their first check."""
    ref = st.sampled_from(refs)
    before = st.builds(lambda m: clock.now - timedelta(minutes=m), st.integers(0, 600))
    after = st.builds(lambda d: clock.now + timedelta(days=d), st.integers(0, 30))
    text = st.sampled_from(["it works", "the router drops the line", "ok"])
    name = st.sampled_from(["billing", "frontline", "ana"])
    standard = SlaPolicy.standard()
    return dict.fromkeys(_TEXT_PARAMETERS, text) | {
        # A text, or a hold reason of the standard catalogue (``hold`` takes only those).
        "reason": st.sampled_from(["it works", "vendor", "customer", "problem"]),
        "visibility": st.sampled_from(["internal", "customer"]),
        "ref": ref,
        "request": ref,
        "nc": st.integers(1, 2),
        "customer": st.sampled_from(
            ["acme", Customer(id="acme", tier="vip"), {"id": "globex", "name": "Globex"}]
        ),
        "channel": st.sampled_from(["web", "phone"]),
        "kind": st.sampled_from(["complaint", "claim"]),
        "stage": st.sampled_from(["sale", "post_sale"]),
        "priority": st.sampled_from(["high", "low", ("high", "urgent")]),
        "status": st.sampled_from(["new", ("assigned", "closed")]),
        "tier": st.sampled_from(["vip", ("standard",), "premium"]),
        "outcome": st.sampled_from(["resolved", "transferred", "follow_up"]),
        "severity": st.sampled_from(["minor", "critical"]),
        "special": st.sampled_from(["triage", "unassigned", "follow_ups_due", "on_hold"]),
        "actor": st.sampled_from(
            ["agent:ana", "customer:acme", "system", "auditor:eva", "supervisor:eva"]
        ),
        "customer_id": st.sampled_from(["acme", "globex", "initech"]),
        "hold_reason": st.sampled_from([None, "vendor", "customer"]),
        "team": name,
        "agent": name,
        "to_team": name,
        "category": name,
        "questions": st.lists(text, max_size=3),
        "satisfaction": st.integers(1, 5),
        "effort_minutes": st.integers(0, 120),
        "cost": st.sampled_from(["12.50", 3, Decimal("0.5")]),
        "version": st.integers(1, 4),
        "limit": st.integers(1, 5),
        "offset": st.integers(0, 3),
        "after_position": st.integers(0, 5),
        "count": st.booleans(),
        "occurred_at": before,
        "at": before,
        "known_at": before,
        "as_of": before,
        "until": before,
        "since": before,
        "follow_up_at": after,
        "effective_from": after,
        "period": st.tuples(before, after),
        "event_type": st.sampled_from(["Opened", ["Assigned", "Classified"]]),
        "by": st.sampled_from(["occurred", "recorded"]),
        "format": st.sampled_from(["jsonl", "csv"]),
        "fp": st.sampled_from([io.StringIO, io.BytesIO]).map(lambda make: make()),
        "expected": st.builds(desk.audit_head),
        "progress": st.just(lambda *_: None),
        "policy": st.sampled_from(
            [standard, standard.model_copy(update={"name": "stricter", "warn_at": 0.5})]
        ),
        "names": st.sampled_from([None, ["queues"], ["sla", "audit"]]),
        "workers": st.sampled_from([1, 2]),
        "stop": st.builds(_stopped),
        "poll_interval": st.floats(0, 0.01),
        "external_ref": st.sampled_from(["INC0012345", "INC1", "urn:x:1"]),
        "external_source": st.sampled_from(["servicenow", "BPI", None]),
        "name": st.sampled_from(["Billing", "Ana Pérez", None]),
        "language": st.sampled_from(["es", "en-GB", None, "", "x" * 300]),
        "contacts": st.lists(st.sampled_from(["ana@x.es", "+34 600"]), max_size=2),
        "members": st.lists(name, max_size=2),
        "teams": st.lists(name, max_size=2),
        "include_inactive": st.booleans(),
        "include_imported": st.booleans(),
        # A small real file and its mapping (tests/fixtures/import-old.csv), or broken ones.
        "source": st.sampled_from([IMPORT_SOURCE, str(IMPORT_SOURCE), IMPORT_SOURCE.parent]),
        "mapping": st.sampled_from(
            [IMPORT_MAPPING, {**IMPORT_MAPPING, "states": {}}, IMPORT_SOURCE, "missing.toml"]
        ),
        "report": st.sampled_from([None, io.StringIO]).map(lambda make: make and make()),
        "dry_run": st.booleans(),
        "exact": st.booleans(),
        "views_progress": st.just(lambda *_: None),
        "sender": st.sampled_from([_Sink(), _Failing(), object()]),
        "retry": st.sampled_from([None, RetryPolicy(max_attempts=2), "often"]),
        "expire_after": st.sampled_from([timedelta(days=7), timedelta(0), timedelta(days=-1)]),
        "templates": st.sampled_from([None, "no-such-folder"]),
        "lease": st.sampled_from([timedelta(seconds=1), timedelta(days=2)]),
        "keys": st.sampled_from([None, [], ["nope"], "one-key"]),
        "rules": st.sampled_from(
            [
                [
                    {
                        "name": "escalate",
                        "when": {"sla": "breached"},
                        "then": {"reassign": "billing", "raise_priority": "urgent"},
                    }
                ],
                [{"name": "held", "when": {"held_for": "1m"}, "then": {"notify": "ana"}}],
                [{"name": "Bad", "when": {}, "then": {}}],
                "rules.toml",
                None,
            ]
        ),
        "due_every": st.sampled_from([None, 0.01, -1.0]),
        "group_by": st.sampled_from(
            [None, "team", ["week", "kind"], ["weather"], [], 7, ["month", "month"]]
        ),
    }


def _calls(
    desk: ServiceDesk, sensible: Mapping[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """One call: a method, and each of its arguments left out, sensible or hostile."""

    def call(name: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        arguments: dict[str, st.SearchStrategy[Any]] = {}
        for parameter in inspect.signature(getattr(desk, name)).parameters.values():
            choices = [sensible[parameter.name], sensible[parameter.name], HOSTILE]
            if parameter.default is not inspect.Parameter.empty:
                choices.append(st.just(_LEFT_OUT))
            arguments[parameter.name] = st.one_of(*choices)
        return st.fixed_dictionaries(arguments).map(
            lambda drawn: (name, {k: v for k, v in drawn.items() if v is not _LEFT_OUT})
        )

    return st.sampled_from(sorted(COMMANDS | QUERIES)).flatmap(call)


def _send(desk: ServiceDesk, name: str, arguments: dict[str, Any]) -> None:
    method = getattr(desk, name)
    positional = [
        arguments.pop(p.name)
        for p in inspect.signature(method).parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.name in arguments
    ]
    result = method(*positional, **arguments)
    if name == "request_ids":
        list(result)  # an iterator: what it reads, it reads now


def _seed(desk: ServiceDesk, clock: FakeClock) -> list[Any]:
    """Requests in different states; the references sensible values pick from, and two unknown."""
    agent = "agent:ana"
    refs: list[Any] = []
    for number in range(4):
        request = desk.open(
            customer="acme",
            channel="web",
            kind="complaint",
            stage="sale",
            symptom=f"symptom {number}",
            actor=agent,
        )
        clock.advance(minutes=5)
        if number >= 1:
            desk.classify(request, priority="high", actor=agent)
            desk.assign(request, team="billing", agent="ana", actor=agent)
        if number >= 2:
            desk.log_nonconformity(request, description="late", severity="minor", actor=agent)
            desk.complete(request, outcome="resolved", resolution="done", actor=agent)
        refs += [request.ticket_code, request.id, request]
    external = desk.open(
        customer="acme",
        channel="web",
        kind="complaint",
        stage="sale",
        symptom="imported",
        actor=agent,
        external_ref="INC7",
        external_source="servicenow",
    )
    desk.register_team("billing", actor=agent)
    clock.advance(hours=1)
    return [*refs, external.ticket_code, "ext:servicenow:INC7", "SR-000099", UUID(int=7), "ext:X"]


@pytest.mark.slow
def test_every_public_call_succeeds_or_raises_a_servflow_error(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(erasable=True)  # every personal field sealed, and customers to forget
    sensible = _sensible(desk, clock, _seed(desk, clock))

    @settings(
        max_examples=settings().max_examples * _EXAMPLES_PER_PROFILE_EXAMPLE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(_calls(desk, sensible), min_size=1, max_size=_CALLS_PER_EXAMPLE))
    def hostile_calls(calls: list[tuple[str, dict[str, Any]]]) -> None:
        for name, arguments in calls:
            clock.advance(minutes=1)
            head = desk.audit_head()
            refusal = ""
            try:
                _send(desk, name, dict(arguments))
            except ServflowError as error:
                refusal = str(error)
            if refusal:
                assert len(refusal) <= MAX_MESSAGE, f"{name} echoed a long value"
                if name in COMMANDS:
                    assert desk.audit_head() == head, f"a refused {name} appended events"
        assert [s.lag for s in desk.projection_status()] == [0, 0, 0]

    hostile_calls()
    report = desk.verify()
    assert report.intact, report
    desk.rebuild_projections()
    assert [s.lag for s in desk.projection_status()] == [0, 0, 0]


def test_the_fuzzer_knows_every_public_method_and_its_parameters() -> None:
    public = {
        name
        for name, member in inspect.getmembers(ServiceDesk)
        if not name.startswith("_") and callable(member)
    }
    assert public == COMMANDS | QUERIES | NOT_FUZZED, "a new public method needs fuzzing"
    with ServiceDesk() as desk:
        sensible = _sensible(desk, FakeClock(), ["SR-000001"])
        for name in COMMANDS | QUERIES:
            for parameter in inspect.signature(getattr(desk, name)).parameters:
                assert parameter in sensible, f"{name}({parameter}=...) has no sensible values"


@pytest.mark.parametrize(
    "version", [0, -1, "7", 2**63, None, 1.5], ids=["0", "-1", "text", "2**63", "None", "float"]
)
def test_expecting_refuses_a_bad_version_on_entry(version: object) -> None:
    with ServiceDesk() as desk:
        request = desk.open(
            customer="acme", channel="web", kind="claim", stage="sale", symptom="x",
            actor="agent:ana",
        )  # fmt: skip
        with pytest.raises(ValidationFailedError), desk.expecting(request, version):  # type: ignore[arg-type]
            desk.classify(request, priority="low", actor="agent:ana")
        assert len(desk.history(request)) == 1
