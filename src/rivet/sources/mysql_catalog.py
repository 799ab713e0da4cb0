"""MySQL catalog work for a read: describe the result, find the key, estimate the table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rivet.core.errors import SourceError
from rivet.sources.base import ReadRequest
from rivet.sources.catalog import ColumnInfo, TableInfo
from rivet.sources.columns import check_result_columns
from rivet.sources.mysql_types import INTEGER_TYPES, KeyColumn, MyColumn, cursor_key, quote_ident

_KEYSET_TYPES = INTEGER_TYPES | {"char", "varchar", "date", "datetime", "decimal"}


def describe(cur: Any, request: ReadRequest) -> list[MyColumn]:
    cur.execute(f"SELECT * FROM {from_clause(request)} LIMIT 0")
    columns = [
        MyColumn(f.name, f.type_code, f.flags, f.charsetnr, f.length, f.scale)
        for f in cur._result.fields
    ]
    check_result_columns(request.export, [c.name for c in columns], request.column_overrides)
    return columns


def key_and_estimate(
    cur: Any, request: ReadRequest, database: str | None
) -> tuple[list[KeyColumn], int | None, tuple[int, int, int, float] | None]:
    if request.table is None:
        return [], None, None
    schema, _, table = request.table.rpartition(".")
    schema = schema or database or ""
    cur.execute(
        "SELECT s.COLUMN_NAME, c.DATA_TYPE, c.NUMERIC_PRECISION, c.NUMERIC_SCALE "
        "FROM information_schema.STATISTICS s "
        "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA "
        "AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "
        "WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s AND s.INDEX_NAME = 'PRIMARY' "
        "ORDER BY s.SEQ_IN_INDEX",
        (schema, table),
    )
    rows = cur.fetchall()
    key = [KeyColumn(r[0], r[1], r[2], r[3]) for r in rows]
    if not key or not all(k.data_type in _KEYSET_TYPES for k in key):
        key = []
    cur.execute(
        "SELECT TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (schema, table),
    )
    stats = cur.fetchone()
    estimate = int(stats[0]) if stats and stats[0] else None
    span = None
    if len(key) == 1 and key[0].data_type in INTEGER_TYPES and estimate:
        column = quote_ident(key[0].name)
        cur.execute(f"SELECT MIN({column}), MAX({column}) FROM {request.table}")
        low, high = cur.fetchone()
        if low is not None:
            span = (int(low), int(high), estimate, (stats[1] or 0) / estimate)
    return key, estimate, span


def incremental_key(
    request: ReadRequest, columns: Sequence[MyColumn], primary_key: Sequence[KeyColumn]
) -> list[KeyColumn]:
    """(cursor, primary key columns...): a total order, so ties at the boundary are kept."""
    assert request.incremental is not None
    name = request.incremental.cursor_column
    column = next((c for c in columns if c.name == name), None)
    if column is None:
        raise SourceError(
            f"export '{request.export}': cursor_column '{name}' is not a column of the result",
            hint="the result has columns: " + ", ".join(c.name for c in columns),
        )
    cursor = cursor_key(column)
    if cursor is None:
        raise SourceError(
            f"export '{request.export}': cursor_column '{name}' has a type with no usable order",
            hint="use an integer, decimal, date, datetime, timestamp or varchar column",
        )
    return [cursor] + [k for k in primary_key if k.name != name]


def from_clause(request: ReadRequest) -> str:
    if request.table is not None:
        return f"{request.table} AS _rivet"
    assert request.query is not None
    return f"({request.query.strip().rstrip(';')}) AS _rivet"


def discover(cur: Any, schema: str, table: str | None) -> list[TableInfo]:
    """Tables and views of a database, with columns, primary keys and indexed columns."""
    only = " AND TABLE_NAME = %s" if table else ""
    params = (schema, table) if table else (schema,)
    cur.execute(
        "SELECT TABLE_NAME, TABLE_TYPE, COALESCE(TABLE_ROWS, 0), "
        "COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = %s{only} ORDER BY TABLE_NAME",
        params,
    )
    tables = cur.fetchall()
    cur.execute(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE = 'YES' "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "ORDER BY TABLE_NAME, ORDINAL_POSITION",
        (schema,),
    )
    columns = cur.fetchall()
    cur.execute(
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, SEQ_IN_INDEX "
        "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
        "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        (schema,),
    )
    statistics = cur.fetchall()
    found = []
    for name, kind, rows, size in tables:
        found.append(
            TableInfo(
                schema,
                name,
                kind == "VIEW",
                int(rows),
                int(size),
                [
                    ColumnInfo(c[1], c[2], _family(c[3]), bool(c[4]))
                    for c in columns
                    if c[0] == name
                ],
                [s[2] for s in statistics if s[0] == name and s[1] == "PRIMARY"],
                {s[2] for s in statistics if s[0] == name and s[3] == 1},
            )
        )
    return found


def _family(data_type: str) -> str:
    if data_type in INTEGER_TYPES:
        return "integer"
    return "temporal" if data_type in ("date", "datetime", "timestamp") else "other"
