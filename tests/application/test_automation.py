"""Automation rules: when a condition holds and the request passes the filters, act once.

Every test runs on memory, SQLite and PostgreSQL unless it says otherwise. The desk's default
policy (first response 8 h, resolution 40 h, warning from 80 % of the target, every hour
counts) and a fake clock starting Monday 2026-03-02 09:00 UTC, so the expected instants can be
worked out by hand: opened at 09:00, the resolution clock warns from Tue 17:00 (32 h) and is
due Wed 01:00 (40 h).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import (
    POSTGRES_DSN,
    DeskFactory,
    FakeClock,
    drop_schema,
    require_postgres,
    view_rows,
)
from processes import together
from servflow import (
    ActorKind,
    AutomationRules,
    ConfigurationError,
    OccurrenceOutOfOrderError,
    OutboundMessage,
    Roles,
    ServiceDesk,
    ValidationFailedError,
)
from servflow.domain.lifecycle import Command

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

AGENT = "agent:ana"

ESCALATE = {
    "name": "escalate-breaches",
    "when": {"sla": "breached", "clock": "resolution"},
    "then": {
        "reassign": "l2",
        "raise_priority": "urgent",
        "notify": "supervisors",
        "nonconformity": {"severity": "major", "category": "sla"},
    },
}


def worked(desk: ServiceDesk, *, priority: str = "normal", team: str = "l1") -> str:
    """Open a claim from acme, classify it and give it to ``team``'s agent ana."""
    request = desk.open(
        customer="acme",
        channel="email",
        kind="claim",
        stage="post_sale",
        symptom="The invoice charges a visit twice",
        actor=AGENT,
    )
    desk.classify(request.ticket_code, priority=priority, actor=AGENT)
    desk.assign(request.ticket_code, team=team, agent="ana", actor=AGENT)
    return request.ticket_code


def fired(desk: ServiceDesk, code: str) -> list[tuple[str, str]]:
    """``(rule, key)`` of every ``AutomationFired`` of the request, in order."""
    return [
        (str(e.data["rule"]), str(e.data["key"]))
        for e in desk.history(code)
        if e.event_type == "AutomationFired"
    ]


