"""A page of audit rows read the lean way equals the rows read the way they were before.

``_rows`` builds each row's fields by position and inlines ``from_micros``; the rows must equal
those made by zipping the columns into a dict, converting with ``from_micros`` and validating.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from hypothesis import given
from hypothesis import strategies as st

from servflow.persistence.sql import from_micros
from servflow.projections.audit import _COLUMNS, _ROWS, AuditRow, _rows

#: Instants from 1900 to 9000, in microseconds since the epoch (what the view stores).
micros = st.integers(-2_208_988_800_000_000, 221_845_392_000_000_000)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
records = st.tuples(
    st.integers(1, 2**62),
    st.uuids().map(str),
    st.none() | st.text(max_size=12),
    st.integers(1, 10_000),
    st.sampled_from(["Opened", "Assigned", "SlaPolicyBook.Adopted"]),
    micros,
    micros,
    st.text(min_size=1, max_size=20),
    st.none() | st.text(max_size=12),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(
        lambda data: orjson.dumps(data).decode()
    ),
)


def rows_as_before(found: list[tuple[Any, ...]]) -> list[AuditRow]:
    values = []
    for record in found:
        value = dict(zip(_COLUMNS, record, strict=True))
        value["occurred_at"] = from_micros(int(value["occurred_at"]))
        value["recorded_at"] = from_micros(int(value["recorded_at"]))
        value["data"] = orjson.loads(value["data"])
        values.append(value)
    return _ROWS.validate_python(values)


@given(found=st.lists(records, max_size=8))
def test_audit_rows_read_the_lean_way_equal_the_rows_read_as_before(
    found: list[tuple[Any, ...]],
) -> None:
    lean = _rows(found)
    assert lean == rows_as_before(found)
    for row, record in zip(lean, found, strict=True):
        assert row.request_id == UUID(record[1])
        assert row.occurred_at.utcoffset() is not None
