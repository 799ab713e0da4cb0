"""MySQL / MariaDB source: catalog work through PyMySQL, the data path through ConnectorX.

Data path: every read is one bounded statement on the binary protocol, decoded to Arrow in Rust.
A table with a single integer primary key is read in key ranges sized by bytes
(`WHERE k > lo AND k <= hi ORDER BY k LIMIT cap`); a composite integer key in keyset pages;
anything else as one streamed statement, with a warning. Each statement runs on its own
connection with `time_zone = '+00:00'`, a read-only transaction and the statement timeout set
for that session only, so no session variable outlives the read. Unlike PostgreSQL, the pages
of one export are not one snapshot: each statement is its own consistent read, so `--reconcile`
counts what those statements returned (ReadRequest.on_counted).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import connectorx
import pyarrow as pa
import pymysql

from rivet.config.connection import pymysql_arguments
from rivet.core.chunks import ChunkSpec
from rivet.core.errors import SourceError
from rivet.sources import chunking
from rivet.sources.base import (
    ChunkLayout,
    Explain,
    LoadSampler,
    PreparedRead,
    RangeLimit,
    ReadRequest,
    ReadStats,
    check_position,
    next_page_rows,
    page_rows,
    page_sizes,
    retrying,
    rows_for,
    throttle,
)
from rivet.sources.catalog import TableInfo
from rivet.sources.columns import (
    ColumnPlan,
    column_notes,
    column_reports,
)
from rivet.sources.mysql_catalog import describe, from_clause, incremental_key, key_and_estimate
from rivet.sources.mysql_catalog import discover as catalog_discover
from rivet.sources.mysql_errors import source_error
from rivet.sources.mysql_types import (
    INTEGER_TYPES,
    NOT_NULL_FLAG,
    KeyColumn,
    cursor_key,
    plan_column,
    quote_ident,
)
from rivet.sources.normalize import normalize, select_list, target_schema
from rivet.sources.ranges import in_range_order, plan_ranges
from rivet.sources.versions import require_supported

# Rows per batch of one streamed statement (a read with no key to page by): ConnectorX fixes
# the batch size when the statement starts, before any row's width is known.
STREAM_BATCH_ROWS = 10_000


@dataclass
class MyPreparedRead(PreparedRead):
    plans: Sequence[ColumnPlan] = ()
    key: Sequence[KeyColumn] = ()
    key_span: tuple[int, int, int, float] | None = None  # min, max, rows, bytes per row
    mariadb: bool = True


class MySQLSource:
    engine = "mysql"

    def __init__(self, url: str) -> None:
        self._url = url
        self._control: pymysql.connections.Connection[Any] | None = None

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    # -- catalog ---------------------------------------------------------------------------
    def prepare(self, request: ReadRequest) -> MyPreparedRead:
        if request.incremental is not None and request.incremental.coalesce is not None:
            primary, fallback = request.incremental.coalesce
            raise SourceError(
                f"export '{request.export}': incremental_cursor_mode: coalesce is available for "
                "PostgreSQL sources only",
                hint=f"add a generated column, e.g. ALTER TABLE ... ADD COLUMN cursor_at "
                f"DATETIME AS (COALESCE({primary}, {fallback})) STORED, index it, and use it as "
                "cursor_column (an index makes each page a short range scan)",
            )
        conn = self._control_connection(request.export)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION(), DATABASE()")
                version, database = cur.fetchone()
                product = "MariaDB" if "mariadb" in str(version).lower() else "MySQL"
                require_supported(product, str(version), request.export)
                columns = describe(cur, request)
                key, estimate, span = key_and_estimate(cur, request, database)
                if request.incremental is not None:
                    key, span = incremental_key(request, columns, key), None
        except pymysql.Error as exc:
            raise source_error(exc, request.export) from None
        try:
            plans = [plan_column(c, request.column_overrides.get(c.name)) for c in columns]
        except ValueError as exc:
            raise SourceError(f"export '{request.export}': {exc}") from None
        warnings, unchunked = column_notes(plans), []
        if span is not None:
            strategy = f"key ranges({key[0].name}, {request.read_connections} connection(s))"
        elif key:
            strategy = f"keyset({', '.join(k.name for k in key)})"
            if request.incremental is not None:
                strategy = f"incremental({', '.join(k.name for k in key)})"
                if request.incremental.lower_bound is not None:
                    strategy = (
                        f"time window({', '.join(k.name for k in key)}) from "
                        f"{request.incremental.lower_bound[1]}"
                    )
        else:
            strategy = "streamed"
            unchunked.append(
                "no primary key of integer, text, date or decimal columns to page by: read as "
                "one streamed statement (its duration grows with the table)"
            )
        return MyPreparedRead(
            target_schema(plans),
            column_reports(plans),
            strategy,
            estimate,
            warnings,
            unchunked,
            plans=plans,
            key=key,
            key_span=span,
            mariadb="mariadb" in str(version).lower(),
        )

    def chunk_layout(
        self, request: ReadRequest, prepared: PreparedRead, spec: ChunkSpec
    ) -> ChunkLayout:
        assert isinstance(prepared, MyPreparedRead)
        name = spec.column
        if name is None:
            if len(prepared.key) != 1 or prepared.key[0].data_type not in INTEGER_TYPES:
                raise SourceError(
                    f"export '{request.export}': chunk_column is not set and "
                    f"{request.table or 'the query'} has no single-column integer primary key",
                    hint="set chunk_column to an indexed integer, date or datetime column",
                )
            name = prepared.key[0].name
        conn = self._control_connection(request.export)
        try:
            with conn.cursor() as cur:
                columns = {c.name: c for c in describe(cur, request)}
                if name not in columns:
                    raise SourceError(
                        f"export '{request.export}': chunk_column '{name}' is not a column of "
                        "the result",
                        hint="the result has columns: " + ", ".join(columns),
                    )
                key = cursor_key(columns[name])
                if key is not None and key.data_type == "timestamp":
                    # Compared as UTC text: the chunk reads and these queries run in UTC.
                    key = KeyColumn(key.name, "datetime")
                kind = (
                    "none"
                    if key is None
                    else "integer"
                    if key.data_type in INTEGER_TYPES
                    else "temporal"
                    if key.data_type in ("date", "datetime")
                    else "orderable"
                )
                cur.execute("SET @rivet_saved_tz = @@session.time_zone, time_zone = '+00:00'")
                try:
                    span, source = prepared.key_span, from_clause(request)
                    return chunking.layout(
                        request.export,
                        spec,
                        name,
                        kind,
                        not columns[name].flags & NOT_NULL_FLAG,
                        _MyChunkCatalog(cur, source, key),
                        prepared.row_estimate,
                        span[3] if span else None,
                        source,
                    )
                finally:
                    cur.execute("SET time_zone = @rivet_saved_tz")
        except pymysql.Error as exc:
            raise source_error(exc, request.export) from None

    @contextmanager
    def shared_snapshot(self, request: ReadRequest) -> Iterator[str | None]:
        """MySQL cannot share a snapshot between connections: each chunk is its own read."""
        yield None

    def discover(self, schema: str | None, table: str | None) -> list[TableInfo]:
        conn = self._control_connection("init")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT DATABASE()")
                database = schema or cur.fetchone()[0]
                if not database:
                    raise SourceError(
                        "no database to describe: the URL names none",
                        hint="add it to the URL (mysql://user@host/db) or pass --schema",
                    )
                return catalog_discover(cur, database, table)
        except pymysql.Error as exc:
            raise source_error(exc, "init") from None

    def connection_budget(self, export: str) -> tuple[int, int]:
        try:
            with self._control_connection(export).cursor() as cur:
                cur.execute(
                    "SELECT @@max_connections, "
                    "(SELECT COUNT(*) FROM information_schema.PROCESSLIST)"
                )
                row = cur.fetchone()
        except pymysql.Error as exc:
            raise source_error(exc, export) from None
        return int(row[0]), int(row[1])

    def explain(self, request: ReadRequest, prepared: PreparedRead) -> Explain:
        assert isinstance(prepared, MyPreparedRead)
        sql = _first_statement(request, prepared)
        conn = self._control_connection(request.export)
        try:
            with conn.cursor() as cur:
                cur.execute(f"EXPLAIN {sql}")
                names = [d[0].lower() for d in cur.description]
                rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except pymysql.Error as exc:
            raise source_error(exc, request.export) from None
        budget = self.connection_budget(request.export)
        return Explain(
            sql,
            [(str(r["table"]), int(r["rows"] or 0)) for r in rows if r["type"] == "ALL"],
            any(r["key"] for r in rows),
            [
                f"{r['table']}: access {r['type']}, key {r['key'] or '-'}, rows {r['rows']}"
                + (f", {r['extra']}" if r.get("extra") else "")
                for r in rows
            ],
            int(budget[0]),
            int(budget[1]),
        )

    def count_rows(
        self, request: ReadRequest, prepared: PreparedRead, upto: Sequence[str] | None = None
    ) -> int:
        assert isinstance(prepared, MyPreparedRead)
        conditions = _keyset_conditions(request, prepared)
        if request.chunk is not None:
            column = f"_rivet.{quote_ident(request.chunk.column)}"
            conditions.append(chunking.chunk_where(column, request.chunk.chunk))
        if request.incremental is not None:
            keys = ", ".join(_key_refs(prepared))
            start = request.incremental.start_sql(
                _key_refs(prepared), lambda t: _literals(prepared, t)
            )
            conditions += [start] if start else []
            if upto:
                conditions.append(f"({keys}) <= ({', '.join(_literals(prepared, upto))})")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        conn = self._control_connection(request.export)
        try:
            with conn.cursor() as cur:
                for statement in _session(request, prepared.mariadb):
                    cur.execute(statement)
                cur.execute(f"SELECT COUNT(*) FROM {from_clause(request)}{where}")
                row = cur.fetchone()
        except pymysql.Error as exc:
            raise source_error(exc, request.export) from None
        assert row is not None
        return int(row[0])

    def last_position(self, request: ReadRequest, prepared: PreparedRead) -> tuple[str, ...] | None:
        assert isinstance(prepared, MyPreparedRead)
        if request.incremental is None or not prepared.key:
            return None
        unbounded = replace(request, incremental=replace(request.incremental, until=None))
        keys = ", ".join(f"_rivet.{quote_ident(k.name)} DESC" for k in prepared.key)
        where = " AND ".join(_keyset_conditions(unbounded, prepared))
        selects = _Selects.of(request, prepared)
        tail = f"WHERE {where} ORDER BY {keys} LIMIT 1"
        page = self._fetch(selects, tail, _session(request, prepared.mariadb), ReadStats(), request)
        if not page.num_rows:
            return None
        return tuple(k.text(page.column(k.name)[-1].as_py()) for k in prepared.key)

    def load_sampler(self, export: str) -> LoadSampler:
        from rivet.sources.load import MyLoad

        try:
            return MyLoad(self._url)
        except pymysql.Error as exc:
            raise source_error(exc, export, connecting=True) from None

    def server_info(self, export: str) -> tuple[str, list[str]]:
        conn = self._control_connection(export)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION(), @@version_comment")
                version, comment = cur.fetchone()
        except pymysql.Error as exc:
            raise source_error(exc, export) from None
        product = "MariaDB" if "mariadb" in str(version).lower() else "MySQL"
        warnings = []
        if any(p in str(comment).lower() for p in ("proxysql", "maxscale")):
            warnings.append(f"a proxy is in front of the server ({comment})")
        return f"{product} {str(version).split('-')[0]}", warnings

    def _control_connection(self, export: str) -> pymysql.connections.Connection[Any]:
        if self._control is None or not self._control.open:
            try:
                self._control = pymysql.connect(**pymysql_arguments(self._url), autocommit=True)
            except pymysql.Error as exc:
                raise source_error(exc, export, connecting=True) from None
        return self._control

    # -- data ------------------------------------------------------------------------------
    def read(
        self, request: ReadRequest, prepared: PreparedRead, stats: ReadStats
    ) -> Iterator[pa.RecordBatch]:
        assert isinstance(prepared, MyPreparedRead)
        returned = 0
        for page in self._pages(request, prepared, stats):
            returned += page.num_rows
            for batch in page.to_batches():
                yield normalize(batch, prepared.plans, prepared.schema, request.export)
        if request.on_counted is not None:
            # No snapshot spans the pages: the rows each statement (one consistent read, over
            # contiguous key ranges) returned are the count that shares the read's snapshots.
            request.on_counted(returned)

    def _pages(
        self, request: ReadRequest, prepared: MyPreparedRead, stats: ReadStats
    ) -> Iterator[pa.Table]:
        session = _session(request, prepared.mariadb)
        selects = _Selects.of(request, prepared)
        if request.chunk is not None:
            yield from self._chunk_pages(request, prepared, selects, session, stats)
        elif prepared.key_span is not None:
            yield from self._range_pages(request, prepared, selects, session, stats)
        elif prepared.key:
            yield from self._keyset_pages(request, prepared, selects, session, stats)
        else:  # one statement, not read again: guarded from the start
            yield from self._streamed(request, selects.guarded, session, stats)

    def _range_pages(
        self,
        request: ReadRequest,
        prepared: MyPreparedRead,
        selects: _Selects,
        session: list[str],
        stats: ReadStats,
    ) -> Iterator[pa.Table]:
        rows, ranges = _range_plan(request, prepared)
        sizes = RangeLimit(rows, request, stats, _range_budget(request))

        def pages_of(slot: int, index: int) -> Iterator[pa.Table]:
            after, upto = ranges[index]
            while True:
                limit = sizes.rows()
                tail = _range_tail(prepared, after, upto, limit)
                page = self._fetch(selects, tail, session, stats, request)
                sizes.measured(page)
                if page.num_rows:
                    yield page
                throttle(request, stats)
                if page.num_rows < limit:  # a dense cluster makes a range longer: page through
                    return
                after = int(page.column(prepared.key[0].name)[-1].as_py())

        # Each statement opens its own connection, so ranges can be read in parallel; no shared
        # snapshot is possible on MySQL (see the module docstring).
        workers = min(request.read_connections, len(ranges))
        yield from in_range_order(workers, len(ranges), pages_of)

    def _keyset_pages(
        self,
        request: ReadRequest,
        prepared: MyPreparedRead,
        selects: _Selects,
        session: list[str],
        stats: ReadStats,
    ) -> Iterator[pa.Table]:
        keys = ", ".join(f"_rivet.{quote_ident(k.name)}" for k in prepared.key)
        limit = page_rows(request, stats)
        incremental = request.incremental
        conditions = _keyset_conditions(request, prepared)
        after: list[str] | None = None
        stats.position_columns = tuple(k.name for k in prepared.key)
        first = conditions
        if incremental is not None and incremental.after:
            check_position(request, stats.position_columns)
            start = incremental.start_sql(_key_refs(prepared), lambda t: _literals(prepared, t))
            first = [*conditions, *([start] if start else [])]
        while True:
            where = [*conditions, f"({keys}) > ({', '.join(after)})"] if after else first
            filtered = f"WHERE {' AND '.join(where)} " if where else ""
            tail = f"{filtered}ORDER BY {keys} LIMIT {limit}"
            page = self._fetch(selects, tail, session, stats, request)
            if page.num_rows == 0:
                return
            position = tuple(k.text(page.column(k.name)[-1].as_py()) for k in prepared.key)
            yield page
            stats.position = position
            if page.num_rows < limit:
                return
            after = [k.literal(t) for k, t in zip(prepared.key, position, strict=True)]
            limit = next_page_rows(page, request, stats)
            throttle(request, stats)

    def _chunk_pages(
        self,
        request: ReadRequest,
        prepared: MyPreparedRead,
        selects: _Selects,
        session: list[str],
        stats: ReadStats,
    ) -> Iterator[pa.Table]:
        """An integer chunk as key sub-ranges sized to the page budget (each a short statement
        on its own connection, read again on a transient error); others as one statement."""
        assert request.chunk is not None
        bounds = chunking.integer_bounds(request.chunk.chunk)
        if bounds is None:
            yield from self._streamed(request, _first_statement(request, prepared), session, stats)
            return
        column = f"_rivet.{quote_ident(request.chunk.column)}"

        def fetch(low: int, high: int) -> pa.Table:
            tail = f"WHERE {column} >= {low} AND {column} < {high}"
            page = self._fetch(selects, tail, session, stats, request)
            throttle(request, stats)
            return page

        yield from chunking.sub_ranges(*bounds, fetch, *page_sizes(request, stats))

    def _streamed(
        self, request: ReadRequest, select: str, session: list[str], stats: ReadStats
    ) -> Iterator[pa.Table]:
        rows = request.max_page_rows or STREAM_BATCH_ROWS
        started = time.perf_counter()
        with _driver_errors(request.export):
            batches = iter(
                connectorx.read_sql(
                    self._url,
                    select,
                    return_type="arrow_stream",
                    batch_size=rows,
                    pre_execution_query=session,
                )
            )
        while True:
            with _driver_errors(request.export):
                batch = next(batches, None)
            if batch is None:
                break
            yield pa.Table.from_batches([batch])
        stats.record_statement(time.perf_counter() - started)

    def _fetch(
        self,
        selects: _Selects,
        tail: str,
        session: list[str],
        stats: ReadStats,
        request: ReadRequest,
    ) -> pa.Table:
        """One page, `SELECT ... FROM ... <tail>`, on its own connection; a transient error (lost
        connection) reads the same page again on a new one. Pages are keyed, so this never
        duplicates or skips a row. Read lean first; a page the driver refuses (a value it cannot
        decode) is read again guarded, so that the guard names the column and its problem."""

        def attempt(select: str) -> pa.Table:
            started = time.perf_counter()
            with _driver_errors(request.export):
                page: pa.Table = connectorx.read_sql(
                    self._url, f"{select} {tail}", return_type="arrow", pre_execution_query=session
                )
            stats.record_statement(time.perf_counter() - started)
            return page

        try:
            return retrying(request, lambda: attempt(selects.lean))
        except _DriverRefused:
            if selects.lean == selects.guarded:
                raise
            return retrying(request, lambda: attempt(selects.guarded))


@dataclass(frozen=True)
class _Selects:
    """A read's `SELECT ... FROM`, lean (see ColumnPlan.lean_sql) and guarded."""

    lean: str
    guarded: str

    @staticmethod
    def of(request: ReadRequest, prepared: MyPreparedRead) -> _Selects:
        return _Selects(_select(request, prepared, lean=True), _select(request, prepared))


