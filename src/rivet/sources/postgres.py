"""PostgreSQL source: catalog work through psycopg, the data path through the ADBC driver.

Data path: one REPEATABLE READ, READ ONLY transaction (one consistent snapshot for the whole
export) with SET LOCAL statement_timeout / lock_timeout / TimeZone / IntervalStyle, so nothing
leaks to a pooled session. A table with a usable key is read in keyset pages (each an index range
scan returned by binary COPY and decoded to Arrow in C); anything else through a server-side cursor
with FETCH N. Page sizes are derived from measured bytes per row, which bounds both the statement
duration on the server and the client's memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import adbc_driver_manager
import psycopg
import pyarrow as pa

from rivet.core.chunks import ChunkSpec
from rivet.core.errors import SourceError
from rivet.sources import chunking, pg_read, pg_sql
from rivet.sources.base import (
    COALESCED,
    ChunkLayout,
    Explain,
    LoadSampler,
    PreparedRead,
    RangeLimit,
    ReadRequest,
    ReadStats,
    rows_for,
)
from rivet.sources.catalog import ColumnInfo, TableInfo
from rivet.sources.columns import (
    ColumnPlan,
    check_result_columns,
    column_notes,
    column_reports,
)
from rivet.sources.normalize import normalize, target_schema
from rivet.sources.pg_errors import source_error
from rivet.sources.pg_types import PgColumn, plan_column
from rivet.sources.ranges import plan_ranges
from rivet.sources.versions import require_supported

_KEY_TYPES = {
    "int2",
    "int4",
    "int8",
    "numeric",
    "text",
    "varchar",
    "bpchar",
    "uuid",
    "date",
    "timestamp",
    "timestamptz",
    "float4",
    "float8",
    "oid",
}

_TEMPORAL = {"date", "timestamp", "timestamptz"}
_NOT_NULL_SQL = """
SELECT attnotnull FROM pg_catalog.pg_attribute
WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped
"""
_DISCOVER_TABLES_SQL = """
SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
       greatest(c.reltuples, 0)::int8, pg_catalog.pg_total_relation_size(c.oid)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm')
  AND (%s::text IS NULL OR c.relname = %s::text) AND NOT c.relispartition
