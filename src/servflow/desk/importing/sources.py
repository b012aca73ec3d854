"""Reading the rows of a file to import: CSV (plain or gzip) and XES (IEEE 1849, plain or gzip).

A row is the text of each field the source gives (a CSV line's columns; an XES event's
attributes over its trace's), with where it was in the file. Reading streams the file; a
file that cannot be read at all is an ``ImportSourceError``, a row that cannot be used is the
importer's to report.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast
from xml.etree.ElementTree import ParseError

from servflow.desk.importing.mapping import ImportMapping
from servflow.errors import ImportSourceError

__all__ = ["SourceRow", "format_of", "read_rows"]

_GZIP_MAGIC = b"\x1f\x8b"
#: XES attribute elements: their ``key`` and ``value`` are a field of a trace or event.
_ATTRIBUTES = frozenset({"string", "date", "int", "float", "boolean", "id"})


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row of the source: its number in the file (from 1) and its fields' text."""

    number: int
    values: dict[str, str]


def format_of(path: Path, mapping: ImportMapping) -> str:
    """``csv`` or ``xes``: as the mapping says, else from the file name."""
    if mapping.source.format is not None:
        return mapping.source.format
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".xes"):
        return "xes"
    if name.endswith((".csv", ".txt")):
        return "csv"
    msg = f"{path}: cannot tell the format from the name; say source.format = 'csv' or 'xes'"
    raise ImportSourceError(msg)


def read_rows(path: str | Path, mapping: ImportMapping) -> Iterator[SourceRow]:
    """The rows of the file, in file order."""
    file = Path(path)
    kind = format_of(file, mapping)
    try:
        with contextlib.ExitStack() as stack:
            stream: IO[bytes] = stack.enter_context(file.open("rb"))
            if stream.read(2) == _GZIP_MAGIC:
                stream.seek(0)
                unpacked = stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb"))
                stream = cast("IO[bytes]", unpacked)
            else:
                stream.seek(0)
            if kind == "csv":
                yield from _csv_rows(file, stream, mapping)
            else:
                yield from _xes_rows(file, stream)
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        msg = f"cannot read {file}: {reason}"
        raise ImportSourceError(msg) from None


def _csv_rows(path: Path, stream: IO[bytes], mapping: ImportMapping) -> Iterator[SourceRow]:
    settings = mapping.source
    try:
        text = io.TextIOWrapper(stream, encoding=settings.encoding, newline="")
    except LookupError:
        msg = f"{path}: unknown encoding {settings.encoding!r}"
        raise ImportSourceError(msg) from None
    try:
        reader = csv.reader(text, delimiter=settings.delimiter)
        header = next(reader, None)
        if header is None:
            msg = f"{path}: empty file (no header line)"
            raise ImportSourceError(msg)
        header = [name.strip() for name in header]
        _check_columns(path, header, mapping)
        for number, cells in enumerate(reader, start=1):
            yield SourceRow(number, dict(zip(header, cells, strict=False)))
    except UnicodeDecodeError as exc:
        msg = f"{path}: not {settings.encoding} text ({exc.reason} at byte {exc.start})"
        raise ImportSourceError(msg) from None
    except csv.Error as exc:
        msg = f"{path}: not CSV: {exc}"
        raise ImportSourceError(msg) from None
    finally:
        text.detach()


def _check_columns(path: Path, header: list[str], mapping: ImportMapping) -> None:
    fields = mapping.fields
    named = {"case": fields.case, "time": fields.time}
    named |= {f"state[{i}]": column for i, column in enumerate(fields.states)}
    for name in ("resource", "team", "priority"):
        column = getattr(fields, name)
        if column is not None:
            named[name] = column
    missing = [f"{c!r} (fields.{name})" for name, c in named.items() if c not in header]
    if missing:
        shown_header = ", ".join(repr(h) for h in header[:30])
        msg = f"{path}: no column {', '.join(missing)} in the header ({shown_header})"
        raise ImportSourceError(msg)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


if TYPE_CHECKING:
    from xml.etree.ElementTree import Element


def _xes_rows(path: Path, stream: IO[bytes]) -> Iterator[SourceRow]:  # noqa: C901 - a branch per XES element
    """XES events with their trace's attributes (and the log's global defaults) under them.

    A trace's attribute is there under its key and as ``case:<key>`` (``case:concept:name`` is
    the case id, where ``concept:name`` is the event's activity).
    """
    # Loaded here: reading XES is rare, and ``import servflow`` should stay quick.
    from defusedxml import DefusedXmlException  # noqa: PLC0415
    from defusedxml.ElementTree import iterparse  # noqa: PLC0415

    defaults: dict[str, dict[str, str]] = {"trace": {}, "event": {}}
    trace: dict[str, str] = {}
    stack: list[str] = []
    root: Element | None = None
    number = 0
    try:
        for action, element in iterparse(stream, events=("start", "end")):
            tag = _local(element.tag)
            if action == "start":
                if root is None:
                    root = element
                if tag == "trace":
                    trace = dict(defaults["trace"])
                stack.append(tag)
                continue
            stack.pop()
            parent = stack[-1] if stack else ""
            if tag in _ATTRIBUTES:
                if parent == "trace":
                    key, value = element.get("key"), element.get("value")
                    if key is not None and value is not None:
                        trace[key] = value
                        # Named as pm4py names them, so an event's own key cannot hide them.
                        trace[f"case:{key}"] = value
                # An event's or a global's attributes are read with it, at its end.
            elif tag == "global":
                scope = element.get("scope", "event")
                defaults.setdefault(scope, {}).update(_attributes(element))
            elif tag == "event":
                number += 1
                yield SourceRow(number, {**trace, **defaults["event"], **_attributes(element)})
                element.clear()
            elif tag == "trace" and root is not None:
                root.clear()  # what was read of the log so far: constant memory
    except (ParseError, DefusedXmlException) as exc:
        msg = f"{path}: not XES (XML): {exc}"
        raise ImportSourceError(msg) from None
    if root is None or _local(root.tag) != "log":
        msg = f"{path}: not XES (no <log> element)"
        raise ImportSourceError(msg)


def _attributes(element: Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for child in element:
        if _local(child.tag) in _ATTRIBUTES:
            key, value = child.get("key"), child.get("value")
            if key is not None and value is not None:
                found[key] = value
    return found
