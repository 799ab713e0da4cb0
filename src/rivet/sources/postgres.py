"""PostgreSQL source: catalog work through psycopg, the data path through the ADBC driver.

Data path: one REPEATABLE READ, READ ONLY transaction (one consistent snapshot for the whole
export) with SET LOCAL statement_timeout / lock_timeout / TimeZone / IntervalStyle, so nothing
leaks to a pooled session. A table with a usable key is read in keyset pages (each an index range
scan returned by binary COPY and decoded to Arrow in C); anything else through a server-side cursor
with FETCH N. Page sizes are derived from measured bytes per row, which bounds both the statement
duration on the server and the client's memory.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from rivet.core.errors import SourceError
from rivet.sources import pg_sql
from rivet.sources.base import ColumnReport, PreparedRead, ReadRequest, ReadStats
from rivet.sources.pg_arrow import normalize, target_schema
from rivet.sources.pg_errors import source_error
from rivet.sources.pg_types import ColumnPlan, PgColumn, plan_column

FIRST_PAGE_ROWS = 10_000
MIN_PAGE_ROWS, MAX_PAGE_ROWS = 1_000, 5_000_000
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
_INTEGER_KEYS = {"int2", "int4", "int8", "oid"}

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


class PostgresSource:
    engine = "postgres"

    def __init__(self, url: str) -> None:
        self._url = url
        self._control: psycopg.Connection[Any] | None = None

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    # -- catalog ---------------------------------------------------------------------------
    def prepare(self, request: ReadRequest) -> PgPreparedRead:
        conn = self._control_connection()
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute("SET LOCAL statement_timeout = '60s'")
                columns = self._describe(conn, request)
                key = self._key(conn, request, columns) if request.table else []
                estimate = self._row_estimate(conn, request.table) if request.table else None
        except psycopg.Error as exc:
            raise source_error(exc, request.export) from None
        plans = [plan_column(c, request.column_overrides.get(c.name)) for c in columns]
        unknown = sorted(set(request.column_overrides) - {c.name for c in columns})
        if unknown:
            raise SourceError(
                f"export '{request.export}': columns: override for unknown column(s) {unknown}",
                hint="the result has columns: " + ", ".join(c.name for c in columns),
            )
        warnings = [
            f"column '{p.name}': {p.note}"
            for p in plans
            if p.note and not p.note.startswith("override")
        ]
        if not key:
            warnings.append(
                "no primary key or unique NOT NULL index to page by: read through one "
                "server-side cursor (one statement spans the whole read)"
                if request.table
                else "query export: read through one server-side cursor (FETCH N); use `table:` "
                "to read a table in short keyset pages"
            )
        strategy = f"keyset({', '.join(k for k, _ in key)})" if key else "cursor"
        reports = [
            ColumnReport(p.name, p.native_type, str(p.arrow_type), p.fidelity, p.note)
            for p in plans
        ]
        return PgPreparedRead(
            target_schema(plans), reports, strategy, estimate, warnings, plans=plans, key=key
        )

    def _control_connection(self) -> psycopg.Connection[Any]:
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
                raise source_error(exc, None, connecting=True) from None
        return self._control

    def _describe(self, conn: psycopg.Connection[Any], request: ReadRequest) -> list[PgColumn]:
        source = pg_sql.from_clause(request.table, request.query)
        cur = conn.execute(f"SELECT * FROM {source} LIMIT 0")
        result = cur.pgresult
        assert result is not None and cur.description is not None
        oids = [result.ftype(i) for i in range(result.nfields)]
        types = {row[0]: row[1:] for row in conn.execute(_TYPES_SQL, (oids,))}
        columns = []
        for i, desc in enumerate(cur.description):
            name, kind, element = types.get(oids[i], (f"oid:{oids[i]}", "b", None))
            columns.append(PgColumn(desc.name, name, result.fmod(i), kind, element))
        names = [c.name for c in columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SourceError(
                f"export '{request.export}': the result has duplicate column names {duplicates}",
                hint="alias the columns in the query (SELECT a.id AS a_id, b.id AS b_id ...)",
            )
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
            conn = adbc.connect(self._url)
        except adbc_driver_manager.Error as exc:
            raise source_error(exc, request.export, connecting=True) from None
        try:
            cursor = conn.cursor()
            for statement in _session_settings(request):
                cursor.execute(statement)
            pages = _keyset_pages if prepared.key else _cursor_pages
            for page in pages(conn, request, prepared, stats):
                for batch in page.to_batches():
                    yield normalize(batch, prepared.plans, prepared.schema, request.export)
        except adbc_driver_manager.Error as exc:
            raise source_error(exc, request.export) from None
        finally:
            _close_quietly(conn)


def _session_settings(request: ReadRequest) -> list[str]:
    """Transaction-scoped only (SET LOCAL): safe behind a transaction-mode pooler."""
    settings = ["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"]
    if request.statement_timeout_s > 0:
        settings.append(f"SET LOCAL statement_timeout = '{request.statement_timeout_s}s'")
    if request.lock_timeout_s > 0:
        settings.append(f"SET LOCAL lock_timeout = '{request.lock_timeout_s}s'")
    settings += [
        "SET LOCAL TimeZone = 'UTC'",
        "SET LOCAL IntervalStyle = 'iso_8601'",
        "SET LOCAL standard_conforming_strings = on",
    ]
    return settings


def _select_list(plans: Sequence[ColumnPlan]) -> list[str]:
    guards = [
        f'{p.ndims_guard_sql} AS "_rivet_ndims_{i}"'
        for i, p in enumerate(plans)
        if p.ndims_guard_sql
    ]
    return [p.select_sql for p in plans] + guards


def _keyset_pages(
    conn: Any, request: ReadRequest, prepared: PgPreparedRead, stats: ReadStats
) -> Iterator[pa.Table]:
    select_list = _select_list(prepared.plans)
    source = pg_sql.from_clause(request.table, request.query)
    key_names = [k for k, _ in prepared.key]
    limit = min(FIRST_PAGE_ROWS, request.max_page_rows or FIRST_PAGE_ROWS)
    after: list[str] | None = None
    cursor = conn.cursor()
    while True:
        sql = pg_sql.keyset_page(select_list, source, key_names, after, limit)
        page = _timed(stats, cursor, sql)
        if page.num_rows:
            yield page
        if page.num_rows < limit:
            return
        after = _last_key_literals(page, prepared.key)
        limit = _next_page_rows(page, request)
        _throttle(request)


def _cursor_pages(
    conn: Any, request: ReadRequest, prepared: PgPreparedRead, stats: ReadStats
) -> Iterator[pa.Table]:
    source = pg_sql.from_clause(request.table, request.query)
    cursor = conn.cursor()
    cursor.execute(
        f"DECLARE _rivet_cur NO SCROLL CURSOR FOR "
        f"{pg_sql.select_all(_select_list(prepared.plans), source)}"
    )
    fetch = conn.cursor()
    # FETCH cannot be wrapped in COPY: read its (binary) result set directly.
    fetch.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
    limit = min(FIRST_PAGE_ROWS, request.max_page_rows or FIRST_PAGE_ROWS)
    while True:
        sql = f"FETCH {limit} FROM _rivet_cur"
        page = _timed(stats, fetch, sql)
        if page.num_rows:
            yield page
        if page.num_rows < limit:
            cursor.execute("CLOSE _rivet_cur")
            return
        limit = _next_page_rows(page, request)
        _throttle(request)


def _timed(stats: ReadStats, cursor: Any, sql: str) -> pa.Table:
    """Run one read statement to completion; its duration is what the server saw as one query."""
    started = time.perf_counter()
    cursor.execute(sql)
    page: pa.Table = cursor.fetch_arrow_table()
    stats.statements += 1
    stats.longest_statement_s = max(stats.longest_statement_s, time.perf_counter() - started)
    return page


def _next_page_rows(page: pa.Table, request: ReadRequest) -> int:
    per_row = max(page.nbytes / max(page.num_rows, 1), 1.0)
    rows = int(request.page_bytes / per_row)
    rows = max(MIN_PAGE_ROWS, min(MAX_PAGE_ROWS, rows))
    return min(rows, request.max_page_rows) if request.max_page_rows else rows


def _last_key_literals(page: pa.Table, key: Sequence[tuple[str, str]]) -> list[str]:
    literals = []
    for name, pg_type in key:
        last = page.column(name).slice(page.num_rows - 1, 1)
        if isinstance(last.type, pa.BaseExtensionType):
            last = last.storage
        text = pc.cast(last, pa.string())[0].as_py()
        if pg_type in _INTEGER_KEYS:
            literals.append(str(int(text)))
        else:
            literals.append(f"{pg_sql.quote_literal(text)}::{pg_type}")
    return literals


def _throttle(request: ReadRequest) -> None:
    if request.throttle_ms > 0:
        time.sleep(request.throttle_ms / 1000)


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(adbc_driver_manager.Error):
        conn.rollback()
    with contextlib.suppress(adbc_driver_manager.Error):
        conn.close()
