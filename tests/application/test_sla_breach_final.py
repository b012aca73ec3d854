"""Breaches are final (DESIGN "SLA semantics"; issue 16 item 1), on every store.

With ``SlaPolicy(breach_is_final=True)`` (the default), once a clock has breached under the target
then in force, a later reclassification does not change its target: it stays breached while it
runs and is missed when met. With ``False`` the latest classification re-times the clock from the
opening, as other helpdesks do, and a downgraded request can end met. A reclassification before a
breach re-computes from the opening either way.

Every answer below is worked out by hand. The calendar is 24x7 in UTC, so business time is wall
time; the desk clock starts on Monday 2026-03-02 09:00 UTC, when each request is opened.
Targets (first response / resolution): urgent 1h / 4h, normal 8h / 24h, default 4h / 16h;
``warn_at`` 0.8. A clock is breached from the second after its due instant (due 13:00:00 is
breached at 13:00:01; met at 13:00:00 is met).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DeskFactory, FakeClock, view_rows
from servflow import (
    Calendar,
    ClockState,
    ConfigurationError,
    Request,
    ServiceDesk,
    SlaPolicy,
    SlaRule,
    Status,
    TimelineKind,
)
from sla_week import BOTH, H, M, at, go, probe, urgent


def policy(*, final: bool | None = None, version: int = 1) -> SlaPolicy:
    """The 24x7 policy of this module; ``final`` None leaves ``breach_is_final`` unset."""
    settings: dict[str, object] = {} if final is None else {"breach_is_final": final}
    return SlaPolicy(
        name="round-the-clock",
        version=version,
        calendar=Calendar.always_open(),
        rules=(
            SlaRule(name="urgent", priority="urgent", first_response="1h", resolution="4h"),
            SlaRule(name="normal", priority="normal", first_response="8h", resolution="24h"),
        ),
        default=SlaRule(name="default", first_response="4h", resolution="16h"),
        **settings,
    )


def resolve(desk: ServiceDesk, request: Request) -> None:
    desk.complete(request, outcome="resolved", resolution="fixed", actor="agent:ana")


def test_breach_is_final_by_default_for_a_new_policy() -> None:
    assert SlaPolicy(calendar=Calendar.always_open()).breach_is_final is True
    assert SlaPolicy.standard().breach_is_final is True


@BOTH
def test_a_breached_then_downgraded_request_is_missed_when_final_and_met_when_not(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Opened Mon 09:00, urgent: resolution 4h, due 13:00, breached from 13:00:01 (first response
    # met by a probe at 09:30). At 14:00 it is reclassified normal (24h from the opening: due
    # Tue 09:00). Resolved at 15:00, 6h after the opening.
    # - final: the breach at 13:00:01 stands. At 14:30 the clock is still breached under the 4h
    #   target (rule urgent, due 13:00); resolved at 15:00 it is missed, 2h after its due.
    # - not final: at 14:30 the clock runs again (5h30 of 24h, below the 19h12 warning), and
    #   resolved at 15:00 (6h of 24h) it is met with 18h to spare.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    breached = desk.sla(request, at=at("Mon 13:00:01")).resolution
    assert (breached.state, breached.due) == (ClockState.BREACHED, at("Mon 13:00"))
    go(clock, "Mon 14:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    go(clock, "Mon 14:30")
    running = desk.sla(request).resolution
    if final:
        assert (running.state, running.rule, running.target) == (
            ClockState.BREACHED,
            "urgent",
            4 * H,
        )
        assert running.due == at("Mon 13:00")
        assert running.remaining == -90 * M
        assert [(a.ticket_code, a.clock) for a in desk.breaches()] == [
            (request.ticket_code, "resolution")
        ]
    else:
        assert (running.state, running.rule, running.target) == (
            ClockState.RUNNING,
            "normal",
            24 * H,
        )
        assert running.due == at("Tue 09:00")
        assert desk.breaches() == []
    # The work queue orders by the same resolution due instant.
    (row,) = desk.queue(team="network").rows
    assert row.resolution_due == (at("Mon 13:00") if final else at("Tue 09:00"))
    go(clock, "Mon 15:00")
    resolve(desk, request)
    done = desk.sla(request, at=at("Tue 12:00")).resolution
    assert done.met_at == at("Mon 15:00")
    assert done.elapsed == 6 * H
    if final:
        assert (done.state, done.due, done.remaining) == (
            ClockState.MISSED,
            at("Mon 13:00"),
            -2 * H,
        )
    else:
        assert (done.state, done.due, done.remaining) == (ClockState.MET, at("Tue 09:00"), 18 * H)
    # KPI compliance: the resolution clock met counts 1 of 1; missed counts 0 of 1.
    kpis = desk.kpis(since=at("Mon 00:00"), until=at("Tue 00:00"), at=at("Tue 12:00"))
    assert kpis.sla_compliance == (0.0 if final else 1.0)
    assert kpis.resolution[ClockState.MISSED if final else ClockState.MET] == 1
    # Both views equal a rebuild.
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before


@BOTH
def test_the_timeline_shows_a_final_breach_once_and_why_the_target_was_kept(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # The history of the test above. Final: breached once (time, 13:00:01), the target kept at
    # the reclassification (14:00), missed at 15:00. Not final: breached at 13:00:01, target
    # changed to 24h at 14:00 (the breach undone), met at 15:00.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 14:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    go(clock, "Mon 15:00")
    resolve(desk, request)
    entries = [
        (e.kind, e.at, e.cause) for e in desk.sla_timeline(request) if e.clock == "resolution"
    ]
    assert entries[-4:] == [
        (TimelineKind.WARNED, at("Mon 12:12"), "time"),
        (TimelineKind.BREACHED, at("Mon 13:00:01"), "time"),
        (
            TimelineKind.TARGET_KEPT if final else TimelineKind.TARGET_CHANGED,
            at("Mon 14:00"),
            "Classified v5",
        ),
        (TimelineKind.MISSED if final else TimelineKind.MET, at("Mon 15:00"), "Completed v6"),
    ]
    kinds = [kind for kind, _, _ in entries]
    assert kinds.count(TimelineKind.BREACHED) == 1
    if final:
        kept = next(e for e in desk.sla_timeline(request) if e.kind is TimelineKind.TARGET_KEPT)
        assert kept.message == (
            "Resolution target kept at 4h (rule 'urgent'): the clock breached under it (due Mon "
            "2026-03-02 13:00:00 UTC) before this reclassification to 24h (rule 'normal'); a "
            "breach is final"
        )
        assert (kept.state, kept.due) == (ClockState.BREACHED, at("Mon 13:00"))


@BOTH
def test_a_downgrade_before_the_breach_recomputes_from_the_opening(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Urgent, resolution due 13:00. Reclassified normal at 11:00 (2h used, not past due): under
    # either setting the target becomes 24h from the opening, due Tue 09:00; at 13:30 it runs
    # (4h30 of 24h) and resolved at 15:00 it is met.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 11:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    clock_then = desk.sla(request, at=at("Mon 13:30")).resolution
    assert (clock_then.state, clock_then.target) == (ClockState.RUNNING, 24 * H)
    assert clock_then.due == at("Tue 09:00")
    go(clock, "Mon 15:00")
    resolve(desk, request)
    assert desk.sla(request).resolution.state is ClockState.MET


@pytest.mark.parametrize(("instant", "kept"), [("Mon 13:00:00", False), ("Mon 13:00:01", True)])
def test_a_downgrade_at_the_due_instant_is_before_the_breach_and_a_second_later_is_after(
    make_desk: DeskFactory,
    clock: FakeClock,
    instant: str,
    kept: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Due 13:00:00: at that instant the clock is not breached yet (met then would be met), so a
    # reclassification then re-computes (due Tue 09:00); one second later it is breached, and
    # the breach stands (still due 13:00, 4h target).
    desk = make_desk(sla=policy())
    request = urgent(desk)
    go(clock, instant)
    desk.classify(request, priority="normal", actor="agent:lead")
    resolution = desk.sla(request, at=at("Mon 14:00")).resolution
    if kept:
        assert (resolution.state, resolution.due) == (ClockState.BREACHED, at("Mon 13:00"))
    else:
        assert (resolution.state, resolution.due) == (ClockState.RUNNING, at("Tue 09:00"))


@BOTH
def test_an_upgrade_past_due_breaches_at_once_and_that_breach_is_final_too(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Opened normal (24h, due Tue 09:00). At 14:00 it is reclassified urgent: 4h from the
    # opening was due at 13:00, already past, so it is breached at once, due 13:00 (dated at
    # the new due instant, as before: the rule is unchanged for a breach a shorter target
    # brings). Reclassified normal again at 15:00:
    # - final: that breach (under the urgent target then in force) stands: breached, due 13:00.
    # - not final: re-timed to 24h, running, due Tue 09:00.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    desk.classify(request, priority="normal", actor="agent:lead")
    go(clock, "Mon 14:00")
    desk.classify(request, priority="urgent", actor="agent:lead")
    now = desk.sla(request).resolution
    assert (now.state, now.due) == (ClockState.BREACHED, at("Mon 13:00"))
    at_once = [
        e
        for e in desk.sla_timeline(request)
        if e.clock == "resolution" and e.kind is TimelineKind.BREACHED
    ]
    assert [(e.at, e.cause) for e in at_once] == [(at("Mon 14:00"), "Classified v5")]
    go(clock, "Mon 15:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    later = desk.sla(request).resolution
    if final:
        assert (later.state, later.due, later.rule) == (
            ClockState.BREACHED,
            at("Mon 13:00"),
            "urgent",
        )
    else:
        assert (later.state, later.due, later.rule) == (
            ClockState.RUNNING,
            at("Tue 09:00"),
            "normal",
        )


@BOTH
def test_a_clock_breached_while_paused_stays_breached_after_a_downgrade(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Urgent, probed 09:30, resolution due 13:00, breached from 13:00:01. Waiting on the customer
    # from 13:30 (4h30 counted): paused past due, so still breached (DESIGN). Reclassified normal
    # at 14:00, still waiting; the customer answers at 15:00 (1h30 paused); resolved at 16:00:
    # 4h30 + 1h = 5h30 counted.
    # - final: breached under the 4h target; stays breached (and paused) after the downgrade,
    #   due 13:00; resolved at 16:00 it is missed.
    # - not final: re-timed to 24h with 4h30 used: paused, due unknown while paused; after the
    #   reply due 15:00 + 19h30 = Tue 10:30; resolved at 16:00 it is met (5h30 of 24h).
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 13:30")
    desk.wait_on_customer(request, reason="the serial number", actor="agent:ana")
    paused = desk.sla(request).resolution
    assert (paused.state, paused.is_paused) == (ClockState.BREACHED, True)
    go(clock, "Mon 14:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    after = desk.sla(request).resolution
    assert after.is_paused
    assert after.elapsed == 270 * M
    if final:
        assert (after.state, after.due, after.target) == (
            ClockState.BREACHED,
            at("Mon 13:00"),
            4 * H,
        )
    else:
        assert (after.state, after.due, after.target) == (ClockState.PAUSED, None, 24 * H)
    go(clock, "Mon 15:00")
    desk.customer_responded(request, note="here it is", actor="customer:acme")
    if not final:
        assert desk.sla(request).resolution.due == at("Tue 10:30")
    go(clock, "Mon 16:00")
    resolve(desk, request)
    done = desk.sla(request).resolution
    assert (done.elapsed, done.paused) == (330 * M, 90 * M)
    assert done.state is (ClockState.MISSED if final else ClockState.MET)


@BOTH
def test_a_pause_before_the_due_instant_is_no_breach_and_a_downgrade_then_recomputes(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Urgent, waiting on the customer from 10:00 (1h used): the wall clock passes 13:00 but the
    # clock is paused with 3h left, not breached. Reclassified normal at 14:00: re-computed under
    # either setting (24h, 1h used, paused); the customer answers at 15:00 -> due 15:00 + 23h =
    # Tue 14:00.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 10:00")
    desk.wait_on_customer(request, reason="the serial number", actor="agent:ana")
    go(clock, "Mon 14:00")
    assert desk.sla(request).resolution.state is ClockState.PAUSED
    desk.classify(request, priority="normal", actor="agent:lead")
    go(clock, "Mon 15:00")
    desk.customer_responded(request, note="here it is", actor="customer:acme")
    resolution = desk.sla(request).resolution
    assert (resolution.state, resolution.target) == (ClockState.RUNNING, 24 * H)
    assert resolution.due == at("Tue 14:00")


@BOTH
def test_a_breach_before_completion_stays_final_across_a_reopening(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Urgent, probed 09:30, resolved at 14:00: missed (due 13:00). The customer reopens at
    # 15:00: the resolution clock runs again, the hour awaiting acceptance (14:00-15:00) not
    # counted, and is breached at once under either setting (due 13:00 is past). Reclassified
    # normal at 16:00, resolved again at 17:00 (5h + 2h = 7h counted).
    # - final: the breach before the completion stands: breached after the downgrade (due
    #   13:00), missed at 17:00.
    # - not final: re-timed to 24h from the opening: at 16:00 6h used, due 16:00 + 18h = Tue
    #   10:00; met at 17:00.
    desk = make_desk(sla=policy(final=final))
    request = urgent(desk)
    go(clock, "Mon 09:30")
    probe(desk, request)
    go(clock, "Mon 14:00")
    resolve(desk, request)
    assert desk.sla(request).resolution.state is ClockState.MISSED
    go(clock, "Mon 15:00")
    desk.reopen(request, reason="still drops", actor="customer:acme")
    assert desk.sla(request).resolution.state is ClockState.BREACHED
    go(clock, "Mon 16:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    downgraded = desk.sla(request).resolution
    if final:
        assert (downgraded.state, downgraded.due) == (ClockState.BREACHED, at("Mon 13:00"))
    else:
        assert (downgraded.state, downgraded.due) == (ClockState.RUNNING, at("Tue 10:00"))
    go(clock, "Mon 17:00")
    resolve(desk, request)
    done = desk.sla(request).resolution
    assert (done.elapsed, done.paused) == (7 * H, H)
    assert done.state is (ClockState.MISSED if final else ClockState.MET)
    before = view_rows(desk)
    desk.rebuild_projections()
    assert view_rows(desk) == before


def test_a_clock_met_on_time_then_reopened_and_downgraded_recomputes(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Urgent, resolved at 11:00 (2h of 4h: met, never breached). Reopened at 12:00 (the hour
    # awaiting acceptance does not count): 2h left, due 14:00. Reclassified normal at 13:00
    # (3h used, not past due): re-computed, 24h: due 13:00 + 21h = Tue 10:00.
    desk = make_desk(sla=policy())
    request = urgent(desk)
    go(clock, "Mon 11:00")
    resolve(desk, request)
    go(clock, "Mon 12:00")
    desk.reopen(request, reason="still drops", actor="customer:acme")
    assert desk.sla(request).resolution.due == at("Mon 14:00")
    go(clock, "Mon 13:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    resolution = desk.sla(request).resolution
    assert (resolution.state, resolution.due) == (ClockState.RUNNING, at("Tue 10:00"))


def test_the_first_response_clock_keeps_its_breach_too(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Urgent, no response: first response due 10:00, breached from 10:00:01. Reclassified normal
    # at 11:00 (8h, which would be due 17:00): the breach stands. Probed at 12:00: missed. The
    # resolution clock (4h, due 13:00) was not breached at 11:00: it follows (24h, Tue 09:00).
    desk = make_desk(sla=policy())
    request = urgent(desk)
    go(clock, "Mon 11:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    first, resolution = desk.sla(request).clocks
    assert (first.state, first.due, first.rule) == (ClockState.BREACHED, at("Mon 10:00"), "urgent")
    assert (resolution.state, resolution.due) == (ClockState.RUNNING, at("Tue 09:00"))
    go(clock, "Mon 12:00")
    probe(desk, request)
    assert desk.sla(request).first_response.state is ClockState.MISSED


# -- a policy stored before the option existed --------------------------------------------------


def test_a_policy_given_again_without_the_option_keeps_the_adopted_setting(
    make_desk: DeskFactory, clock: FakeClock, store: str
) -> None:
    # A store whose v1 says breach_is_final=False (as every policy stored before the option
    # reads): the same definition given again in code, the option left unset, is the same
    # policy, so nothing is adopted and the store keeps measuring as it did.
    desk = make_desk(sla=policy(final=False))
    request = urgent(desk)
    assert desk.adopt_policy(policy(), actor="agent:admin") == desk.policies()[0]
    assert len(desk.policies()) == 1
    if store != "memory":
        again = make_desk(sla=policy())
        assert [a.policy.breach_is_final for a in again.policies()] == [False]
    go(clock, "Mon 14:00")
    desk.classify(request, priority="normal", actor="agent:lead")
    assert desk.sla(request).resolution.state is ClockState.RUNNING


def test_turning_breaches_final_on_under_an_adopted_version_needs_a_new_version(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # Saying so explicitly under the adopted name and version is a change of content: refused,
    # with the version to use; as v2 it is adopted and measures the requests opened after it.
    desk = make_desk(sla=policy(final=False))
    old = urgent(desk)
    with pytest.raises(
        ConfigurationError,
        match=r"already adopted with different content.*"
        r"version=2",
    ):
        desk.adopt_policy(policy(final=True), actor="agent:admin")
    assert len(desk.policies()) == 1
    desk.adopt_policy(policy(final=True, version=2), actor="agent:admin")
    clock.advance(seconds=1)
    new = urgent(desk)  # opened 09:00:01: due 13:00:01
    go(clock, "Mon 14:00")
    desk.classify(old, priority="normal", actor="agent:lead")
    desk.classify(new, priority="normal", actor="agent:lead")
    assert desk.sla(old).resolution.state is ClockState.RUNNING  # v1: re-timed
    assert desk.sla(new).resolution.state is ClockState.BREACHED  # v2: final
    assert desk.get(new).status is Status.ASSIGNED


def test_views_written_before_the_option_keep_measuring_with_breaches_not_final(
    tmp_path: Path, clock: FakeClock
) -> None:
    # The queue and SLA views keep the adopted policies in tables of their own: rows written
    # by servflow before the option existed lack it. A process opened on such views reads them
    # as the log does (False): a downgrade after a breach re-times the clock in the views too,
    # and they still equal a rebuild.
    path = str(tmp_path / "views.db")
    with ServiceDesk.sqlite(path, clock=clock, sla=policy(final=False)) as desk:
        request = urgent(desk)
        views = desk._stores.projector.views
        with views.transaction() as tx:
            for projection in (desk._stores.sla, desk._stores.queues):
                table = projection.t(projection.policy_table)
                for stored in tx.query(f"SELECT position, adoption FROM {table}"):  # noqa: S608
                    adoption = json.loads(stored["adoption"])
                    del adoption["policy"]["breach_is_final"]
                    tx.execute(
                        f"UPDATE {table} SET adoption = ? WHERE position = ?",  # noqa: S608
                        (json.dumps(adoption), stored["position"]),
                    )
    go(clock, "Mon 14:00")
    with ServiceDesk.sqlite(path, clock=clock) as desk:
        desk.classify(request, priority="normal", actor="agent:lead")
        (row,) = desk.queue(team="network").rows
        assert row.resolution_due == at("Tue 09:00")
        assert desk.breaches() == []
        # A rebuild writes the policies as stored now (with the option, False): only those
        # tables' text differs.
        before = view_rows(desk)
        desk.rebuild_projections()
        after = view_rows(desk)
        for table in ("sf_sla_policy", "sf_queue_policy"):
            assert [
                json.loads(r["adoption"])["policy"]["breach_is_final"] for r in after[table]
            ] == [False]
            del before[table], after[table]
        assert after == before


@BOTH
def test_a_stricter_reclassification_after_a_breach_keeps_the_breach_s_due_instant_when_final(
    make_desk: DeskFactory,
    clock: FakeClock,
    final: bool,  # noqa: FBT001 - a parameter of the test
) -> None:
    # Opened Mon 09:00 unclassified: the default rule, resolution 16h, due Tue 01:00, breached
    # from Tue 01:00:01. Classified urgent at Tue 02:00 (4h, which was due Mon 13:00): breached
    # either way; final keeps the 16h target and its due Tue 01:00, retroactive moves the due
    # back to Mon 13:00.
    desk = make_desk(sla=policy(final=final))
    request = desk.open(
        customer="acme",
        channel="phone",
        kind="complaint",
        stage="post_sale",
        symptom="The line drops every evening",
        actor="agent:ana",
    )
    go(clock, "Tue 02:00")
    desk.classify(request, priority="urgent", actor="agent:lead")
    resolution = desk.sla(request).resolution
    assert resolution.state is ClockState.BREACHED
    if final:
        assert (resolution.due, resolution.target, resolution.rule) == (
            at("Tue 01:00"),
            16 * H,
            "default",
        )
    else:
        assert (resolution.due, resolution.target, resolution.rule) == (
            at("Mon 13:00"),
            4 * H,
            "urgent",
        )
    kinds = {e.kind for e in desk.sla_timeline(request) if e.clock == "resolution"}
    assert (TimelineKind.TARGET_KEPT in kinds) is final
    assert (TimelineKind.TARGET_CHANGED in kinds) is not final
