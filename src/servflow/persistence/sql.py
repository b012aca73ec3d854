"""SQL plumbing shared by the stores, the hash chain and the views: dialects and transactions.

A ``Tx`` runs one dialect's statements on a driver cursor; times are stored as integer
microseconds since the epoch and ids as text.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

__all__ = ["Dialect", "DialectName", "Tx", "from_micros", "id_text", "micros", "stored_bytes"]

DialectName = Literal["sqlite", "postgres"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_ID_TEXTS: dict[int, str] = {}


def id_text(value: uuid.UUID) -> str:
    """``str(value)``, remembered: every projection keys rows by it, several times an event.

    Keyed by the id's integer: a ``UUID`` hashes and compares in Python, its ``int`` in C.
    """
    key = value.int
    text = _ID_TEXTS.get(key)
    if text is None:
        if len(_ID_TEXTS) >= _MAX_ID_TEXTS:
            _ID_TEXTS.clear()
        text = _ID_TEXTS[key] = str(value)
    return text


_MAX_ID_TEXTS = 20_000


def stored_bytes(value: object) -> bytes:
    """A stored event's ``state`` column as bytes, whatever the driver returns.

    servflow writes bytes, but a row edited outside it may hold text (SQLite's ``replace()``
    on a BLOB returns TEXT): read as its UTF-8 bytes, it is then checked like any other row
    instead of crashing the reader.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogatepass")  # a number, say: still checked, as text


def micros(moment: datetime | None) -> int | None:
    """An instant as integer microseconds since the epoch: sortable, exact, in every store."""
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int | None) -> datetime | None:
    """The instant stored by ``micros``, in UTC."""
    if value is None:
        return None
    return _EPOCH + timedelta(0, 0, value)  # positional: faster than microseconds=value


@dataclass(frozen=True)
class Dialect:
    """How SQL differs between the stores: placeholders and schema-qualified table names."""

    name: DialectName
    schema: str | None = None

    def table(self, name: str) -> str:
        """The table's name as SQL should say it."""
        if self.name == "postgres" and self.schema:
            return f'"{self.schema}"."{name}"'
        return f'"{name}"'

    @property
    def position_key(self) -> str:
        """The column type of a table keyed by log position.

        In SQLite exactly ``INTEGER PRIMARY KEY`` makes the column the table's rowid; any other
        spelling (``BIGINT``) keeps a separate unique index, one more B-tree to write per row.
        """
        return "INTEGER PRIMARY KEY" if self.name == "sqlite" else "BIGINT PRIMARY KEY"

    def sql(self, statement: str) -> str:
        """Adapt a statement written with ``?`` placeholders."""
        return statement.replace("?", "%s") if self.name == "postgres" else statement


class _Cursor(Protocol):
    def execute(self, *args: Any, **kwargs: Any) -> Any: ...  # noqa: ANN401
    def executemany(self, *args: Any, **kwargs: Any) -> Any: ...  # noqa: ANN401
    def fetchall(self) -> Any: ...  # noqa: ANN401


#: Rows from which ``Tx.insert_many`` uses ``COPY`` on PostgreSQL (a few rows: an INSERT).
COPY_ROWS = 64


class Tx:
    """One transaction on the view store; statements use ``?`` placeholders in every dialect."""

    def __init__(self, cursor: _Cursor, dialect: Dialect) -> None:
        self._cursor = cursor
        self.dialect = dialect
        #: Values the projections of one transaction derive alike and may share (an SLA
        #: tracker folded, a status measured, once for the queue and SLA views); it lives and
        #: dies with the transaction, so nothing in it outlasts the batch that computed it.
        self.memo: dict[Hashable, Any] = {}

    def execute(self, statement: str, params: Sequence[object] = ()) -> None:
        """Run one statement."""
        self._cursor.execute(self.dialect.sql(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement for many parameter rows."""
        batch = [row if isinstance(row, tuple) else tuple(row) for row in rows]
        if batch:
            self._cursor.executemany(self.dialect.sql(statement), batch)

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
    ) -> None:
        """Insert rows into ``table`` (qualified): on PostgreSQL a bulk of them with ``COPY``.

        ``COPY`` reads the rows as one stream instead of a statement each; like the ``INSERT``
        used otherwise, it refuses (and rolls back with the transaction) a row the table's keys
        refuse, so the two are interchangeable.
        """
        batch = [row if isinstance(row, tuple) else tuple(row) for row in rows]
        if not batch:
            return
        if self.dialect.name == "postgres" and len(batch) >= COPY_ROWS and not self._pipelined():
            cursor: Any = self._cursor
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            return
        self.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(columns))})",
            batch,
        )

    def _pipelined(self) -> bool:
        """Whether the connection is in PostgreSQL's pipeline mode, where ``COPY`` is refused.

        The library inserts events in pipeline mode, so inline projections (which ride in
        that transaction) write there too.
        """
        connection: Any = getattr(self._cursor, "connection", None)
        pgconn: Any = getattr(connection, "pgconn", None)
        return pgconn is not None and bool(pgconn.pipeline_status)

    def query(self, statement: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        self._cursor.execute(self.dialect.sql(statement), tuple(params))
        return [dict(row) for row in self._cursor.fetchall()]

    def rows(self, statement: str, params: Sequence[object] = ()) -> list[Sequence[Any]]:
        """Run a query and return its rows as sequences, in the order of the selected columns.

        ``query`` copies each row into a dict; a hot read need not: rows come as the driver
        makes them, SQLite's (which index by position) or PostgreSQL's tuples.
        """
        if self.dialect.name != "postgres":
            self._cursor.execute(statement, tuple(params))
            rows: list[Any] = self._cursor.fetchall()
            return rows
        # The library's PostgreSQL connections make a dict of every row: tuples, for this one.
        from psycopg.rows import tuple_row  # noqa: PLC0415 - psycopg is an optional extra

        cursor: Any = self._cursor
        factory = cursor.row_factory
        cursor.row_factory = tuple_row
        try:
            cursor.execute(self.dialect.sql(statement), tuple(params))
            rows = cursor.fetchall()
        finally:
            cursor.row_factory = factory
        return rows
