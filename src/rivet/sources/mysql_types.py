"""MySQL / MariaDB -> Arrow type mapping (reference 8.2, section 15 defects fixed). Pure.

The Arrow reader (ConnectorX) panics or loses precision on several MySQL types, so those are
converted in SQL to a form it reads exactly: DECIMAL as its exact text, TIMESTAMP as epoch
microseconds (UTC by construction, whatever the session time zone), TIME as signed microseconds
(beyond 24 h and negative kept), BIT as an unsigned integer, GEOMETRY as WKB. UNSIGNED integers
keep unsigned Arrow types, so they never wrap. Zero dates and out-of-range TINYINT(1) values are
refused through row guards rather than silently changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa

from rivet.config.column_types import ColumnType
from rivet.core.moments import EPOCH, epoch_micros
from rivet.sources.columns import (
    BOOLEAN_01,
    COMPATIBLE,
    DECIMAL,
    EPOCH_MICROS_UTC,
    EXACT,
    LOGICAL_STRING,
    MICROS_DURATION,
    ColumnPlan,
)

# FIELD_TYPE codes of the MySQL protocol.
DECIMAL_OLD, TINY, SHORT, LONG, FLOAT, DOUBLE = 0, 1, 2, 3, 4, 5
TIMESTAMP, LONGLONG, INT24, DATE, TIME, DATETIME, YEAR, NEWDATE = 7, 8, 9, 10, 11, 12, 13, 14
VARCHAR, BIT, JSON, NEWDECIMAL, ENUM, SET = 15, 16, 245, 246, 247, 248
TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, VAR_STRING, STRING, GEOMETRY = (
    249,
    250,
    251,
    252,
    253,
    254,
    255,
)
NOT_NULL_FLAG, UNSIGNED_FLAG, ENUM_FLAG, SET_FLAG = 1, 32, 256, 2048
INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "bigint"}
BINARY_CHARSET = 63

_INTEGERS = {
    TINY: (pa.int8(), pa.uint8(), "tinyint"),
    SHORT: (pa.int16(), pa.uint16(), "smallint"),
    INT24: (pa.int32(), pa.uint32(), "mediumint"),
    LONG: (pa.int32(), pa.uint32(), "int"),
    LONGLONG: (pa.int64(), pa.uint64(), "bigint"),
}
_TEXTUAL = {VARCHAR, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, VAR_STRING, STRING}
_ZERO_DATE = "holds a zero or partly-zero date ('0000-00-00'), which no date type can carry"


@dataclass(frozen=True)
class MyColumn:
    """A result column as the server describes it (protocol column definition)."""

    name: str
    type_code: int
    flags: int = 0
    charset: int = BINARY_CHARSET
    length: int = 0
    scale: int = 0

    @property
    def unsigned(self) -> bool:
        return bool(self.flags & UNSIGNED_FLAG)


@dataclass(frozen=True)
class KeyColumn:
    """A primary-key column used for keyset paging, and how to write its value back as SQL."""

    name: str
    data_type: str  # information_schema DATA_TYPE
    precision: int | None = None
    scale: int | None = None

    def text(self, value: object) -> str:
        """A page value as the text stored in state (and turned back into SQL by `literal`).
        TIMESTAMP is read as epoch microseconds and kept as UTC text, as PostgreSQL's are."""
        if self.data_type == "timestamp" and isinstance(value, int):
            moment = EPOCH + timedelta(microseconds=value)
            return f"{moment:%Y-%m-%d %H:%M:%S.%f}Z"
        if hasattr(value, "isoformat"):
            return str(value.isoformat(sep=" ") if self.data_type == "datetime" else value)
        return str(value)

    def literal(self, text: str) -> str:
        """A key value as an SQL literal. Text goes as hex with a charset introducer, so no
        escaping rule (NO_BACKSLASH_ESCAPES) can change its meaning."""
        if self.data_type in INTEGER_TYPES:
            return str(int(text))
        if self.data_type == "decimal":
            return f"CAST('{text}' AS DECIMAL({self.precision},{self.scale}))"
        if self.data_type == "timestamp":  # read as epoch microseconds (UTC session)
            # An exact decimal literal: a division would be cut to div_precision_increment
            # (4 by default) decimals, and the same rows would be read again on every run.
            seconds, micros = divmod(epoch_micros(text), 1_000_000)
            return f"FROM_UNIXTIME({seconds}.{micros:06d})"
        return f"_utf8mb4 X'{text.encode().hex()}'"


