"""What the report shows, read from the desk: the period's KPIs by week and by team, the register.

Two grouped reads of the period (``desk.kpis(group_by=["week"])`` and ``["team"]``, each an exact
fold of the log as of ``at``) and one of the non-conformity register. Everything the charts and
tables need is derived from these three answers, so the report and ``servflow kpis`` agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from servflow.desk.kpis import NONE_KEY, GroupBy, Kpis, median
from servflow.desk.register import NonConformityEntry, NonConformityRegister

if TYPE_CHECKING:
    from servflow.desk.facade import ServiceDesk

__all__ = ["ReportFigures", "TeamRow", "gather", "iso_weeks", "zone_name"]

#: Weeks are ISO weeks of the opening instant in UTC, as ``GroupBy.WEEK`` keys them.
WEEK_ZONE = "UTC"


@dataclass(frozen=True)
class TeamRow:
    """One row of the team table: the team (``(none)`` for unassigned requests) and its KPIs."""

    team: str
    kpis: Kpis


@dataclass(frozen=True)
class ReportFigures:
    """Every figure the report draws, for ``[since, until)`` as the log stood at ``at``."""

    since: datetime
    until: datetime
    at: datetime
    zone: tzinfo
    total: Kpis
    #: Every ISO week the period touches, in order, with its KPIs (None: nothing opened then).
    weeks: list[tuple[str, Kpis | None]]
    teams: list[TeamRow]
    register: NonConformityRegister

    def local(self, value: datetime) -> str:
        """An instant in the report's zone, labelled with it (``2026-03-02 10:00 CET``)."""
        shown = value.astimezone(self.zone)
        return f"{shown:%Y-%m-%d %H:%M} {zone_name(self.zone, value)}"

    def corrections_by_category(self) -> dict[str, timedelta | None]:
        """The median time to correct of each category's corrected non-conformities."""
        times: dict[str, list[timedelta]] = {}
        for entry in self.register.entries:
            times.setdefault(_category(entry), [])
            if entry.time_to_correct is not None:
                times[_category(entry)].append(entry.time_to_correct)
        return {category: median(spent) for category, spent in sorted(times.items())}


def _category(entry: NonConformityEntry) -> str:
    return entry.category or NONE_KEY


def zone_name(zone: tzinfo, sample: datetime) -> str:
    """The zone's name as a label: its IANA key, else its abbreviation and offset at ``sample``."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    shown = sample.astimezone(zone)
    name = shown.tzname()
    if name and name.startswith(("UTC", "GMT")):
        return name
    offset = shown.strftime("%z")
    return f"{name} (UTC{offset[:3]}:{offset[3:]})" if name else f"UTC{offset[:3]}:{offset[3:]}"


def iso_weeks(since: datetime, until: datetime) -> list[str]:
    """The ISO weeks (UTC; ``2026-W10``) that ``[since, until)`` touches, in order."""
    start = since.astimezone(UTC)
    monday = datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(
        days=start.weekday()
    )
    weeks: list[str] = []
    while monday < until:
        year, week, _ = monday.isocalendar()
        weeks.append(f"{year}-W{week:02d}")
        monday += timedelta(days=7)
    return weeks


def gather(
    desk: ServiceDesk,
    *,
    since: datetime,
    until: datetime,
    at: datetime | None = None,
    zone: tzinfo | None = None,
) -> ReportFigures:
    """The report's figures for the requests opened in ``[since, until)``, as of ``at``."""
    by_week = desk.kpis(since=since, until=until, at=at, group_by=[GroupBy.WEEK])
    # The same instant for both reads: ``at`` defaults to the desk's clock, which moves.
    by_team = desk.kpis(since=since, until=until, at=by_week.at, group_by=[GroupBy.TEAM])
    register = desk.nonconformities(since=by_week.since, until=by_week.until)
    found = {group.key[GroupBy.WEEK.value]: group.kpis for group in by_week.groups}
    return ReportFigures(
        since=by_week.since,
        until=by_week.until,
        at=by_week.at,
        zone=zone or UTC,
        total=by_week.total,
        weeks=[(week, found.get(week)) for week in iso_weeks(by_week.since, by_week.until)],
        teams=[TeamRow(group.key[GroupBy.TEAM.value], group.kpis) for group in by_team.groups],
        register=register,
    )
