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
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from servflow.desk.importing.cases import Case, CaseImport, Row
from servflow.desk.importing.mapping import MAX_PATH, ImportMapping, actor_name, load_mapping
from servflow.desk.importing.outcome import ImportOutcome, ImportProblem, Tally
from servflow.desk.importing.sources import SourceRow, read_rows
from servflow.domain.base import refuse
from servflow.errors import ImportSourceError, ServflowError, shown
from servflow.persistence.store import translated
from servflow.projections.runner import ProgressCallback

if TYPE_CHECKING:
    from servflow.desk.facade import ServiceDesk

__all__ = ["ImportProgress", "Importer", "run_import"]

#: Called now and then with (rows done, rows in all).
ImportProgress = Callable[[int, int], None]

_PROGRESS_EVERY = 500


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
        self.tally = Tally()
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
            job = CaseImport(self, case)
            if not job.run(writer):
                # Another writer got there first: nothing of the case was written. Once more.
                job = CaseImport(self, case)
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

    def _cases(self, rows: Iterable[SourceRow]) -> list[Case]:
        """The rows grouped by case (file order within a case), cases by their first time."""
        column = self.mapping.fields.case
        cases: dict[str, Case] = {}
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
                case = cases[case_id] = Case(case_id)
            case.rows.append(row)
            if case.first_at is None:
                case.first_at = self._time_or_none(row)
        return sorted(
            cases.values(),
            key=lambda c: (c.first_at is None, c.first_at.timestamp() if c.first_at else 0.0),
        )

    # -- rows --------------------------------------------------------------------------------

    def parse(self, row: SourceRow) -> Row | str:
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
        return Row(row.number, at, state, step, resource, team, values)

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

    def _done(self, tally: Tally) -> None:
        self.tally.add(tally)
        if self.report is not None and tally.lines:
            self.report.writelines(tally.lines)

    def problem(
        self,
        tally: Tally,
        case: str | None,
        row: SourceRow | Row | None,
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
        if isinstance(row, Row):
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
