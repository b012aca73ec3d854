"""The demo company's business time, as calendars: its desk's working hours and its SLA policy.

The desk works (and customers answer) Monday to Friday, 08:00-19:00, in the simulation's time
zone; the SLA clocks run on shorter office hours in Madrid. Both are :class:`~servflow.Calendar`
objects, so the simulation counts business time with the same maths as the SLA clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from servflow import Calendar, ConfigurationError, Priority, SlaPolicy, SlaRule, Tier
from servflow.domain.calendar import Weekday

__all__ = ["MADRID_HOLIDAYS", "DeskHours", "demo_policy"]

_WORKING_WEEK = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
_ONE_DAY = timedelta(days=1)

#: The public holidays of the Community of Madrid, 2026-2027, written out as the ``holidays``
#: package lists them (``holidays_for("ES", subdiv="MD", years=range(2026, 2028))``; a test
#: checks they agree): the demo runs without that optional package.
MADRID_HOLIDAYS = frozenset(
    date.fromisoformat(day)
    for day in (
        "2026-01-01",
        "2026-01-06",
        "2026-04-02",
        "2026-04-03",
        "2026-05-01",
        "2026-05-02",
        "2026-08-15",
        "2026-10-12",
        "2026-11-02",
        "2026-12-07",
        "2026-12-08",
        "2026-12-25",
        "2027-01-01",
        "2027-01-06",
        "2027-03-19",
        "2027-03-25",
        "2027-03-26",
        "2027-05-01",
        "2027-05-03",
        "2027-10-12",
        "2027-11-01",
        "2027-12-06",
        "2027-12-08",
        "2027-12-25",
    )
)


def demo_policy() -> SlaPolicy:
    """The demo company's SLA policy: office hours in Madrid, targets by priority and tier.

    Business time runs Monday to Friday, 09:00-14:00 and 15:00-18:00 (Europe/Madrid), except
    on the public holidays of the Community of Madrid in 2026 and 2027 (``MADRID_HOLIDAYS``).
    VIP customers get tighter targets; a clock warns at 70 % of its target; a customer silent
    for three business days after a completion has accepted it.
    """
    calendar = Calendar(
        name="madrid-office",
        timezone="Europe/Madrid",
        hours={day: [("09:00", "14:00"), ("15:00", "18:00")] for day in _WORKING_WEEK},
        holidays=MADRID_HOLIDAYS,
    )

    def rule(name: str, first: float, resolution: float, **selects: str) -> SlaRule:
        return SlaRule(
            name=name,
            first_response=timedelta(hours=first),
            resolution=timedelta(hours=resolution),
            **selects,
        )

    return SlaPolicy(
        name="demo-business-hours",
        calendar=calendar,
        rules=(
            rule("vip-urgent", 1, 12, priority=Priority.URGENT.value, tier=Tier.VIP.value),
            rule("urgent", 2, 16, priority=Priority.URGENT.value),
            rule("vip", 3, 24, tier=Tier.VIP.value),
            rule("high", 3, 24, priority=Priority.HIGH.value),
            rule("normal", 5, 32, priority=Priority.NORMAL.value),
            rule("low", 8, 64, priority=Priority.LOW.value),
        ),
        default=rule("unclassified", 8, 40),
        warn_at=0.7,
        deemed_acceptance_after=timedelta(hours=24),
    )


@dataclass(frozen=True, slots=True)
class DeskHours:
    """When the simulated desk works: Monday to Friday, 08:00-19:00 in the simulation's zone.

    The business-time maths is the :class:`~servflow.Calendar`'s. The answers come back in the
    simulation's own zone rather than in UTC, because the stories read local dates and times
    from them (an arrival's weekday, ten o'clock on a follow-up's day) and the summary reports
    the start and end so.
    """

    zone: tzinfo
    calendar: Calendar

    @classmethod
    def in_zone(cls, zone: tzinfo) -> DeskHours:
        """The desk's hours in ``zone`` (an IANA zone, or a whole-hour UTC offset)."""
        calendar = Calendar(
            name="demo-desk",
            timezone=_zone_name(zone),
            hours={day: [("08:00", "19:00")] for day in _WORKING_WEEK},
        )
        return cls(zone, calendar)

    def add(self, when: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` of the desk's working time after ``when``."""
        return self.calendar.add(when, timedelta(minutes=minutes)).astimezone(self.zone)

    def next_open(self, when: datetime) -> datetime:
        """``when`` if the desk is open then, else its next opening."""
        opening = self.calendar.next_opening(when)
        if opening is None:  # pragma: no cover - the desk opens every working day
            msg = f"calendar {self.calendar.name!r} never opens again after {when.isoformat()}"
            raise ConfigurationError(msg)
        return opening.astimezone(self.zone)

    def day(self, day: date) -> tuple[datetime, datetime]:
        """The opening and the closing of a working day."""
        ((opens, closes),) = self.calendar.opening_intervals(day)
        return opens.astimezone(self.zone), closes.astimezone(self.zone)

    def days(self, start: datetime, end: datetime) -> list[date]:
        """The working days from ``start``'s date that open before ``end``."""
        days: list[date] = []
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            hours = self.calendar.opening_intervals(day)
            if hours and hours[0][0] < end:
                days.append(day)
            day += _ONE_DAY
        return days


def _zone_name(zone: tzinfo) -> str:
    """The IANA name a :class:`~servflow.Calendar` needs for the zone the simulation runs in."""
    if isinstance(zone, ZoneInfo) and zone.key:
        return zone.key
    offset = zone.utcoffset(None)
    if offset is not None and not offset % timedelta(hours=1):
        hours = offset // timedelta(hours=1)
        # The Etc zones' signs are POSIX's: Etc/GMT-2 is two hours ahead of UTC.
        return f"Etc/GMT{-hours:+d}" if hours else "UTC"
    msg = f"start must be in an IANA time zone (zoneinfo) or at a whole-hour UTC offset: {zone}"
    raise ValueError(msg)