def _select(request: ReadRequest, prepared: MyPreparedRead, lean: bool = False) -> str:
    columns = select_list(prepared.plans, quote_ident, lean)
    return f"SELECT {', '.join(columns)} FROM {from_clause(request)}"


def _key_refs(prepared: MyPreparedRead) -> list[str]:
    return [f"_rivet.{quote_ident(k.name)}" for k in prepared.key]


def _literals(prepared: MyPreparedRead, texts: Sequence[str]) -> list[str]:
    """SQL literals of key values (the first len(texts) key columns)."""
    return [k.literal(t) for k, t in zip(prepared.key[: len(texts)], texts, strict=True)]


def _keyset_conditions(request: ReadRequest, prepared: MyPreparedRead) -> list[str]:
    """Incremental and time-window reads skip NULL cursors, start at the window's bound and
    (applying a plan) stop at the planned last row."""
    incremental = request.incremental
    if incremental is None:
        return []
    cursor = f"_rivet.{quote_ident(prepared.key[0].name)}"
    bound = incremental.lower_bound_sql(cursor)
    conditions = [f"{cursor} IS NOT NULL"] + ([bound] if bound else [])
    if incremental.until is not None:
        keys = ", ".join(f"_rivet.{quote_ident(k.name)}" for k in prepared.key)
        values = [k.literal(t) for k, t in zip(prepared.key, incremental.until, strict=False)]
        conditions.append(f"({keys}) <= ({', '.join(values)})" if incremental.until else "FALSE")
    return conditions


