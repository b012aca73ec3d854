"""Who may record what: the desk asks its roles before it records anything, on every store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import DeskFactory, FakeClock
from servflow import (
    ActorKind,
    PermissionDeniedError,
    Request,
    Roles,
    ServiceDesk,
    Status,
    ValidationFailedError,
)

Command = Callable[[ServiceDesk, Request, str], object]

#: Commands on a request the customer "acme" opened and the desk assigned, with their inputs.
WORK: dict[str, Command] = {
    "classify": lambda d, r, a: d.classify(r, priority="low", actor=a),
    "assign": lambda d, r, a: d.assign(r, team="network", actor=a),
    "probe": lambda d, r, a: d.probe(r, questions=["q"], findings="f", actor=a),
    "act": lambda d, r, a: d.act(r, action="Reset", actor=a),
    "wait_on_customer": lambda d, r, a: d.wait_on_customer(r, reason="serial?", actor=a),
    "report_progress": lambda d, r, a: d.report_progress(r, message="Soon", actor=a),
    "complete": lambda d, r, a: d.complete(r, outcome="resolved", resolution="Done", actor=a),
}


def opened(desk: ServiceDesk, actor: str = "customer:acme") -> Request:
    request = desk.open(
        customer="acme",
        channel="web",
        kind="complaint",
        stage="post_sale",
        symptom="Router drops",
        actor=actor,
    )
    desk.classify(request, priority="high", actor="agent:ana")
    return desk.assign(request, team="network", agent="ana", actor="agent:ana")


def refused(
    desk: ServiceDesk, request: Request, call: Callable[[], object]
) -> PermissionDeniedError:
    before = len(desk.history(request))
    with pytest.raises(PermissionDeniedError) as caught:
        call()
    assert len(desk.history(request)) == before, "a refused command records nothing"
    assert caught.value.code == "permission_denied"
    return caught.value


#: What ``system`` records for automation rules (their actions): not refused to it.
_AUTOMATION = {"assign", "classify"}


@pytest.mark.parametrize(
    ("actor", "command"),
    [
        (actor, command)
        for actor in ("customer:acme", "auditor:eva", "system")
        for command in sorted(WORK)
        if not (actor == "system" and command in _AUTOMATION)
    ],
)
def test_only_the_desk_works_a_request(make_desk: DeskFactory, command: str, actor: str) -> None:
    desk = make_desk()
    request = opened(desk)
    error = refused(desk, request, lambda: WORK[command](desk, request, actor))
    assert (error.actor, error.command, error.request_id) == (actor, command, request.id)
    assert f"refused '{command}'" in str(error)


@pytest.mark.parametrize("command", sorted(_AUTOMATION))
def test_system_records_the_actions_of_automation_rules(
    make_desk: DeskFactory, command: str
) -> None:
    desk = make_desk()
    request = opened(desk)
    WORK[command](desk, request, "system")
    assert desk.history(request)[-1].actor == "system"


@pytest.mark.parametrize("actor", ["agent:bo", "supervisor:lee", "integration:crm"])
def test_agents_supervisors_and_integrations_work_requests(
    make_desk: DeskFactory, actor: str
) -> None:
    desk = make_desk()
    request = opened(desk)
    for command in ("probe", "act", "report_progress", "complete"):
        WORK[command](desk, request, actor)
    assert desk.get(request).status is Status.COMPLETED


def test_a_customer_answers_accepts_and_reopens_its_own_requests_only(desk: ServiceDesk) -> None:
    mine = opened(desk)
    desk.wait_on_customer(mine, reason="Serial number?", actor="agent:ana")
    refused(desk, mine, lambda: desk.customer_responded(mine, note="x", actor="customer:zen"))
    desk.customer_responded(mine, note="SN-1", actor="customer:acme")
    desk.complete(mine, outcome="resolved", resolution="Firmware", actor="agent:ana")
    error = refused(desk, mine, lambda: desk.accept(mine, satisfaction=5, actor="customer:zen"))
    assert "its own requests only" in str(error)
    assert "'acme'" in str(error)
    desk.reopen(mine, reason="Still drops", actor="customer:acme")
    desk.complete(mine, outcome="resolved", resolution="New router", actor="agent:ana")
    assert desk.accept(mine, satisfaction=4, actor="customer:acme").status is Status.CLOSED


def test_a_customer_opens_and_withdraws_only_for_itself(desk: ServiceDesk) -> None:
    with pytest.raises(PermissionDeniedError):
        desk.open(
            customer="acme",
            channel="web",
            kind="claim",
            stage="sale",
            symptom="Not mine",
            actor="customer:zen",
        )
    assert list(desk.request_ids()) == []
    mine = opened(desk)
    refused(desk, mine, lambda: desk.cancel(mine, reason="x", actor="customer:zen"))
    assert desk.cancel(mine, reason="Fixed it myself", actor="customer:acme").status is (
        Status.CANCELLED
    )


def test_auditors_document_and_correct_nonconformities_and_nothing_else(desk: ServiceDesk) -> None:
    request = opened(desk)
    nc = desk.log_nonconformity(request, description="Late", severity="minor", actor="auditor:eva")
    desk.correct_nonconformity(request, nc, correction="Rota", actor="auditor:eva")
    refused(desk, request, lambda: desk.cancel(request, reason="x", actor="auditor:eva"))


def test_system_records_what_time_brings_and_no_work(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    desk = make_desk()
    request = opened(desk)
    refused(desk, request, lambda: desk.cancel(request, reason="x", actor="system"))
    follow_up = clock.now.replace(hour=18)
    desk.complete(
        request,
        outcome="follow_up",
        resolution="Call back",
        follow_up_at=follow_up,
        actor="agent:ana",
    )
    clock.advance(days=30)
    assert {a.action for a in desk.run_due()} >= {"follow_up_due", "deemed_acceptance"}
    assert desk.get(request).status is Status.CLOSED


def test_a_malformed_actor_is_a_validation_error_not_a_permission_one(desk: ServiceDesk) -> None:
    request = opened(desk)
    with pytest.raises(ValidationFailedError):
        desk.cancel(request, reason="x", actor="bob")


def test_roles_are_data_a_desk_is_given(make_desk: DeskFactory) -> None:
    roles = Roles.standard().granting(ActorKind.CUSTOMER, ["report_progress"])
    desk = make_desk(roles=roles)
    request = opened(desk)
    desk.report_progress(request, message="Dropped at 21:00 again", actor="customer:acme")
    refused(desk, request, lambda: desk.report_progress(request, message="x", actor="customer:zen"))
    assert roles.may("customer:acme", "report_progress")
    assert not Roles.standard().may("customer:acme", "report_progress")


def test_unrestricted_roles_record_what_servflow_0_1_recorded(make_desk: DeskFactory) -> None:
    desk = make_desk(roles=Roles.unrestricted())
    request = opened(desk)
    calls: list[Any] = [WORK[c](desk, request, "customer:zen") for c in ("probe", "act")]
    assert len(calls) == 2
    assert desk.cancel(request, reason="x", actor="auditor:eva").status is Status.CANCELLED
