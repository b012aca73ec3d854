"""The pieces the command groups' tables are made of: times, spans, states, styles, a bar.

Each says one thing the same way wherever it shows: a status in its colour, a due instant as
``in 2h 10m`` or ``overdue 3h``, business time in hours, a long value cut short.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from servflow.domain.choices import ClockState, Priority
from servflow.domain.lifecycle import Status

__all__ = [
    "CLOCK_LABEL",
    "STATE_STYLE",
    "brief",
    "business",
    "events_progress",
    "local_time",
    "priority_text",
    "relative",
    "stamp",
    "state_text",
    "status_text",
    "zone_label",
]

_STATUS_STYLE = {
    Status.NEW: "cyan",
    Status.CLASSIFIED: "blue",
    Status.ASSIGNED: "yellow",
    Status.WAITING_ON_CUSTOMER: "magenta",
    Status.ON_HOLD: "bright_blue",
    Status.TRANSFERRED: "bright_magenta",
    Status.COMPLETED: "green",
    Status.CLOSED: "dim green",
    Status.CANCELLED: "dim",
}
_PRIORITY_STYLE = {
    Priority.URGENT: "bold red",
    Priority.HIGH: "red",
    Priority.NORMAL: "",
    Priority.LOW: "dim",
}
STATE_STYLE = {
    ClockState.RUNNING: "green",
    ClockState.WARNING: "bold yellow",
    ClockState.BREACHED: "bold red",
    ClockState.MET: "cyan",
    ClockState.MISSED: "magenta",
    ClockState.PAUSED: "blue",
    ClockState.CANCELLED: "dim",
    ClockState.NOT_STARTED: "dim",
}
CLOCK_LABEL = {"first_response": "first response", "resolution": "resolution", "update": "update"}


# -- times ---------------------------------------------------------------------------------


def local_time(value: datetime | None, zone: tzinfo | None) -> str:
    """An instant in a sentence: local date, time and the zone's abbreviation."""
    if value is None:
        return "—"
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def stamp(value: datetime | None, zone: tzinfo | None, *, seconds: bool = False) -> str:
    """A compact local time for table cells; the table says which zone."""
    if value is None:
        return "—"
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M{':%S' if seconds else ''}}"


def zone_label(zone: tzinfo | None, sample: datetime | None) -> str:
    """The name a table's heading gives the zone its times are in."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    local = (sample or datetime.now().astimezone()).astimezone(zone)
    return local.tzname() or "local time"


def _span(seconds: int) -> str:
    """A wall-clock length in its two largest units: ``2d 3h``, ``2h 10m``, ``45m``."""
    minutes = max(0, seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return " ".join(parts[:2]) or "0m"


def relative(moment: datetime, reference: datetime) -> Text:
    """``in 2h 10m``, ``due now`` or ``overdue 3h``: a due instant seen from ``reference``."""
    seconds = int((moment - reference).total_seconds())
    if seconds >= 60:  # noqa: PLR2004 - a minute
        return Text(f"in {_span(seconds)}")
    if seconds > -60:  # noqa: PLR2004
        return Text("due now", style="bold yellow")
    return Text(f"overdue {_span(-seconds)}", style="bold red")


def business(duration: timedelta) -> str:
    """Business time in hours at most (a business day is not 24 h): ``40h``, ``2h 30m``."""
    seconds = int(duration.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m")) if n]
    if not parts:
        parts = [f"{secs}s"]
    return sign + " ".join(parts)


# -- states and values ---------------------------------------------------------------------


def status_text(status: Status) -> Text:
    """A request's status in its colour."""
    return Text(status.value, style=_STATUS_STYLE[status])


def priority_text(priority: Priority | None) -> Text:
    """A priority in its colour, or a dim dash before classification."""
    if priority is None:
        return Text("—", style="dim")
    return Text(priority.value, style=_PRIORITY_STYLE[priority])


def state_text(state: ClockState) -> Text:
    """An SLA clock's state in its colour."""
    return Text(state.value, style=STATE_STYLE[state])


def brief(value: object, width: int = 48) -> str:
    """A value on one line of at most ``width`` characters: a customer by id, a list by size."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        value = value.get("id", value)
    if isinstance(value, list):
        return f"[{len(value)}]"
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- progress ------------------------------------------------------------------------------


def events_progress(*, rate: bool = False) -> Progress:
    """A transient bar on stderr over a long run through events: what, how far, how long."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
    ]
    if rate:
        columns.append(TextColumn("{task.fields[rate]}"))
    return Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def rows_progress() -> Progress:
    """A transient bar on stderr over the rows of a file: how far, rows/s, time left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows {task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