def _range_plan(
    request: ReadRequest, prepared: MyPreparedRead
) -> tuple[int, list[tuple[int, int]]]:
    """(rows per range, the key ranges) of a read in key ranges."""
    assert prepared.key_span is not None
    low, high, estimate, bytes_per_row = prepared.key_span
    rows = rows_for(_range_budget(request), max(bytes_per_row, 16), request)
    return rows, list(plan_ranges(low, high, estimate, rows))


def _range_budget(request: ReadRequest) -> int:
    """Bytes of one key-range statement. Every page costs a new connection (and its settings),
    so pages should be large, but ConnectorX holds a page twice while it builds it. With two
    readers each gets 3/4 of the page budget: half cost ~10% of the wall on the wide benchmark
    table, the whole budget took peak RSS to 291-301 MB, 3/4 gives 273-279 MB at the same
    speed (and 266 MB on 256 KB rows, where the whole budget took 316 MB)."""
    return request.page_bytes * (3 if request.read_connections > 1 else 4) // 4


def _range_tail(prepared: MyPreparedRead, after: int, upto: int, limit: int) -> str:
    key = f"_rivet.{quote_ident(prepared.key[0].name)}"
    return f"WHERE {key} > {after} AND {key} <= {upto} ORDER BY {key} LIMIT {limit}"


