"""Importing another system's history: rows grouped by case, turned into commands, reported.

Each case of the source (a ``[fields] case`` value) becomes one request, opened at its first
row's time with the case id as its external reference (``ext:<source>:<case>``). Each row is
turned into the commands that bring the request where the row says it is (``[states]``), sent
through the desk's own commands with ``occurred_at`` = the row's time, so the lifecycle, the
directories and the roles judge imported history as they judge live work.

A case is written in one transaction (the desk's ``gathering``), closed by ``HistoryImported``:
how many of the case's rows the request holds and a hash of them. A second run of the same file
appends nothing; a longer file appends only the rows that are new; an interrupted run resumes
with the first case it had not written. Rows that cannot be used (unreadable, an unknown state,
a duplicate, time going backwards, a command the lifecycle refuses) are never dropped in
silence nor fixed: each is counted and written to the report, by case and reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict

from servflow.desk.importing.mapping import MAX_PATH, ImportMapping, actor_name, load_mapping
from servflow.desk.importing.sources import SourceRow, read_rows
from servflow.domain.base import refuse
from servflow.domain.external import ExternalRef
from servflow.domain.lifecycle import Command, Status
from servflow.domain.view import Request
from servflow.errors import ImportSourceError, ServflowError, shown
from servflow.persistence.store import translated
from servflow.projections.runner import ProgressCallback

if TYPE_CHECKING:
    from servflow.desk.facade import ServiceDesk

__all__ = [
    "ImportOutcome",
    "ImportProblem",
    "ImportProgress",
    "Importer",
    "problems_of",
    "run_import",
]

#: Called now and then with (rows done, rows in all).
ImportProgress = Callable[[int, int], None]

_HELD = frozenset({Status.WAITING_ON_CUSTOMER, Status.ON_HOLD})
_DONE = frozenset({Status.COMPLETED, Status.CLOSED})
_FINISHED = frozenset({Status.CLOSED, Status.CANCELLED})
_UNOWNED = frozenset({Status.NEW, Status.CLASSIFIED, Status.TRANSFERRED})
_EMPTY_DIGEST = "0" * 64
_PROGRESS_EVERY = 500


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


@dataclass(frozen=True, slots=True)
class _Row:
    number: int
    at: datetime
    state: str
    step: str
    resource: str | None
    team: str | None
    values: dict[str, str]


@dataclass
class _Case:
    """One case's rows, in file order, with the digest of each prefix."""

    case: str
    rows: list[SourceRow] = field(default_factory=list)
    first_at: datetime | None = None

    def digests(self) -> list[str]:
        """The digest after each row (``digests()[n - 1]`` covers the first ``n`` rows)."""
        found: list[str] = []
        digest = _EMPTY_DIGEST
        for row in self.rows:
            text = orjson.dumps(row.values, option=orjson.OPT_SORT_KEYS)
            digest = hashlib.sha256(digest.encode() + b"\n" + text).hexdigest()
            found.append(digest)
        return found


@dataclass
class _Tally:
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

    def add(self, other: _Tally) -> None:
        """Add another tally's counts (not its lines) to this one's."""
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
            elif isinstance(value, Counter):
                getattr(self, name).update(value)


