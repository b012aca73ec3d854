"""The desk's figures: KPIs of a period (grouped or not) and the non-conformity register.

``ServiceDesk`` is its commands, its integrations and these, plus its queries. The KPIs are
folded from the log (``servflow.desk.kpis``), the register read from the audit view
(``servflow.desk.register``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, overload

from servflow.desk.register import NonConformityRegister, NonConformityStatus, build_register

if TYPE_CHECKING:
    from servflow.desk.clock import DeskClock
    from servflow.desk.directories import Directories
    from servflow.desk.kpis import GroupBy, KpiDesk, KpiGroups, Kpis
    from servflow.domain.values import Kind, Severity
    from servflow.projections.audit import AuditPage

__all__ = ["Figures"]


class Figures:
    """KPIs and the non-conformity register: a part of ``ServiceDesk``."""

    _clock: DeskClock
    _directories: Directories
    _kpis: KpiDesk
    audit_log: Callable[..., AuditPage]

    @overload
    def kpis(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime | None = None,
        team: str | None = None,
        kind: Kind | str | None = None,
        group_by: None = None,
        exact: bool = False,
    ) -> Kpis: ...

    @overload
    def kpis(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime | None = None,
        team: str | None = None,
        kind: Kind | str | None = None,
        group_by: Sequence[GroupBy | str] | GroupBy | str,
        exact: bool = False,
    ) -> KpiGroups: ...

    def kpis(
        self,
        *,
        since: datetime,
        until: datetime,
        at: datetime | None = None,
        team: str | None = None,
        kind: Kind | str | None = None,
        group_by: Sequence[GroupBy | str] | GroupBy | str | None = None,
        exact: bool = False,
    ) -> Kpis | KpiGroups:
        """Metrics for the requests opened in ``[since, until)``, as the log stood at ``at``.

        ``at`` defaults to the desk's clock now; only events that happened by then count, so
        the same question gets the same answer at any later date. ``team`` and ``kind`` filter
        on the request as of ``at``. With ``group_by`` (team, agent, kind, stage, channel,
        priority, tier, customer, week, month: one or several), the answer is ``KpiGroups``:
        the total and one ``Kpis`` per key that occurs. See ``Kpis``.

        Asked as of now (``at`` not given), the KPI view answers the groupings it keeps (at
        most one of team, agent, kind, stage, channel, priority, tier, with or without week or
        month; a team or kind filter on that grouping alone): it adds up stored tallies of the
        settled requests and the rows of those still at work (folding from the log only those
        changed since the view caught up), so a year of 100,000 requests takes about half a
        second; its medians and percentiles are read from bins (within 0.5%;
        ``Kpis.exact_quantiles`` says which). Any other question, or ``exact=True``, folds
        every request of the period from the log (500 per query, each event decoded once;
        about 0.4 ms a request).
        """
        team = self._directories.known_team(team)  # a registered team in any case or blanks
        if group_by is None:
            return self._kpis.kpis(
                since=since, until=until, at=at, team=team, kind=kind, exact=exact
            )
        keys = [group_by] if isinstance(group_by, str) else group_by
        return self._kpis.groups(
            since=since, until=until, at=at, team=team, kind=kind, group_by=keys, exact=exact
        )

    def nonconformities(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        status: NonConformityStatus | str | None = None,
        severity: Severity | str | None = None,
        category: str | None = None,
    ) -> NonConformityRegister:
        """The non-conformity register: those detected in ``[since, until)`` (default: all).

        Each entry names its request, severity, category, who detected it and when, its root
        cause and corrective action, and whether (when, by whom, how) it was corrected, with
        the time to correct; counts per severity and category. ``status`` (open, corrected),
        ``severity`` and ``category`` filter. Read from the audit view.
        """
        return build_register(
            self.audit_log,
            since=None if since is None else self._clock.instant(since, "since", "nonconformities"),
            until=None if until is None else self._clock.instant(until, "until", "nonconformities"),
            status=status,
            severity=severity,
            category=category,
        )
