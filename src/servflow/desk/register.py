"""The non-conformity register: every non-conformity, its correction, counts per period.

Control and improvement (source 000) ask for a register of non-conformities and their
correction. ``ServiceDesk.nonconformities`` builds it from the audit view (one indexed range
per event type: ``NonConformityLogged``, ``NonConformityCorrected``), so it costs a read of
the register's own rows, whatever the size of the log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from servflow.desk.checks import member, text_filter
from servflow.desk.kpis import median
from servflow.domain.choices import NonConformityStatus
from servflow.domain.values import Severity
from servflow.errors import ValidationFailedError

if TYPE_CHECKING:
    from servflow.projections.audit import AuditPage, AuditRow

__all__ = [
    "NonConformityEntry",
    "NonConformityRegister",
    "NonConformityStatus",
    "build_register",
]

_COMMAND = "nonconformities"
_PAGE = 1_000


class NonConformityEntry(BaseModel):
    """One non-conformity of the register."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: UUID
    ticket_code: str
    number: int
    severity: Severity
    category: str | None
    description: str
    #: Who documented it, and when it was established.
    detected_by: str
    detected_at: AwareDatetime
    root_cause: str | None
    corrective_action: str | None
    status: NonConformityStatus
    correction: str | None
    corrected_by: str | None
    corrected_at: AwareDatetime | None
    #: From detection to correction (None while open).
    time_to_correct: timedelta | None


class NonConformityRegister(BaseModel):
    """The non-conformities detected in ``[since, until)`` (open ended when not given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: AwareDatetime | None
    until: AwareDatetime | None
    entries: list[NonConformityEntry]
    #: Counts of the entries per severity (every severity, zero included) and per category
    #: (those that occur; ``(none)`` for entries without one).
    by_severity: dict[Severity, int]
    by_category: dict[str, int]
    open: int
    corrected: int
    #: Median and mean time to correct, of the corrected entries.
    median_time_to_correct: timedelta | None
    mean_time_to_correct: timedelta | None


def build_register(
    read: Callable[..., AuditPage],
    *,
    since: datetime | None,
    until: datetime | None,
    status: NonConformityStatus | str | None,
    severity: Severity | str | None,
    category: str | None,
) -> NonConformityRegister:
    """The register from the audit log (``read`` is ``ServiceDesk.audit_log``)."""
    wanted_status = (
        None if status is None else member(NonConformityStatus, status, "status", _COMMAND)
    )
    wanted_severity = None if severity is None else member(Severity, severity, "severity", _COMMAND)
    category = text_filter(category, "category", _COMMAND)
    if since is not None and until is not None and since >= until:
        msg = f"refused '{_COMMAND}': since must be before until"
        raise ValidationFailedError(msg, command=_COMMAND, errors=(("until", "not after since"),))
    logged = _rows(read, "NonConformityLogged", since=since, until=until)
    corrections = {
        (row.request_id, int(row.data["number"])): row
        for row in _rows(read, "NonConformityCorrected", since=since, until=None)
    }
    entries: list[NonConformityEntry] = []
    for row in logged:
        data = row.data
        number = int(data["number"])
        fix = corrections.get((row.request_id, number))
        entry = NonConformityEntry(
            request_id=row.request_id,
            ticket_code=row.ticket_code or "",
            number=number,
            severity=Severity(str(data["severity"])),
            category=_text(data.get("category")),
            description=str(data.get("description", "")),
            detected_by=row.actor,
            detected_at=row.occurred_at,
            root_cause=_text(data.get("root_cause")),
            corrective_action=_text(data.get("corrective_action")),
            status=NonConformityStatus.CORRECTED if fix else NonConformityStatus.OPEN,
            correction=None if fix is None else _text(fix.data.get("correction")),
            corrected_by=None if fix is None else fix.actor,
            corrected_at=None if fix is None else fix.occurred_at,
            time_to_correct=None if fix is None else fix.occurred_at - row.occurred_at,
        )
        if wanted_status is not None and entry.status is not wanted_status:
            continue
        if wanted_severity is not None and entry.severity is not wanted_severity:
            continue
        if category is not None and entry.category != category:
            continue
        entries.append(entry)
    severities = Counter(e.severity for e in entries)
    categories = Counter(e.category or "(none)" for e in entries)
    times = [e.time_to_correct for e in entries if e.time_to_correct is not None]
    return NonConformityRegister(
        since=since,
        until=until,
        entries=entries,
        by_severity={s: severities[s] for s in Severity},
        by_category=dict(sorted(categories.items())),
        open=sum(e.status is NonConformityStatus.OPEN for e in entries),
        corrected=len(times),
        median_time_to_correct=median(times),
        mean_time_to_correct=sum(times, timedelta(0)) / len(times) if times else None,
    )


def _rows(
    read: Callable[..., AuditPage],
    event_type: str,
    *,
    since: datetime | None,
    until: datetime | None,
) -> list[AuditRow]:
    found: list[AuditRow] = []
    after = 0
    while True:
        page = read(
            event_type=event_type, since=since, until=until, limit=_PAGE, after_position=after
        )
        found.extend(page.rows)
        if page.next_after_position is None:
            return found
        after = page.next_after_position


def _text(value: object) -> str | None:
    return None if value is None else str(value)
