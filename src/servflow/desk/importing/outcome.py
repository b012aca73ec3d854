"""What an import did: its outcome, and the report's lines (each row or case not taken, and why)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["ImportOutcome", "ImportProblem", "Tally", "problems_of"]


class ImportProblem(BaseModel):
    """A source row (or case) an import could not use, and why: one line of the report."""

    model_config = ConfigDict(frozen=True)

    #: The case id (None: the row names none).
    case: str | None = None
    #: The row's number in the file, from 1 (None: the whole case).
    row: int | None = None
    #: ``unreadable``, ``unknown_state``, ``duplicate``, ``time_backwards``, ``refused``,
    #: ``changed_in_source`` or ``not_imported`` (the reference is a live request's).
    reason: str
    #: The source state of the row, if it has one.
    state: str | None = None
    #: The row's time, if it has one.
    time: datetime | None = None
    #: The refusal's error code (``invalid_transition``...), for ``refused``.
    code: str | None = None
    #: The command refused, for ``refused``.
    command: str | None = None
    detail: str = ""


class ImportOutcome(BaseModel):
    """What an import did (or, on a dry run, would do): counts by case, row and reason."""

    model_config = ConfigDict(frozen=True)

    source: str
    file: str
    dry_run: bool
    #: Rows read, and the cases they belong to.
    rows: int
    cases: int
    #: Cases opened as new requests; cases whose request took new rows; cases already whole.
    opened: int
    resumed: int
    unchanged: int
    #: Cases opened or resumed by this run with none of their rows refused or reported.
    clean: int
    #: Cases left out as a whole (changed in the source, or a live request's reference).
    skipped: int
    #: Rows already imported by an earlier run (appended nothing).
    rows_already: int
    #: Rows that recorded at least one event (or would, on a dry run) and had none refused.
    rows_recorded: int
    #: Rows of the cases left out as a whole (``skipped``).
    rows_left_out: int
    #: Events appended (or that would be, on a dry run).
    events: int
    #: Rows that changed nothing (the request already was where the row says), by state.
    unchanged_rows: dict[str, int]
    #: Rows and cases reported, by reason (``ImportProblem.reason``).
    problems: dict[str, int]
    #: Refused commands by ``<code> <command> from <status>``.
    refusals: dict[str, int]
    #: Commands sent, by name.
    commands: dict[str, int]
    seconds: float
    #: Seconds the views took to catch up after the rows were written.
    views_seconds: float

    @property
    def events_per_second(self) -> float:
        """Events appended per second of writing (views left out)."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def clean_share(self) -> float:
        """The share of the cases this run wrote to whose rows were all taken without a report."""
        written = self.opened + self.resumed
        return self.clean / written if written else 1.0


@dataclass
class Tally:
    """What a case (or the whole import) counted; the report's lines wait in ``lines``."""

    rows: int = 0
    opened: int = 0
    resumed: int = 0
    unchanged: int = 0
    clean: int = 0
    skipped: int = 0
    rows_already: int = 0
    rows_recorded: int = 0
    rows_left_out: int = 0
    events: int = 0
    unchanged_rows: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)
    #: The report's lines, written when the case is done (a retried case reports once).
    lines: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Add another tally's counts (not its lines) to this one's."""
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
            elif isinstance(value, Counter):
                getattr(self, name).update(value)


def problems_of(lines: Iterable[str]) -> Iterator[ImportProblem]:
    """The problems of a report, read back (its JSON lines)."""
    for line in lines:
        if line.strip():
            yield ImportProblem.model_validate_json(line)
