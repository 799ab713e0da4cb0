"""The state store: SQLite (WAL) next to the config, or PostgreSQL when RIVET_STATE_URL is set.

Both backends run the same SQL. Schema changes are numbered migrations, applied once, in order,
in one transaction under a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory transaction
lock), so two rivet processes opening a new store cannot both migrate it. A cursor is written
only after the run's parts, manifest and `_SUCCESS` are published.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rivet.core.redact import redact
from rivet.state.backend import Backend
from rivet.state.chunk_runs import ChunkRuns
from rivet.state.cursor_window import CursorWindows
from rivet.state.errors import StateError, StoreUnavailable
from rivet.state.history import FileLog, Journal, SchemaLog
from rivet.state.legacy import (
    Tables,
    copy_state,
    import_legacy,
    is_legacy,
    refusal,
    unresumable_chunk_run,
)
from rivet.state.progression import Progression
from rivet.state.run_log import RunLog

log = logging.getLogger(__name__)
STATE_FILE = ".rivet_state.db"
LEGACY_PREFIX = "rivet077_"  # rivet-cli 0.7.7's tables in a PostgreSQL state database, kept
LEGACY_TABLES = ("export_state", "export_metrics", "export_schema", "file_log", "file_manifest",
                 "chunk_run", "chunk_task", "export_progression", "run_aggregate",
                 "export_shape", "run_journal", "rivet_schema_version")  # fmt: skip
_MIGRATION_LOCK = 0x72697665  # "rive": the advisory lock key of PostgreSQL migrations
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the reference's export_state, plus the full keyset position of the last exported row
    (
        """
        CREATE TABLE export_state (
            export_name TEXT PRIMARY KEY,
            last_cursor_value TEXT,
            position_json TEXT,
            last_run_id TEXT,
            last_run_at TEXT
        )
        """,
    ),
    # 2: checkpointed chunk runs and their tasks (one row per chunk)
    (
        """
        CREATE TABLE chunk_run (
            run_id TEXT PRIMARY KEY,
            export_name TEXT NOT NULL,
            plan_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            max_attempts INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX chunk_run_export ON chunk_run (export_name, status)",
        """
        CREATE TABLE chunk_task (
            run_id TEXT NOT NULL,
            chunk_index INTEGER NOT NULL,
            start_key TEXT,
            end_key TEXT,
            is_null INTEGER NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT,
            rows_written INTEGER,
            parts_json TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (run_id, chunk_index)
        )
        """,
    ),
    # 3: one row per export run: the metrics and outcome `rivet state runs` and rivet-mcp show
    (
        """
        CREATE TABLE export_metrics (
            run_id TEXT PRIMARY KEY,
            export_name TEXT NOT NULL,
            mode TEXT NOT NULL,
            status TEXT NOT NULL,
            total_rows INTEGER NOT NULL,
            files_produced INTEGER NOT NULL,
            bytes_written INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            peak_rss_mb REAL,
            error_message TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT
        )
        """,
        "CREATE INDEX export_metrics_recent ON export_metrics (export_name, started_at)",
    ),
    # 4: the trust layer: schema history, column shapes, the run journal and the file log
    (
        """
        CREATE TABLE schema_history (
            export_name TEXT NOT NULL,
            run_id TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            columns_json TEXT NOT NULL,
            PRIMARY KEY (export_name, run_id)
        )
        """,
        """
        CREATE TABLE column_shape (
            export_name TEXT NOT NULL,
            column_name TEXT NOT NULL,
            max_bytes INTEGER NOT NULL,
            run_id TEXT NOT NULL,
            PRIMARY KEY (export_name, column_name)
        )
        """,
        """
        CREATE TABLE run_journal (
            run_id TEXT PRIMARY KEY,
            export_name TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            journal_json TEXT NOT NULL
        )
        """,
        "CREATE INDEX run_journal_recent ON run_journal (export_name, finished_at)",
        """
        CREATE TABLE file_log (
            run_id TEXT NOT NULL,
            export_name TEXT NOT NULL,
            file_name TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (run_id, file_name)
        )
        """,
        "CREATE INDEX file_log_recent ON file_log (export_name, created_at)",
        "ALTER TABLE export_metrics ADD COLUMN details_json TEXT",
    ),
    # 5: cursor_lag: the identities of the rows exported within the lag of the newest cursor
    (
        """
        CREATE TABLE cursor_window (
            export_name TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            cursors BYTEA NOT NULL,
            hashes BYTEA NOT NULL
        )
        """,
    ),
    # 6: progression: how far each export is committed, and how far verified by a reconcile
    (
        """
        CREATE TABLE progression (
            export_name TEXT PRIMARY KEY,
            committed_mode TEXT,
            committed_value TEXT,
            committed_at TEXT,
            verified_mode TEXT,
            verified_value TEXT,
            verified_at TEXT
        )
        """,
    ),  # 7: workers (`rivet apply --worker`): which plan a chunk run belongs to, where it stages,
    # the source it reads (for the readers' budget across workers), who publishes it, and each
    # task's lease (the worker holding it, its lock key and since when)
    (
        "ALTER TABLE chunk_run ADD COLUMN plan_id TEXT",
        "ALTER TABLE chunk_run ADD COLUMN host TEXT",
        "ALTER TABLE chunk_run ADD COLUMN source_key TEXT",
        "ALTER TABLE chunk_run ADD COLUMN max_readers INTEGER",
        "ALTER TABLE chunk_run ADD COLUMN publisher TEXT",
        "ALTER TABLE chunk_run ADD COLUMN publisher_key BIGINT",
        "ALTER TABLE chunk_task ADD COLUMN lease_owner TEXT",
        "ALTER TABLE chunk_task ADD COLUMN lease_key BIGINT",
        "ALTER TABLE chunk_task ADD COLUMN leased_at TEXT",
    ),
)


