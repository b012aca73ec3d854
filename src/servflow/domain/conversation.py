"""The commands of control and conversation on a request: non-conformities, notes, imports.

They are taken at any status, even after closure, and never change it: the desk documents and
corrects non-conformities (control and improvement, source 000), writes notes (internal, or a
reply the customer sees) and records the customer's messages. ``ServiceRequest`` inherits them;
its events (``NonConformityLogged``, ``NoteAdded``...) stay nested in it, where their stored
topics name them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn
from uuid import UUID

from servflow.domain.lifecycle import Command
from servflow.domain.state import Moment, NonConformity, Note
from servflow.domain.values import Severity, Visibility
from servflow.errors import NonConformityNotFoundError, shown

__all__ = ["RecordsAndNotes"]


class RecordsAndNotes:
    """Non-conformities and notes: commands a request takes at any status (a mixin)."""

    if TYPE_CHECKING:
        id: UUID
        ticket_code: str
        nonconformities: list[NonConformity]
        notes: list[Note]

        def _require(self, command: Command, at: Moment) -> None: ...
        def _record(self, command: Command, at: Moment, **fields: object) -> None: ...
        def _refuse(self, command: Command, field: str, problem: str) -> NoReturn: ...
        def _refuse_transition(self, command: Command, reason: str) -> NoReturn: ...

    def mark_imported(self, *, source: str, rows: int, digest: str, actor: str, at: Moment) -> None:
        """Record that ``rows`` source rows (hashed to ``digest``) of ``source`` are imported."""
        self._require(Command.IMPORT, at)
        self._record(Command.IMPORT, at, actor=actor, source=source, rows=rows, digest=digest)

    def log_nonconformity(
        self,
        *,
        description: str,
        severity: Severity | str,
        category: str | None,
        root_cause: str | None,
        corrective_action: str | None,
        actor: str,
        at: Moment,
    ) -> NonConformity:
        """Document a non-conformity, at any time, even after closure."""
        self._require(Command.LOG_NONCONFORMITY, at)
        self._record(
            Command.LOG_NONCONFORMITY,
            at,
            actor=actor,
            number=len(self.nonconformities) + 1,
            description=description,
            severity=severity,
            category=category,
            root_cause=root_cause,
            corrective_action=corrective_action,
        )
        return self.nonconformities[-1]

    def note(self, *, text: str, visibility: Visibility | str, actor: str, at: Moment) -> Note:
        """Write a note, at any time: internal, or a reply the customer sees."""
        self._require(Command.NOTE, at)
        self._record(Command.NOTE, at, actor=actor, text=text, visibility=visibility)
        return self.notes[-1]

    def customer_message(self, *, text: str, actor: str, at: Moment) -> Note:
        """Record a message from the customer about the request, at any time."""
        self._require(Command.CUSTOMER_MESSAGE, at)
        self._record(Command.CUSTOMER_MESSAGE, at, actor=actor, text=text)
        return self.notes[-1]

    def correct_nonconformity(
        self, *, number: int, correction: str, actor: str, at: Moment
    ) -> NonConformity:
        """Record the correction of a documented non-conformity (once)."""
        self._require(Command.CORRECT_NONCONFORMITY, at)
        if isinstance(number, bool) or not isinstance(number, int):
            self._refuse(
                Command.CORRECT_NONCONFORMITY,
                "nc",
                f"must be a NonConformity or its number, not {shown(number)}",
            )
        nc = self.nonconformity(number)
        if nc.is_corrected:
            self._refuse_transition(
                Command.CORRECT_NONCONFORMITY, f"non-conformity #{number} was already corrected"
            )
        self._record(
            Command.CORRECT_NONCONFORMITY,
            at,
            actor=actor,
            number=number,
            correction=correction,
        )
        return self.nonconformity(number)

    def nonconformity(self, number: int) -> NonConformity:
        """The non-conformity with this number, or ``NonConformityNotFoundError``."""
        for nc in self.nonconformities:
            if nc.number == number:
                return nc
        raise NonConformityNotFoundError(
            request_id=self.id, ticket_code=self.ticket_code, number=number
        )
