"""Comparing KPIs from the KPI view with the exact fold's (medians from bins, within 0.5%)."""

from __future__ import annotations

from datetime import timedelta

from servflow import Kpis
from servflow.desk.kpis import KpiGroups

#: The figures the KPI view reads from bins: within 0.5% (below a minute, to the second).
QUANTILES = (
    "first_response_time",
    "p90_first_response_time",
    "business_first_response_time",
    "resolution_time",
    "p90_resolution_time",
    "business_resolution_time",
)
_OTHERS = set(Kpis.model_fields) - {*QUANTILES, "exact_quantiles"}


def assert_same_kpis(view: Kpis, exact: Kpis) -> None:
    """``view`` (binned) says what ``exact`` says: equal figures, quantiles within 0.5%.

    A question the view does not answer (folded: exact quantiles) gives the same answer.
    """
    assert exact.exact_quantiles
    if view.exact_quantiles:
        assert view == exact
        return
    for name in QUANTILES:
        binned, wanted = getattr(view, name), getattr(exact, name)
        assert (binned is None) == (wanted is None), (name, binned, wanted)
        if wanted is not None:
            assert abs(binned - wanted) <= abs(wanted) * 0.005 + timedelta(seconds=1), (
                name,
                binned,
                wanted,
            )
    assert view.model_dump(include=_OTHERS) == exact.model_dump(include=_OTHERS)


def assert_same_groups(view: KpiGroups, exact: KpiGroups) -> None:
    """The same for every group of a grouped answer, and its total."""
    assert view.group_by == exact.group_by
    assert [g.key for g in view.groups] == [g.key for g in exact.groups]
    assert_same_kpis(view.total, exact.total)
    for mine, theirs in zip(view.groups, exact.groups, strict=True):
        assert_same_kpis(mine.kpis, theirs.kpis)
