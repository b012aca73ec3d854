"""What a simulation left in the store: the counts the demo prints and tickets worth a look."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow import (
    OPEN_STATUSES,
    Channel,
    ClockState,
    DueAction,
    Kind,
    Request,
    ServiceDesk,
    Stage,
    Status,
    Tier,
)
from servflow.domain.sla import CLOCK_NAMES, DEFAULT_POLICY

__all__ = ["DemoSummary", "summarise"]

_TRIAGE = "(triage)"


class DemoSummary(BaseModel):
    """What a simulation left in the store: counts to print and tickets worth a look."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int
    requests: int
    events: int
    started_at: AwareDatetime
    ended_at: AwareDatetime
    by_status: dict[str, int]
    by_kind: dict[str, int]
    by_stage: dict[str, int]
    by_channel: dict[str, int]
    by_tier: dict[str, int]
    #: Open requests per team (``"(triage)"`` when no team has them yet), then per status.
    open_by_team: dict[str, dict[str, int]]
    mean_satisfaction: float | None
    rated: int
    nonconformities_open: int
    nonconformities_corrected: int
    #: Hand-overs to another team (a request can be transferred more than once).
    transfers: int
    reopenings: int
    cancellations: int
    #: A transferred and reopened request whose history shows most of the lifecycle.
    featured: str | None
    #: The first ticket in each status, for "try next" suggestions.
    examples: dict[str, str]
    #: The SLA policy that measured the requests (``name vN``).
    sla_policy: str
    #: Per clock (first_response, resolution), how many requests' clocks end in each state.
    sla: dict[str, dict[str, int]]
    #: Clocks breached, and clocks at risk (in their warning window), at the end.
    breached: int
    at_risk: int
    #: Time-based events ``run_due`` recorded at the end (by ``system``).
    deemed_acceptances: int
    follow_ups_due: int


def summarise(
    desk: ServiceDesk,
    tickets: Mapping[int, str],
    due: Sequence[DueAction],
    *,
    seed: int,
    started: datetime,
    ended: datetime,
    featured: str | None,
) -> DemoSummary:
    """Count what the simulation left in the store, and measure every SLA clock at the end."""
    views = [desk.get(tickets[i]) for i in sorted(tickets)]
    outcomes = {
        name: dict.fromkeys((state.value for state in ClockState), 0) for name in CLOCK_NAMES
    }
    for view in views:
        for clock in desk.sla(view, at=ended).clocks:
            counts = outcomes.setdefault(
                clock.name, dict.fromkeys((state.value for state in ClockState), 0)
            )
            counts[clock.state.value] += 1
    adopted = desk.policies()
    actions = Counter(action.action for action in due)
    statuses = Counter(v.status for v in views)
    open_by_team: dict[str, Counter[str]] = {}
    for view in views:
        if view.status in OPEN_STATUSES:
            team = view.team or _TRIAGE
            open_by_team.setdefault(team, Counter())[view.status.value] += 1
    scores = [v.satisfaction for v in views if v.satisfaction is not None]
    ncs = [nc for v in views for nc in v.nonconformities]
    examples: dict[str, str] = {}
    for view in views:
        examples.setdefault(view.status.value, view.ticket_code)
    return DemoSummary(
        seed=seed,
        requests=len(views),
        events=sum(v.version for v in views),
        started_at=started,
        ended_at=ended,
        by_status={s.value: statuses[s] for s in Status},
        by_kind=_count(views, lambda v: v.kind.value, [k.value for k in Kind]),
        by_stage=_count(views, lambda v: v.stage.value, [s.value for s in Stage]),
        by_channel=_count(views, lambda v: v.channel.value, [c.value for c in Channel]),
        by_tier=_count(views, lambda v: v.customer.tier.value, [t.value for t in Tier]),
        open_by_team={
            team: dict(sorted(open_by_team[team].items()))
            for team in sorted(open_by_team, key=lambda t: (t != _TRIAGE, t))
        },
        mean_satisfaction=round(sum(scores) / len(scores), 2) if scores else None,
        rated=len(scores),
        nonconformities_open=sum(1 for nc in ncs if not nc.is_corrected),
        nonconformities_corrected=sum(1 for nc in ncs if nc.is_corrected),
        transfers=sum(v.transfer_count for v in views),
        reopenings=sum(v.reopen_count for v in views),
        cancellations=statuses[Status.CANCELLED],
        featured=featured,
        examples=examples,
        sla_policy=adopted[-1].label
        if adopted
        else f"{DEFAULT_POLICY.name} v{DEFAULT_POLICY.version}",
        sla=outcomes,
        breached=len(desk.breaches(at=ended)),
        at_risk=len(desk.at_risk(at=ended)),
        deemed_acceptances=actions["deemed_acceptance"],
        follow_ups_due=actions["follow_up_due"],
    )


def _count(
    views: Sequence[Request], key: Callable[[Request], str], order: Sequence[str]
) -> dict[str, int]:
    counts = Counter(key(v) for v in views)
    return {name: counts[name] for name in order}