def cursor_key(column: MyColumn) -> KeyColumn | None:
    """The KeyColumn for an incremental cursor, or None when its type has no usable order."""
    if column.type_code in _INTEGERS:
        return KeyColumn(column.name, "bigint")
    if column.type_code in (NEWDECIMAL, DECIMAL_OLD):
        return KeyColumn(column.name, "decimal", decimal_precision(column), column.scale)
    named = {DATE: "date", NEWDATE: "date", DATETIME: "datetime", TIMESTAMP: "timestamp"}
    if column.type_code in named:
        return KeyColumn(column.name, named[column.type_code])
    if column.type_code in (VARCHAR, VAR_STRING, STRING) and column.charset != BINARY_CHARSET:
        return KeyColumn(column.name, "varchar")
    return None


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def column_ref(name: str) -> str:
    return f"_rivet.{quote_ident(name)}"


def decimal_precision(column: MyColumn) -> int:
    """DECIMAL(p,s) from the protocol's display length (sign and point included)."""
    return column.length - (1 if column.scale > 0 else 0) - (0 if column.unsigned else 1)


def plan_column(column: MyColumn, override: ColumnType | None = None) -> ColumnPlan:
    ref = column_ref(column.name)
    if override is not None:
        return _plan_override(column, override, ref)
    code = column.type_code
    if code == TINY and column.length == 1:
        return _plan(
            column,
            ref,
            pa.bool_(),
            EXACT,
            native="tinyint(1)",
            conversion=BOOLEAN_01,
            problem="holds values other than 0 and 1 in a TINYINT(1) (boolean) column",
        )
    if code in _INTEGERS:
        signed, unsigned, name = _INTEGERS[code]
        native = f"{name} unsigned" if column.unsigned else name
        return _plan(column, ref, unsigned if column.unsigned else signed, EXACT, native=native)
    if code in (FLOAT, DOUBLE):
        return _plan(column, ref, pa.float32() if code == FLOAT else pa.float64(), EXACT)
    if code in (NEWDECIMAL, DECIMAL_OLD):
        precision = decimal_precision(column)
        arrow_type = (
            pa.decimal128(precision, column.scale)
            if precision <= 38
            else pa.decimal256(precision, column.scale)
        )
        return _plan(
            column,
            f"CAST({ref} AS CHAR)",
            arrow_type,
            EXACT,
            native=f"decimal({precision},{column.scale})",
            conversion=DECIMAL,
        )
    if code in (DATE, NEWDATE, DATETIME):
        zero = f"(MONTH({ref}) = 0 OR DAYOFMONTH({ref}) = 0)"
        arrow_type = pa.date32() if code != DATETIME else pa.timestamp("us")
        return _plan(
            column,
            f"IF({zero}, NULL, {ref})",
            arrow_type,
            EXACT,
            guard=zero,
            problem=_ZERO_DATE,
            lean=ref,  # ConnectorX refuses a zero date: the guard only names the column
        )
    if code == TIMESTAMP:
        micros = f"CAST(UNIX_TIMESTAMP({ref}) * 1000000 AS SIGNED)"
        return _plan(
            column,
            micros,  # the zero TIMESTAMP reads as 0 and is refused in normalize
            pa.timestamp("us", tz="UTC"),
            EXACT,
            conversion=EPOCH_MICROS_UTC,
            problem=_ZERO_DATE,
        )
    if code == TIME:
        return _plan(
            column,
            f"CAST(TIME_TO_SEC({ref}) * 1000000 AS SIGNED)",
            pa.duration("us"),
            EXACT,
            conversion=MICROS_DURATION,
        )
    if code == YEAR:
        return _plan(column, ref, pa.int16(), EXACT)
    if code == BIT:
        bits = column.length
        arrow_type = pa.bool_() if bits == 1 else pa.int64() if bits < 64 else pa.uint64()
        return _plan(column, f"CAST({ref} AS UNSIGNED)", arrow_type, EXACT, native=f"bit({bits})")
    if code == ENUM or column.flags & ENUM_FLAG:
        return _plan(column, ref, pa.string(), COMPATIBLE, logical="enum", native="enum")
    if code == SET or column.flags & SET_FLAG:
        return _plan(column, ref, pa.string(), COMPATIBLE, logical="set", native="set")
    if code == JSON:
        return _plan(column, ref, pa.string(), LOGICAL_STRING, logical="json")
    if code == GEOMETRY:
        return _plan(
            column, f"ST_AsBinary({ref})", pa.binary(), COMPATIBLE, logical="wkb", native="geometry"
        )
    if code in _TEXTUAL:
        if column.charset == BINARY_CHARSET:
            return _plan(column, ref, pa.binary(), EXACT)
        return _plan(column, ref, pa.string(), EXACT)
    return _plan(
        column,
        f"CAST({ref} AS CHAR)",
        pa.string(),
        LOGICAL_STRING,
        logical="text",
        note=f"MySQL type {code} has no exact Arrow type: exported as its text form",
    )