def test_a_breached_resolution_clock_escalates_once_and_says_why(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    code = worked(desk)
    rules = AutomationRules.of([ESCALATE])
    clock.advance(hours=39)  # Tue 00:00: due at Wed 01:00 -> not breached yet
    assert desk.automate(rules).fired == ()
    clock.advance(hours=2)  # Wed 02:00: one hour past due
    report = desk.automate(rules)
    [firing] = report.fired
    assert firing.rule == "escalate-breaches"
    assert firing.ticket_code == code
    assert firing.key == "sla:breached:resolution:0"
    assert firing.condition == "resolution clock breached, due 2026-03-04T01:00:00+00:00"
    assert firing.actions == (
        "notify:supervisors",
        "reassign:l2",
        "raise_priority:urgent",
        "nonconformity:major",
    )
    assert firing.skipped == ()
    assert firing.occurred_at == clock.now
    # The log says what happened, by whom, and why: the firing, then its actions, by system.
    tail = desk.history(code)[-4:]
    assert [(e.event_type, e.actor) for e in tail] == [
        ("AutomationFired", "system"),
        ("Assigned", "system"),
        ("Classified", "system"),
        ("NonConformityLogged", "system"),
    ]
    assert tail[0].data["rule"] == "escalate-breaches"
    request = desk.get(code)
    assert (request.team, request.agent, request.priority) == ("l2", None, "urgent")
    [nc] = request.nonconformities
    assert (nc.severity, nc.category, nc.logged_by) == ("major", "sla", "system")
    assert nc.description == (
        "Rule escalate-breaches: resolution clock breached, due 2026-03-04T01:00:00+00:00"
    )
    # Once per condition: later runs record nothing, however often they come.
    for _ in range(3):
        clock.advance(hours=1)
        again = desk.automate(rules)
        assert again.fired == ()
        assert again.problems == ()
    assert fired(desk, code) == [("escalate-breaches", "sla:breached:resolution:0")]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def lasting_desk(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[DeskFactory]:
    """Desks on one SQLite file or PostgreSQL schema: a store that outlives its desk."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    desks: list[ServiceDesk] = []
    if request.param == "postgres":
        require_postgres()

    def make(**kwargs: object) -> ServiceDesk:
        if request.param == "sqlite":
            desk = ServiceDesk.sqlite(str(tmp_path / "lasting.db"), clock=clock, **kwargs)  # type: ignore[arg-type]
        else:
            desk = ServiceDesk.postgres(POSTGRES_DSN, schema=schema, clock=clock, **kwargs)  # type: ignore[arg-type]
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        desk.close()
    if request.param == "postgres":
        drop_schema(schema)


def test_rules_fire_once_per_condition_across_restarts(
    lasting_desk: DeskFactory, clock: FakeClock
) -> None:
    make_desk = lasting_desk
    desk = make_desk()
    code = worked(desk)
    rules = AutomationRules.of([ESCALATE])
    clock.advance(days=3)
    assert len(desk.automate(rules).fired) == 1
    desk.close()
    # A new desk (a restarted process) on the same store: the log says it fired.
    again = make_desk()
    assert again.automate(rules).fired == ()
    # Even when what the views remember of it is gone: the log decides, not that table.
    with again._stores.views.transaction() as tx:
        tx.execute(f"DELETE FROM {again._stores.views.dialect.table('sf_automation_seen')}")  # noqa: S608
    report = again.automate(rules)
    assert report.fired == ()
    assert report.judged == 1
    assert fired(again, code) == [("escalate-breaches", "sla:breached:resolution:0")]


def test_warning_and_breach_are_two_conditions_each_fired_once(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    code = worked(desk)
    rules = AutomationRules.of(
        [
            {
                "name": "warn",
                "when": {"sla": "warning", "clock": "resolution"},
                "then": {"notify": "l1"},
            },
            {
                "name": "breach",
                "when": {"sla": "breached", "clock": "resolution"},
                "then": {"notify": "supervisors"},
            },
        ]
    )
    clock.advance(hours=31)  # Tue 16:00: an hour before the warning window
    assert desk.automate(rules).fired == ()
    clock.advance(hours=2)  # Tue 18:00: at risk
    [warned] = desk.automate(rules).fired
    assert (warned.rule, warned.key, warned.actions) == (
        "warn",
        "sla:warning:resolution:0",
        ("notify:l1",),
    )
    assert warned.condition == "resolution clock warning, due 2026-03-04T01:00:00+00:00"
    clock.advance(hours=8)  # Wed 02:00: breached
    [breached] = desk.automate(rules).fired
    assert (breached.rule, breached.key) == ("breach", "sla:breached:resolution:0")
    assert desk.automate(rules).fired == ()
    assert fired(desk, code) == [
        ("warn", "sla:warning:resolution:0"),
        ("breach", "sla:breached:resolution:0"),
    ]


def test_a_long_hold_fires_once_per_hold(make_desk: DeskFactory, clock: FakeClock) -> None:
    desk = make_desk()
    code = worked(desk)
    rules = AutomationRules.of(
        [
            {
                "name": "stalled-vendor",
                "when": {"held_for": "2d", "reason": "vendor"},
                "then": {"nonconformity": {"severity": "minor", "category": "holds"}},
            }
        ]
    )
    desk.hold(code, reason="vendor", note="Waiting for the printer's part", actor=AGENT)
    hold_version = desk.get(code).version
    clock.advance(days=1, hours=23)
    assert desk.automate(rules).fired == ()
    clock.advance(hours=2)  # two days and an hour on hold
    [firing] = desk.automate(rules).fired
    assert firing.key == f"held:{hold_version}"
    assert firing.condition == (
        "held (vendor) longer than 2d: on hold (vendor) since 2026-03-02T09:00:00+00:00"
    )
    assert desk.automate(rules).fired == ()
    # A second hold is another occurrence; a wait on the customer is not a vendor hold.
    desk.resume(code, actor=AGENT)
    desk.wait_on_customer(code, reason="The serial number", actor=AGENT)
    clock.advance(days=3)
    assert desk.automate(rules).fired == ()
    desk.customer_responded(code, note="It is 123", actor=AGENT)
    desk.hold(code, reason="vendor", actor=AGENT)
    clock.advance(days=3)
    [second] = desk.automate(rules).fired
    assert second.key != firing.key
    assert len(desk.get(code).nonconformities) == 2


def test_a_reopening_fires_once_while_the_request_is_open(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    code = worked(desk)
    rules = AutomationRules.of(
        [{"name": "reopened-to-l2", "when": {"reopened": True}, "then": {"reassign": "l2"}}]
    )
    desk.complete(code, outcome="resolved", resolution="Refunded", actor=AGENT)
    assert desk.automate(rules).fired == ()
    clock.advance(hours=1)
    desk.reopen(code, reason="Charged again", actor="customer:acme")
    [firing] = desk.automate(rules).fired
    assert (firing.key, firing.actions) == ("reopened:1", ("reassign:l2",))
    assert desk.automate(rules).fired == ()
    # The second reopening is another occurrence, once the request is open again.
    desk.complete(code, outcome="resolved", resolution="Refunded again", actor=AGENT)
    assert desk.automate(rules).fired == ()
    clock.advance(hours=1)
    desk.reopen(code, reason="Still charged", actor="customer:acme")
    [second] = desk.automate(rules).fired
    assert second.key == "reopened:2"
    # Already with l2 and nobody: the reassignment is skipped, and the log says so.
    assert second.actions == ()
    assert second.skipped == ("reassign:l2: already in its queue",)


def test_a_reopening_older_than_max_age_does_not_fire(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    code = worked(desk)
    desk.complete(code, outcome="resolved", resolution="Refunded", actor=AGENT)
    desk.reopen(code, reason="Charged again", actor="customer:acme")
    clock.advance(days=2)
    rules = AutomationRules.of(
        [{"name": "reopened", "when": {"reopened": True}, "then": {"notify": "l2"}}]
    )
    late = rules.model_copy(update={"max_age": timedelta(days=1)})
    assert desk.automate(late).fired == ()
    assert len(desk.automate(rules).fired) == 1  # the default: seven days


def test_filters_choose_the_requests(make_desk: DeskFactory, clock: FakeClock) -> None:
    desk = make_desk()
    billing_high = worked(desk, priority="high", team="billing")
    billing_low = worked(desk, priority="low", team="billing")
    network_high = worked(desk, priority="high", team="network")
    rules = AutomationRules.of(
        [
            {
                "name": "billing-urgent",
                "when": {"sla": "breached", "clock": "resolution"},
                "where": {
                    "teams": ["billing"],
                    "priorities": ["high", "urgent"],
                    "tiers": ["standard"],
                    "kinds": ["claim"],
                },
                "then": {"notify": "billing-leads"},
            },
            {
                "name": "vip-only",
                "when": {"sla": "breached"},
                "where": {"tiers": ["vip"]},
                "then": {"notify": "vip-desk"},
            },
        ]
    )
    clock.advance(days=10)
    report = desk.automate(rules)
    assert [(f.rule, f.ticket_code) for f in report.fired] == [("billing-urgent", billing_high)]
    assert fired(desk, billing_low) == fired(desk, network_high) == []


def test_an_action_refused_records_nothing_and_is_reported(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk(ad_hoc=False)
    desk.register_team("l1", name="First line", actor=AGENT)
    desk.register_agent("ana", name="Ana", teams=["l1"], actor=AGENT)
    code = worked(desk)
    before = len(desk.history(code))
    clock.advance(days=3)
    report = desk.automate(AutomationRules.of([ESCALATE]))
    assert report.fired == ()
    [problem] = report.problems
    assert (problem.rule, problem.code, problem.ticket_code) == (
        "escalate-breaches",
        "unknown_team",
        code,
    )
    assert "team 'supervisors' is not in the team directory" in problem.message
    assert len(desk.history(code)) == before
    # Once the team exists, the same condition fires (nothing was recorded for it before).
    desk.register_team("l2", name="Second line", actor=AGENT)
    desk.register_team("supervisors", name="Supervisors", actor=AGENT)
    assert len(desk.automate(AutomationRules.of([ESCALATE])).fired) == 1


def test_roles_that_do_not_let_system_act_refuse_the_rule(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    standard = Roles.standard()
    grants = dict(standard.grants)
    grants[ActorKind.SYSTEM] = frozenset(
        c for c in grants[ActorKind.SYSTEM] if c is not Command.ASSIGN
    )
    desk = make_desk(roles=Roles(grants=grants))
    code = worked(desk)
    clock.advance(days=3)
    report = desk.automate(AutomationRules.of([ESCALATE]))
    [problem] = report.problems
    assert problem.code == "permission_denied"
    assert fired(desk, code) == []


def test_a_notified_team_is_owed_a_team_alert(make_desk: DeskFactory, clock: FakeClock) -> None:
    desk = make_desk()
    code = worked(desk)
    clock.advance(days=3)
    desk.automate(AutomationRules.of([ESCALATE]))
    got: list[OutboundMessage] = []

    class Inbox:
        def send(self, message: OutboundMessage) -> None:
            got.append(message)

    desk.dispatch(Inbox())
    [alert] = [m for m in got if m.kind == "team_alert"]
    assert alert.team == "supervisors"
    assert alert.to == ()
    assert alert.ticket_code == code
    assert alert.subject == f"Rule escalate-breaches: {code} needs supervisors"
    assert "resolution clock breached, due 2026-03-04T01:00:00+00:00" in alert.body
    assert {m.kind for m in got} >= {"receipt", "bad_news", "team_alert"}
    assert all(m.team is None for m in got if m.kind != "team_alert")


def test_views_equal_a_rebuild_after_rules_fired(make_desk: DeskFactory, clock: FakeClock) -> None:
    desk = make_desk()
    for _ in range(3):
        worked(desk)
    clock.advance(days=3)
    assert len(desk.automate(AutomationRules.of([ESCALATE])).fired) == 3
    live = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == live


def test_a_run_for_an_instant_after_the_clock_is_refused(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    with pytest.raises(OccurrenceOutOfOrderError, match="after the desk's clock"):
        desk.automate([ESCALATE], at=clock.now + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({**ESCALATE, "name": "Not A Slug"}, "rules[0].name"),
        ({**ESCALATE, "when": {}}, "give exactly one condition"),
        ({**ESCALATE, "when": {"sla": "late"}}, "rules[0].when.sla"),
        ({**ESCALATE, "when": {"held_for": "-2h"}}, "rules[0].when.held_for"),
        ({**ESCALATE, "when": {"reopened": True, "clock": "update"}}, "goes with an 'sla'"),
        ({**ESCALATE, "then": {}}, "at least one action"),
        ({**ESCALATE, "then": {"raise_priority": "asap"}}, "rules[0].then.raise_priority"),
        ({**ESCALATE, "unless": "never"}, "rules[0].unless"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_setting(
    memory_desk: ServiceDesk, rule: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match="invalid automation rule") as refused:
        memory_desk.automate([rule])
    assert problem in str(refused.value)


def test_two_rules_may_not_share_a_name(memory_desk: ServiceDesk) -> None:
    with pytest.raises(ConfigurationError, match="two rules are named 'escalate-breaches'"):
        memory_desk.automate([ESCALATE, ESCALATE])


def test_rules_load_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        """
max_age = "3d"

[[rules]]
name = "escalate-breaches"
description = "Second line takes what the first could not finish in time"
when = { sla = "breached", clock = "resolution" }
where = { priorities = ["normal", "high"] }
then = { reassign = "l2", raise_priority = "urgent" }

[[rules]]
name = "stalled"
when = { held_for = "1d12h" }
then = { notify = "l1", nonconformity = { severity = "minor" } }
""",
        encoding="utf-8",
    )
    rules = AutomationRules.from_file(path)
    assert rules.max_age == timedelta(days=3)
    assert [r.name for r in rules.rules] == ["escalate-breaches", "stalled"]
    assert rules.rules[1].when.held_for == timedelta(days=1, hours=12)
    assert rules.rules[1].when.describe() == "held longer than 1d12h"
    (tmp_path / "bad.toml").write_text("[[rules]]\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"rules\[0\]\.name"):
        AutomationRules.from_file(tmp_path / "bad.toml")


def automate_in_child(
    kind: str, target: str, schema: str | None, start: Barrier, results: Queue[list[str]]
) -> None:
    """Run the escalation rule from a separate process, at the same moment as another."""
    desk = (
        ServiceDesk.sqlite(target)
        if kind == "sqlite"
        else ServiceDesk.postgres(target, schema=schema)
    )
    with desk:
        start.wait(timeout=60)
        report = desk.automate(AutomationRules.of([ESCALATE]))
        results.put([f.ticket_code for f in report.fired] + [p.code for p in report.problems])


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_processes_running_the_rules_at_once_fire_each_condition_once(
    kind: str, tmp_path: Path
) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    if kind == "postgres":
        require_postgres()
    target = str(tmp_path / "shared.db") if kind == "sqlite" else POSTGRES_DSN
    desk = (
        ServiceDesk.sqlite(target)
        if kind == "sqlite"
        else ServiceDesk.postgres(target, schema=schema)
    )
    try:
        three_days_ago = datetime.now(UTC) - timedelta(days=3)
        codes = []
        for n in range(24):
            request = desk.open(
                customer="acme",
                channel="email",
                kind="claim",
                stage="post_sale",
                symptom=f"Problem {n}",
                actor=AGENT,
                occurred_at=three_days_ago,
            )
            desk.classify(request, priority="normal", actor=AGENT, occurred_at=three_days_ago)
            codes.append(request.ticket_code)
        batches = together(automate_in_child, (kind, target, schema), timeout=120)
        # Between them, each request fired once: no problem, no double.
        assert sorted(code for batch in batches for code in batch) == codes
        for code in codes:
            assert fired(desk, code) == [("escalate-breaches", "sla:breached:resolution:0")]
        assert desk.automate(AutomationRules.of([ESCALATE])).fired == ()
    finally:
        desk.close()
        if kind == "postgres":
            drop_schema(schema)


def test_a_follower_runs_the_rules_and_the_due_work(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    code = worked(desk)
    clock.advance(days=3)
    stop = threading.Event()
    follower = threading.Thread(
        target=desk.follow,
        args=(stop,),
        kwargs={"poll_interval": 0.01, "due_every": 0.01, "rules": [ESCALATE]},
    )
    follower.start()
    try:
        deadline = time.monotonic() + 30
        while not fired(desk, code) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # a few more turns: they find it fired
    finally:
        stop.set()
        follower.join(timeout=30)
    assert not follower.is_alive()
    assert fired(desk, code) == [("escalate-breaches", "sla:breached:resolution:0")]


def test_a_follower_takes_rules_only_with_due_every(memory_desk: ServiceDesk) -> None:
    with pytest.raises(ValidationFailedError, match="only with due_every"):
        memory_desk.follow(threading.Event(), rules=[ESCALATE])
