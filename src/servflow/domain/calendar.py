"""Business time: weekly opening hours, holidays and a time zone, exact across DST changes.

A :class:`Calendar` answers two questions the SLA clocks ask: "when is this much business time
used up?" (:meth:`Calendar.add`) and "how much business time lies between these instants?"
(:meth:`Calendar.between`). Both are pure functions of the calendar and their arguments; they never
read the wall clock.

Opening intervals are *local wall-clock* times in the calendar's zone. Each local date's intervals
are resolved to UTC instants with :mod:`zoneinfo` under these rules:

* A boundary inside a spring-forward gap (a wall-clock time that never happens) maps to the
  transition instant, the first instant that exists after the gap. So a 00:00-24:00 day counts 23 h
  on a spring-forward day, and an interval lying wholly inside the gap counts nothing.
* A boundary that happens twice (the repeated hour of a fall-back) maps, for an interval *start*,
  to its first occurrence (``fold=0``) and, for an interval *end*, to its second occurrence
  (``fold=1``): the interval covers the whole wall-clock span, so a 00:00-24:00 day counts 25 h on a
  fall-back day.
* ``24:00`` (also written as an end of ``00:00``) is the start of the next local date: its midnight
  under the *start* rule. Local dates therefore tile the timeline without gaps or overlaps, each
  owning the instants from its own midnight to the next; an interval is clipped to its date's span,
  and intervals that touch or overlap in UTC are merged.

Costs are O(local dates spanned): the maths walks dates, never minutes, and memoises each date's
UTC intervals per calendar.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib import import_module
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
)

from servflow.domain.values import Label
from servflow.errors import ConfigurationError, shown

__all__ = ["Calendar", "Weekday"]


class Weekday(StrEnum):
    """A day of the week as written in configuration; declared in ``date.weekday()`` order."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


_WEEK: tuple[Weekday, ...] = tuple(Weekday)
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_MIDNIGHT = time(0)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?")
_ClockInterval = tuple[time, time]
_Instants = tuple[tuple[datetime, datetime], ...]
_Model = TypeVar("_Model", bound=BaseModel)


