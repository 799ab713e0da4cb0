"""PostgreSQL -> Arrow type mapping (reference section 8.1, section 15 defects fixed). Pure.

Each result column becomes a ColumnPlan: the SQL expression that reads it, the Arrow type it is
written as, its fidelity, and the conversion the batch normalizer applies. Types the Arrow reader
cannot decode exactly are cast in SQL (to text, with a documented fidelity) instead of decoded
from their binary form, so no value is ever silently nulled or reinterpreted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from rivet.config.column_types import ColumnType
from rivet.sources.columns import (
    COMPATIBLE,
    DECIMAL,
    DECIMAL_LIST,
    EXACT,
    LOGICAL_STRING,
    ColumnPlan,
)
from rivet.sources.pg_sql import column_ref, quote_ident

_SCALARS: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "bytea": pa.binary(),
}
# Cast in SQL to a type the reader decodes exactly: (cast target, arrow type, fidelity, logical).
_CAST: dict[str, tuple[str, pa.DataType, str, str | None]] = {
    "uuid": ("text", pa.string(), COMPATIBLE, "uuid"),
    "interval": ("text", pa.string(), COMPATIBLE, "interval"),  # ISO 8601: intervalstyle is set
    "oid": ("int8", pa.int64(), EXACT, None),
    "money": ("numeric", pa.string(), LOGICAL_STRING, "decimal"),
    "char": ("text", pa.string(), EXACT, None),
    "xml": ("text", pa.string(), LOGICAL_STRING, "xml"),
}
_ARRAY_ELEMENTS = {
    "bool",
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "text",
    "varchar",
    "bpchar",
    "name",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "bytea",
}
_MULTI_DIM = "holds a multi-dimensional array, which would be flattened"
_OVERRIDE_CAST = {
    "bool": "boolean",
    "int16": "int2",
    "int32": "int4",
    "int64": "int8",
    "float32": "float4",
    "float64": "float8",
    "text": "text",
    "binary": "bytea",
    "date": "date",
    "json": "jsonb",
    "uuid": "uuid",
    "timestamp": "timestamp",
    "timestamp_tz": "timestamptz",
}


@dataclass(frozen=True)
class PgColumn:
    """A result column as the server describes it."""

    name: str
    type_name: str  # pg_type.typname, e.g. int4, numeric, _int4
    typmod: int = -1
    kind: str = "b"  # pg_type.typtype: b base, e enum, d domain, r range, c composite
    element: str | None = None  # element typname for arrays

    @property
    def is_array(self) -> bool:
        return self.element is not None


def numeric_precision_scale(typmod: int) -> tuple[int, int] | None:
    """numeric(p,s) from its typmod; None for an unconstrained numeric."""
    if typmod < 4:
        return None
    packed = typmod - 4
    precision = (packed >> 16) & 0xFFFF
    scale = ((packed & 0x7FF) ^ 1024) - 1024  # 11-bit signed: negative scales exist since PG 15
    return precision, scale


def plan_column(column: PgColumn, override: ColumnType | None = None) -> ColumnPlan:
    if override is not None:
        return _plan_override(column, override)
    ref = column_ref(column.name)
    if column.is_array:
        return _plan_array(column, ref)
    native = _native_name(column)
    if column.type_name == "numeric":
        return _plan_numeric(column.name, native, ref, column.typmod)
    if column.type_name in _SCALARS:
        return ColumnPlan(
            column.name, native, _as(ref, column.name), _SCALARS[column.type_name], EXACT
        )
    if column.type_name in ("json", "jsonb"):
        return ColumnPlan(
            column.name,
            native,
            _as(ref, column.name),
            pa.string(),
            LOGICAL_STRING,
            "json",
            conversion="none",
        )
    if column.kind == "e":
        return ColumnPlan(
            column.name, native, _as(f"{ref}::text", column.name), pa.string(), COMPATIBLE, "enum"
        )
    if column.type_name in _CAST:
        target, arrow_type, fidelity, logical = _CAST[column.type_name]
        expr = f"{ref}::{target}" + ("::text" if target == "numeric" else "")
        return ColumnPlan(
            column.name, native, _as(expr, column.name), arrow_type, fidelity, logical
        )
    return ColumnPlan(
        column.name,
        native,
        _as(f"{ref}::text", column.name),
        pa.string(),
        LOGICAL_STRING,
        "text",
        note=f"PostgreSQL type '{native}' has no exact Arrow type: exported as its text form",
    )


def _plan_numeric(name: str, native: str, ref: str, typmod: int) -> ColumnPlan:
    bounds = numeric_precision_scale(typmod)
    if bounds is None:
        # Unconstrained numeric holds up to 131072 digits: only its exact text form is safe.
        return ColumnPlan(
            name,
            native,
            _as(f"{ref}::text", name),
            pa.string(),
            LOGICAL_STRING,
            "decimal",
            note="unconstrained numeric exported as exact decimal text; "
            "set `columns: {" + name + ": decimal(p,s)}` for a decimal column",
        )
    precision, scale = bounds
    arrow_type = _decimal_type(precision, scale)
    # The server's numeric_out is several times cheaper than the driver's client-side decoding of
    # binary numerics; the exact text is then parsed into a decimal by Arrow (vectorised).
    return ColumnPlan(
        name, native, _as(f"{ref}::text", name), arrow_type, EXACT, conversion=DECIMAL
    )


def _plan_array(column: PgColumn, ref: str) -> ColumnPlan:
    assert column.element is not None
    native = _native_name(column)
    guard = f"array_ndims({ref}) > 1"
    element = column.element
    if element == "numeric" and numeric_precision_scale(column.typmod) is not None:
        precision, scale = numeric_precision_scale(column.typmod)  # type: ignore[misc]
        return ColumnPlan(
            column.name,
            native,
            _as(ref, column.name),
            pa.list_(_decimal_type(precision, scale)),
            COMPATIBLE,
            conversion=DECIMAL_LIST,
            guard_sql=guard,
            guard_problem=_MULTI_DIM,
        )
    if element in _ARRAY_ELEMENTS:
        return ColumnPlan(
            column.name,
            native,
            _as(ref, column.name),
            pa.list_(_SCALARS[element]),
            COMPATIBLE,
            guard_sql=guard,
            guard_problem=_MULTI_DIM,
        )
    return ColumnPlan(
        column.name,
        native,
        _as(f"{ref}::text[]", column.name),
        pa.list_(pa.string()),
        LOGICAL_STRING,
        "text",
        guard_sql=guard,
        guard_problem=_MULTI_DIM,
        note=f"elements of '{native}' exported as their text form",
    )


def _plan_override(column: PgColumn, override: ColumnType) -> ColumnPlan:
    ref = column_ref(column.name)
    if override.kind == "decimal":
        target = f"numeric({override.precision},{override.scale})"
        cast = PgColumn(
            column.name,
            "numeric",
            ((override.precision or 0) << 16 | ((override.scale or 0) & 0x7FF)) + 4,
        )
    else:
        target = _OVERRIDE_CAST[override.kind]
        cast = PgColumn(column.name, {"boolean": "bool"}.get(target, target))
    planned = plan_column(cast)
    expr = planned.select_sql.replace(column_ref(column.name), f"{ref}::{target}", 1)
    return ColumnPlan(
        column.name,
        _native_name(column),
        expr,
        planned.arrow_type,
        planned.fidelity,
        planned.logical_type,
        planned.conversion,
        note=f"override: {override}",
    )


def _decimal_type(precision: int, scale: int) -> pa.DataType:
    if precision <= 38:
        return pa.decimal128(precision, scale)
    return pa.decimal256(precision, scale)


def _native_name(column: PgColumn) -> str:
    base = column.element + "[]" if column.element else column.type_name
    bounds = (
        numeric_precision_scale(column.typmod)
        if column.type_name in ("numeric", "_numeric")
        else None
    )
    if bounds:
        base = base.replace("numeric", f"numeric({bounds[0]},{bounds[1]})")
    return base


def _as(expr: str, name: str) -> str:
    return f"{expr} AS {quote_ident(name)}"
