"""The ADBC PostgreSQL driver through the driver manager's core API: the few DB-API calls rivet's
read path makes (connect, execute, fetch as Arrow, roll back, close), with the same semantics.

Not `adbc_driver_postgresql.dbapi`: importing that module imports `pyarrow.dataset` (which
imports pandas) and polars when they are installed, ~0.3 CPU-s and ~78 MB of memory in every
rivet process (bench/README.md, "Python start"). Blocking calls go through the driver manager's
`_blocking_call`, as the DB-API module does, so that Ctrl-C and SIGTERM cancel a statement in
flight.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import adbc_driver_postgresql
import pyarrow as pa
from adbc_driver_manager import _lib, _reader


def connect(url: str) -> Connection:
    """A connection with autocommit off: every statement runs in the transaction that the
    first one opens, until `rollback()` (rivet's reads never commit)."""
    database = adbc_driver_postgresql.connect(url)
    try:
        conn = _lib.AdbcConnection(database)
    except BaseException:
        database.close()
        raise
    try:
        conn.set_autocommit(False)
    except BaseException:
        conn.close()
        database.close()
        raise
    return Connection(database, conn)


class Connection:
    def __init__(self, database: Any, conn: Any) -> None:
        self._database, self._conn = database, conn
        self._cursors: weakref.WeakSet[Cursor] = weakref.WeakSet()
        self._closed = False

    def cursor(self) -> Cursor:
        cursor = Cursor(_lib.AdbcStatement(self._conn))
        self._cursors.add(cursor)
        return cursor

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        """Its cursors first: the driver refuses to close a connection with open statements."""
        if self._closed:
            return
        for cursor in list(self._cursors):
            cursor.close()
        self._conn.close()
        self._database.close()
        self._closed = True


class Cursor:
    def __init__(self, statement: Any) -> None:
        self.adbc_statement = statement  # set_options(...), as the DB-API cursor names it
        self._handle: Any = None
        self._reader: Any = None
        self._closed = False

    def execute(self, sql: str) -> None:
        """Run one statement; its result (if any) is read by a fetch_* call."""
        self._release()
        statement = self.adbc_statement
        statement.set_sql_query(sql)
        with contextlib.suppress(_lib.NotSupportedError):  # as the DB-API: not every driver
            _blocking(statement.prepare, statement)
        self._handle, _ = _blocking(statement.execute_query, statement)

    def fetch_record_batch(self) -> pa.RecordBatchReader:
        if self._reader is None:
            handle, self._handle = self._handle, None
            self._reader = _reader.AdbcRecordBatchReader._import_from_c(handle.address)
        reader: pa.RecordBatchReader = self._reader
        return reader

    def fetch_arrow_table(self) -> pa.Table:
        table: pa.Table = _blocking(self.fetch_record_batch().read_all, self.adbc_statement)
        return table

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row of a small result, as Python values."""
        table = self.fetch_arrow_table()
        return tuple(column[0].as_py() for column in table.columns) if table.num_rows else None

    def close(self) -> None:
        if self._closed:
            return
        self._release()
        self.adbc_statement.close()
        self._closed = True

    def _release(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        elif self._handle is not None:
            handle, self._handle = self._handle, None
            handle.release()


def _blocking(call: Any, statement: Any) -> Any:
    """`call()`, cancelling the statement when a signal interrupts it (as the DB-API does)."""
    return _lib._blocking_call(call, (), {}, statement.cancel)
