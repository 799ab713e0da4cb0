"""What BigQuery makes of a column when it loads rivet's Parquet (for `check --target bigquery`).

`ok`: loads exactly; `warn`: loads, but some values change or may not fit; `fail`: BigQuery has
no column type that holds it (override the column, or leave it out).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# BigQuery NUMERIC: 29 integer digits, 9 decimals; BIGNUMERIC: 38.x integer digits, 38 decimals
_NUMERIC = (29, 9)
_BIGNUMERIC = (38, 38)


@dataclass(frozen=True)
class TargetColumn:
    type: str
    status: str  # ok | warn | fail
    note: str | None = None


def bigquery_column(arrow: pa.DataType) -> TargetColumn:
    if isinstance(arrow, pa.BaseExtensionType):
        arrow = arrow.storage_type
    if pa.types.is_boolean(arrow):
        return TargetColumn("BOOL", "ok")
    if pa.types.is_uint64(arrow):
        return TargetColumn("INT64", "warn", "values above 9223372036854775807 do not fit INT64")
    if pa.types.is_integer(arrow):
        return TargetColumn("INT64", "ok")
    if pa.types.is_floating(arrow):
        return TargetColumn("FLOAT64", "ok")
    if pa.types.is_decimal(arrow):
        return _decimal(arrow.precision, arrow.scale)
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return TargetColumn("STRING", "ok")
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return TargetColumn("BYTES", "ok")
    if pa.types.is_fixed_size_binary(arrow):
        return TargetColumn("BYTES", "ok")
    if pa.types.is_date(arrow):
        return TargetColumn("DATE", "ok")
    if pa.types.is_timestamp(arrow):
        kind = "TIMESTAMP" if arrow.tz is not None else "DATETIME"
        if arrow.unit == "ns":
            return TargetColumn(kind, "warn", "nanoseconds are truncated to microseconds")
        return TargetColumn(kind, "ok")
    if pa.types.is_time(arrow):
        return TargetColumn("TIME", "ok")
    if pa.types.is_duration(arrow):
        return TargetColumn(
            "-", "fail", "BigQuery loads no interval/duration from Parquet: cast it to text"
        )
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        inner = bigquery_column(arrow.value_type)
        if inner.type.startswith("ARRAY"):
            return TargetColumn("-", "fail", "BigQuery has no ARRAY of ARRAY: cast it to text")
        return TargetColumn(f"ARRAY<{inner.type}>", inner.status, inner.note)
    if pa.types.is_struct(arrow):
        return TargetColumn("STRUCT", "ok")
    return TargetColumn("-", "fail", f"no BigQuery type for Arrow {arrow}")


def _decimal(precision: int, scale: int) -> TargetColumn:
    for name, (digits, decimals) in (("NUMERIC", _NUMERIC), ("BIGNUMERIC", _BIGNUMERIC)):
        if precision - scale <= digits and scale <= decimals:
            return TargetColumn(name, "ok")
    return TargetColumn(
        "BIGNUMERIC",
        "fail",
        f"decimal({precision},{scale}) exceeds BIGNUMERIC (38 integer digits, 38 decimals)",
    )
