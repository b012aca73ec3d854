"""One case of an import: its request found or opened, its rows turned into the desk's commands.

Each source row's step (``[states]``) is the commands that bring the request where the row says
it is, from wherever it is: a ``queue`` row reopens a completed request before unassigning it, a
``work`` row resumes a held one before assigning it, and so on. The case is written in one
transaction (the desk's ``gathering``) closed by ``HistoryImported``, the mark of the rows taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from servflow.desk.importing.outcome import Tally
from servflow.desk.importing.sources import SourceRow
from servflow.domain.external import ExternalRef
from servflow.domain.lifecycle import Command, Status
from servflow.domain.view import Request
from servflow.errors import ServflowError, shown

if TYPE_CHECKING:
    from servflow.desk.importing.importer import Importer

__all__ = ["Case", "CaseImport", "Row"]

_HELD = frozenset({Status.WAITING_ON_CUSTOMER, Status.ON_HOLD})
_DONE = frozenset({Status.COMPLETED, Status.CLOSED})
_FINISHED = frozenset({Status.CLOSED, Status.CANCELLED})
_UNOWNED = frozenset({Status.NEW, Status.CLASSIFIED, Status.TRANSFERRED})
_EMPTY_DIGEST = "0" * 64


@dataclass(frozen=True, slots=True)
class Row:
    """A source row as the import reads it: its time, state, step, resource and team."""

    number: int
    at: datetime
    state: str
    step: str
    resource: str | None
    team: str | None
    values: dict[str, str]


@dataclass
class Case:
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


class CaseImport:
    """One case: find or open its request, send its new rows' commands, mark what was taken."""

    def __init__(self, importer: Importer, case: Case) -> None:
        self.importer = importer
        self.desk = importer.desk
        self.mapping = importer.mapping
        self.tally = Tally()
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
            self.tally = Tally(rows_already=taken, skipped=1, rows_left_out=len(rows))
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

    def _report(self, row: SourceRow | Row, reason: str, *, detail: str) -> None:
        self.reported = True
        self.importer.problem(self.tally, self.case.case, row, reason, detail=detail)

    def _open(self, row: Row) -> bool:
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
        """The request's status, after the commands sent so far."""
        assert self.view is not None  # noqa: S101 - opened before any row is sent
        return self.view.status

    def _send(self, name: str, row: Row, command: Callable[[], Request]) -> bool:
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

    def _row(self, row: Row) -> None:  # noqa: C901, PLR0912 - a branch per step
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

    def _hold(self, row: Row, reason: str) -> None:
        self._reopen_if_done(row)
        self._own(row)
        view = self.view
        assert view is not None  # noqa: S101 - opened
        on_it = (reason == "customer" and self.status is Status.WAITING_ON_CUSTOMER) or (
            self.status is Status.ON_HOLD and view.hold_reason == reason
        )
        if not on_it:
            self._command("hold", row, reason=reason)

    def _reopen_if_done(self, row: Row) -> None:
        if self.status in _DONE:
            self._command("reopen", row)

    def _own(self, row: Row) -> None:
        """Make the row's team and resource the request's (``assign``), if they are not."""
        view = self.view
        assert view is not None  # noqa: S101 - opened
        team = row.team or view.team
        if team is None:
            return  # no team to give it to: the source names none
        if self.status in _UNOWNED or (view.team, view.agent) != (team, row.resource):
            self._command("assign", row)

    def _complete(self, row: Row) -> None:
        if self.status is Status.CANCELLED:
            return
        if self.status is Status.CLOSED:
            self._command("reopen", row)
        self._own(row)
        if self.status is not Status.COMPLETED:
            self._command("complete", row)

    def _close(self, row: Row) -> None:
        if self.status in _FINISHED:
            return
        if self.status is not Status.COMPLETED:
            self._complete(row)
        self._own(row)
        self._command("close", row)

    def _command(self, name: str, row: Row, *, reason: str = "") -> None:
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

    def _actor(self, row: Row) -> str:
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
