"""Automation rules fire once per occurrence of their condition, and never miss one.

For random histories, cut into stretches with a run of the rules after each: no request ever
holds the same (rule, condition key) twice; a run right after another records nothing; and
after each run, every SLA clock in the state a rule reacts to, and every hold of an hour, has fired
its rule (the run missed nothing the desk itself reports).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from conftest import FakeClock
from servflow import AutomationRules, ServiceDesk
from strategies import START, Step, histories, run_history

RULES = AutomationRules.of(
    [
        {"name": "warned", "when": {"sla": "warning"}, "then": {"notify": "leads"}},
        {
            "name": "breached",
            "when": {"sla": "breached"},
            "then": {"notify": "leads", "raise_priority": "high"},
        },
        {
            "name": "missed",
            "when": {"sla": "missed", "clock": "resolution"},
            "then": {"nonconformity": {"severity": "minor", "category": "sla"}},
        },
        {"name": "held", "when": {"held_for": "1h"}, "then": {"reassign": "leads"}},
        {"name": "reopened", "when": {"reopened": True}, "then": {"notify": "leads"}},
    ]
)
_STATE_OF = {"warned": "warning", "breached": "breached"}


def fired_keys(desk: ServiceDesk, ticket: str) -> list[tuple[str, str]]:
    return [
        (str(e.data["rule"]), str(e.data["key"]))
        for e in desk.history(ticket)
        if e.event_type == "AutomationFired"
    ]


def check_complete(desk: ServiceDesk, tickets: list[str], clock: FakeClock) -> None:
    """Every clock a rule reacts to, and every hold of an hour, has fired its rule by now."""
    for ticket in tickets:
        request = desk.get(ticket)
        fired = set(fired_keys(desk, ticket))
        status = desk.sla(ticket, at=clock.now)
        for rule, state in _STATE_OF.items():
            for clock_ in status.clocks:
                if clock_.state.value != state:
                    continue
                cycle = (
                    getattr(clock_, "cycle", 0)
                    if clock_.name == "update"
                    else request.reopen_count
                    if clock_.name == "resolution"
                    else 0
                )
                assert (rule, f"sla:{state}:{clock_.name}:{cycle}") in fired, (ticket, rule)
        if status.resolution.state.value == "missed":
            key = f"sla:missed:resolution:{request.reopen_count}"
            assert ("missed", key) in fired, ticket
        if request.status.value in {"on_hold", "waiting_on_customer"}:
            holds = [
                e for e in desk.history(ticket) if e.event_type in {"Held", "WaitingOnCustomer"}
            ]
            last = holds[-1]
            if clock.now - last.occurred_at >= timedelta(hours=1):
                assert ("held", f"held:{last.version}") in fired, ticket


@given(st.lists(histories(min_size=1, max_size=12), min_size=1, max_size=4))
def test_rules_fire_once_per_condition_and_miss_none(stretches: list[list[Step]]) -> None:
    clock = FakeClock(START)
    with ServiceDesk(clock=clock) as desk:
        tickets: list[str] = []
        for stretch in stretches:
            run_history(desk, clock, stretch, tickets, minutes=(20, 45))
            report = desk.automate(RULES)
            assert report.problems == ()
            check_complete(desk, tickets, clock)
            assert desk.automate(RULES).fired == ()
        for ticket in tickets:
            counts = Counter(fired_keys(desk, ticket))
            assert all(n == 1 for n in counts.values()), (ticket, counts)