class Calendar(BaseModel):
    """When business time runs: the clock SLA targets are counted on (24x7 is a calendar too).

    Calendars are versioned data: correcting one (a forgotten holiday) means a new ``version``,
    so an answer can say which version it used. Opening ``hours`` map a weekday to local
    ``(start, end)`` pairs, several a day allowed; a weekday that is not listed is closed, and an
    end of ``"24:00"`` (or ``00:00``) means the end of the day. ``holidays`` are local dates closed
    all day. See the module docstring for how DST gaps and repeats are counted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Label = Field(default="default", min_length=1)
    #: Stored in the SLA view's 32-bit INTEGER columns.
    version: int = Field(default=1, ge=1, le=2**31 - 1)
    timezone: str
    # Stored as a tuple so that the frozen model hashes; accepted and dumped as a weekday mapping.
    hours: tuple[tuple[Weekday, tuple[_ClockInterval, ...]], ...] = ()
    holidays: frozenset[date] = frozenset()

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            msg = f"unknown IANA time zone {shown(value)} (expected a name such as 'Europe/Madrid')"
            raise ValueError(msg) from None
        return value

    @field_validator("hours", mode="before")
    @classmethod
    def _normalise_hours(cls, value: object) -> object:
        return _normalise_hours(value)

    @field_serializer("hours")
    def _dump_hours(
        self, hours: tuple[tuple[Weekday, tuple[_ClockInterval, ...]], ...]
    ) -> dict[str, list[tuple[str, str]]]:
        return {
            day.value: [
                (_format_clock(start), _format_clock(end, end=True)) for start, end in spans
            ]
            for day, spans in hours
        }

    @field_serializer("holidays")
    def _dump_holidays(self, holidays: frozenset[date]) -> list[date]:
        return sorted(holidays)

    @classmethod
    def always_open(cls, timezone: str = "UTC") -> Self:
        """Build the 24x7 calendar, on which business time is plain elapsed time."""
        return cls(
            name="24x7",
            timezone=timezone,
            hours={day: [("00:00", "24:00")] for day in Weekday},
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Self:
        """Load a calendar from configuration data, reporting problems as ConfigurationError."""
        return validate_settings(cls, data, what="calendar")

    @classmethod
    def from_file(cls, path: str | Path) -> Self:
        """Load a calendar from a ``.toml``, ``.json`` or ``.yaml`` file (``servflow.settings``)."""
        return settings_from_file(cls, path, what="calendar")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return the earliest instant at which business time from ``start`` reaches ``duration``.

        A target used up exactly at closing time is due at closing time, not at the next opening,
        and ``add(t, timedelta(0)) == t``. The result is in UTC.
        """
        begin = _as_utc(start, "start")
        if duration < _ZERO:
            msg = f"duration must not be negative, got {duration}"
            raise ValueError(msg)
        if not duration:
            return begin
        try:
            found = _schedule(self).add(begin, duration)
        except OverflowError:
            # Reached past any date a datetime can name: the SLA clocks read it as never
            # reached, as for a calendar that never opens.
            msg = f"{duration} of business time from {begin.isoformat()} ends past year 9999"
            raise ValueError(msg) from None
        if found is None:
            msg = f"calendar {self.name!r} v{self.version} never opens, so no business time elapses"
            raise ValueError(msg)
        return found

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Return the business time in ``[a, b)``; negative when ``b`` lies before ``a``."""
        low, high = _as_utc(a, "a"), _as_utc(b, "b")
        if high < low:
            return -self.between(b, a)
        if low == high:
            return _ZERO
        return _schedule(self).between(low, high)

    def is_open(self, at: datetime) -> bool:
        """Tell whether business time is running at the instant ``at``."""
        instant = _as_utc(at, "at")
        schedule = _schedule(self)
        plan = schedule.day(schedule.day_of(instant))
        return any(opens <= instant < closes for opens, closes in plan.intervals)

    def next_opening(self, at: datetime) -> datetime | None:
        """Return the earliest instant at or after ``at`` when the calendar is open (UTC).

        That is ``at`` itself while open; ``None`` if the calendar never opens again.
        """
        instant = _as_utc(at, "at")
        schedule = _schedule(self)
        for plan in schedule.days_from(schedule.day_of(instant)):
            for opens, closes in plan.intervals:
                if closes > instant:
                    return max(opens, instant)
        return None

    def opening_intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """Return the UTC ``[opens, closes)`` intervals of a local date, to explain a due time."""
        return _schedule(self).day(day).intervals


class _Day(NamedTuple):
    """One local date resolved to UTC: its span on the timeline and its opening intervals."""

    begins: datetime
    ends: datetime
    intervals: _Instants


class _Schedule:
    """A calendar's opening intervals resolved to UTC one local date at a time, memoised."""

    _MAX_CACHED_DAYS = 50_000

    def __init__(self, calendar: Calendar) -> None:
        self.zone = ZoneInfo(calendar.timezone)
        weekly = dict(calendar.hours)
        self.weekly: tuple[tuple[_ClockInterval, ...], ...] = tuple(
            weekly.get(day, ()) for day in _WEEK
        )
        self.holidays = calendar.holidays
        # Beyond this many consecutive closed dates the calendar cannot open again: a week with
        # hours closes at most six dates, each holiday one more, and a DST gap can swallow an
        # interval on at most a handful of dates a year.
        self.max_closed_run = len(calendar.holidays) + 400 if any(self.weekly) else 0
        self._days: dict[date, _Day] = {}
        #: Open around the clock every day, no holidays: business time is elapsed time, in any
        #: zone (instants are UTC, so DST moves no boundary), and add/between are arithmetic.
        self.always_open = not self.holidays and all(
            spans == ((_MIDNIGHT, _MIDNIGHT),) for spans in self.weekly
        )

    def midnight(self, day: date) -> datetime:
        """Return the instant a local date begins (a start boundary, so gap/fold rules apply)."""
        return _resolve(self.zone, datetime.combine(day, _MIDNIGHT), end=False)

    def day(self, day: date) -> _Day:
        """Return a local date's span and opening intervals in UTC."""
        plan = self._days.get(day)
        if plan is None:
            if len(self._days) >= self._MAX_CACHED_DAYS:
                self._days.clear()
            plan = self._days[day] = self._resolve_day(day)
        return plan

    def _resolve_day(self, day: date) -> _Day:
        begins, ends = self.midnight(day), self.midnight(day + _ONE_DAY)
        spans = () if day in self.holidays else self.weekly[day.weekday()]
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            opens = max(begins, _resolve(self.zone, datetime.combine(day, start), end=False))
            if end == _MIDNIGHT:
                closes = ends
            else:
                closes = min(ends, _resolve(self.zone, datetime.combine(day, end), end=True))
            if opens >= closes:
                continue  # wholly inside a spring-forward gap
            if merged and opens <= merged[-1][1]:
                # Touching local intervals, or a repeated hour read by both neighbours.
                merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
            else:
                merged.append((opens, closes))
        return _Day(begins, ends, tuple(merged))

    def add(self, begin: datetime, duration: timedelta) -> datetime | None:
        """The instant business time from ``begin`` (UTC) reaches ``duration`` (None: never).

        ``OverflowError`` when that instant lies past ``datetime.max``.
        """
        if self.always_open:
            return begin + duration
        remaining = duration
        for plan in self.days_from(self.day_of(begin)):
            for opens, closes in plan.intervals:
                if closes <= begin:
                    continue
                counted_from = max(opens, begin)
                available = closes - counted_from
                if available >= remaining:
                    return counted_from + remaining
                remaining -= available
        return None

    def between(self, low: datetime, high: datetime) -> timedelta:
        """The business time in ``[low, high)``, both UTC, ``low < high``."""
        if self.always_open:
            return high - low
        total = _ZERO
        day, last = self.day_of(low), self.day_of(high)
        while day <= last:
            for opens, closes in self.day(day).intervals:
                overlap = min(closes, high) - max(opens, low)
                if overlap > _ZERO:
                    total += overlap
            day += _ONE_DAY
        return total

    def day_of(self, instant: datetime) -> date:
        """Return the local date whose span holds ``instant``."""
        day = instant.astimezone(self.zone).date()
        # Only a fall-back across midnight can make the wall-clock date disagree with the spans.
        while instant < self.day(day).begins:
            day -= _ONE_DAY
        while instant >= self.day(day).ends:
            day += _ONE_DAY
        return day

    def days_from(self, day: date) -> Iterator[_Day]:
        """Walk local dates forward from ``day``, stopping once the calendar cannot open again."""
        closed_run = 0
        while closed_run <= self.max_closed_run:
            plan = self.day(day)
            closed_run = 0 if plan.intervals else closed_run + 1
            yield plan
            day += _ONE_DAY


