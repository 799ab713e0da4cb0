"""The PostgreSQL data path: bounded statements over ADBC, in one consistent snapshot.

Three shapes, chosen by what the table offers:
- key ranges (single integer key with statistics): the key span is cut into ranges of about one
  page each, `WHERE k > lo AND k <= hi ORDER BY k LIMIT cap`; with `read_connections > 1`
  several connections read alternate ranges in parallel, all importing one exported snapshot,
  and the ranges are handed on in key order;
- keyset pages (any other orderable key): `WHERE (k1, k2) > (last) ORDER BY k1, k2 LIMIT n`;
- a server-side cursor with `FETCH n` when there is no usable key;
- chunked mode: one streamed statement per chunk (`WHERE <chunk>`, no order), its length bounded
  by the chunk size.
Each statement returns at most about `page_bytes` of Arrow data and is read to completion before
the next one starts, so its duration on the server is bounded and client memory is too. Key
ranges and keyset pages survive a lost connection (`Reader`: the page is read again on a new
connection); a cursor cannot be resumed, so a cursor read fails on a transient error after its
first page (before it, it starts again), and a chunk is read again whole by the chunk runner.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import adbc_driver_manager
import pyarrow as pa
import pyarrow.compute as pc

from rivet.sources import adbc_pg as adbc
from rivet.sources import pg_sql
from rivet.sources.base import (
    COALESCED,
    ChunkRead,
    RangeLimit,
    ReadRequest,
    ReadStats,
    check_position,
    next_page_rows,
    page_rows,
    page_sizes,
    retrying,
    throttle,
)
from rivet.sources.chunking import chunk_where, integer_bounds, sub_ranges
from rivet.sources.columns import ColumnPlan
from rivet.sources.normalize import select_list as select_columns
from rivet.sources.pg_errors import source_error
from rivet.sources.ranges import in_range_order

INTEGER_KEYS = {"int2", "int4", "int8", "oid"}
T = TypeVar("T")


class Session:
    """One ADBC connection (a new one, or `conn` from a pool) in one REPEATABLE READ, READ ONLY
    transaction (SET LOCAL only)."""

    def __init__(
        self,
        url: str,
        request: ReadRequest,
        stats: ReadStats,
        snapshot: str | None = None,
        conn: Any = None,
    ) -> None:
        self._stats = stats
        self._page_bytes = request.page_bytes
        self._no_copy: Any = None
        self._streaming: Any = None
        if conn is None:
            try:
                conn = adbc.connect(url)
            except adbc_driver_manager.Error as exc:
                raise source_error(exc, request.export, connecting=True) from None
        self._conn = conn
        self._cursor = self._conn.cursor()
        try:
            for statement in _session_settings(request, snapshot):
                self.execute(statement)
        except BaseException:
            self.close()
            raise

    def execute(self, sql: str) -> None:
        self._cursor.execute(sql)

    def export_snapshot(self) -> str:
        self._cursor.execute("SELECT pg_export_snapshot()")
        return str(self._cursor.fetchone()[0])

    def fetch(self, sql: str, *, use_copy: bool = True) -> pa.Table:
        """Run one read statement to completion; its duration is what the server saw."""
        cursor = self._cursor
        if not use_copy:  # FETCH cannot be wrapped in COPY: read its binary result set directly
            if self._no_copy is None:
                self._no_copy = self._conn.cursor()
                self._no_copy.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
            cursor = self._no_copy
        started = time.perf_counter()
        cursor.execute(sql)
        page: pa.Table = cursor.fetch_arrow_table()
        self._stats.record_statement(time.perf_counter() - started)
        return page

    def stream(self, sql: str) -> Iterator[pa.Table]:
        """Run one statement (binary COPY) and hand on its batches as they arrive: memory is
        bounded by a batch (of the page budget: the driver's default is 16 MB), the statement
        lasts until the last one is read."""
        if self._streaming is None:
            self._streaming = self._conn.cursor()
            hint = {"adbc.postgresql.batch_size_hint_bytes": str(self._page_bytes)}
            self._streaming.adbc_statement.set_options(**hint)
        started = time.perf_counter()
        self._streaming.execute(sql)
        reader = self._streaming.fetch_record_batch()
        for batch in reader:
            yield pa.Table.from_batches([batch])
        self._stats.record_statement(time.perf_counter() - started)

    def close(self) -> None:
        for action in (self._conn.rollback, self._conn.close):
            with contextlib.suppress(adbc_driver_manager.Error):
                action()

    def detach(self) -> Any:
        """End the transaction and hand the connection on for another one (None: it failed)."""
        try:
            for cursor in (self._cursor, self._no_copy, self._streaming):
                if cursor is not None:
                    cursor.close()
            self._conn.rollback()
        except adbc_driver_manager.Error:
            self.close()
            return None
        return self._conn


class Connections:
    """Idle ADBC connections of one source, reused by chunk reads one transaction at a time:
    connecting costs ~26 ms of client and server CPU (the driver loads pg_type), which a run of
    many chunks paid per chunk. Holds at most as many as were in use at once (the workers)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def session(
        self, request: ReadRequest, stats: ReadStats, snapshot: str | None
    ) -> Iterator[Session]:
        session = self._open(request, stats, snapshot)
        reusable = False
        try:
            yield session
            reusable = True
        finally:
            if not reusable:
                session.close()
            elif (conn := session.detach()) is not None:
                with self._lock:
                    self._idle.append(conn)

    def _open(self, request: ReadRequest, stats: ReadStats, snapshot: str | None) -> Session:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                return Session(self._url, request, stats, snapshot, conn)
            except adbc_driver_manager.Error:  # it died while idle (server restart, cut)
                with contextlib.suppress(adbc_driver_manager.Error):
                    conn.close()
        return Session(self._url, request, stats, snapshot)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(adbc_driver_manager.Error):
                conn.close()


class Reader:
    """A Session that survives a lost connection: a page (or the connection itself) that fails
    with a transient error is tried again on a new connection, up to tuning.max_retries times.
    Pages are keyed (`WHERE key > last`), so reading one again never duplicates or skips a row;
    pages read after a reconnect come from the new connection's snapshot."""

    def __init__(
        self, url: str, request: ReadRequest, stats: ReadStats, snapshot: str | None = None
    ) -> None:
        self._url, self._request, self._stats = url, request, stats
        self._snapshot = snapshot  # imported by the first connection only
        self._session: Session | None = None
        retrying(request, self._connected)

    def _connected(self) -> Session:
        if self._session is None:
            try:
                self._session = Session(self._url, self._request, self._stats, self._snapshot)
            except adbc_driver_manager.Error as exc:  # cut while setting up the transaction
                raise source_error(exc, self._request.export) from None
            self._snapshot = None
        return self._session

    def export_snapshot(self) -> str:
        return retrying(self._request, lambda: self._attempt(lambda s: s.export_snapshot()))

    def fetch(self, sql: str) -> pa.Table:
        return retrying(self._request, lambda: self._attempt(lambda s: s.fetch(sql)))

    def _attempt(self, action: Callable[[Session], T]) -> T:
        session = self._connected()
        try:
            return action(session)
        except adbc_driver_manager.Error as exc:
            self.close()
            raise source_error(exc, self._request.export) from None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def _session_settings(request: ReadRequest, snapshot: str | None) -> list[str]:
    settings = ["SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"]
    if snapshot is not None:
        settings.append(f"SET TRANSACTION SNAPSHOT {pg_sql.quote_literal(snapshot)}")
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


def select_list(plans: Sequence[ColumnPlan], request: ReadRequest) -> list[str]:
    """The planned columns, their guards, then (coalesce mode) the computed cursor: `normalize`
    reads columns by position, so a trailing key-only column is not exported."""
    extra = []
    if request.incremental is not None and request.incremental.coalesce is not None:
        extra = [pg_sql.column_ref(COALESCED)]
    return select_columns(plans, pg_sql.quote_ident, lean=False) + extra


def source_of(request: ReadRequest) -> str:
    coalesce = request.incremental.coalesce if request.incremental is not None else None
    return pg_sql.from_clause(request.table, request.query, coalesce)


def range_pages(
    url: str,
    request: ReadRequest,
    plans: Sequence[ColumnPlan],
    key: str,
    ranges: Sequence[tuple[int, int]],
    rows_per_range: int,
    stats: ReadStats,
) -> Iterator[pa.Table]:
    sessions = [Reader(url, request, stats, request.snapshot)]
    try:
        if request.read_connections > 1 and len(ranges) > 1:
            snapshot = request.snapshot or sessions[0].export_snapshot()
            for _ in range(min(request.read_connections, len(ranges)) - 1):
                sessions.append(Reader(url, request, stats, snapshot))
        columns = select_list(plans, request)
        source = source_of(request)
        sizes = RangeLimit(rows_per_range, request, stats)

        def pages_of(session: Reader, index: int) -> Iterator[pa.Table]:
            after, upto = ranges[index]
            while True:
                limit = sizes.rows()
                page = session.fetch(range_statement(columns, source, key, after, upto, limit))
                sizes.measured(page)
                if page.num_rows:
                    yield page
                throttle(request, stats)
                if page.num_rows < limit:  # a dense cluster makes a range longer: page through it
                    return
                after = int(pc.max(page.column(key)).as_py())

        yield from in_range_order(
            len(sessions), len(ranges), lambda slot, i: pages_of(sessions[slot], i)
        )
    finally:
        for session in sessions:
            session.close()


def range_statement(
    columns: Sequence[str], source: str, key: str, after: int, upto: int, limit: int
) -> str:
    """One page of a key range: `WHERE k > after AND k <= upto ORDER BY k LIMIT n`."""
    where = f"{pg_sql.column_ref(key)} > {after} AND {pg_sql.column_ref(key)} <= {upto}"
    return pg_sql.keyset_page(columns, source, [key], None, limit, where=where)


def keyset_pages(
    url: str,
    request: ReadRequest,
    plans: Sequence[ColumnPlan],
    key: Sequence[tuple[str, str]],
    stats: ReadStats,
) -> Iterator[pa.Table]:
    """Pages in key order; incremental reads start after the stored position and skip rows
    whose cursor is NULL (they have no place in the order)."""
    session = Reader(url, request, stats, request.snapshot)
    try:
        columns = select_list(plans, request)
        source = source_of(request)
        names = [k for k, _ in key]
        limit = page_rows(request, stats)
        incremental = request.incremental
        where = _keyset_where(request, key)
        after: list[str] | None = None
        first_where = where
        if incremental is not None and incremental.after:
            check_position(request, names)
            start = incremental.start_sql(
                [pg_sql.column_ref(n) for n in names], lambda texts: literals(texts, key)
            )
            first_where = f"{where} AND {start}" if where else start
        stats.position_columns = tuple(names)
        while True:
            page_where = where if after is not None else first_where
            page = session.fetch(
                pg_sql.keyset_page(columns, source, names, after, limit, page_where)
            )
            if page.num_rows == 0:
                return
            position = last_key_texts(page, key)
            yield page
            stats.position = position  # only once the page was handed on
            if page.num_rows < limit:
                return
            after = literals(position, key)
            limit = next_page_rows(page, request, stats)
            throttle(request, stats)
    finally:
        session.close()


def _keyset_where(request: ReadRequest, key: Sequence[tuple[str, str]]) -> str | None:
    """Incremental and time-window reads skip NULL cursors, start at the window's bound and
    (applying a plan) stop at the planned last row."""
    incremental = request.incremental
    if incremental is None:
        return None
    cursor = pg_sql.column_ref(key[0][0])
    conditions = [f"{cursor} IS NOT NULL"]
    bound = incremental.lower_bound_sql(cursor)
    if bound:
        conditions.append(bound)
    if incremental.until is not None:
        keys = ", ".join(pg_sql.column_ref(k) for k, _ in key)
        upto = f"({keys}) <= ({', '.join(literals(incremental.until, key))})"
        conditions.append(upto if incremental.until else "FALSE")
    return " AND ".join(conditions)


def last_statement(
    request: ReadRequest, plans: Sequence[ColumnPlan], key: Sequence[tuple[str, str]]
) -> str:
    """The last row in keyset order, as a read would see it (no planned upper bound)."""
    assert request.incremental is not None
    unbounded = replace(request, incremental=replace(request.incremental, until=None))
    source = source_of(request)
    keys = ", ".join(f"{pg_sql.column_ref(k)} DESC" for k, _ in key)
    where = _keyset_where(unbounded, key)
    select = pg_sql.select_all(select_list(plans, request), source)
    return f"{select} WHERE {where} ORDER BY {keys} LIMIT 1"


def first_statement(
    request: ReadRequest,
    plans: Sequence[ColumnPlan],
    key: Sequence[tuple[str, str]],
    first_range: tuple[int, int, int] | None = None,
) -> str:
    """The first data statement of a read, as the server will see it (for EXPLAIN):
    `first_range` (after, upto, limit) when the read is in key ranges."""
    source = source_of(request)
    columns = select_list(plans, request)
    if request.chunk is not None:
        where = chunk_where(pg_sql.column_ref(request.chunk.column), request.chunk.chunk)
        return f"{pg_sql.select_all(columns, source)} WHERE {where}"
    if first_range is not None and key:
        return range_statement(columns, source, key[0][0], *first_range)
    if key:
        names = [k for k, _ in key]
        limit = page_rows(request, ReadStats())  # a probe
        conditions = [_keyset_where(request, key)]
        if request.incremental is not None:
            conditions.append(
                request.incremental.start_sql(
                    [pg_sql.column_ref(n) for n in names], lambda texts: literals(texts, key)
                )
            )
        joined = " AND ".join(c for c in conditions if c) or None
        return pg_sql.keyset_page(columns, source, names, None, limit, joined)
    return pg_sql.select_all(columns, source)


def count_statement(
    request: ReadRequest, key: Sequence[tuple[str, str]], upto: Sequence[str] | None
) -> str:
    """`SELECT count(*)` over exactly the rows the read covers: the chunk, or the incremental
    window from the stored position up to `upto` (the last position exported)."""
    conditions = []
    if request.chunk is not None:
        conditions.append(chunk_where(pg_sql.column_ref(request.chunk.column), request.chunk.chunk))
    if request.incremental is not None:
        names = [k for k, _ in key]
        keys = ", ".join(pg_sql.column_ref(n) for n in names)
        conditions.append(_keyset_where(request, key) or "TRUE")
        start = request.incremental.start_sql(
            [pg_sql.column_ref(n) for n in names], lambda texts: literals(texts, key)
        )
        if start:
            conditions.append(start)
        if upto is not None:
            conditions.append(f"({keys}) <= ({', '.join(literals(upto, key))})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT count(*) FROM {source_of(request)}{where}"


def cursor_pages(
    url: str, request: ReadRequest, plans: Sequence[ColumnPlan], stats: ReadStats
) -> Iterator[pa.Table]:
    query = pg_sql.select_all(select_list(plans, request), source_of(request))
    limit = page_rows(request, stats)
    fetch = f"FETCH {limit} FROM _rivet_cur"

    def opened() -> tuple[Session, pa.Table]:
        session = Session(url, request, stats, request.snapshot)
        try:
            session.execute(f"DECLARE _rivet_cur NO SCROLL CURSOR FOR {query}")
            return session, session.fetch(fetch, use_copy=False)
        except adbc_driver_manager.Error as exc:
            session.close()
            raise source_error(exc, request.export) from None
        except BaseException:
            session.close()
            raise

    # Until the first page is handed on, a transient error (a serialization failure, a cut
    # connection) costs nothing to start again; after that a cursor cannot be resumed.
    session, page = retrying(request, opened)
    try:
        while True:
            if page.num_rows:
                yield page
            if page.num_rows < limit:
                session.execute("CLOSE _rivet_cur")
                return
            limit = next_page_rows(page, request, stats)
            throttle(request, stats)
            page = session.fetch(f"FETCH {limit} FROM _rivet_cur", use_copy=False)
    finally:
        session.close()


def chunk_pages(
    connections: Connections,
    request: ReadRequest,
    plans: Sequence[ColumnPlan],
    stats: ReadStats,
    chunk: ChunkRead,
) -> Iterator[pa.Table]:
    """One chunk, in its own transaction (importing the run's snapshot when there is one), on a
    connection of the pool: an integer chunk as key sub-ranges sized to the page budget (short
    statements, whatever the chunk size); other chunks as one streamed statement
    `SELECT ... WHERE <chunk>`."""
    with connections.session(request, stats, chunk.snapshot) as session:
        select = pg_sql.select_all(select_list(plans, request), source_of(request))
        column = pg_sql.column_ref(chunk.column)
        bounds = integer_bounds(chunk.chunk)
        if bounds is None:
            yield from session.stream(f"{select} WHERE {chunk_where(column, chunk.chunk)}")
        else:

            def fetch(low: int, high: int) -> pa.Table:
                page = session.fetch(f"{select} WHERE {column} >= {low} AND {column} < {high}")
                throttle(request, stats)
                return page

            yield from sub_ranges(*bounds, fetch, *page_sizes(request, stats))
        if request.on_counted is not None:  # --reconcile: counted in the chunk's own snapshot
            counted = session.fetch(count_statement(request, (), None))
            request.on_counted(int(counted.column(0)[0].as_py()))


def last_key_texts(page: pa.Table, key: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The key of a page's last row, as PostgreSQL-readable text (UTC for timestamptz)."""
    texts = []
    for name, _ in key:
        last = page.column(name).slice(page.num_rows - 1, 1)
        if isinstance(last.type, pa.BaseExtensionType):
            last = last.storage
        texts.append(str(pc.cast(last, pa.string())[0].as_py()))
    return tuple(texts)


def literals(texts: Sequence[str], key: Sequence[tuple[str, str]]) -> list[str]:
    """SQL literals of key values (the first len(texts) columns of `key`)."""
    return [
        str(int(text)) if pg_type in INTEGER_KEYS else f"{pg_sql.quote_literal(text)}::{pg_type}"
        for text, (_, pg_type) in zip(texts, key[: len(texts)], strict=True)
    ]
