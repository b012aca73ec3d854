"""Business-time maths, checked against answers worked out by hand.

Offsets used in the reasoning: Madrid is CET (UTC+1) until 2026-03-29 02:00, CEST (UTC+2) until
2026-10-25 03:00, then CET again. New York is EST (UTC-5) until 2026-03-08 02:00, EDT (UTC-4)
until 2026-11-01 02:00, then EST again. 2026-01-01 is a Thursday.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from servflow.domain.calendar import Calendar, Weekday
from servflow.domain.clocks import add_business
from servflow.errors import ConfigurationError

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")

# Mon-Fri 09:00-13:00 and 14:00-18:00 (8 h a day); Epiphany (Tue 6 Jan) and Good Friday (3 Apr)
# are holidays.
MADRID_OFFICE = Calendar(
    name="madrid-office",
    timezone="Europe/Madrid",
    hours={day: [("09:00", "13:00"), ("14:00", "18:00")] for day in WORKDAYS},
    holidays=["2026-01-06", "2026-04-03"],
)
# Mon-Fri 09:00-17:00 (8 h a day), no holidays.
NEW_YORK_OFFICE = Calendar(
    name="new-york-office",
    timezone="America/New_York",
    hours={day: [("09:00", "17:00")] for day in WORKDAYS},
)
MADRID_24X7 = Calendar.always_open("Europe/Madrid")
NEW_YORK_24X7 = Calendar.always_open("America/New_York")


def madrid(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MADRID)


def new_york(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sunday_duty(zone: str, *spans: tuple[str, str]) -> Calendar:
    """A calendar open only on Sundays, the day every DST change below happens."""
    return Calendar(name="sunday-duty", timezone=zone, hours={"sun": list(spans)})


# --- add: hand-computed due instants -------------------------------------------------------------

ADD_CASES = [
    pytest.param(
        # Fri 2 Jan 16:00 CET: 16-18 uses 2 h (10 h left); Sat 3 and Sun 4 are closed; Mon 5 uses
        # 8 h (2 h left); Tue 6 is a holiday; Wed 7 09:00 + 2 h = 11:00 CET = 10:00 UTC.
        MADRID_OFFICE,
        madrid("2026-01-02T16:00"),
        timedelta(hours=12),
        utc("2026-01-07T10:00"),
        id="friday-afternoon-over-a-weekend-and-a-holiday",
    ),
    pytest.param(
        # Mon 12 Jan 13:30 CET is the lunch break: counting starts at 14:00, due 15:00 CET.
        MADRID_OFFICE,
        madrid("2026-01-12T13:30"),
        timedelta(hours=1),
        utc("2026-01-12T14:00"),
        id="start-inside-the-lunch-break",
    ),
    pytest.param(
        # Mon 12 Jan 07:00 CET is before opening: 09:00 + 30 min = 09:30 CET.
        MADRID_OFFICE,
        madrid("2026-01-12T07:00"),
        timedelta(minutes=30),
        utc("2026-01-12T08:30"),
        id="start-before-opening",
    ),
    pytest.param(
        # Mon 12 Jan 19:00 CET is after closing: Tue 13 09:00 + 1 h = 10:00 CET.
        MADRID_OFFICE,
        madrid("2026-01-12T19:00"),
        timedelta(hours=1),
        utc("2026-01-13T09:00"),
        id="start-after-closing",
    ),
    pytest.param(
        # Mon 12 Jan 12:00 CET: 12-13 uses 1 h, lunch, 14:00 + 1.5 h = 15:30 CET.
        MADRID_OFFICE,
        madrid("2026-01-12T12:00"),
        timedelta(hours=2, minutes=30),
        utc("2026-01-12T14:30"),
        id="across-the-lunch-break",
    ),
    pytest.param(
        # Tue 6 Jan (Epiphany) is closed all day: Wed 7 09:00 + 2 h = 11:00 CET.
        MADRID_OFFICE,
        madrid("2026-01-06T10:00"),
        timedelta(hours=2),
        utc("2026-01-07T10:00"),
        id="start-on-a-holiday",
    ),
    pytest.param(
        # Thu 2 Apr 17:00 CEST: 1 h on Thursday; Good Friday, Saturday, Sunday closed; Mon 6 Apr
        # 09:00 + 1 h = 10:00 CEST = 08:00 UTC.
        MADRID_OFFICE,
        madrid("2026-04-02T17:00"),
        timedelta(hours=2),
        utc("2026-04-06T08:00"),
        id="a-long-easter-weekend",
    ),
    pytest.param(
        # Mon 12 Jan 09:00 CET + 40 h = five whole 8-hour days: Fri 16 Jan 18:00 CET.
        MADRID_OFFICE,
        madrid("2026-01-12T09:00"),
        timedelta(hours=40),
        utc("2026-01-16T17:00"),
        id="a-working-week",
    ),
    pytest.param(
        # Fri 27 Mar 17:00 CET (16:00 UTC): 1 h on Friday; the clocks spring forward on Sunday;
        # Mon 30 Mar 09:00 CEST + 1 h = 10:00 CEST = 08:00 UTC.
        MADRID_OFFICE,
        madrid("2026-03-27T17:00"),
        timedelta(hours=2),
        utc("2026-03-30T08:00"),
        id="madrid-office-across-spring-forward",
    ),
    pytest.param(
        # Fri 23 Oct 17:00 CEST: 1 h on Friday; the clocks fall back on Sunday; Mon 26 Oct
        # 09:00 CET + 1 h = 10:00 CET = 09:00 UTC.
        MADRID_OFFICE,
        madrid("2026-10-23T17:00"),
        timedelta(hours=2),
        utc("2026-10-26T09:00"),
        id="madrid-office-across-fall-back",
    ),
    pytest.param(
        # 24x7 in Madrid from Sun 29 Mar 00:00 CET (Sat 23:00 UTC): 23 h of plain elapsed time
        # ends at Mon 30 Mar 00:00 CEST (Sun 22:00 UTC): the whole 23-hour Sunday.
        MADRID_24X7,
        madrid("2026-03-29T00:00"),
        timedelta(hours=23),
        utc("2026-03-29T22:00"),
        id="madrid-24x7-spring-forward-day-is-23-hours",
    ),
    pytest.param(
        # 24x7 in Madrid from Sun 25 Oct 00:00 CEST (Sat 22:00 UTC) + 25 h = Sun 23:00 UTC,
        # which is Mon 26 Oct 00:00 CET: the whole 25-hour Sunday.
        MADRID_24X7,
        madrid("2026-10-25T00:00"),
        timedelta(hours=25),
        utc("2026-10-25T23:00"),
        id="madrid-24x7-fall-back-day-is-25-hours",
    ),
    pytest.param(
        # Fri 6 Mar 16:00 EST (21:00 UTC): 1 h on Friday; Mon 9 Mar 09:00 EDT (13:00 UTC) + 1 h
        # = 14:00 UTC.
        NEW_YORK_OFFICE,
        new_york("2026-03-06T16:00"),
        timedelta(hours=2),
        utc("2026-03-09T14:00"),
        id="new-york-office-across-spring-forward",
    ),
    pytest.param(
        # Fri 30 Oct 16:00 EDT (20:00 UTC): 1 h on Friday; Mon 2 Nov 09:00 EST (14:00 UTC) + 1 h
        # = 15:00 UTC.
        NEW_YORK_OFFICE,
        new_york("2026-10-30T16:00"),
        timedelta(hours=2),
        utc("2026-11-02T15:00"),
        id="new-york-office-across-fall-back",
    ),
    pytest.param(
        # 24x7 in New York from Sat 31 Oct 12:00 EDT (16:00 UTC) + 48 h = Mon 2 Nov 16:00 UTC,
        # which is 11:00 EST: 47 wall-clock hours later, because Sunday has 25 hours.
        NEW_YORK_24X7,
        new_york("2026-10-31T12:00"),
        timedelta(hours=48),
        utc("2026-11-02T16:00"),
        id="new-york-24x7-across-fall-back",
    ),
    pytest.param(
        # Sundays 02:30-05:00 in Madrid: on 29 Mar 02:30 never happens, so the interval opens at
        # the transition, 03:00 CEST (01:00 UTC); one hour later is 04:00 CEST = 02:00 UTC.
        sunday_duty("Europe/Madrid", ("02:30", "05:00")),
        madrid("2026-03-29T00:00"),
        timedelta(hours=1),
        utc("2026-03-29T02:00"),
        id="an-opening-inside-the-spring-forward-gap-opens-at-the-transition",
    ),
    pytest.param(
        # Sundays 02:30-04:00 in Madrid: on 25 Oct 02:30 happens twice; a start takes the first
        # occurrence, 02:30 CEST = 00:30 UTC, so 1 h later is 01:30 UTC (02:30 CET).
        sunday_duty("Europe/Madrid", ("02:30", "04:00")),
        madrid("2026-10-24T12:00"),
        timedelta(hours=1),
        utc("2026-10-25T01:30"),
        id="an-opening-in-the-repeated-hour-takes-its-first-occurrence",
    ),
    pytest.param(
        # Sundays 01:30-03:00 in New York: on 8 Mar 01:30 EST = 06:30 UTC and 03:00 EDT = 07:00
        # UTC, only 30 min; a 1 h target moves on to Sun 15 Mar 01:30 EDT (05:30 UTC) + 30 min.
        sunday_duty("America/New_York", ("01:30", "03:00")),
        new_york("2026-03-08T00:00"),
        timedelta(hours=1),
        utc("2026-03-15T06:00"),
        id="new-york-spring-forward-shortens-a-sunday-interval",
    ),
    pytest.param(
        # A zero target is due at once, even while closed (Sat 10 Jan 12:00 CET).
        MADRID_OFFICE,
        madrid("2026-01-10T12:00"),
        timedelta(0),
        utc("2026-01-10T11:00"),
        id="zero-duration",
    ),
    pytest.param(
        # Mon 12 Jan 12:59:59.999999 CET + 1 us is used up at the lunch closing, 13:00:00 CET.
        MADRID_OFFICE,
        madrid("2026-01-12T12:59:59.999999"),
        timedelta(microseconds=1),
        utc("2026-01-12T12:00"),
        id="microsecond-precision-up-to-closing",
    ),
    pytest.param(
        # ... and 2 us go one microsecond past the reopening: 14:00:00.000001 CET.
        MADRID_OFFICE,
        madrid("2026-01-12T12:59:59.999999"),
        timedelta(microseconds=2),
        utc("2026-01-12T13:00:00.000001"),
        id="microsecond-precision-past-lunch",
    ),
]


@pytest.mark.parametrize(("calendar", "start", "duration", "due"), ADD_CASES)
def test_add_finds_the_hand_computed_due_instant(
    calendar: Calendar, start: datetime, duration: timedelta, due: datetime
) -> None:
    assert calendar.add(start, duration) == due
    assert calendar.between(start, due) == duration


# --- between: hand-computed business time --------------------------------------------------------

BETWEEN_CASES = [
    pytest.param(
        # Mon 12 Jan 00:00 to Mon 19 Jan 00:00 CET: five 8-hour days.
        MADRID_OFFICE,
        madrid("2026-01-12T00:00"),
        madrid("2026-01-19T00:00"),
        timedelta(hours=40),
        id="a-calendar-week",
    ),
    pytest.param(
        # Mon 5 Jan 00:00 to Mon 12 Jan 00:00 CET: four working days, Tuesday is Epiphany.
        MADRID_OFFICE,
        madrid("2026-01-05T00:00"),
        madrid("2026-01-12T00:00"),
        timedelta(hours=32),
        id="a-week-with-a-holiday",
    ),
    pytest.param(
        # 13:10 to 13:50 CET lies wholly inside the lunch break.
        MADRID_OFFICE,
        madrid("2026-01-12T13:10"),
        madrid("2026-01-12T13:50"),
        timedelta(0),
        id="inside-the-lunch-break",
    ),
    pytest.param(
        # 12:00 to 15:00 CET: 12-13 and 14-15.
        MADRID_OFFICE,
        madrid("2026-01-12T12:00"),
        madrid("2026-01-12T15:00"),
        timedelta(hours=2),
        id="across-the-lunch-break",
    ),
    pytest.param(
        # Reversed arguments give the negated answer of the case above.
        MADRID_OFFICE,
        madrid("2026-01-12T15:00"),
        madrid("2026-01-12T12:00"),
        -timedelta(hours=2),
        id="reversed-interval-is-negative",
    ),
    pytest.param(
        # Sat 28 Mar 00:00 CET to Mon 30 Mar 00:00 CEST: 24 h + a 23-hour Sunday.
        MADRID_24X7,
        madrid("2026-03-28T00:00"),
        madrid("2026-03-30T00:00"),
        timedelta(hours=47),
        id="madrid-24x7-weekend-with-spring-forward",
    ),
    pytest.param(
        # Sun 8 Mar 00:00 EST (05:00 UTC) to Mon 9 Mar 00:00 EDT (04:00 UTC).
        NEW_YORK_24X7,
        new_york("2026-03-08T00:00"),
        new_york("2026-03-09T00:00"),
        timedelta(hours=23),
        id="new-york-24x7-spring-forward-day",
    ),
    pytest.param(
        # Sun 1 Nov 00:00 EDT (04:00 UTC) to Mon 2 Nov 00:00 EST (05:00 UTC).
        NEW_YORK_24X7,
        new_york("2026-11-01T00:00"),
        new_york("2026-11-02T00:00"),
        timedelta(hours=25),
        id="new-york-24x7-fall-back-day",
    ),
    pytest.param(
        # Sundays 00:00-02:30 in Madrid: on 29 Mar the end never happens and maps to the
        # transition, 01:00 UTC; the day starts at 00:00 CET = 23:00 UTC: 2 h.
        sunday_duty("Europe/Madrid", ("00:00", "02:30")),
        madrid("2026-03-28T00:00"),
        madrid("2026-03-30T00:00"),
        timedelta(hours=2),
        id="a-closing-inside-the-spring-forward-gap-closes-at-the-transition",
    ),
    pytest.param(
        # Sundays 02:10-02:50 in Madrid: on 29 Mar the whole interval is skipped by the clocks.
        sunday_duty("Europe/Madrid", ("02:10", "02:50")),
        madrid("2026-03-28T00:00"),
        madrid("2026-03-30T00:00"),
        timedelta(0),
        id="an-interval-wholly-inside-the-gap-counts-nothing",
    ),
    pytest.param(
        # Sundays 01:00-02:30 in Madrid: on 25 Oct 01:00 CEST = 23:00 UTC (Sat) and the end, which
        # happens twice, takes the second occurrence, 02:30 CET = 01:30 UTC: 2.5 h.
        sunday_duty("Europe/Madrid", ("01:00", "02:30")),
        madrid("2026-10-24T00:00"),
        madrid("2026-10-26T00:00"),
        timedelta(hours=2, minutes=30),
        id="a-closing-in-the-repeated-hour-takes-its-second-occurrence",
    ),
    pytest.param(
        # Sundays 02:15-02:45 in Madrid: on 25 Oct from the first 02:15 (CEST, 00:15 UTC) to the
        # second 02:45 (CET, 01:45 UTC): the whole wall-clock span, 1.5 h.
        sunday_duty("Europe/Madrid", ("02:15", "02:45")),
        madrid("2026-10-24T00:00"),
        madrid("2026-10-26T00:00"),
        timedelta(hours=1, minutes=30),
        id="an-interval-inside-the-repeated-hour-covers-both-passes",
    ),
    pytest.param(
        # Sundays 01:00-02:30 and 02:30-04:00 in Madrid: on 25 Oct the first ends at the second
        # 02:30 (01:30 UTC) and the next starts at the first one (00:30 UTC); the overlap counts
        # once: 01:00 CEST (23:00 UTC Sat) to 04:00 CET (03:00 UTC) is 4 h.
        sunday_duty("Europe/Madrid", ("01:00", "02:30"), ("02:30", "04:00")),
        madrid("2026-10-24T00:00"),
        madrid("2026-10-26T00:00"),
        timedelta(hours=4),
        id="touching-intervals-around-the-repeated-hour-count-once",
    ),
    pytest.param(
        # Sundays 01:30-03:00 in New York: on 1 Nov 01:30 first happens in EDT (05:30 UTC) and
        # 03:00 EST is 08:00 UTC: 2.5 h.
        sunday_duty("America/New_York", ("01:30", "03:00")),
        new_york("2026-10-31T00:00"),
        new_york("2026-11-02T00:00"),
        timedelta(hours=2, minutes=30),
        id="new-york-fall-back-lengthens-a-sunday-interval",
    ),
    pytest.param(
        # Sundays 00:00-02:30 in New York: on 8 Mar 00:00 EST = 05:00 UTC to the transition at
        # 07:00 UTC (02:30 never happens): 2 h.
        sunday_duty("America/New_York", ("00:00", "02:30")),
        new_york("2026-03-07T00:00"),
        new_york("2026-03-09T00:00"),
        timedelta(hours=2),
        id="new-york-closing-inside-the-gap",
    ),
    pytest.param(
        # Lord Howe Island moves its clocks by 30 min: on 4 Oct 2026 02:00 becomes 02:30 (+10:30
        # to +11), so the day is 23.5 h; on 5 Apr 2026 02:00 becomes 01:30, a 24.5-hour day.
        Calendar.always_open("Australia/Lord_Howe"),
        datetime(2026, 10, 4, tzinfo=ZoneInfo("Australia/Lord_Howe")),
        datetime(2026, 10, 5, tzinfo=ZoneInfo("Australia/Lord_Howe")),
        timedelta(hours=23, minutes=30),
        id="lord-howe-half-hour-spring-forward",
    ),
    pytest.param(
        Calendar.always_open("Australia/Lord_Howe"),
        datetime(2026, 4, 5, tzinfo=ZoneInfo("Australia/Lord_Howe")),
        datetime(2026, 4, 6, tzinfo=ZoneInfo("Australia/Lord_Howe")),
        timedelta(hours=24, minutes=30),
        id="lord-howe-half-hour-fall-back",
    ),
]


@pytest.mark.parametrize(("calendar", "a", "b", "expected"), BETWEEN_CASES)
def test_between_counts_the_hand_computed_business_time(
    calendar: Calendar, a: datetime, b: datetime, expected: timedelta
) -> None:
    assert calendar.between(a, b) == expected


# --- named behaviours ----------------------------------------------------------------------------


def test_a_target_used_up_at_closing_time_is_due_at_closing_time() -> None:
    # Mon 12 Jan 09:00 CET + 8 h uses the whole day: due 18:00 CET, not Tue 09:00.
    assert MADRID_OFFICE.add(madrid("2026-01-12T09:00"), timedelta(hours=8)) == utc(
        "2026-01-12T17:00"
    )
    # Likewise 4 h is due when the morning shift closes at 13:00, not when it reopens at 14:00.
    assert MADRID_OFFICE.add(madrid("2026-01-12T09:00"), timedelta(hours=4)) == utc(
        "2026-01-12T12:00"
    )


def test_adding_nothing_returns_the_start_in_utc() -> None:
    start = madrid("2026-01-10T12:00:00.123456")
    due = MADRID_OFFICE.add(start, timedelta(0))
    assert due == start
    assert due.tzinfo is UTC


def test_results_are_aware_utc_datetimes_whatever_the_input_zone() -> None:
    due = NEW_YORK_OFFICE.add(madrid("2026-01-12T09:00"), timedelta(hours=1))
    # 09:00 CET is 03:00 EST, before New York opens: 09:00 EST + 1 h = 10:00 EST = 15:00 UTC.
    assert due == utc("2026-01-12T15:00")
    assert due.tzinfo is UTC


def test_a_full_day_counts_23_hours_on_spring_forward_and_25_on_fall_back() -> None:
    assert sum_of(MADRID_24X7.opening_intervals(date(2026, 3, 29))) == timedelta(hours=23)
    assert sum_of(MADRID_24X7.opening_intervals(date(2026, 10, 25))) == timedelta(hours=25)
    assert sum_of(NEW_YORK_24X7.opening_intervals(date(2026, 3, 8))) == timedelta(hours=23)
    assert sum_of(NEW_YORK_24X7.opening_intervals(date(2026, 11, 1))) == timedelta(hours=25)
    assert sum_of(MADRID_24X7.opening_intervals(date(2026, 3, 30))) == timedelta(hours=24)


def sum_of(intervals: tuple[tuple[datetime, datetime], ...]) -> timedelta:
    return sum((closes - opens for opens, closes in intervals), timedelta(0))


def test_24x7_business_time_is_plain_elapsed_time() -> None:
    start = new_york("2026-03-07T22:17:03.000004")
    for hours in (0, 1, 5, 23, 24, 25, 49, 24 * 400):
        elapsed = start.astimezone(UTC) + timedelta(hours=hours)
        assert NEW_YORK_24X7.add(start, timedelta(hours=hours)) == elapsed
    end = new_york("2026-11-03T01:00")
    assert NEW_YORK_24X7.between(start, end) == end.astimezone(UTC) - start.astimezone(UTC)
    # Python's arithmetic on a zoneinfo-aware datetime is wall-clock arithmetic, which is not
    # elapsed time across a DST change: Sat 22:17 EST + 5 h on the wall is Sun 03:17 EDT, only
    # 4 h later.
    assert NEW_YORK_24X7.between(start, start + timedelta(hours=5)) == timedelta(hours=4)


def test_a_year_with_a_five_day_week_and_twenty_holidays_matches_a_simple_day_by_day_sum() -> None:
    holidays = [
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 3, 19),
        date(2026, 4, 2),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 15),
        date(2026, 6, 24),
        date(2026, 7, 24),
        date(2026, 8, 14),
        date(2026, 8, 17),
        date(2026, 10, 12),
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 12, 7),
        date(2026, 12, 8),
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 31),
    ]
    assert len(set(holidays)) == 20
    assert all(day.weekday() < 5 for day in holidays)
    shifts = [(time(9), time(13)), (time(14), time(18))]
    calendar = Calendar(
        timezone="Europe/Madrid", hours=dict.fromkeys(WORKDAYS, shifts), holidays=holidays
    )
    start = madrid("2026-01-02T11:17:23.456789")  # a Friday, mid-morning
    end = madrid("2027-01-04T15:42:00.000001")  # a Monday, mid-afternoon

    # The slow, simple way: every weekday that is not a holiday, each shift placed on the
    # timeline with zoneinfo directly (no weekday shift touches a DST change) and clipped.
    expected = timedelta(0)
    day = start.date()
    while day <= end.date():
        if day.weekday() < 5 and day not in holidays:
            for opens, closes in shifts:
                lo = max(datetime.combine(day, opens, tzinfo=MADRID), start)
                hi = min(datetime.combine(day, closes, tzinfo=MADRID), end)
                expected += max(hi - lo, timedelta(0))
        day += timedelta(days=1)

    # Cross-check by counting: the first and last days are partial (Fri 2 Jan from
    # 11:17:23.456789, Mon 4 Jan 2027 until 15:42:00.000001). 2026 has 261 weekdays; without
    # Thu 1 and Fri 2 Jan that leaves 259, of which 19 are holidays: 240 whole days, plus
    # Fri 1 Jan 2027 (not in this list of 2026 holidays) makes 241.
    first = timedelta(hours=13) - timedelta(hours=11, minutes=17, seconds=23, microseconds=456789)
    first += timedelta(hours=4)
    last = timedelta(hours=4) + timedelta(hours=1, minutes=42, microseconds=1)
    assert expected == first + 241 * timedelta(hours=8) + last

    assert calendar.between(start, end) == expected
    assert calendar.add(start, expected) == end


def test_a_corrected_calendar_is_a_new_version_with_its_own_answers() -> None:
    corrected = MADRID_OFFICE.model_copy(
        update={"version": 2, "holidays": MADRID_OFFICE.holidays | {date(2026, 1, 12)}}
    )
    start = madrid("2026-01-12T09:00")
    assert MADRID_OFFICE.add(start, timedelta(hours=1)) == utc("2026-01-12T09:00")
    assert corrected.add(start, timedelta(hours=1)) == utc("2026-01-13T09:00")
    assert corrected != MADRID_OFFICE


def test_touching_intervals_count_as_one_stretch() -> None:
    calendar = Calendar(timezone="UTC", hours={"mon": [("13:00", "18:00"), ("09:00", "13:00")]})
    assert calendar.hours == ((Weekday.MON, ((time(9), time(13)), (time(13), time(18)))),)
    start = utc("2026-01-12T12:00")
    assert calendar.add(start, timedelta(hours=2)) == utc("2026-01-12T14:00")
    assert calendar.opening_intervals(date(2026, 1, 12)) == (
        (utc("2026-01-12T09:00"), utc("2026-01-12T18:00")),
    )


def test_is_open_follows_the_half_open_intervals() -> None:
    assert MADRID_OFFICE.is_open(madrid("2026-01-12T09:00"))
    assert MADRID_OFFICE.is_open(madrid("2026-01-12T12:59:59.999999"))
    assert not MADRID_OFFICE.is_open(madrid("2026-01-12T13:00"))
    assert not MADRID_OFFICE.is_open(madrid("2026-01-06T10:00"))  # Epiphany
    assert not MADRID_OFFICE.is_open(madrid("2026-01-10T10:00"))  # Saturday


def test_next_opening_is_the_instant_itself_while_open_and_the_next_start_otherwise() -> None:
    open_now = madrid("2026-01-12T10:00")
    assert MADRID_OFFICE.next_opening(open_now) == open_now
    # Sat 3 Jan: Monday 5 Jan 09:00 CET.
    assert MADRID_OFFICE.next_opening(madrid("2026-01-03T10:00")) == utc("2026-01-05T08:00")
    # Mon 5 Jan 18:00 CET: Tuesday is Epiphany, so Wednesday 09:00 CET.
    assert MADRID_OFFICE.next_opening(madrid("2026-01-05T18:00")) == utc("2026-01-07T08:00")


def test_a_calendar_without_hours_never_opens() -> None:
    closed = Calendar(timezone="UTC")
    start = utc("2026-01-01T00:00")
    assert closed.next_opening(start) is None
    assert not closed.is_open(start)
    assert closed.between(start, utc("2026-02-01T00:00")) == timedelta(0)
    assert closed.add(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="never opens"):
        closed.add(start, timedelta(seconds=1))


def test_business_time_reached_past_year_9999_is_never_reached() -> None:
    late = utc("9999-12-01T00:00")
    with pytest.raises(ValueError, match="past year 9999"):
        Calendar.always_open().add(late, timedelta(days=60))
    with pytest.raises(ValueError, match="past year 9999"):
        MADRID_OFFICE.add(late, timedelta(days=60))
    assert add_business(MADRID_OFFICE, late, timedelta(days=60)) is None  # as the SLA clocks see it


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 1, 12, 9)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID_OFFICE.add(naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID_OFFICE.between(utc("2026-01-12T09:00"), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID_OFFICE.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        MADRID_OFFICE.next_opening(naive)


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        MADRID_OFFICE.add(utc("2026-01-12T09:00"), timedelta(seconds=-1))


# --- construction and configuration --------------------------------------------------------------


def test_hours_accept_strings_with_seconds_time_objects_and_24_00() -> None:
    calendar = Calendar(
        timezone="UTC",
        hours={
            "Mon": [("09:00:30", "12:00:00.5")],
            Weekday.TUE: [(time(22), "24:00")],
            "wed": [(time(22), time(0))],
            "thu": [],
        },
    )
    assert calendar.hours == (
        (Weekday.MON, ((time(9, 0, 30), time(12, 0, 0, 500000)),)),
        (Weekday.TUE, ((time(22), time(0)),)),
        (Weekday.WED, ((time(22), time(0)),)),
    )
    assert calendar.between(utc("2026-01-13T00:00"), utc("2026-01-15T00:00")) == timedelta(hours=4)


def test_a_calendar_dumps_to_readable_settings_that_load_back() -> None:
    dumped = MADRID_OFFICE.model_dump()
    assert dumped["hours"]["mon"] == [("09:00", "13:00"), ("14:00", "18:00")]
    assert dumped["holidays"] == [date(2026, 1, 6), date(2026, 4, 3)]
    assert Calendar(**dumped) == MADRID_OFFICE
    assert Calendar.model_validate_json(MADRID_OFFICE.model_dump_json()) == MADRID_OFFICE
    assert Calendar.always_open().model_dump()["hours"]["sun"] == [("00:00", "24:00")]


def test_equal_calendars_hash_alike() -> None:
    again = Calendar(
        name="madrid-office",
        timezone="Europe/Madrid",
        hours={day: [("14:00", "18:00"), ("09:00", "13:00")] for day in reversed(WORKDAYS)},
        holidays=[date(2026, 4, 3), "2026-01-06"],
    )
    assert again == MADRID_OFFICE
    assert hash(again) == hash(MADRID_OFFICE)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": [("09:00", "13:00"), ("12:00", "14:00")]}, "mon: intervals 09:00-13:00 and"),
        ({"funday": [("09:00", "13:00")]}, "unknown weekday 'funday'"),
        ({"tue": [("18:00", "09:00")]}, "tue: interval 18:00-09:00 must start before it ends"),
        ({"wed": [("24:00", "24:00")]}, "wed: '24:00' is not a valid time of day"),
        ({"thu": [("9am", "5pm")]}, "thu: expected a time such as '09:00'"),
        ({"fri": ["09:00-17:00"]}, r"fri: expected \[start, end\]"),
        ({"sat": "09:00-17:00"}, "sat: expected a list of"),
    ],
)
def test_malformed_hours_are_refused_with_the_weekday_named(
    hours: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Calendar(timezone="UTC", hours=hours)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone 'Mars/Olympus_Mons'"):
        Calendar(timezone="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"timezone": "Nowhere/City"}, "timezone: unknown IANA time zone 'Nowhere/City'"),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "13:00"], ["10:00", "11:00"]]}},
            "hours: mon: intervals 09:00-13:00 and 10:00-11:00 overlap",
        ),
        ({"timezone": "UTC", "hours": {"someday": []}}, "hours: unknown weekday 'someday'"),
        ({"timezone": "UTC", "holidays": ["2026-13-01"]}, r"holidays\[0\]"),
        ({"timezone": "UTC", "version": 0}, "version: Input should be greater than or equal"),
        ({"timezone": "UTC", "opening": {}}, "opening: Extra inputs are not permitted"),
        ({}, "timezone: Field required"),
    ],
)
def test_bad_calendar_settings_raise_a_configuration_error_naming_the_setting(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        Calendar.from_mapping(settings)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("invalid calendar setting: ")


def test_a_calendar_loads_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "madrid.toml"
    path.write_text(
        'name = "madrid-office"\n'
        'timezone = "Europe/Madrid"\n'
        'holidays = [2026-01-06, "2026-04-03"]\n'
        "[hours]\n"
        + "".join(f'{day} = [["09:00", "13:00"], [14:00:00, 18:00:00]]\n' for day in WORKDAYS),
        encoding="utf-8",
    )
    assert Calendar.from_file(path) == MADRID_OFFICE
    assert Calendar.from_file(str(path)) == MADRID_OFFICE


def test_a_calendar_loads_from_json(tmp_path: Path) -> None:
    path = tmp_path / "madrid.json"
    path.write_text(MADRID_OFFICE.model_dump_json(), encoding="utf-8")
    assert Calendar.from_file(path) == MADRID_OFFICE


def test_a_calendar_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "madrid.yaml"
    path.write_text(
        "timezone: Europe/Madrid\n"
        "hours:\n"
        '  mon: [["09:00", "13:00"], ["14:00", "18:00"]]\n'
        "holidays: [2026-12-25]\n",
        encoding="utf-8",
    )
    calendar = Calendar.from_file(path)
    assert calendar.timezone == "Europe/Madrid"
    assert date(2026, 12, 25) in calendar.holidays
    assert calendar.between(
        datetime(2026, 3, 2, 8, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC)
    ) == timedelta(hours=8)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("calendar.ini", "timezone: UTC", "unsupported suffix '.ini'"),
        ("calendar.yaml", "timezone: [UTC", "is not valid YAML"),
        ("calendar.toml", "timezone = ", "is not valid TOML"),
        ("calendar.json", "{timezone", "is not valid JSON"),
        ("calendar.json", json.dumps(["UTC"]), "expected a mapping of settings, got list"),
        ("calendar.toml", 'timezone = "Nope/Nope"', r"in .*calendar\.toml: timezone: unknown"),
    ],
)
def test_bad_calendar_files_raise_a_configuration_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        Calendar.from_file(path)


def test_a_missing_calendar_file_raises_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read calendar file"):
        Calendar.from_file(tmp_path / "absent.toml")