def _first_statement(request: ReadRequest, prepared: MyPreparedRead) -> str:
    """The first data statement of a read (a chunk's only one), as the server will see it:
    paged reads start lean, one streamed statement carries the guards."""
    select = _select(request, prepared, lean=request.chunk is None and bool(prepared.key))
    if request.chunk is not None:
        column = f"_rivet.{quote_ident(request.chunk.column)}"
        return f"{select} WHERE {chunking.chunk_where(column, request.chunk.chunk)}"
    if prepared.key_span is not None:  # key ranges, as `read` sends them
        rows, ranges = _range_plan(request, prepared)
        first = RangeLimit(rows, request, ReadStats(), _range_budget(request)).rows()
        return f"{select} {_range_tail(prepared, *ranges[0], first)}"
    if prepared.key:
        keys = ", ".join(f"_rivet.{quote_ident(k.name)}" for k in prepared.key)
        conditions = _keyset_conditions(request, prepared)
        if request.incremental is not None:
            start = request.incremental.start_sql(
                _key_refs(prepared), lambda t: _literals(prepared, t)
            )
            conditions += [start] if start else []
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        limit = page_rows(request, ReadStats())  # a probe
        return f"{select}{where} ORDER BY {keys} LIMIT {limit}"
    return select


def _session(request: ReadRequest, mariadb: bool) -> list[str]:
    """Session settings of each read connection (closed after its statement), in as few
    statements as each server takes: every page opens a new connection."""
    assignments = ["time_zone = '+00:00'"]
    if mariadb:
        assignments.append("SESSION tx_read_only = 1")
    if request.statement_timeout_s > 0:
        if mariadb:
            assignments.append(f"SESSION max_statement_time = {request.statement_timeout_s}")
        else:
            assignments.append(f"SESSION max_execution_time = {request.statement_timeout_s * 1000}")
    if request.lock_timeout_s > 0:
        assignments.append(f"SESSION lock_wait_timeout = {request.lock_timeout_s}")
    settings = [f"SET {', '.join(assignments)}"]
    if not mariadb:  # MySQL 5.7 before 5.7.20 has no transaction_read_only variable
        settings.append("SET SESSION TRANSACTION READ ONLY")
    return settings