#: The schedule of each calendar object, by identity (hashing a calendar's value on every
#: call costs more than the arithmetic it saves); the value-keyed memo below shares the work
#: between equal calendars.
_BY_IDENTITY: dict[int, tuple[Calendar, _Schedule]] = {}


def clear_schedules() -> None:
    """Forget every resolved schedule (benchmarks measure the cold path with it)."""
    _BY_IDENTITY.clear()
    _schedule_of_value.cache_clear()


def _schedule(calendar: Calendar) -> _Schedule:
    found = _BY_IDENTITY.get(id(calendar))
    if found is not None and found[0] is calendar:
        return found[1]
    if len(_BY_IDENTITY) >= 256:  # noqa: PLR2004 - a handful of calendars in practice
        _BY_IDENTITY.clear()
    schedule = _schedule_of_value(calendar)
    _BY_IDENTITY[id(calendar)] = (calendar, schedule)
    return schedule


@lru_cache(maxsize=64)
def _schedule_of_value(calendar: Calendar) -> _Schedule:
    # Keyed by value: equal calendars resolve to equal intervals, so they may share the memo.
    return _Schedule(calendar)


def _resolve(zone: ZoneInfo, local: datetime, *, end: bool) -> datetime:
    """Map a naive local wall-clock time to a UTC instant under the module's DST rules."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first < second:
        # The wall-clock time happens twice: a start takes the first, an end the second.
        return second if end else first
    # Inside a gap, fold=1 reads the time with the offset after the transition (landing before
    # it) and fold=0 with the offset before (landing after it): the transition lies in between.
    return _transition(zone, second, first)


def _transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """Return the first instant in ``(before, after]`` with the UTC offset ``after`` has."""
    target = after.astimezone(zone).utcoffset()
    low, high = before, after
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) // 2
        if middle.astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}"
        raise ValueError(msg)
    return value.astimezone(UTC)


def _normalise_hours(value: object) -> object:
    """Turn the weekday mapping (or the stored tuple form) into sorted, checked tuples."""
    if isinstance(value, Mapping):
        entries: list[object] = list(value.items())
    elif isinstance(value, Sequence) and not isinstance(value, str):
        entries = list(value)
    else:
        msg = "expected a mapping of weekday to a list of [start, end] pairs"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports only ValueError as a validation error
    by_day: dict[Weekday, tuple[_ClockInterval, ...]] = {}
    for entry in entries:
        key, spans = _pair(entry, "expected (weekday, intervals) pairs")
        day = _weekday(key)
        if day in by_day:
            msg = f"{day.value}: listed twice"
            raise ValueError(msg)
        by_day[day] = _day_hours(day, spans)
    return tuple((day, by_day[day]) for day in _WEEK if by_day.get(day))


def _weekday(key: object) -> Weekday:
    try:
        return Weekday(key.strip().lower() if isinstance(key, str) else "")
    except ValueError:
        known = ", ".join(day.value for day in Weekday)
        msg = f"unknown weekday {shown(key)} (expected one of {known})"
        raise ValueError(msg) from None


def _day_hours(day: Weekday, spans: object) -> tuple[_ClockInterval, ...]:
    if not isinstance(spans, Sequence) or isinstance(spans, str):
        msg = f"{day.value}: expected a list of [start, end] pairs, got {shown(spans)}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports only ValueError as a validation error
    parsed: list[_ClockInterval] = []
    for span in spans:
        start_text, end_text = _pair(span, f"{day.value}: expected [start, end], got {shown(span)}")
        start = _clock(start_text, day=day, end=False)
        end = _clock(end_text, day=day, end=True)
        if _clock_offset(start) >= _clock_offset(end, end=True):
            msg = (
                f"{day.value}: interval {_show(start, end)} must start before it ends"
                " (split an overnight interval across two days)"
            )
            raise ValueError(msg)
        parsed.append((start, end))
    parsed.sort(key=lambda span: (_clock_offset(span[0]), _clock_offset(span[1], end=True)))
    for earlier, later in pairwise(parsed):
        if _clock_offset(later[0]) < _clock_offset(earlier[1], end=True):
            msg = f"{day.value}: intervals {_show(*earlier)} and {_show(*later)} overlap"
            raise ValueError(msg)
    return tuple(parsed)


def _pair(value: object, problem: str) -> tuple[object, object]:
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:  # noqa: PLR2004 - a pair
        return value[0], value[1]
    raise ValueError(problem)


def _clock(value: object, *, day: Weekday, end: bool) -> time:
    """Read a local wall-clock time: a naive ``time`` or "HH:MM[:SS[.ffffff]]"; "24:00" ends."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            msg = (
                f"{day.value}: opening times are local wall-clock times, drop the offset in {value}"
            )
            raise ValueError(msg)
        return value
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        msg = f"{day.value}: expected a time such as '09:00', got {shown(value)}"
        raise ValueError(msg)
    hour, minute, second, fraction = match.groups()
    parts = (int(hour), int(minute), int(second or 0), int((fraction or "0").ljust(6, "0")))
    if end and parts == (24, 0, 0, 0):
        return _MIDNIGHT
    try:
        return time(*parts)
    except ValueError:
        msg = f"{day.value}: {shown(value)} is not a valid time of day"
        raise ValueError(msg) from None


