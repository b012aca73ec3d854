"""The KPI view: settled requests' tallies per day and group, and the answers built from them.

A history over three days, worked out by hand: which requests are settled, what the buckets
hold, that a reopening takes a request out of them and a late non-conformity changes its
tally, and that the answers equal the exact fold's, also while the views lag behind the log.
On every store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from conftest import FakeClock, view_rows
from kpi_compare import assert_same_groups, assert_same_kpis
from servflow import ClockState, ServiceDesk, SlaPolicy

H = timedelta(hours=1)
DAY = timedelta(days=1)
#: Monday 2026-03-02, midnight UTC: day 20514 since 1970-01-01.
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)
AGENT = "agent:ana"

DeskFactory = Callable[..., ServiceDesk]


def opened(desk: ServiceDesk, customer: str, kind: str, at: datetime) -> str:
    request = desk.open(
        customer=customer,
        channel="phone",
        kind=kind,
        stage="sale",
        symptom="s",
        actor=AGENT,
        occurred_at=at,
    )
    desk.classify(request.ticket_code, priority="normal", actor=AGENT, occurred_at=at)
    return request.ticket_code


def worked(desk: ServiceDesk, clock: FakeClock) -> dict[str, str]:
    """Five requests: two settled on Monday, one settled on Tuesday, two still moving."""
    clock.now = MONDAY + 10 * DAY
    a = opened(desk, "c1", "complaint", MONDAY + 9 * H)
    desk.assign(a, team="billing", agent="eva", actor=AGENT, occurred_at=MONDAY + 10 * H)
    desk.act(
        a, action="fix", effort_minutes=20, cost="7.5", actor=AGENT, occurred_at=MONDAY + 11 * H
    )
    desk.complete(a, outcome="resolved", resolution="ok", actor=AGENT, occurred_at=MONDAY + 12 * H)
    desk.accept(a, satisfaction=4, actor="customer:c1", occurred_at=MONDAY + 13 * H)
    b = opened(desk, "c2", "claim", MONDAY + 14 * H)
    desk.cancel(b, reason="duplicate", actor=AGENT, occurred_at=MONDAY + 15 * H)
    c = opened(desk, "c3", "complaint", MONDAY + DAY + 8 * H)
    desk.assign(c, team="field", actor=AGENT, occurred_at=MONDAY + DAY + 9 * H)
    desk.complete(
        c, outcome="resolved", resolution="ok", actor=AGENT, occurred_at=MONDAY + DAY + 20 * H
    )
    desk.close(c, reason="no answer", actor="system", occurred_at=MONDAY + 4 * DAY)
    d = opened(desk, "c4", "quote", MONDAY + DAY + 10 * H)
    desk.assign(d, team="billing", actor=AGENT, occurred_at=MONDAY + DAY + 11 * H)
    e = opened(desk, "c5", "claim", MONDAY + 2 * DAY + 6 * H)
    desk.assign(e, team="field", actor=AGENT, occurred_at=MONDAY + 2 * DAY + 6 * H)
    desk.complete(
        e, outcome="resolved", resolution="ok", actor=AGENT, occurred_at=MONDAY + 2 * DAY + 7 * H
    )
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def buckets(desk: ServiceDesk, dim: str) -> dict[tuple[int, str], dict[str, Any]]:
    rows = view_rows(desk)["sf_queue_kpis"]
    return {
        (int(r["day"]) - 20514, str(r["value"])): orjson.loads(r["tally"])
        for r in rows
        if r["dim"] == dim
    }


def same_as_the_log(desk: ServiceDesk, since: datetime, until: datetime) -> None:
    for group_by, filters in (
        ([], {}),
        (["team"], {}),
        (["kind", "week"], {}),
        (["team"], {"team": "billing"}),
        ([], {"kind": "complaint"}),
    ):
        view = desk.kpis(since=since, until=until, group_by=group_by, **filters)  # type: ignore[call-overload]
        exact = desk.kpis(since=since, until=until, group_by=group_by, exact=True, **filters)  # type: ignore[call-overload]
        assert not view.total.exact_quantiles
        assert_same_groups(view, exact)


def test_settled_requests_are_tallied_per_day_and_group(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    worked(desk, clock)

    # a (accepted) and b (cancelled) on Monday, c (closed by the system) on Tuesday; d is at
    # work and e awaits acceptance: not settled, in no bucket.
    assert {key: t["volume"] for key, t in buckets(desk, "all").items()} == {
        (0, ""): 2,
        (1, ""): 1,
    }
    by_team = buckets(desk, "team")
    assert {key: t["volume"] for key, t in by_team.items()} == {
        (0, "billing"): 1,
        (0, "(none)"): 1,
        (1, "field"): 1,
    }
    billing = by_team[(0, "billing")]
    assert (billing["effort"], billing["cost"], billing["scores"]) == (20, "7.5", {"4": 1})
    assert billing["resolution_times"][:2] == [3 * 3600 * 10**6, 1]  # its sum (us), one value
    assert by_team[(1, "field")]["closures"] == 1
    assert buckets(desk, "kind")[(0, "claim")]["statuses"] == {"cancelled": 1}

    week = (MONDAY, MONDAY + 7 * DAY)
    same_as_the_log(desk, *week)
    same_as_the_log(desk, MONDAY + 12 * H, MONDAY + 2 * DAY + 6 * H)  # part days at both ends
    same_as_the_log(
        desk, MONDAY + 13 * H, MONDAY + 14 * H + timedelta(microseconds=1)
    )  # inside one day
    grouped = desk.kpis(since=week[0], until=week[1], group_by=["team"])
    assert [(g.key["team"], g.kpis.requests) for g in grouped.groups] == [
        ("(none)", 1),
        ("billing", 2),
        ("field", 2),
    ]
    assert grouped.total.requests == 5
    assert grouped.total.closed == 2
    assert grouped.total.satisfaction_distribution[4] == 1


def test_a_reopening_or_a_late_fact_moves_a_settled_request(
    desk: ServiceDesk, clock: FakeClock
) -> None:
    tickets = worked(desk, clock)
    week = (MONDAY, MONDAY + 7 * DAY)

    desk.log_nonconformity(
        tickets["c"],
        description="slow",
        severity="minor",
        actor=AGENT,
        occurred_at=MONDAY + 5 * DAY,
    )
    assert buckets(desk, "all")[(1, "")]["logged"] == 1
    same_as_the_log(desk, *week)

    desk.reopen(
        tickets["a"], reason="broken again", actor="customer:c1", occurred_at=MONDAY + 6 * DAY
    )
    # Out of Monday's buckets (b stays), its figures now folded from the log.
    assert {key: t["volume"] for key, t in buckets(desk, "team").items()} == {
        (0, "(none)"): 1,
        (1, "field"): 1,
    }
    kpis = desk.kpis(since=week[0], until=week[1])
    assert (kpis.requests, kpis.closed, kpis.reopened_after_closure) == (5, 1, 1)
    same_as_the_log(desk, *week)

    desk.complete(
        tickets["a"], outcome="resolved", resolution="ok", actor=AGENT, occurred_at=MONDAY + 7 * DAY
    )
    desk.close(tickets["a"], reason="fixed", actor="system", occurred_at=MONDAY + 8 * DAY)
    assert buckets(desk, "team")[(0, "billing")]["volume"] == 1
    same_as_the_log(desk, *week)


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_the_answer_is_the_logs_whatever_the_views_lag(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    writer = make_desk(projections="external")
    reader = make_desk(projections="external")
    tickets = worked(writer, clock)
    week = (MONDAY, MONDAY + 7 * DAY)
    # Nothing applied to the views yet: every request is folded from the log.
    assert buckets(reader, "all") == {}
    same_as_the_log(reader, *week)
    reader.catch_up()
    assert buckets(reader, "all") != {}
    # Settled in the views, then changed in the log: taken out of the buckets, folded.
    writer.reopen(tickets["a"], reason="broken", actor="customer:c1", occurred_at=MONDAY + 6 * DAY)
    writer.log_nonconformity(
        tickets["b"],
        description="late",
        severity="minor",
        actor=AGENT,
        occurred_at=MONDAY + 6 * DAY,
    )
    lagging = reader.kpis(since=week[0], until=week[1])
    assert (lagging.closed, lagging.reopened_after_closure, lagging.nonconformities) == (1, 1, 1)
    assert_same_kpis(lagging, reader.kpis(since=week[0], until=week[1], exact=True))
    same_as_the_log(reader, *week)
    reader.catch_up()
    same_as_the_log(reader, *week)


@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_a_view_behind_a_policy_correction_answers_as_the_log(
    make_desk: DeskFactory, clock: FakeClock
) -> None:
    # The rows keep their clocks as measured under the policies the view knows. A correction
    # back-dated to Monday gives every target 30 days: request d, breached under the first
    # version, runs again. Until the view follows the correction the exact fold answers, then
    # the view does, re-measured: the same figures both ways.
    writer = make_desk(projections="external")
    reader = make_desk(projections="external")
    clock.now = MONDAY - H
    first = SlaPolicy.standard()
    writer.adopt_policy(first, actor="agent:admin")
    worked(writer, clock)
    week = (MONDAY, MONDAY + 7 * DAY)
    reader.catch_up()
    before = reader.kpis(since=week[0], until=week[1])
    assert before.resolution[ClockState.BREACHED] == 1  # d, assigned, never completed
    month = timedelta(days=30)
    relaxed = [rule.model_copy(update={"resolution": month}) for rule in first.rules]
    writer.adopt_policy(
        first.model_copy(
            update={
                "version": 2,
                "rules": tuple(relaxed),
                "default": first.default.model_copy(update={"resolution": month}),
            }
        ),
        actor="agent:admin",
        effective_from=MONDAY,
    )
    lagging = reader.kpis(since=week[0], until=week[1])
    assert lagging.exact_quantiles  # folded: the view has yet to follow the correction
    assert lagging.resolution[ClockState.BREACHED] == 0
    assert_same_kpis(lagging, reader.kpis(since=week[0], until=week[1], exact=True))
    reader.catch_up()
    followed = reader.kpis(since=week[0], until=week[1])
    assert not followed.exact_quantiles
    assert followed.resolution[ClockState.BREACHED] == 0
    assert_same_kpis(followed, reader.kpis(since=week[0], until=week[1], exact=True))