ORDER BY c.relname
"""
_DISCOVER_COLUMNS_SQL = """
SELECT a.attrelid::int8, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
       t.typname::text, NOT a.attnotnull
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY(%s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_DISCOVER_KEYS_SQL = """
SELECT i.indrelid::int8, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = ANY(%s::oid[]) AND i.indisprimary
GROUP BY i.indrelid
"""
_DISCOVER_INDEXED_SQL = """
SELECT i.indrelid::int8, a.attname::text
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = ANY(%s::oid[]) AND i.indisvalid
"""
_BUDGET_SQL = """
SELECT current_setting('max_connections')::int,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')
"""
_TYPES_SQL = """
SELECT t.oid::int8, t.typname::text, t.typtype::text, e.typname::text
FROM pg_catalog.pg_type t
LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
WHERE t.oid = ANY(%s)
"""
_KEY_SQL = """
SELECT i.indisprimary, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_catalog.pg_index i
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = %s::regclass AND i.indisvalid AND (i.indisprimary OR i.indisunique)
  AND i.indpred IS NULL AND i.indexprs IS NULL
GROUP BY i.indexrelid, i.indisprimary
HAVING bool_and(a.attnotnull)
ORDER BY i.indisprimary DESC, count(*), i.indexrelid
LIMIT 1
"""


@dataclass
class PgPreparedRead(PreparedRead):
    plans: Sequence[ColumnPlan] = ()
    key: Sequence[tuple[str, str]] = ()  # (column, pg type) of the keyset key, empty = cursor
    key_span: tuple[int, int, int, float] | None = None  # integer key: min, max, rows, bytes/row


class PostgresSource:
    engine = "postgres"

    def __init__(self, url: str) -> None:
        self._url = url
        self._control: psycopg.Connection[Any] | None = None
        self._chunk_connections = pg_read.Connections(url)

    def close(self) -> None:
        self._chunk_connections.close()
        if self._control is not None:
            self._control.close()
            self._control = None

    # -- catalog ---------------------------------------------------------------------------
    def prepare(self, request: ReadRequest) -> PgPreparedRead:
        conn = self._control_connection(request.export)
        require_supported(
            "PostgreSQL", conn.info.parameter_status("server_version") or "0.0", request.export
        )
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute("SET LOCAL statement_timeout = '60s'")
                columns = self._describe(conn, request)
                key = self._key(conn, request, columns) if request.table else []
                estimate = self._row_estimate(conn, request.table) if request.table else None
                if request.incremental is not None:
                    key = _incremental_key(request, columns, key)
                    span = None
                else:
                    span = self._key_span(conn, request.table, key, estimate)
        except psycopg.Error as exc:
            raise source_error(exc, request.export) from None
        plans = [
            plan_column(c, request.column_overrides.get(c.name))
            for c in columns
            if c.name != COALESCED  # read for the key only, not exported
        ]
        warnings, unchunked = column_notes(plans), []
        if not key:
            unchunked.append(
                "no primary key or unique NOT NULL index to page by: read through one "
                "server-side cursor (one statement spans the whole read)"
                if request.table
                else "query export: read through one server-side cursor (FETCH N); use `table:` "
                "to read a table in short keyset pages"
            )
        strategy = f"keyset({', '.join(k for k, _ in key)})" if key else "cursor"
        if request.incremental is not None:
            strategy = f"incremental({', '.join(k for k, _ in key)})"
            if request.incremental.lower_bound is not None:
                strategy = (
                    f"time window({', '.join(k for k, _ in key)}) from "
                    f"{request.incremental.lower_bound[1]}"
                )
        if span is not None:
            strategy = f"key ranges({key[0][0]}, {request.read_connections} connection(s))"
        return PgPreparedRead(
            target_schema(plans),
            column_reports(plans),
            strategy,
            estimate,
            warnings,
            unchunked,
            plans=plans,
            key=key,
            key_span=span,
        )

    def chunk_layout(
        self, request: ReadRequest, prepared: PreparedRead, spec: ChunkSpec
    ) -> ChunkLayout:
        assert isinstance(prepared, PgPreparedRead)
        column = spec.column or _auto_chunk_column(request, prepared)
        types = {p.name: p.native_type for p in prepared.plans}
        if column not in types:
            raise SourceError(
                f"export '{request.export}': chunk_column '{column}' is not a column of the result",
                hint="the result has columns: " + ", ".join(types),
            )
        pg_type = types[column]
        kind = (
            "integer"
            if pg_type in pg_read.INTEGER_KEYS
            else "temporal"
            if pg_type in _TEMPORAL
            else "orderable"
            if pg_type in _KEY_TYPES
            else "none"
        )
        conn = self._control_connection(request.export)
        source = pg_read.source_of(request)
        try:
            with conn.transaction():
                for setting in ("SET TRANSACTION READ ONLY", "SET LOCAL TimeZone = 'UTC'"):
                    conn.execute(setting)
                if request.statement_timeout_s > 0:
                    conn.execute(f"SET LOCAL statement_timeout = '{request.statement_timeout_s}s'")
                nullable = True
                if request.table is not None:
                    row = conn.execute(_NOT_NULL_SQL, (request.table, column)).fetchone()
                    nullable = not (row and row[0])
                span = prepared.key_span
                return chunking.layout(
                    request.export,
                    spec,
                    column,
                    kind,
                    nullable,
                    _PgChunkCatalog(conn, source, pg_type),
                    prepared.row_estimate,
                    span[3] if span else None,
                    source,
                )
        except psycopg.Error as exc:
            raise source_error(exc, request.export) from None

    @contextmanager
    def shared_snapshot(self, request: ReadRequest) -> Iterator[str | None]:
        """One open REPEATABLE READ transaction whose snapshot every chunk session imports; it
        stays open (idle in transaction) until the block ends."""
        try:
            session = pg_read.Session(self._url, request, ReadStats())
            try:
                yield session.export_snapshot()
            finally:
                session.close()
        except adbc_driver_manager.Error as exc:
            raise source_error(exc, request.export) from None

    def discover(self, schema: str | None, table: str | None) -> list[TableInfo]:
        conn = self._control_connection("init")
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute("SET LOCAL statement_timeout = '60s'")
                tables = conn.execute(
                    _DISCOVER_TABLES_SQL, (schema or "public", table, table)
                ).fetchall()
                oids = [t[0] for t in tables]
                columns = conn.execute(_DISCOVER_COLUMNS_SQL, (oids,)).fetchall()
                keys = dict(conn.execute(_DISCOVER_KEYS_SQL, (oids,)).fetchall())
                indexed = conn.execute(_DISCOVER_INDEXED_SQL, (oids,)).fetchall()
        except psycopg.Error as exc:
            raise source_error(exc, "init") from None
        found = []
        for oid, nsp, name, kind, rows, size in tables:
            found.append(
                TableInfo(
                    nsp,
                    name,
                    kind == "v",
                    int(rows),
                    int(size),
                    [ColumnInfo(c[1], c[2], _family(c[3]), c[4]) for c in columns if c[0] == oid],
                    list(keys.get(oid, [])),
                    {column for rel, column in indexed if rel == oid},
                )
            )
        return found

    def connection_budget(self, export: str) -> tuple[int, int]:
        try:
            row = self._control_connection(export).execute(_BUDGET_SQL).fetchone()
        except psycopg.Error as exc:
            raise source_error(exc, export) from None
        assert row is not None
        return int(row[0]), int(row[1])

    def explain(self, request: ReadRequest, prepared: PreparedRead) -> Explain:
        assert isinstance(prepared, PgPreparedRead)
        first_range = None
        if prepared.key_span is not None and request.chunk is None:  # what `read` sends first
            low, high, estimate, bytes_per_row = prepared.key_span
            rows = rows_for(request.page_bytes, max(bytes_per_row, 16), request)
            after, upto = plan_ranges(low, high, estimate, rows)[0]
            first_range = (after, upto, RangeLimit(rows, request, ReadStats()).rows())
        sql = pg_read.first_statement(request, prepared.plans, prepared.key, first_range)
        conn = self._control_connection(request.export)
        try:
            with conn.transaction():
                for setting in ("SET TRANSACTION READ ONLY", "SET LOCAL TimeZone = 'UTC'"):
                    conn.execute(setting)
                conn.execute("SET LOCAL statement_timeout = '60s'")
                row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()
        except psycopg.Error as exc:
            raise source_error(exc, request.export) from None
        assert row is not None
        budget = self.connection_budget(request.export)
        nodes = list(_plan_nodes(row[0][0]["Plan"], 0))
        return Explain(
            sql,
            [
                (node.get("Relation Name", "?"), int(node.get("Plan Rows", 0)))
                for node, _ in nodes
                if "Seq Scan" in node["Node Type"]
            ],
            any("Index" in node["Node Type"] for node, _ in nodes),
            [f"{'  ' * depth}{_describe_node(node)}" for node, depth in nodes],
            int(budget[0]),
            int(budget[1]),
        )

    def count_rows(
        self, request: ReadRequest, prepared: PreparedRead, upto: Sequence[str] | None = None
    ) -> int:
        assert isinstance(prepared, PgPreparedRead)
        sql = pg_read.count_statement(request, prepared.key, upto)
        conn = self._control_connection(request.export)
        settings = ["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"]
        if request.snapshot is not None:  # the read's own snapshot: a concurrent write is no
            settings.append(f"SET TRANSACTION SNAPSHOT {pg_sql.quote_literal(request.snapshot)}")
        settings += ["SET LOCAL TimeZone = 'UTC'",
                     f"SET LOCAL statement_timeout = '{request.statement_timeout_s}s'"]  # fmt: skip
        try:
            with conn.transaction():
                for setting in settings:
                    conn.execute(setting)
                row = conn.execute(sql).fetchone()
        except psycopg.Error as exc:
            raise source_error(exc, request.export) from None
        assert row is not None
        return int(row[0])

    def last_position(self, request: ReadRequest, prepared: PreparedRead) -> tuple[str, ...] | None:
        assert isinstance(prepared, PgPreparedRead)
        if request.incremental is None or not prepared.key:
            return None
        sql = pg_read.last_statement(request, prepared.plans, prepared.key)
        session = pg_read.Session(self._url, request, ReadStats())
        try:
            page = session.fetch(sql)
        except adbc_driver_manager.Error as exc:
            raise source_error(exc, request.export) from None
        finally:
            session.close()
        return pg_read.last_key_texts(page, prepared.key) if page.num_rows else None

    def load_sampler(self, export: str) -> LoadSampler:
        from rivet.sources.load import PgLoad

        try:
            return PgLoad(self._url)
        except psycopg.Error as exc:
            raise source_error(exc, export, connecting=True) from None

    def server_info(self, export: str) -> tuple[str, list[str]]:
        conn = self._control_connection(export)
        version = conn.info.parameter_status("server_version") or "?"
        warnings = []
        try:
            rows = [conn.execute("SELECT pg_backend_pid()").fetchone() for _ in range(2)]
        except psycopg.Error as exc:
            raise source_error(exc, export) from None
        if {row[0] for row in rows if row} != {conn.info.backend_pid}:
            warnings.append(
                "a transaction-mode connection pooler is in front of the server (backend pid "
                "changes between statements): rivet keeps all settings transaction-local"
            )
        return f"PostgreSQL {version.split()[0]}", warnings

    def _control_connection(self, export: str) -> psycopg.Connection[Any]:
        if self._control is None or self._control.closed:
            try:
                self._control = psycopg.connect(
                    self._url,
                    autocommit=True,
                    connect_timeout=10,
                    prepare_threshold=None,
                    application_name="rivet",
                )
            except psycopg.Error as exc:
                raise source_error(exc, export, connecting=True) from None
        return self._control

    def _describe(self, conn: psycopg.Connection[Any], request: ReadRequest) -> list[PgColumn]:
        source = pg_read.source_of(request)
        cur = conn.execute(f"SELECT * FROM {source} LIMIT 0")
        result = cur.pgresult
        assert result is not None and cur.description is not None
        oids = [result.ftype(i) for i in range(result.nfields)]
        types = {row[0]: row[1:] for row in conn.execute(_TYPES_SQL, (oids,))}
        columns = []
        for i, desc in enumerate(cur.description):
            name, kind, element = types.get(oids[i], (f"oid:{oids[i]}", "b", None))
            columns.append(PgColumn(desc.name, name, result.fmod(i), kind, element))
        check_result_columns(request.export, [c.name for c in columns], request.column_overrides)
        return columns

    def _key(
        self, conn: psycopg.Connection[Any], request: ReadRequest, columns: Sequence[PgColumn]
    ) -> list[tuple[str, str]]:
        row = conn.execute(_KEY_SQL, (request.table,)).fetchone()
        if row is None:
            return []
        types = {c.name: c.type_name for c in columns}
        key = [(name, types.get(name, "")) for name in row[1]]
        return key if all(t in _KEY_TYPES for _, t in key) else []

    @staticmethod
    def _key_span(
        conn: psycopg.Connection[Any],
        table: str | None,
        key: Sequence[tuple[str, str]],
        estimate: int | None,
    ) -> tuple[int, int, int, float] | None:
        """(min, max, rows, bytes per row) of a single integer key, for range reads."""
        if table is None or len(key) != 1 or key[0][1] not in pg_read.INTEGER_KEYS or not estimate:
            return None
        column = pg_sql.quote_ident(key[0][0])
        row = conn.execute(
            f"SELECT min({column})::int8, max({column})::int8, "
            f"pg_catalog.pg_table_size(%s::regclass) FROM {table}",
            (table,),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1]), estimate, row[2] / estimate

    @staticmethod
    def _row_estimate(conn: psycopg.Connection[Any], table: str | None) -> int | None:
        row = conn.execute(
            "SELECT reltuples::int8 FROM pg_catalog.pg_class WHERE oid = %s::regclass", (table,)
        ).fetchone()
        return int(row[0]) if row and row[0] >= 0 else None

    # -- data ------------------------------------------------------------------------------
    def read(
        self, request: ReadRequest, prepared: PreparedRead, stats: ReadStats
    ) -> Iterator[pa.RecordBatch]:
        assert isinstance(prepared, PgPreparedRead)
        try:
            for page in self._pages(request, prepared, stats):
                for batch in page.to_batches():
                    yield normalize(batch, prepared.plans, prepared.schema, request.export)
        except adbc_driver_manager.Error as exc:
            raise source_error(exc, request.export) from None

    def _pages(
        self, request: ReadRequest, prepared: PgPreparedRead, stats: ReadStats
    ) -> Iterator[pa.Table]:
        if request.chunk is not None:
            return pg_read.chunk_pages(
                self._chunk_connections, request, prepared.plans, stats, request.chunk
            )
        if prepared.key_span is not None:
            low, high, estimate, bytes_per_row = prepared.key_span
            rows = rows_for(request.page_bytes, max(bytes_per_row, 16), request)
            ranges = plan_ranges(low, high, estimate, rows)
            key = prepared.key[0][0]
            return pg_read.range_pages(self._url, request, prepared.plans, key, ranges, rows, stats)
        if prepared.key:
            return pg_read.keyset_pages(self._url, request, prepared.plans, prepared.key, stats)
        return pg_read.cursor_pages(self._url, request, prepared.plans, stats)


