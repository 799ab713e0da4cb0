"""PostgreSQL -> Arrow mapping: one case per type family (reference 8.1, defects of 15 fixed)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rivet.config.column_types import parse_column_type
from rivet.sources.pg_types import PgColumn, numeric_precision_scale, plan_column


def _numeric_typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


@pytest.mark.parametrize(
    ("column", "arrow_type", "fidelity", "sql"),
    [
        (PgColumn("c", "bool"), pa.bool_(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "int2"), pa.int16(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "int4"), pa.int32(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "int8"), pa.int64(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "float4"), pa.float32(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "float8"), pa.float64(), "exact", '_rivet."c" AS "c"'),
        (
            PgColumn("c", "numeric", _numeric_typmod(12, 2)),
            pa.decimal128(12, 2),
            "exact",
            '_rivet."c"::text AS "c"',
        ),
        (
            PgColumn("c", "numeric", _numeric_typmod(38, 10)),
            pa.decimal128(38, 10),
            "exact",
            '_rivet."c"::text AS "c"',
        ),
        (
            PgColumn("c", "numeric", _numeric_typmod(60, 5)),
            pa.decimal256(60, 5),
            "exact",
            '_rivet."c"::text AS "c"',
        ),
        (PgColumn("c", "numeric"), pa.string(), "logical_string", '_rivet."c"::text AS "c"'),
        (PgColumn("c", "date"), pa.date32(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "time"), pa.time64("us"), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "timestamp"), pa.timestamp("us"), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "timestamptz"), pa.timestamp("us", tz="UTC"), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "timetz"), pa.string(), "logical_string", '_rivet."c"::text AS "c"'),
        (PgColumn("c", "interval"), pa.string(), "compatible", '_rivet."c"::text AS "c"'),
        (PgColumn("c", "text"), pa.string(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "varchar"), pa.string(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "bpchar"), pa.string(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "bytea"), pa.binary(), "exact", '_rivet."c" AS "c"'),
        (PgColumn("c", "json"), pa.string(), "logical_string", '_rivet."c" AS "c"'),
        (PgColumn("c", "jsonb"), pa.string(), "logical_string", '_rivet."c" AS "c"'),
        (PgColumn("c", "uuid"), pa.string(), "compatible", '_rivet."c"::text AS "c"'),
        (PgColumn("c", "mood", kind="e"), pa.string(), "compatible", '_rivet."c"::text AS "c"'),
        (PgColumn("c", "oid"), pa.int64(), "exact", '_rivet."c"::int8 AS "c"'),
        (PgColumn("c", "money"), pa.string(), "logical_string", '_rivet."c"::numeric::text AS "c"'),
        (PgColumn("c", "inet"), pa.string(), "logical_string", '_rivet."c"::text AS "c"'),
        (
            PgColumn("c", "_int4", element="int4"),
            pa.list_(pa.int32()),
            "compatible",
            '_rivet."c" AS "c"',
        ),
        (
            PgColumn("c", "_text", element="text"),
            pa.list_(pa.string()),
            "compatible",
            '_rivet."c" AS "c"',
        ),
        (
            PgColumn("c", "_numeric", _numeric_typmod(6, 2), element="numeric"),
            pa.list_(pa.decimal128(6, 2)),
            "compatible",
            '_rivet."c" AS "c"',
        ),
        (
            PgColumn("c", "_uuid", element="uuid"),
            pa.list_(pa.string()),
            "logical_string",
            '_rivet."c"::text[] AS "c"',
        ),
    ],
    ids=lambda v: v.type_name if isinstance(v, PgColumn) else None,
)
def test_mapping(column: PgColumn, arrow_type: pa.DataType, fidelity: str, sql: str) -> None:
    plan = plan_column(column)
    assert plan.arrow_type == arrow_type
    assert plan.fidelity == fidelity
    assert plan.select_sql == sql
    assert plan.field().metadata[b"rivet.fidelity"] == fidelity.encode()


def test_arrays_carry_a_dimension_guard() -> None:
    assert (
        plan_column(PgColumn("a", "_int4", element="int4")).guard_sql
        == 'array_ndims(_rivet."a") > 1'
    )
    assert plan_column(PgColumn("a", "int4")).guard_sql is None


def test_typmod_decoding_includes_negative_scales() -> None:
    assert numeric_precision_scale(_numeric_typmod(10, 2)) == (10, 2)
    assert numeric_precision_scale(_numeric_typmod(5, -3)) == (5, -3)
    assert numeric_precision_scale(-1) is None


@pytest.mark.parametrize(
    ("override", "sql", "arrow_type"),
    [
        ("decimal(12,2)", '_rivet."c"::numeric(12,2)::text AS "c"', pa.decimal128(12, 2)),
        ("text", '_rivet."c"::text AS "c"', pa.string()),
        ("float8", '_rivet."c"::float8 AS "c"', pa.float64()),
        ("timestamptz", '_rivet."c"::timestamptz AS "c"', pa.timestamp("us", tz="UTC")),
        ("uuid", '_rivet."c"::uuid::text AS "c"', pa.string()),
    ],
)
def test_overrides_cast_in_sql(override: str, sql: str, arrow_type: pa.DataType) -> None:
    plan = plan_column(PgColumn("c", "numeric"), parse_column_type(override))
    assert plan.select_sql == sql and plan.arrow_type == arrow_type


def test_column_override_strings() -> None:
    assert str(parse_column_type("NUMERIC( 10 , 3 )")) == "decimal(10,3)"
    assert parse_column_type("double precision").kind == "float64"
    with pytest.raises(ValueError, match=r"unrecognised type 'geometry'\. Supported:"):
        parse_column_type("geometry")
    with pytest.raises(ValueError):
        parse_column_type("decimal(80,2)")
