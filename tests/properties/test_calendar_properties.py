"""Laws of business-time maths, over random split-shift calendars in zones with odd DST rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from servflow.domain.calendar import Calendar, Weekday

WEEK = tuple(Weekday)
# UTC has no DST; Madrid and New York change by an hour in the small hours; Kolkata never changes
# but sits at +05:30; Lord Howe changes by 30 minutes.
ZONES = ("UTC", "Europe/Madrid", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")

# DST changes in 2026 (UTC), where most of the interesting cases are.
ZONE_TRANSITIONS = tuple(
    (zone, datetime.fromisoformat(text).replace(tzinfo=UTC))
    for zone, text in (
        ("Europe/Madrid", "2026-03-29T01:00"),  # springs forward
        ("Europe/Madrid", "2026-10-25T01:00"),  # falls back
        ("America/New_York", "2026-03-08T07:00"),  # springs forward
        ("America/New_York", "2026-11-01T06:00"),  # falls back
        ("Australia/Lord_Howe", "2026-04-04T15:00"),  # falls back 30 min
        ("Australia/Lord_Howe", "2026-10-03T15:30"),  # springs forward 30 min
    )
)
TRANSITIONS = tuple(transition for _, transition in ZONE_TRANSITIONS)

# The machine running the tests is shared; the first examples also warm the per-date memo.
laws = settings(deadline=None)


def clock(quarter: int) -> str:
    """Turn a count of quarter hours into "HH:MM", with 96 as "24:00"."""
    return f"{quarter // 4:02d}:{quarter % 4 * 15:02d}"


# Quarter hours from 01:00 to 03:30, where DST gaps and repeated hours lie in these zones.
NIGHT = st.integers(4, 14)
ANY_QUARTER = st.integers(0, 96) | NIGHT
COIN = st.booleans()
MOSTLY = st.sampled_from((True, True, True, False))


@st.composite
def day_hours(
    draw: st.DrawFn,
    quarters: st.SearchStrategy[int] = ANY_QUARTER,
    keep: st.SearchStrategy[bool] = COIN,
) -> list[tuple[str, str]]:
    """Intervals on quarter-hour boundaries, some touching, many around the DST changes."""
    points = sorted(draw(st.sets(quarters, max_size=6)))
    used = draw(st.lists(keep, min_size=len(points), max_size=len(points)))
    return [
        (clock(start), clock(end))
        for start, end, wanted in zip(points, points[1:], used, strict=False)
        if wanted
    ]


@st.composite
def split_shift_calendars(
    draw: st.DrawFn, zone: str | None = None, *, crowded: bool = False
) -> Calendar:
    # A crowded calendar has mostly touching intervals, all between 01:00 and 03:30.
    hours = {
        day: draw(day_hours(NIGHT, MOSTLY)) if crowded else draw(day_hours()) for day in Weekday
    }
    if not any(hours.values()):
        hours[draw(st.sampled_from(Weekday))] = [("09:00", "17:00")]
    holidays = draw(
        st.frozensets(st.dates(min_value=date(2025, 12, 1), max_value=date(2027, 2, 1)), max_size=8)
    )
    timezone = zone or draw(st.sampled_from(ZONES))
    return Calendar(timezone=timezone, hours=hours, holidays=holidays)


def around_a_transition(
    zone_transition: tuple[str, datetime],
) -> st.SearchStrategy[tuple[Calendar, datetime]]:
    """A calendar in a zone with DST, with its hours crowded around one of its clock changes."""
    zone, transition = zone_transition
    return st.tuples(split_shift_calendars(zone, crowded=True), st.just(transition))


calendars = st.one_of(
    split_shift_calendars(),
    st.sampled_from(ZONES).map(Calendar.always_open),
)

instants = st.one_of(
    st.datetimes(
        min_value=datetime(2025, 12, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2027, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        timezones=st.just(UTC),
    ),
    st.builds(
        lambda transition, offset: transition + offset,
        st.sampled_from(TRANSITIONS),
        st.timedeltas(min_value=-timedelta(days=3), max_value=timedelta(days=3)),
    ),
)

durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


@laws
@given(calendars, instants, durations)
def test_the_business_time_up_to_a_due_instant_is_the_target(
    calendar: Calendar, start: datetime, duration: timedelta
) -> None:
    assert calendar.between(start, calendar.add(start, duration)) == duration


@laws
@given(calendars, instants, durations.filter(bool))
def test_the_due_instant_is_the_earliest_one_that_uses_the_target(
    calendar: Calendar, start: datetime, duration: timedelta
) -> None:
    due = calendar.add(start, duration)
    assert calendar.between(start, due - timedelta(microseconds=1)) < duration


@laws
@given(calendars, instants, durations)
def test_a_due_instant_is_never_before_its_start_nor_sooner_than_elapsed_time(
    calendar: Calendar, start: datetime, duration: timedelta
) -> None:
    due = calendar.add(start, duration)
    assert due >= start
    assert due - start >= duration
    assert due.tzinfo is UTC


@laws
@given(calendars, instants, durations, durations)
def test_a_longer_target_is_never_due_earlier(
    calendar: Calendar, start: datetime, one: timedelta, other: timedelta
) -> None:
    shorter, longer = sorted((one, other))
    assert calendar.add(start, shorter) <= calendar.add(start, longer)


@laws
@given(calendars, instants, instants, durations)
def test_a_later_start_is_never_due_earlier(
    calendar: Calendar, one: datetime, other: datetime, duration: timedelta
) -> None:
    earlier, later = sorted((one, other))
    assert calendar.add(earlier, duration) <= calendar.add(later, duration)


@laws
@given(calendars, instants, instants, instants)
def test_business_time_adds_up_over_adjacent_intervals(
    calendar: Calendar, one: datetime, two: datetime, three: datetime
) -> None:
    a, b, c = sorted((one, two, three))
    assert calendar.between(a, b) + calendar.between(b, c) == calendar.between(a, c)
    assert calendar.between(c, a) == -calendar.between(a, c)
    assert timedelta(0) <= calendar.between(a, c) <= c - a


@laws
@given(st.sampled_from(ZONES), instants, instants, durations)
def test_24x7_business_time_is_elapsed_time_in_every_zone(
    zone: str, start: datetime, end: datetime, duration: timedelta
) -> None:
    calendar = Calendar.always_open(zone)
    assert calendar.add(start, duration) == start + duration
    assert calendar.between(start, end) == end - start
    # The zone an input is expressed in changes nothing: only the instant counts.
    local_start = start.astimezone(ZoneInfo(zone))
    assert calendar.add(local_start, duration) == start + duration


@laws
@given(st.sampled_from(ZONE_TRANSITIONS).flatmap(around_a_transition))
def test_each_days_opening_intervals_are_ordered_disjoint_and_apart(
    case: tuple[Calendar, datetime],
) -> None:
    calendar, transition = case
    day = transition.date() - timedelta(days=2)
    previous_close = None
    for _ in range(5):
        for opens, closes in calendar.opening_intervals(day):
            assert opens < closes
            # Touching or overlapping intervals are merged, so each one follows a closed gap,
            # except across midnight, where one date ends the instant the next begins.
            assert previous_close is None or previous_close <= opens
            previous_close = closes
        day += timedelta(days=1)


@laws
@given(split_shift_calendars(), instants)
def test_on_a_day_without_a_clock_change_business_time_is_the_local_hours(
    calendar: Calendar, around: datetime
) -> None:
    zone = ZoneInfo(calendar.timezone)
    day = around.astimezone(zone).date()
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    assume(midnight.utcoffset() == next_midnight.utcoffset())
    local = timedelta(0)
    if day not in calendar.holidays:
        for weekday, spans in calendar.hours:
            if weekday == WEEK[day.weekday()]:
                for start, end in spans:
                    stop = next_midnight if end == time(0) else datetime.combine(day, end, zone)
                    local += stop.replace(tzinfo=None) - datetime.combine(day, start)
    assert calendar.between(midnight, next_midnight) == local


@laws
@given(calendars, instants)
def test_is_open_agrees_with_the_next_microsecond_of_business_time(
    calendar: Calendar, at: datetime
) -> None:
    tick = timedelta(microseconds=1)
    assert calendar.between(at, at + tick) == (tick if calendar.is_open(at) else timedelta(0))
    opening = calendar.next_opening(at)
    assert opening is not None
    assert calendar.is_open(opening)
    assert calendar.between(at, opening) == timedelta(0)


@laws
@given(
    zone=st.sampled_from(ZONES),
    start=st.sampled_from(TRANSITIONS).flatmap(
        lambda moment: st.integers(-3 * 86_400, 3 * 86_400).map(
            lambda seconds: moment + timedelta(seconds=seconds)
        )
    ),
    seconds=st.integers(0, 10 * 86_400),
)
def test_the_always_open_shortcut_agrees_with_walking_the_dates(
    zone: str, start: datetime, seconds: int
) -> None:
    """A 24x7 calendar answers by arithmetic; walking its dates (DST days included) agrees."""
    from servflow.domain.calendar import _Schedule  # noqa: PLC0415 - the shortcut is internal

    calendar = Calendar.always_open(zone)
    walked = _Schedule(calendar)
    assert walked.always_open
    walked.always_open = False
    amount = timedelta(seconds=seconds)
    due = calendar.add(start, amount)
    assert due == (walked.add(start, amount) if amount else start)
    assert calendar.between(start, due) == amount
    if amount:
        assert walked.between(start, due) == amount