def _plan_override(column: MyColumn, override: ColumnType, ref: str) -> ColumnPlan:
    note = f"override: {override}"
    kind = override.kind
    if kind == "decimal":
        arrow_type = (
            pa.decimal128(override.precision or 38, override.scale or 0)
            if (override.precision or 0) <= 38
            else pa.decimal256(override.precision or 76, override.scale or 0)
        )
        sql = f"CAST(CAST({ref} AS DECIMAL({override.precision},{override.scale})) AS CHAR)"
        return _plan(column, sql, arrow_type, EXACT, conversion=DECIMAL, note=note)
    simple = {
        "text": ("CHAR", pa.string()),
        "json": ("CHAR", pa.string()),
        "int64": ("SIGNED", pa.int64()),
        "int32": ("SIGNED", pa.int64()),
        "int16": ("SIGNED", pa.int64()),
        "float64": ("DOUBLE", pa.float64()),
        "float32": ("DOUBLE", pa.float64()),
        "binary": ("BINARY", pa.binary()),
        "date": ("DATE", pa.date32()),
        "timestamp": ("DATETIME(6)", pa.timestamp("us")),
    }
    if kind not in simple:
        raise ValueError(
            f"column override '{override}' is not available for MySQL columns; use one of: "
            "decimal(p,s), text, json, int64, float64, binary, date, timestamp"
        )
    target, arrow_type = simple[kind]
    return _plan(column, f"CAST({ref} AS {target})", arrow_type, EXACT, note=note)


def _plan(
    column: MyColumn,
    expr: str,
    arrow_type: pa.DataType,
    fidelity: str,
    *,
    native: str | None = None,
    logical: str | None = None,
    conversion: str = "none",
    guard: str | None = None,
    problem: str | None = None,
    note: str | None = None,
    lean: str | None = None,
) -> ColumnPlan:
    alias = quote_ident(column.name)
    return ColumnPlan(
        name=column.name,
        native_type=native or _TYPE_NAMES.get(column.type_code, f"type {column.type_code}"),
        select_sql=f"{expr} AS {alias}",
        arrow_type=arrow_type,
        fidelity=fidelity,
        logical_type=logical,
        conversion=conversion,
        guard_sql=guard,
        guard_problem=problem,
        note=note,
        lean_sql=f"{lean} AS {alias}" if lean is not None else None,
    )


_TYPE_NAMES = {
    FLOAT: "float",
    DOUBLE: "double",
    DATE: "date",
    NEWDATE: "date",
    DATETIME: "datetime",
    TIMESTAMP: "timestamp",
    TIME: "time",
    YEAR: "year",
    JSON: "json",
    VARCHAR: "varchar",
    VAR_STRING: "varchar",
    STRING: "char",
    TINY_BLOB: "tinyblob/tinytext",
    MEDIUM_BLOB: "mediumblob/mediumtext",
    LONG_BLOB: "longblob/longtext",
    BLOB: "blob/text",
}