class Importer:
    """One import of one file into one desk (``ServiceDesk.import_events``)."""

    def __init__(
        self,
        desk: ServiceDesk,
        mapping: ImportMapping,
        *,
        report: IO[str] | None,
        dry_run: bool,
        progress: ImportProgress | None,
    ) -> None:
        self.desk = desk
        self.mapping = mapping
        self.report = report
        self.dry_run = dry_run
        self.progress = progress
        self.tally = _Tally()
        self._zone = ZoneInfo(mapping.source.timezone) if mapping.source.timezone else None

    # -- the whole file ----------------------------------------------------------------------

    def run(self, path: Path) -> ImportOutcome:
        """Read the file, import case by case, and count."""
        cases = self._cases(read_rows(path, self.mapping))
        if self.report is not None:
            self.report.writelines(self.tally.lines)
        self.tally.lines.clear()
        total = sum(len(case.rows) for case in cases)
        started = time.perf_counter()
        done = 0
        writer = self.desk._writer  # noqa: SLF001 - the desk's own service
        for case in cases:
            job = _CaseImport(self, case)
            if not job.run(writer):
                # Another writer got there first: nothing of the case was written. Once more.
                job = _CaseImport(self, case)
                job.run(writer, last=True)
            self._done(job.tally)
            done += len(case.rows)
            if self.progress is not None and (
                done // _PROGRESS_EVERY != (done - len(case.rows)) // _PROGRESS_EVERY
            ):
                self.progress(done, total)
        if self.progress is not None:
            self.progress(total, total)
        seconds = time.perf_counter() - started
        t = self.tally
        return ImportOutcome(
            source=self.mapping.source.name,
            file=str(path),
            dry_run=self.dry_run,
            rows=t.rows,
            cases=len(cases),
            opened=t.opened,
            resumed=t.resumed,
            unchanged=t.unchanged,
            clean=t.clean,
            skipped=t.skipped,
            rows_already=t.rows_already,
            rows_recorded=t.rows_recorded,
            rows_left_out=t.rows_left_out,
            events=t.events,
            unchanged_rows=dict(t.unchanged_rows.most_common()),
            problems=dict(t.problems.most_common()),
            refusals=dict(t.refusals.most_common()),
            commands=dict(t.commands.most_common()),
            seconds=seconds,
            views_seconds=0.0,
        )

    def _cases(self, rows: Iterable[SourceRow]) -> list[_Case]:
        """The rows grouped by case (file order within a case), cases by their first time."""
        column = self.mapping.fields.case
        cases: dict[str, _Case] = {}
        for row in rows:
            self.tally.rows += 1
            case_id = row.values.get(column, "").strip()
            if not case_id:
                self.problem(
                    self.tally, None, row, "unreadable", detail=f"no case id in {column!r}"
                )
                continue
            case = cases.get(case_id)
            if case is None:
                case = cases[case_id] = _Case(case_id)
            case.rows.append(row)
            if case.first_at is None:
                case.first_at = self._time_or_none(row)
        return sorted(
            cases.values(),
            key=lambda c: (c.first_at is None, c.first_at.timestamp() if c.first_at else 0.0),
        )

    # -- rows --------------------------------------------------------------------------------

    def parse(self, row: SourceRow) -> _Row | str:
        """The row's fields, or why it cannot be read (``unreadable: ...``)."""
        fields = self.mapping.fields
        values = row.values
        at = self._time(values.get(fields.time, ""))
        if isinstance(at, str):
            return at
        state = " / ".join(values.get(column, "").strip() for column in fields.states)
        step = self.mapping.step_of(state)
        if step is None:
            return "unknown_state"
        resource = None
        if fields.resource is not None:
            resource = actor_name(values.get(fields.resource, ""))
        team = None
        if fields.team is not None:
            team = values.get(fields.team, "").strip() or None
        team = team or self.mapping.defaults.team
        return _Row(row.number, at, state, step, resource, team, values)

    def _time_or_none(self, row: SourceRow) -> datetime | None:
        at = self._time(row.values.get(self.mapping.fields.time, ""))
        return None if isinstance(at, str) else at

    def _time(self, text: str) -> datetime | str:
        text = text.strip()
        if not text:
            return "no time"
        time_format = self.mapping.source.time_format
        try:
            at = (
                datetime.strptime(text, time_format)  # noqa: DTZ007 - the zone is added below
                if time_format
                else datetime.fromisoformat(text)
            )
        except ValueError:
            return f"time {shown(text)} is not {time_format or 'ISO 8601'}"
        if at.tzinfo is None:
            if self._zone is None:
                return f"time {shown(text)} has no offset and the mapping gives no source.timezone"
            at = at.replace(tzinfo=self._zone)
        return at

    def _done(self, tally: _Tally) -> None:
        self.tally.add(tally)
        if self.report is not None and tally.lines:
            self.report.writelines(tally.lines)

    def problem(
        self,
        tally: _Tally,
        case: str | None,
        row: SourceRow | _Row | None,
        reason: str,
        *,
        detail: str = "",
        state: str | None = None,
        at: datetime | None = None,
        error: ServflowError | None = None,
        command: str | None = None,
    ) -> None:
        """Count a problem and write it to the report."""
        tally.problems[reason] += 1
        if self.report is None:
            return
        if isinstance(row, _Row):
            state, at = row.state, row.at
        line = ImportProblem(
            case=case,
            row=None if row is None else row.number,
            reason=reason,
            state=state,
            time=at,
            code=None if error is None else error.code,
            command=command,
            detail=detail or ("" if error is None else str(error)),
        )
        tally.lines.append(line.model_dump_json() + "\n")