def _clock_offset(value: time, *, end: bool = False) -> timedelta:
    """Place a time of day on the day's axis; an end at 00:00 is the day's last instant, 24:00."""
    if end and value == _MIDNIGHT:
        return _ONE_DAY
    return timedelta(
        hours=value.hour,
        minutes=value.minute,
        seconds=value.second,
        microseconds=value.microsecond,
    )


def _format_clock(value: time, *, end: bool = False) -> str:
    if end and value == _MIDNIGHT:
        return "24:00"
    if value.second == 0 and value.microsecond == 0:
        return value.strftime("%H:%M")
    return value.isoformat()


def _show(start: time, end: time) -> str:
    return f"{_format_clock(start)}-{_format_clock(end, end=True)}"


#: What reads settings files: ``servflow.settings`` installs it (the domain reads no files).
SettingsReader = Callable[[Path, str], object]
_readers: list[SettingsReader] = []


def install_settings_reader(reader: SettingsReader) -> None:
    """Say what reads settings files for ``from_file`` (``servflow.settings`` does, on import)."""
    _readers[:] = [reader]


def settings_from_file(model: type[_Model], path: str | Path, *, what: str) -> _Model:
    """Validate as ``model`` the data the installed reader reads from ``path``."""
    if not _readers:
        # The reader is servflow.settings' (reading files is not the domain's job): loaded on
        # first use, so that importing servflow costs nothing until a file is read.
        import_module("servflow.settings")
    source = Path(path)
    return validate_settings(model, _readers[0](source, what), what=what, source=source)


def validate_settings(
    model: type[_Model], data: object, *, what: str, source: Path | None = None
) -> _Model:
    """Validate settings data as ``model``, naming every bad setting in one ConfigurationError."""
    origin = f" in {source}" if source is not None else ""
    if not isinstance(data, Mapping):
        msg = f"invalid {what}{origin}: expected a mapping of settings, got {type(data).__name__}"
        raise ConfigurationError(msg)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_setting_name(error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors(include_url=False)
        )
        msg = f"invalid {what} setting{origin}: {problems}".replace("\n", " ")
        raise ConfigurationError(msg) from None


def _setting_name(location: tuple[int | str, ...]) -> str:
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or "(top level)"
