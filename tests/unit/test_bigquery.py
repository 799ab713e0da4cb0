"""Arrow -> BigQuery column types, and what BigQuery cannot hold (pure)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rivet.formats.bigquery import bigquery_column

CASES = [
    (pa.bool_(), "BOOL", "ok"),
    (pa.int16(), "INT64", "ok"),
    (pa.uint32(), "INT64", "ok"),
    (pa.uint64(), "INT64", "warn"),
    (pa.float32(), "FLOAT64", "ok"),
    (pa.decimal128(38, 9), "NUMERIC", "ok"),
    (pa.decimal128(38, 10), "BIGNUMERIC", "ok"),
    (pa.decimal256(76, 38), "BIGNUMERIC", "ok"),
    (pa.decimal256(60, 2), "BIGNUMERIC", "fail"),
    (pa.string(), "STRING", "ok"),
    (pa.binary(), "BYTES", "ok"),
    (pa.date32(), "DATE", "ok"),
    (pa.timestamp("us", "UTC"), "TIMESTAMP", "ok"),
    (pa.timestamp("us"), "DATETIME", "ok"),
    (pa.timestamp("ns", "UTC"), "TIMESTAMP", "warn"),
    (pa.time64("us"), "TIME", "ok"),
    (pa.duration("us"), "-", "fail"),
    (pa.list_(pa.int32()), "ARRAY<INT64>", "ok"),
    (pa.list_(pa.list_(pa.int32())), "-", "fail"),
    (pa.month_day_nano_interval(), "-", "fail"),
]


@pytest.mark.parametrize(("arrow", "expected", "status"), CASES)
def test_bigquery_types(arrow: pa.DataType, expected: str, status: str) -> None:
    column = bigquery_column(arrow)
    assert (column.type, column.status) == (expected, status)
    assert (column.note is None) == (status == "ok")
