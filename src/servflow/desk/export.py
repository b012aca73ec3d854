"""Exports for auditors' tools: JSON Lines or CSV with stable field names, and reading them back.

The export fields are a contract with auditors' tools: add new ones at the end, never rename.
The process-mining formats (XES, OCEL 2.0) are written by ``servflow.desk.mining``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, Literal, NoReturn, get_args

import orjson

from servflow.domain.choices import ExportFormat
from servflow.domain.history import Change, HistoryEntry
from servflow.errors import ValidationFailedError, shown
from servflow.projections.audit import (
    AuditRow,
)

__all__ = [
    "AUDIT_EXPORT_FIELDS",
    "HISTORY_EXPORT_FIELDS",
    "MINING_FORMATS",
    "ExportFormat",
    "RecordFormat",
    "as_row",
    "audit_record",
    "customer_of",
    "emitter",
    "history_record",
    "read_export",
    "refuse_format",
    "write_export",
]

#: Columns of an export of the global log (``desk.export(fp)``), in order.
AUDIT_EXPORT_FIELDS: tuple[str, ...] = (
    "position",
    "request_id",
    "ticket_code",
    "version",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor",
    "customer_id",
    "data",
)
#: Columns of an export of one request's history (``desk.export(fp, request=...)``), in order.
HISTORY_EXPORT_FIELDS: tuple[str, ...] = (*AUDIT_EXPORT_FIELDS, "changes")
#: The formats of rows: JSON Lines (one JSON object a line) or CSV (RFC 4180, with a header).
RecordFormat = Literal["jsonl", "csv"]
#: The export formats (``ExportFormat``, from ``servflow.domain.choices``): the rows'
#: (``jsonl``, ``csv``) or, for process-mining tools, XES (IEEE 1849 XML, one trace per
#: request) and OCEL 2.0 JSON (object-centric). Those ``servflow.desk.mining`` writes:
MINING_FORMATS: frozenset[str] = frozenset({"xes", "ocel"})

_BATCH = 1000
_JSON_COLUMNS = frozenset({"data", "changes"})


def customer_of(entries: Sequence[HistoryEntry]) -> str | None:
    """The customer id of a request's history (from its opening), if any."""
    if not entries:
        return None
    customer = entries[0].data.get("customer")
    return str(customer["id"]) if isinstance(customer, dict) and "id" in customer else None


def as_row(entry: HistoryEntry, customer: str | None) -> AuditRow:
    """A history entry as the audit log's row (what export filters match)."""
    return AuditRow(
        position=entry.position,
        request_id=entry.request_id,
        ticket_code=entry.ticket_code,
        version=entry.version,
        event_type=entry.event_type,
        occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        actor=entry.actor,
        customer_id=customer,
        data=entry.data,
    )


def audit_record(row: AuditRow) -> dict[str, object]:
    """An audit log row as an export record."""
    dumped = row.model_dump(mode="json")
    return {name: dumped[name] for name in AUDIT_EXPORT_FIELDS}


def history_record(entry: HistoryEntry, customer: str | None) -> dict[str, object]:
    """A history entry as an export record."""
    dumped = entry.model_dump(mode="json")
    dumped["customer_id"] = customer
    return {name: dumped[name] for name in HISTORY_EXPORT_FIELDS}


def _is_binary(fp: IO[Any]) -> bool:
    if isinstance(fp, io.TextIOBase):
        return False
    if isinstance(fp, (io.RawIOBase, io.BufferedIOBase)):
        return True
    return "b" in str(getattr(fp, "mode", ""))


def emitter(fp: IO[bytes] | IO[str]) -> Callable[[str], None]:
    """A function writing text to ``fp``, encoded as UTF-8 if it is a binary file."""
    binary = _is_binary(fp)

    def emit(text: str) -> None:
        if text:
            fp.write(text.encode() if binary else text)  # type: ignore[arg-type]

    return emit


def write_export(
    fp: IO[bytes] | IO[str],
    records: Iterable[Mapping[str, object]],
    *,
    format: RecordFormat,  # noqa: A002 - the name auditors and the CLI use
    fields: Sequence[str],
) -> int:
    """Stream records to a binary or text file as JSON Lines or CSV; returns the rows written.

    Output is flushed every 1000 rows, so memory stays constant however long ``records`` is.
    JSON Lines keeps ``data`` and ``changes`` as nested JSON; CSV holds them as JSON text.
    Times are ISO 8601 in UTC (``...Z``).
    """
    if format not in get_args(RecordFormat):
        refuse_format(format, "export")
    emit = emitter(fp)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if format == "csv":
        writer.writerow(fields)
    written = 0
    for record in records:
        if format == "jsonl":
            buffer.write(orjson.dumps(record).decode())
            buffer.write("\n")
        else:
            writer.writerow([_csv_cell(name, record.get(name)) for name in fields])
        written += 1
        if written % _BATCH == 0:
            emit(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
    emit(buffer.getvalue())
    return written


def refuse_format(format: object, command: str) -> NoReturn:  # noqa: A002 - the option's name
    """Refuse an export format that is not one of ``ExportFormat``."""
    known = ", ".join(repr(name) for name in get_args(ExportFormat))
    msg = f"refused '{command}': format must be one of {known}, not {shown(format)}"
    raise ValidationFailedError(msg, command=command, errors=(("format", "unknown"),))


def _csv_cell(name: str, value: object) -> str:
    if name in _JSON_COLUMNS:
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def read_export(
    fp: IO[bytes] | IO[str],
    *,
    format: ExportFormat = "jsonl",  # noqa: A002 - the name auditors and the CLI use
) -> Iterator[AuditRow | HistoryEntry]:
    """Read an export back, row by row: ``HistoryEntry`` for a request's, ``AuditRow`` for the log.

    It is how tests (and auditors' scripts) check that an export says exactly what the desk
    said; a request history export is told apart by its ``changes`` field. It reads the rows'
    formats, ``jsonl`` and ``csv``; process-mining tools read ``xes`` and ``ocel``.
    """
    if format not in get_args(RecordFormat):
        msg = f"refused 'read_export': format must be 'jsonl' or 'csv', not {shown(format)}"
        raise ValidationFailedError(msg, command="read_export", errors=(("format", "unknown"),))
    if format == "jsonl":
        for line in fp:
            text = line.strip()
            if text:
                yield _parsed(orjson.loads(text))
        return
    text_fp: IO[str]
    wrapper: io.TextIOWrapper | None = None
    if _is_binary(fp):
        wrapper = io.TextIOWrapper(fp, encoding="utf-8", newline="")  # type: ignore[arg-type]
        text_fp = wrapper
    else:
        text_fp = fp  # type: ignore[assignment]
    try:
        for record in csv.DictReader(text_fp):
            yield _parsed(
                {
                    name: orjson.loads(value) if name in _JSON_COLUMNS else (value or None)
                    for name, value in record.items()
                }
            )
    finally:
        if wrapper is not None:
            wrapper.detach()  # leave the caller's file open


def _parsed(record: dict[str, Any]) -> AuditRow | HistoryEntry:
    if "changes" in record:
        record.pop("customer_id", None)
        record["changes"] = tuple(Change.model_validate(c) for c in record["changes"])
        return HistoryEntry.model_validate(record)
    return AuditRow.model_validate(record)