@dataclass(frozen=True)
class CursorState:
    export_name: str
    cursor_value: str | None
    position: tuple[str, ...] | None  # (cursor, key...) text values of the last exported row
    position_columns: tuple[str, ...]
    run_id: str | None
    updated_at: str | None
    # which export stored it: {"config": file name, "table": ...}; None before rivet kept it
    owner: dict[str, str] | None = None
    # imported from rivet-cli 0.7.7: the value alone, compared strictly (`cursor > value`)
    imported: bool = False


class _SQLite:
    """One connection shared by the threads of a run (parallel chunk workers), one at a time.
    Its errors become StateError, naming the file."""

    def __init__(self, path: Path | str) -> None:
        self.where = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._translated():
            return self._db.execute(sql, params).fetchall()

    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock, self._translated():
            return self._db.execute(sql, params).rowcount

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock, self._translated():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreUnavailable(
                f"state store {self.where}: {exc}",
                hint="check the disk and permissions of the state file",
            ) from None


class _Postgres:
    """One session (application_name rivet-state). A session lost between statements (a
    terminated backend, a restart) is opened again once: every statement rivet sends outside
    `locked` is an idempotent upsert, update or read. Other errors become StateError."""

    def __init__(self, url: str) -> None:
        self.where = redact(url)
        self._url = url
        self._lock = threading.RLock()
        self._db = self._connect()

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            self._url,
            autocommit=True,
            connect_timeout=10,
            prepare_threshold=None,
            application_name="rivet-state",
        )

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            rows: list[tuple[Any, ...]] = self._again(
                lambda: self._db.execute(sql.replace("?", "%s"), params).fetchall()
            )
            return rows

    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            count: int = self._again(
                lambda: self._db.execute(sql.replace("?", "%s"), params).rowcount
            )
            return count

    @contextmanager
    def locked(self) -> Iterator[None]:
        import psycopg

        with self._lock:
            try:
                with self._db.transaction():
                    self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    yield
            except psycopg.Error as exc:
                raise self._error(exc) from None

    def close(self) -> None:
        self._db.close()

    def _again(self, action: Any) -> Any:
        import psycopg

        try:
            return action()
        except psycopg.OperationalError as exc:
            if not self._db.closed and not self._db.broken:
                raise self._error(exc) from None
            try:  # the session was lost: once more on a new one
                self._db = self._connect()
                return action()
            except psycopg.Error as again:
                raise self._error(again) from None
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> StateError:
        return StoreUnavailable(
            f"state store {self.where}: {redact(' '.join(str(exc).split()))}",
            hint="check that the state database (RIVET_STATE_URL) is reachable and accepts "
            "this user",
        )