@contextmanager
def _driver_errors(export: str) -> Iterator[None]:
    """ConnectorX raises RuntimeError for server and network errors, and a Rust panic (a
    BaseException) for values it cannot decode; both become a SourceError here."""
    try:
        yield
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":
            error = source_error(exc, export)
            raise _DriverRefused(error.message, hint=error.hint) from None
        if isinstance(exc, RuntimeError):
            raise source_error(exc, export) from None
        raise


class _DriverRefused(SourceError):
    """ConnectorX could not decode a value of the page (a Rust panic): a permanent error."""


class _MyChunkCatalog:
    """The chunk boundary questions, on the control connection (UTC session)."""

    def __init__(self, cur: Any, source: str, key: KeyColumn | None) -> None:
        self._cur = cur
        self._source = source
        self._key = key

    def integer_span(self, column: str) -> tuple[int, int] | None:
        ref = f"_rivet.{quote_ident(column)}"
        row = self._one(f"SELECT MIN({ref}), MAX({ref}) FROM {self._source}")
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))

    def date_span(self, column: str) -> tuple[date, date] | None:
        ref = f"_rivet.{quote_ident(column)}"
        row = self._one(f"SELECT DATE(MIN({ref})), DATE(MAX({ref})) FROM {self._source}")
        return None if row is None or row[0] is None else (row[0], row[1])

    def boundary(self, column: str, low: str | None, offset: int) -> str | None:
        ref = f"_rivet.{quote_ident(column)}"
        where = f"{ref} IS NOT NULL" + (f" AND {ref} >= {low}" if low is not None else "")
        return self._literal(
            f"SELECT {ref} FROM {self._source} WHERE {where} ORDER BY {ref} LIMIT 1 OFFSET {offset}"
        )

    def next_value(self, column: str, after: str) -> str | None:
        ref = f"_rivet.{quote_ident(column)}"
        return self._literal(
            f"SELECT {ref} FROM {self._source} WHERE {ref} > {after} ORDER BY {ref} LIMIT 1"
        )

    def _one(self, sql: str) -> tuple[Any, ...] | None:
        self._cur.execute(sql)
        row: tuple[Any, ...] | None = self._cur.fetchone()
        return row

    def _literal(self, sql: str) -> str | None:
        assert self._key is not None
        row = self._one(sql)
        return None if row is None else self._key.literal(self._key.text(row[0]))
