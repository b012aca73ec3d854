"""The outbox: the messages a request's life makes owed to its customer, delivered at least once.

Every test runs on memory, SQLite and PostgreSQL unless it says otherwise. Senders here are
plain objects with ``send``; the shipped senders are tested against real servers in
``tests/senders``.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import servflow.desk.outbox
from conftest import POSTGRES_DSN, DeskFactory, FakeClock, drop_schema, require_postgres
from servflow import (
    Calendar,
    DeliveryError,
    OutboundMessage,
    RetryPolicy,
    ServiceDesk,
    SlaPolicy,
    SlaRule,
    ValidationFailedError,
)
from servflow.projections.outbox import MESSAGE_KINDS

AGENT = "agent:ana"


@dataclass
class Inbox:
    """A sender that keeps what it gets, and drops a key it has seen (an idempotent one)."""

    got: list[OutboundMessage] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0

    def send(self, message: OutboundMessage) -> None:
        if message.key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(message.key)
        self.got.append(message)

    @property
    def kinds(self) -> list[str]:
        return [m.kind for m in self.got]


def opened(desk: ServiceDesk, customer: str = "acme") -> str:
    request = desk.open(
        customer=customer,
        channel="email",
        kind="claim",
        stage="post_sale",
        symptom="The invoice charges a visit twice",
        actor=AGENT,
    )
    return request.ticket_code


def worked(desk: ServiceDesk, code: str) -> None:
    desk.classify(code, priority="normal", actor=AGENT)
    desk.assign(code, team="billing", agent="ana", actor=AGENT)


def test_a_request_s_life_owes_exactly_these_messages(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    desk.register_customer(
        "acme", name="Ferretería Acme", language="es-ES", contacts=["it@acme.es"], actor=AGENT
    )
    inbox = Inbox()
    code = opened(desk)
    worked(desk, code)
    clock.advance(hours=1)
    desk.complete(code, outcome="resolved", resolution="Credit note issued", actor=AGENT)
    clock.advance(hours=1)
    desk.reopen(code, reason="Still charged twice", actor="customer:acme")
    clock.advance(hours=1)
    desk.complete(code, outcome="resolved", resolution="Refunded", actor=AGENT)
    desk.accept(code, satisfaction=5, actor="customer:acme")
    # A second request: transferred (nothing owed), then cancelled.
    other = opened(desk)
    worked(desk, other)
    desk.complete(
        other, outcome="transferred", resolution="For the field team", to_team="field", actor=AGENT
    )
    desk.cancel(other, reason="Duplicate of the first", actor=AGENT)

    report = desk.dispatch(inbox)
    assert (report.collected, report.delivered, report.retried, report.dead) == (7, 7, 0, 0)
    assert [(m.ticket_code, m.kind) for m in inbox.got] == [
        (code, "receipt"),
        (code, "completion"),
        (code, "reopening"),
        (code, "completion"),
        (code, "closure"),
        (other, "receipt"),
        (other, "cancellation"),
    ]
    receipt = inbox.got[0]
    assert receipt.language == "es"
    assert receipt.to == ("it@acme.es",)
    assert receipt.subject == f"Hemos recibido su solicitud {code}"
    assert "Ferretería Acme" in receipt.body
    assert "Prevemos resolverla antes del" in receipt.body
    assert "Refunded" in inbox.got[3].body
    assert inbox.got[6].body.count("Duplicate of the first") == 1
    assert not any(m.personal for m in inbox.got)
    # The keys name the request, the kind and the position of the fact: the same after a
    # rebuild of the views, so nothing is owed, or sent, again.
    request_id = desk.get(code).id
    assert receipt.key.startswith(f"{request_id}:receipt:")
    desk.rebuild_projections()
    again = desk.dispatch(inbox)
    assert (again.collected, again.delivered) == (0, 0)
    assert inbox.duplicates == 0
    assert Counter(e.status for e in desk.outbox(limit=100)) == {"delivered": 7}


def test_a_customer_without_a_record_or_language_gets_the_desk_s_language(
    make_desk: DeskFactory, tmp_path: Path
) -> None:
    desk = make_desk()
    inbox = Inbox()
    code = opened(desk, "walk-in")
    desk.dispatch(inbox, language="es")
    assert inbox.got[0].subject == f"Hemos recibido su solicitud {code}"
    assert inbox.got[0].to == ()
    # The company's own templates come first.
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "cancellation.txt").write_text(
        "Anulada: {{ ticket_code }}\n\nHasta pronto.\n", encoding="utf-8"
    )
    desk.cancel(code, reason="Withdrawn", actor="customer:walk-in")
    desk.dispatch(inbox, language="es", templates=tmp_path)
    assert (inbox.got[-1].subject, inbox.got[-1].body) == (f"Anulada: {code}", "Hasta pronto.\n")


def test_bad_news_is_owed_once_when_the_resolution_clock_is_at_risk_and_once_when_breached(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    inbox = Inbox()
    code = opened(desk)
    worked(desk, code)
    desk.dispatch(inbox)
    assert inbox.kinds == ["receipt"]
    due = desk.sla(code).resolution
    assert due.warn_from is not None
    assert due.due is not None
    clock.now = due.warn_from + timedelta(minutes=1)
    desk.dispatch(inbox)
    desk.dispatch(inbox)
    assert inbox.kinds == ["receipt", "bad_news"]
    warning = inbox.got[-1]
    assert warning.personal
    assert "may not be resolved" in warning.body
    clock.now = due.due + timedelta(hours=1)
    desk.dispatch(inbox)
    desk.dispatch(inbox)
    assert inbox.kinds == ["receipt", "bad_news", "bad_news"]
    assert "have not been able to resolve" in inbox.got[-1].body
    assert inbox.duplicates == 0


def test_a_failed_delivery_is_retried_later_then_dead_and_can_be_retried_again(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    code = opened(desk)
    failures: list[int] = []

    class Down:
        def send(self, message: OutboundMessage) -> None:
            failures.append(message.attempt)
            msg = "mail server down"
            raise ConnectionError(msg)

    retry = RetryPolicy(max_attempts=3, first_delay=timedelta(minutes=1), jitter=0)
    first = desk.dispatch(Down(), retry=retry)
    assert (first.retried, first.dead) == (1, 0)
    # Not before its pause is over: one minute, then two.
    assert desk.dispatch(Down(), retry=retry).retried == 0
    clock.advance(minutes=1)
    assert desk.dispatch(Down(), retry=retry).retried == 1
    clock.advance(minutes=2)
    assert desk.dispatch(Down(), retry=retry).dead == 1
    assert failures == [1, 2, 3]
    [entry] = desk.outbox(status="dead")
    assert entry.attempts == 3
    assert entry.last_error == "ConnectionError: mail server down"
    assert desk.retry_dead() == 1
    inbox = Inbox()
    assert desk.dispatch(inbox, retry=retry).delivered == 1
    assert inbox.got[0].ticket_code == code
    assert inbox.got[0].attempt == 1


def test_a_delivery_that_cannot_succeed_goes_to_the_dead_letters_at_once(
    make_desk: DeskFactory,
) -> None:
    desk = make_desk()
    opened(desk)

    class Refusing:
        def send(self, message: OutboundMessage) -> None:
            msg = f"no address for {message.customer_id}"
            raise DeliveryError(msg, retryable=False)

    report = desk.dispatch(Refusing())
    assert (report.retried, report.dead) == (0, 1)
    assert desk.outbox(status="dead")[0].last_error == "DeliveryError: no address for acme"


def test_messages_owed_long_before_the_run_expire_and_are_never_sent(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    desk.open(
        customer="acme",
        channel="web",
        kind="report",
        stage="post_sale",
        symptom="Imported",
        actor="integration:old",
        occurred_at=clock.now - timedelta(days=400),
    )
    inbox = Inbox()
    report = desk.dispatch(inbox)
    # The receipt, and the bad news of a resolution clock breached a year ago.
    assert (report.collected, report.expired, report.delivered) == (2, 2, 0)
    assert {e.kind for e in desk.outbox(status="expired")} == {"receipt", "bad_news"}


def test_dispatch_refuses_what_it_cannot_use(make_desk: DeskFactory, clock: FakeClock) -> None:
    desk = make_desk()
    with pytest.raises(ValidationFailedError, match="sender"):
        desk.dispatch(object())  # type: ignore[arg-type]
    with pytest.raises(ValidationFailedError, match="at"):
        desk.dispatch(Inbox(), at=clock.now + timedelta(minutes=1))
    with pytest.raises(ValidationFailedError, match="status"):
        desk.outbox(status="lost")  # type: ignore[arg-type]


@st.composite
def failure_plans(draw: st.DrawFn) -> tuple[int, list[float]]:
    seed = draw(st.integers(0, 2**32 - 1))
    rates = draw(st.lists(st.sampled_from([0.0, 0.3, 0.7, 1.0]), min_size=1, max_size=6))
    return seed, rates


@pytest.mark.parametrize(
    "kind", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=failure_plans())
def test_a_sender_failing_at_random_ends_with_every_message_delivered_or_dead_none_twice(
    kind: str, tmp_path_factory: pytest.TempPathFactory, plan: tuple[int, list[float]]
) -> None:
    seed, rates = plan
    now = [datetime(2026, 3, 2, 9, tzinfo=UTC)]
    schema = None
    if kind == "memory":
        desk = ServiceDesk(clock=lambda: now[0])
    elif kind == "sqlite":
        path = tmp_path_factory.mktemp("outbox") / "desk.db"
        desk = ServiceDesk.sqlite(str(path), clock=lambda: now[0])
    else:
        require_postgres()
        schema = f"t_{uuid.uuid4().hex[:12]}"
        desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema, clock=lambda: now[0])
    try:
        with desk:
            _run_plan(desk, seed, rates, now)
    finally:
        if schema is not None:
            drop_schema(schema)


def _run_plan(desk: ServiceDesk, seed: int, rates: list[float], now: list[datetime]) -> None:
    for number in range(4):
        code = opened(desk, f"c{number}")
        if number % 2:
            desk.cancel(code, reason="Withdrawn", actor=AGENT)
    owed = 6
    rng = random.Random(seed)  # noqa: S311 - a failure plan, not a secret
    delivered: Counter[str] = Counter()

    class Flaky:
        rate = 0.0

        def send(self, message: OutboundMessage) -> None:
            if rng.random() < self.rate:
                if rng.random() < 0.2:
                    msg = "refused"
                    raise DeliveryError(msg, retryable=False)
                msg = "flaky"
                raise TimeoutError(msg)
            delivered[message.key] += 1

    flaky = Flaky()
    retry = RetryPolicy(
        max_attempts=4, first_delay=timedelta(minutes=1), max_delay=timedelta(minutes=5)
    )
    for rate in [*rates, 0.0]:
        flaky.rate = rate
        desk.dispatch(flaky, retry=retry)
        now[0] += timedelta(minutes=10)
    entries = desk.outbox(limit=100)
    assert len(entries) == owed
    statuses = Counter(e.status for e in entries)
    assert set(statuses) <= {"delivered", "dead"}
    # Delivered once each; the dead were never delivered.
    assert all(n == 1 for n in delivered.values())
    assert {e.key for e in entries if e.status == "delivered"} == set(delivered)


def test_every_kind_has_a_template_in_each_language_and_a_catalogue_entry() -> None:
    package = Path(servflow.desk.outbox.__file__).parent / "templates"
    catalogue = (
        Path(__file__).resolve().parents[2] / "docs" / "reference" / "messages.md"
    ).read_text(encoding="utf-8")
    for kind in MESSAGE_KINDS:
        assert f"## {kind}\n" in catalogue, kind
        for language in ("en", "es"):
            subject = (package / language / f"{kind}.txt").read_text(encoding="utf-8")
            first = subject.splitlines()[0]
            assert f"- {language}: {first}" in catalogue, (kind, language)


def test_a_receiver_s_retry_after_is_honoured(make_desk: DeskFactory, clock: FakeClock) -> None:
    desk = make_desk()
    opened(desk)

    class Busy:
        def send(self, message: OutboundMessage) -> None:
            msg = f"429 Too Many Requests for {message.key}"
            raise DeliveryError(msg, retry_after=600.0)

    retry = RetryPolicy(first_delay=timedelta(seconds=30), jitter=0)
    assert desk.dispatch(Busy(), retry=retry).retried == 1
    [entry] = desk.outbox(status="pending")
    assert entry.next_attempt_at == clock.now + timedelta(minutes=10)


def test_a_progress_report_is_owed_once_a_cycle_when_the_update_clock_warns(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # 24x7, normal requests: an update at least every 4h (warning from 3h12m, 80%). Probed at
    # 09:00 (the first response starts cycle 1, due 13:00, warning from 12:12). At 12:30 a
    # progress report is owed; a second run owes nothing more for the cycle. The agent reports
    # at 12:45 (cycle 2, due 16:45, warning from 15:57): at 16:00 one more is owed, and at
    # 17:00, the cycle breached, still that one.
    policy = SlaPolicy(
        name="keep-in-touch",
        calendar=Calendar.always_open(),
        rules=(SlaRule(name="normal", priority="normal", first_response="4h",
                       resolution="5d", update="4h"),),
    )  # fmt: skip
    desk = make_desk(sla=policy)
    inbox = Inbox()
    code = opened(desk)
    worked(desk, code)
    desk.probe(code, questions=["Since when?"], findings="Since Friday", actor=AGENT)
    clock.advance(hours=3, minutes=30)
    desk.dispatch(inbox)
    desk.dispatch(inbox)
    assert inbox.kinds == ["receipt", "progress"]
    assert "still working on your request" in inbox.got[-1].body
    assert not inbox.got[-1].personal
    clock.advance(minutes=15)
    desk.report_progress(code, message="Waiting for the bank", actor=AGENT)
    clock.advance(hours=3, minutes=15)
    desk.dispatch(inbox)
    clock.advance(hours=1)
    desk.dispatch(inbox)
    assert inbox.kinds == ["receipt", "progress", "progress"]
    assert inbox.duplicates == 0
