"""``ServiceDesk.nonconformities``: the register of non-conformities and their correction.

Every test runs on memory, SQLite and PostgreSQL. T0 is the test clock's start, Monday
2026-03-02 09:00 UTC.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import FakeClock
from servflow import NonConformityRegister, ServiceDesk, Severity, ValidationFailedError

H = timedelta(hours=1)
WHO = "agent:ana"


def build(desk: ServiceDesk, clock: FakeClock) -> tuple[str, str]:
    """Two requests, four non-conformities over three days, two corrected."""
    t0 = clock.now
    clock.now = t0 + 100 * H
    first = desk.open(customer="acme", channel="web", kind="claim", stage="sale", symptom="x",
                      actor=WHO, occurred_at=t0)  # fmt: skip
    second = desk.open(customer="globex", channel="phone", kind="complaint", stage="sale",
                       symptom="y", actor=WHO, occurred_at=t0)  # fmt: skip
    desk.log_nonconformity(
        first, description="Answered late", severity="minor", category="sla",
        root_cause="Queue not watched", actor="auditor:eva", occurred_at=t0 + H,
    )  # fmt: skip
    desk.log_nonconformity(
        first, description="Wrong refund", severity="major", category="billing",
        corrective_action="Four-eyes check", actor=WHO, occurred_at=t0 + 2 * H,
    )  # fmt: skip
    desk.log_nonconformity(
        second, description="Rude", severity="critical", actor="auditor:eva",
        occurred_at=t0 + 30 * H,
    )  # fmt: skip
    desk.correct_nonconformity(first, 1, correction="Alert added", actor="supervisor:lee",
                               occurred_at=t0 + 5 * H)  # fmt: skip
    desk.correct_nonconformity(second, 1, correction="Coached", actor="supervisor:lee",
                               occurred_at=t0 + 40 * H)  # fmt: skip
    desk.log_nonconformity(
        second, description="Late again", severity="minor", category="sla", actor=WHO,
        occurred_at=t0 + 50 * H,
    )  # fmt: skip
    return first.ticket_code, second.ticket_code


def test_the_register_lists_every_non_conformity_and_its_correction(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    t0 = clock.now
    first, second = build(desk, clock)

    register = desk.nonconformities()

    assert [(e.ticket_code, e.number, e.severity, e.status) for e in register.entries] == [
        (first, 1, Severity.MINOR, "corrected"),
        (first, 2, Severity.MAJOR, "open"),
        (second, 1, Severity.CRITICAL, "corrected"),
        (second, 2, Severity.MINOR, "open"),
    ]
    answered_late = register.entries[0]
    assert answered_late.detected_by == "auditor:eva"
    assert answered_late.detected_at == t0 + H
    assert answered_late.root_cause == "Queue not watched"
    assert (answered_late.correction, answered_late.corrected_by) == (
        "Alert added",
        "supervisor:lee",
    )
    assert answered_late.time_to_correct == 4 * H
    assert register.entries[1].corrective_action == "Four-eyes check"
    assert register.entries[2].time_to_correct == 10 * H
    assert register.by_severity == {Severity.MINOR: 2, Severity.MAJOR: 1, Severity.CRITICAL: 1}
    assert register.by_category == {"(none)": 1, "billing": 1, "sla": 2}
    assert (register.open, register.corrected) == (2, 2)
    assert register.median_time_to_correct == 7 * H  # 4 h and 10 h
    assert register.mean_time_to_correct == 7 * H
    assert NonConformityRegister.model_validate_json(register.model_dump_json()) == register


def test_the_register_of_a_period_and_its_filters(desk: ServiceDesk, clock: FakeClock) -> None:
    t0 = clock.now
    first, second = build(desk, clock)
    day_one = desk.nonconformities(since=t0, until=t0 + 24 * H)
    assert [(e.ticket_code, e.number) for e in day_one.entries] == [(first, 1), (first, 2)]
    # A correction after the period still counts for a non-conformity detected in it.
    day_two = desk.nonconformities(since=t0 + 24 * H, until=t0 + 48 * H)
    assert [(e.ticket_code, e.status) for e in day_two.entries] == [(second, "corrected")]
    open_ones = desk.nonconformities(status="open")
    assert [(e.ticket_code, e.number) for e in open_ones.entries] == [(first, 2), (second, 2)]
    assert [e.number for e in desk.nonconformities(severity="minor").entries] == [1, 2]
    assert desk.nonconformities(category="sla").by_category == {"sla": 2}
    with pytest.raises(ValidationFailedError, match="status"):
        desk.nonconformities(status="fixed")
    with pytest.raises(ValidationFailedError, match="since must be before until"):
        desk.nonconformities(since=t0 + H, until=t0)
    assert desk.nonconformities(since=t0 + 90 * H).entries == []
