"""`columns:` override strings, parsed into a small typed value (reference section 8.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALIASES: dict[str, str] = {
    "bool": "bool",
    "boolean": "bool",
    "int2": "int16",
    "smallint": "int16",
    "int16": "int16",
    "int4": "int32",
    "int": "int32",
    "integer": "int32",
    "int32": "int32",
    "int8": "int64",
    "bigint": "int64",
    "int64": "int64",
    "float4": "float32",
    "real": "float32",
    "float32": "float32",
    "float8": "float64",
    "double": "float64",
    "double precision": "float64",
    "float64": "float64",
    "text": "text",
    "varchar": "text",
    "string": "text",
    "char": "text",
    "bpchar": "text",
    "name": "text",
    "binary": "binary",
    "bytea": "binary",
    "blob": "binary",
    "varbinary": "binary",
    "date": "date",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "timestamp": "timestamp",
    "timestamp without time zone": "timestamp",
    "timestamp_tz": "timestamp_tz",
    "timestamptz": "timestamp_tz",
    "timestamp with time zone": "timestamp_tz",
    "timestamp_utc": "timestamp_tz",
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$")
SUPPORTED = "decimal(p,s), numeric(p,s), " + ", ".join(sorted(set(_ALIASES)))


@dataclass(frozen=True)
class ColumnType:
    """A column override: `kind` is one of the canonical names above, or 'decimal'."""

    kind: str
    precision: int | None = None
    scale: int | None = None

    def __str__(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.kind


def parse_column_type(text: str) -> ColumnType:
    normalized = " ".join(text.strip().lower().split())
    match = _DECIMAL.match(normalized)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 76 or not -128 <= scale <= 127 or scale > precision:
            raise ValueError(f"unrecognised type '{text}': decimal needs 1 <= p <= 76 and s <= p")
        return ColumnType("decimal", precision, scale)
    if normalized in _ALIASES:
        return ColumnType(_ALIASES[normalized])
    raise ValueError(f"unrecognised type '{text}'. Supported: {SUPPORTED}")