def _incremental_key(
    request: ReadRequest, columns: Sequence[PgColumn], primary_key: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(cursor, primary key columns...): a total order, so rows that share the cursor value of
    the last exported row are never skipped (no tie loss at the boundary)."""
    assert request.incremental is not None
    cursor = request.incremental.cursor_column
    types = {c.name: c.type_name for c in columns}
    if cursor not in types:
        raise SourceError(
            f"export '{request.export}': cursor_column '{cursor}' is not a column of the result",
            hint="the result has columns: " + ", ".join(types),
        )
    if types[cursor] not in _KEY_TYPES:
        raise SourceError(
            f"export '{request.export}': cursor_column '{cursor}' has type {types[cursor]}, "
            "which has no usable order",
            hint="use an integer, numeric, text, date or timestamp column as the cursor",
        )
    return [(cursor, types[cursor])] + [k for k in primary_key if k[0] != cursor]


def _family(pg_type: str) -> str:
    if pg_type in pg_read.INTEGER_KEYS:
        return "integer"
    return "temporal" if pg_type in _TEMPORAL else "other"


def _plan_nodes(node: dict[str, Any], depth: int) -> Iterator[tuple[dict[str, Any], int]]:
    yield node, depth
    for child in node.get("Plans", ()):
        yield from _plan_nodes(child, depth + 1)


def _describe_node(node: dict[str, Any]) -> str:
    text = str(node["Node Type"])
    if "Relation Name" in node:
        text += f" on {node['Relation Name']}"
    if "Index Name" in node:
        text += f" using {node['Index Name']}"
    return f"{text} (rows={node.get('Plan Rows', '?')})"


def _auto_chunk_column(request: ReadRequest, prepared: PgPreparedRead) -> str:
    if len(prepared.key) == 1 and prepared.key[0][1] in pg_read.INTEGER_KEYS:
        return prepared.key[0][0]
    raise SourceError(
        f"export '{request.export}': chunk_column is not set and "
        f"{request.table or 'the query'} has no single-column integer primary key to use",
        hint="set chunk_column to an indexed integer, date or timestamp column",
    )


class _PgChunkCatalog:
    """The chunk boundary questions, answered in the control connection's transaction."""

    def __init__(self, conn: psycopg.Connection[Any], source: str, pg_type: str) -> None:
        self._conn = conn
        self._source = source
        self._type = pg_type

    def integer_span(self, column: str) -> tuple[int, int] | None:
        ref = pg_sql.column_ref(column)
        row = self._one(f"SELECT min({ref})::int8, max({ref})::int8 FROM {self._source}")
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def date_span(self, column: str) -> tuple[date, date] | None:
        ref = pg_sql.column_ref(column)
        row = self._one(f"SELECT min({ref})::date, max({ref})::date FROM {self._source}")
        return None if row is None or row[0] is None else (row[0], row[1])

    def boundary(self, column: str, low: str | None, offset: int) -> str | None:
        ref = pg_sql.column_ref(column)
        where = f"{ref} IS NOT NULL" + (f" AND {ref} >= {low}" if low is not None else "")
        return self._literal(
            f"SELECT {ref}::text FROM {self._source} WHERE {where} "
            f"ORDER BY {ref} LIMIT 1 OFFSET {offset}"
        )

    def next_value(self, column: str, after: str) -> str | None:
        ref = pg_sql.column_ref(column)
        return self._literal(
            f"SELECT {ref}::text FROM {self._source} WHERE {ref} > {after} ORDER BY {ref} LIMIT 1"
        )

    def _one(self, sql: str) -> tuple[Any, ...] | None:
        return self._conn.execute(sql).fetchone()

    def _literal(self, sql: str) -> str | None:
        row = self._one(sql)
        if row is None:
            return None
        return pg_read.literals([row[0]], [("", self._type)])[0]