class _CaseImport:
    """One case: find or open its request, send its new rows' commands, mark what was taken."""

    def __init__(self, importer: Importer, case: _Case) -> None:
        self.importer = importer
        self.desk = importer.desk
        self.mapping = importer.mapping
        self.tally = _Tally()
        self.case = case
        self.view: Request | None = None
        self.reported = False
        self.recorded = 0
        #: Whether a command of the row at hand was refused: its other commands are not sent.
        self.refused = False
        self.last_at: datetime | None = None
        self.seen: set[bytes] = set()

    def run(self, writer: Any, *, last: bool = False) -> bool:  # noqa: ANN401 - the desk's Writer
        """Import the case's new rows; False if another writer got there first (not ``last``)."""
        case = self.case
        digests = case.digests()
        taken = self._taken(digests)
        if taken is None:
            return True
        rows = case.rows[taken:]
        self.tally.rows_already += taken
        if not rows:
            self.tally.unchanged += 1
            return True
        try:
            with writer.gathering(save=not self.importer.dry_run):
                self._rows(rows, fresh=taken == 0)
                if self.view is None:
                    return True  # its opening was refused: reported, nothing to write
                self._mark(len(case.rows), digests[-1])
        except ServflowError as error:
            # The case's transaction lost a race (another writer took its ticket code or
            # reference, or changed its request): nothing of it was written.
            if not last:
                return False
            self.tally = _Tally(rows_already=taken, skipped=1, rows_left_out=len(rows))
            self.importer.problem(self.tally, case.case, None, "conflict", error=error)
            return True
        if taken:
            self.tally.resumed += 1
        else:
            self.tally.opened += 1
        self.tally.clean += not self.reported
        return True

    def _taken(self, digests: Sequence[str]) -> int | None:
        """How many of the case's rows its request holds already (None: leave the case out)."""
        external = ExternalRef(ref=self.case.case, source=self.mapping.source.name)
        stores = self.desk._stores  # noqa: SLF001 - the desk's own service
        claimed = stores.claimed(external)
        if claimed is None:
            return 0
        request = self.desk._writer.load(claimed.request_id, str(external))  # noqa: SLF001
        self.view = Request.of(request)
        taken = request.imported_rows
        if taken == 0:
            self._leave_out(
                "not_imported", f"{request.ticket_code} has this reference and was not imported"
            )
            return None
        if taken > len(digests) or digests[taken - 1] != request.imported_digest:
            self._leave_out(
                "changed_in_source",
                f"{request.ticket_code} holds {taken:,} rows of this case that the file no "
                "longer has as they were",
            )
            return None
        # Carry on after them as the request stands.
        self.last_at = request.last_occurred_at
        return taken

    def _leave_out(self, reason: str, detail: str) -> None:
        """Leave the whole case out, and say why."""
        self.tally.skipped += 1
        self.tally.rows_left_out += len(self.case.rows)
        self.importer.problem(self.tally, self.case.case, None, reason, detail=detail)

    # -- rows ----------------------------------------------------------------------------------

    def _rows(self, rows: Sequence[SourceRow], *, fresh: bool) -> None:
        importer = self.importer
        for index, source in enumerate(rows):
            fingerprint = orjson.dumps(source.values, option=orjson.OPT_SORT_KEYS)
            if fingerprint in self.seen:
                self._report(source, "duplicate", detail="the same row as an earlier one")
                continue
            self.seen.add(fingerprint)
            row = importer.parse(source)
            if isinstance(row, str):
                reason = "unknown_state" if row == "unknown_state" else "unreadable"
                detail = row if reason == "unreadable" else self._state_of(source)
                self._report(source, reason, detail=detail)
                continue
            if self.last_at is not None and row.at < self.last_at:
                self._report(
                    row,
                    "time_backwards",
                    detail=f"before the case's previous row ({self.last_at.isoformat()})",
                )
                continue
            if self.view is None and not (fresh and self._open(row)):
                self.tally.rows_left_out += len(rows) - index
                return
            self.last_at = row.at
            self.recorded = 0
            self.refused = False
            status = self.status
            self._row(row)
            if self.refused:
                pass  # reported (what it recorded before the refusal stays: each is a fact)
            elif self.recorded:
                self.tally.rows_recorded += 1
            else:
                self.tally.unchanged_rows[f"{row.state} in {status.value}"] += 1

    def _state_of(self, source: SourceRow) -> str:
        state = " / ".join(source.values.get(c, "").strip() for c in self.mapping.fields.states)
        return f"no step for state {shown(state)} in [states]"

    def _report(self, row: SourceRow | _Row, reason: str, *, detail: str) -> None:
        self.reported = True
        self.importer.problem(self.tally, self.case.case, row, reason, detail=detail)

    def _open(self, row: _Row) -> bool:
        mapping, desk = self.mapping, self.desk
        defaults = mapping.defaults
        fill = _Fill(row.values, case=self.case.case)
        actor = mapping.actors.importer
        try:
            self.view = desk.open(
                customer=defaults.customer.format_map(fill),
                channel=defaults.channel,
                kind=defaults.kind,
                stage=defaults.stage,
                symptom=defaults.symptom.format_map(fill)[:2000],
                actor=actor,
                occurred_at=row.at,
                external_ref=self.case.case,
                external_source=mapping.source.name,
            )
        except ServflowError as error:
            self.tally.skipped += 1
            self.reported = True
            self.tally.refusals[f"{error.code} open"] += 1
            self.importer.problem(
                self.tally, self.case.case, row, "refused", error=error, command="open"
            )
            return False
        self.tally.commands["open"] += 1
        self.tally.events += 1
        column = mapping.fields.priority
        priority = mapping.priority_of(None if column is None else row.values.get(column))
        ref = self.view.id
        self._send(
            "classify",
            row,
            lambda: desk.classify(ref, priority=priority, actor=actor, occurred_at=row.at),
        )
        return True

    def _mark(self, rows: int, digest: str) -> None:
        view = self.view
        if view is None:
            return
        writer = self.desk._writer  # noqa: SLF001 - the desk's own service
        at = self.last_at or view.updated_at
        actor = self.mapping.actors.importer
        with writer.change(view.id, Command.IMPORT, actor, at) as (request, moment):
            request.mark_imported(
                source=self.mapping.source.name, rows=rows, digest=digest, actor=actor, at=moment
            )
        self.tally.events += 1

    @property
    def status(self) -> Status:
        assert self.view is not None  # noqa: S101 - opened before any row is sent
        return self.view.status

    def _send(self, name: str, row: _Row, command: Callable[[], Request]) -> bool:
        view = self.view
        assert view is not None  # noqa: S101 - opened before any row is sent
        try:
            self.view = command()
        except ServflowError as error:
            self.reported = self.refused = True
            self.tally.refusals[f"{error.code} {name} from {view.status.value}"] += 1
            self.importer.problem(
                self.tally, self.case.case, row, "refused", error=error, command=name
            )
            return False
        self.tally.commands[name] += 1
        self.tally.events += 1
        self.recorded += 1
        return True

    # -- what each step becomes ----------------------------------------------------------------

    def _row(self, row: _Row) -> None:  # noqa: C901, PLR0912 - a branch per step
        step = row.step
        status = self.status
        if step == "ignore":
            return
        if step == "close":
            self._close(row)
        elif step == "cancel":
            if status not in _FINISHED:
                self._command("cancel", row)
        elif step == "complete":
            self._complete(row)
        elif status is Status.CANCELLED:
            return
        elif step == "queue":
            self._reopen_if_done(row)
            view = self.view
            assert view is not None  # noqa: S101 - opened
            team = row.team or view.team
            if not (self.status is Status.CLASSIFIED and view.team == team and view.agent is None):
                self._command("unassign", row)
        elif step.startswith("hold:"):
            self._hold(row, step.removeprefix("hold:"))
        elif step == "resume":
            if self.status in _HELD:
                self._command("resume", row)
        else:  # assign, work, act
            self._reopen_if_done(row)
            before = self.recorded
            if step != "act":
                if self.status in _HELD:
                    self._command("resume", row)
                self._own(row)
            if step != "assign" and self.recorded == before:
                self._command("act", row)

    def _hold(self, row: _Row, reason: str) -> None:
        self._reopen_if_done(row)
        self._own(row)
        view = self.view
        assert view is not None  # noqa: S101 - opened
        on_it = (reason == "customer" and self.status is Status.WAITING_ON_CUSTOMER) or (
            self.status is Status.ON_HOLD and view.hold_reason == reason
        )
        if not on_it:
            self._command("hold", row, reason=reason)

    def _reopen_if_done(self, row: _Row) -> None:
        if self.status in _DONE:
            self._command("reopen", row)

    def _own(self, row: _Row) -> None:
        """Make the row's team and resource the request's (``assign``), if they are not."""
        view = self.view
        assert view is not None  # noqa: S101 - opened
        team = row.team or view.team
        if team is None:
            return  # no team to give it to: the source names none
        if self.status in _UNOWNED or (view.team, view.agent) != (team, row.resource):
            self._command("assign", row)

    def _complete(self, row: _Row) -> None:
        if self.status is Status.CANCELLED:
            return
        if self.status is Status.CLOSED:
            self._command("reopen", row)
        self._own(row)
        if self.status is not Status.COMPLETED:
            self._command("complete", row)

    def _close(self, row: _Row) -> None:
        if self.status in _FINISHED:
            return
        if self.status is not Status.COMPLETED:
            self._complete(row)
        self._own(row)
        self._command("close", row)

    def _command(self, name: str, row: _Row, *, reason: str = "") -> None:
        if self.refused:
            return  # the row is reported: what its refused command led to is not guessed at
        desk, at = self.desk, row.at
        view = self.view
        assert view is not None  # noqa: S101 - opened
        ref = view.id
        actor = self._actor(row)
        note = row.state
        team = row.team or view.team
        commands: dict[str, Callable[[], Request]] = {
            "assign": lambda: desk.assign(
                ref, team=team or "", agent=row.resource, actor=actor, occurred_at=at
            ),
            "unassign": lambda: desk.unassign(ref, team=team, actor=actor, occurred_at=at),
            "act": lambda: desk.act(ref, action=note, actor=actor, occurred_at=at),
            "hold": lambda: desk.hold(ref, reason=reason, note=note, actor=actor, occurred_at=at),
            "resume": lambda: desk.resume(ref, note=note, actor=actor, occurred_at=at),
            "complete": lambda: desk.complete(
                ref, outcome="resolved", resolution=note, actor=actor, occurred_at=at
            ),
            "close": lambda: desk.close(
                ref, reason=f"Closed in {self.mapping.source.name}", actor="system", occurred_at=at
            ),
            "reopen": lambda: desk.reopen(ref, reason=note, actor=actor, occurred_at=at),
            "cancel": lambda: desk.cancel(ref, reason=note, actor=actor, occurred_at=at),
        }
        self._send(name, row, commands[name])

    def _actor(self, row: _Row) -> str:
        if row.resource is None:
            return self.mapping.actors.importer
        return f"{self.mapping.actors.resource_kind}:{row.resource}"