class StateStore:
    def __init__(self, backend: Backend) -> None:
        self._db = backend
        self.where = backend.where
        self._migrate()
        self.chunks = ChunkRuns(backend)
        self.runs = RunLog(backend)
        self.schemas = SchemaLog(backend)
        self.journal = Journal(backend)
        self.files = FileLog(backend)
        self.windows = CursorWindows(backend)
        self.progression = Progression(backend)

    def close(self) -> None:
        self._db.close()

    def cursor(self, export: str) -> CursorState | None:
        found = self._db.rows(
            "SELECT last_cursor_value, position_json, last_run_id, last_run_at "
            "FROM export_state WHERE export_name = ?",
            (export,),
        )
        if not found:
            return None
        value, position_json, run_id, updated_at = found[0]
        stored = json.loads(position_json) if position_json else {}
        position = stored.get("values")
        return CursorState(
            export,
            value,
            tuple(position) if position else None,
            tuple(stored.get("columns", ())),
            run_id,
            updated_at,
            stored.get("owner"),
            bool(stored.get("imported")),
        )

    def save_cursor(
        self,
        export: str,
        columns: tuple[str, ...],
        position: tuple[str, ...],
        run_id: str,
        owner: Mapping[str, str] | None = None,
    ) -> None:
        """Store the position of the last exported row, and which export it belongs to (the
        owner is kept in the position's JSON: the table stays as rivet-cli 0.7.7 has it)."""
        stored = {"columns": list(columns), "values": list(position)}
        payload = json.dumps({**stored, "owner": dict(owner)} if owner else stored)
        self._db.change(
            "INSERT INTO export_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (export_name) DO UPDATE "
            "SET last_cursor_value = excluded.last_cursor_value, position_json = "
            "excluded.position_json, last_run_id = excluded.last_run_id, "
            "last_run_at = excluded.last_run_at",
            (export, position[0], payload, run_id, datetime.now(UTC).isoformat()),
        )

    def cursors(self) -> list[CursorState]:
        names = [
            r[0] for r in self._db.rows("SELECT export_name FROM export_state ORDER BY export_name")
        ]
        return [c for c in (self.cursor(n) for n in names) if c is not None]

    def adopt(self, export: str, owner: Mapping[str, str]) -> bool:
        """Bind an export's stored cursor to another owner (a renamed config). True if one
        existed."""
        found = self._db.rows(
            "SELECT position_json FROM export_state WHERE export_name = ?", (export,)
        )
        if not found:
            return False
        stored = json.loads(found[0][0]) if found[0][0] else {}
        stored["owner"] = dict(owner)
        self._db.change(
            "UPDATE export_state SET position_json = ? WHERE export_name = ?",
            (json.dumps(stored), export),
        )
        return True

    def reset(self, export: str) -> bool:
        self.windows.reset(export)
        return self._db.change("DELETE FROM export_state WHERE export_name = ?", (export,)) > 0

    def _migrate(self) -> None:
        with self._db.locked():
            legacy = self._set_aside_077_tables() if isinstance(self._db, _Postgres) else None
            self._db.change("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            current = self._db.rows("SELECT max(version) FROM schema_version")[0][0] or 0
            if current > len(MIGRATIONS):
                raise StateError(
                    f"state store {self.where} has schema version {current}, newer than this "
                    f"rivet knows ({len(MIGRATIONS)})",
                    hint="upgrade rivet (pip install -U rivet-extract); the state was not changed",
                )
            for number, statements in enumerate(MIGRATIONS[current:], start=current + 1):
                for ddl in statements:
                    self._db.change(ddl)
                self._db.change("INSERT INTO schema_version VALUES (?)", (number,))
            if legacy is not None:
                copy_state(legacy, self._db.change)
                log.warning(
                    "imported the rivet-cli 0.7.7 state in %s (cursors, run metrics, file "
                    "log); its tables are kept, renamed %s<table>",
                    self.where,
                    LEGACY_PREFIX,
                )

    def _set_aside_077_tables(self) -> Tables | None:
        """A PostgreSQL state database written by rivet-cli 0.7.7: its tables (and their
        indexes) are renamed `rivet077_<name>` in this transaction, so that rivet's schema can
        be built beside them and their rows imported, all or nothing. None when not 0.7.7's."""
        db = self._db
        here = "table_schema = current_schema()"

        def columns(table: str) -> set[str]:
            found = db.rows(
                f"SELECT column_name FROM information_schema.columns WHERE {here} "
                "AND table_name = ?",
                (table,),
            )
            return {str(r[0]) for r in found}

        state_columns = columns("export_state")
        if not state_columns or "position_json" in state_columns:
            return None
        names = {
            str(r[0])
            for r in db.rows(f"SELECT table_name FROM information_schema.tables WHERE {here}")
        }
        current = Tables(db.rows, names, columns)
        run = unresumable_chunk_run(current)
        if run is not None:
            raise refusal(self.where, run, "the database was not changed")
        ours = [t for t in LEGACY_TABLES if t in names]
        indexes = db.rows(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(?)",
            (ours,),
        )
        for (index,) in indexes:
            db.change(f'ALTER INDEX "{index}" RENAME TO "{LEGACY_PREFIX}{index}"')
        for table in ours:
            db.change(f'ALTER TABLE "{table}" RENAME TO "{LEGACY_PREFIX}{table}"')
        return Tables(
            db.rows,
            {LEGACY_PREFIX + t for t in ours},
            columns,
            LEGACY_PREFIX,
        )


def memory_state() -> StateStore:
    """A private in-memory store: the chunk ledger of a run that does not checkpoint."""
    return StateStore(_SQLite(":memory:"))


def open_state(config_dir: Path) -> StateStore:
    """PostgreSQL when RIVET_STATE_URL is set (tables created on first use), else SQLite."""
    url = os.environ.get("RIVET_STATE_URL")
    if url:
        if not url.startswith(("postgres://", "postgresql://")):
            raise StateError("RIVET_STATE_URL must be a postgresql:// URL")
        try:
            return StateStore(_Postgres(url))
        except StateError:
            raise
        except Exception as exc:  # psycopg: the state database is unreachable or refused us
            raise StateError(
                f"state store {redact(url)} cannot be opened: {redact(str(exc).strip())}",
                hint="check RIVET_STATE_URL, or unset it to use the SQLite file next to the config",
            ) from None
    path = config_dir / STATE_FILE
    try:
        if is_legacy(path):
            backup = import_legacy(path, lambda fresh: StateStore(_SQLite(fresh)))
            log.warning(
                "imported the rivet-cli 0.7.7 state in %s (cursors, run metrics, file log); "
                "the original is kept as %s",
                path,
                backup,
            )
        return StateStore(_SQLite(path))
    except (sqlite3.Error, StoreUnavailable) as exc:
        raise _sqlite_error(path, exc) from None


def _sqlite_error(path: Path, exc: Exception) -> StateError:
    """Why the state file cannot be opened, and what to do that risks no cursor."""
    cause = exc.message if isinstance(exc, StateError) else str(exc)
    if not path.exists():
        return StateError(
            f"state store '{path}' cannot be created: {cause}",
            hint=f"rivet keeps its state next to the config: make {path.parent} writable, or "
            "set RIVET_STATE_URL to a PostgreSQL database",
        )
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        return StateError(
            f"state store '{path}' cannot be opened for writing: {cause}",
            hint=f"make the file and {path.parent} writable by this user (SQLite writes a "
            "journal beside it); the state in it was not changed",
        )
    return StateError(
        f"state store '{path}' cannot be opened: {cause}",
        hint="the file holds the cursors and checkpoints of these exports: keep a copy; "
        "restore it from a backup, or (the next runs then start from the beginning) move it "
        "aside",
    )