class _Fill(dict[str, str]):
    """A row's values for a template: ``{case}`` and ``{column}``; a missing column is empty."""

    def __init__(self, values: dict[str, str], *, case: str) -> None:
        super().__init__(values)
        self["case"] = case

    def __missing__(self, key: str) -> str:
        return ""


def problems_of(lines: Iterable[str]) -> Iterator[ImportProblem]:
    """The problems of a report, read back (its JSON lines)."""
    for line in lines:
        if line.strip():
            yield ImportProblem.model_validate_json(line)


def run_import(
    desk: ServiceDesk,
    source: str | Path,
    mapping: ImportMapping | Mapping[str, Any] | str | Path,
    *,
    report: str | Path | IO[str] | None,
    dry_run: bool,
    progress: ImportProgress | None,
    views_progress: ProgressCallback | None,
) -> ImportOutcome:
    """``ServiceDesk.import_events``: check the arguments, import with the views deferred."""
    chosen = _mapping_of(mapping)
    if not isinstance(source, str | Path):
        refuse("import_events", "source", "must be the path of a CSV or XES file")
    for name, path in (("source", source), ("report", report)):
        if isinstance(path, str | Path) and len(str(path)) > MAX_PATH:
            refuse("import_events", name, f"is too long a path ({len(str(path)):,} characters)")
    if not isinstance(dry_run, bool):
        refuse("import_events", "dry_run", "must be True or False")
    stores = desk._stores  # noqa: SLF001 - the desk's own service
    with contextlib.ExitStack() as stack:
        stream = _report_stream(report, stack)
        importer = Importer(desk, chosen, report=stream, dry_run=dry_run, progress=progress)
        try:
            with stores.deferring():
                outcome = importer.run(Path(source))
        except BaseException:
            if not dry_run and stores.inline:
                stores.catch_up_quietly()  # the cases written before it stopped
            raise
        finally:
            if dry_run:
                desk._tickets.forget()  # noqa: SLF001 - numbers looked at, none taken
    if dry_run or not stores.inline:
        return outcome
    started = time.perf_counter()
    with translated():
        stores.projector.catch_up(progress=views_progress)
    return outcome.model_copy(update={"views_seconds": time.perf_counter() - started})


def _mapping_of(mapping: object) -> ImportMapping:
    if isinstance(mapping, str | Path):
        return load_mapping(mapping)
    if isinstance(mapping, ImportMapping):
        return mapping
    if not isinstance(mapping, Mapping):
        refuse("import_events", "mapping", "must be an ImportMapping, a mapping or a path")
    return ImportMapping.of(mapping)


def _report_stream(report: object, stack: contextlib.ExitStack) -> IO[str] | None:
    if report is None:
        return None
    if isinstance(report, str | Path):
        try:
            return stack.enter_context(Path(report).open("w", encoding="utf-8"))
        except OSError as exc:
            msg = f"cannot write the report {report}: {exc.strerror or exc}"
            raise ImportSourceError(msg) from None
    if not hasattr(report, "write"):
        refuse("import_events", "report", "must be a path or a text file")
    return cast("IO[str]", report)
