"""A state file as rivet-cli 0.7.7 leaves it: its schema v8 (../shared/spec/reference.md,
section 6.2) and rows that 0.7.7 writes (cursor values rendered as 0.7.7 renders them)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

SCHEMA_V8 = [
    "CREATE TABLE schema_version (version INTEGER)",
    "CREATE TABLE export_state (export_name TEXT PRIMARY KEY, last_cursor_value TEXT, "
    "last_run_at TEXT)",
    "CREATE TABLE export_metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, export_name TEXT, "
    "run_at TEXT, duration_ms INTEGER, total_rows INTEGER, peak_rss_mb INTEGER, status TEXT, "
    "error_message TEXT, tuning_profile TEXT, format TEXT, mode TEXT, files_produced INTEGER "
    "DEFAULT 0, bytes_written INTEGER DEFAULT 0, retries INTEGER DEFAULT 0, validated INTEGER, "
    "schema_changed INTEGER, run_id TEXT)",
    "CREATE TABLE export_schema (export_name TEXT PRIMARY KEY, columns_json TEXT, updated_at TEXT)",
    "CREATE TABLE file_log (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, export_name TEXT, "
    "file_name TEXT, row_count INTEGER, bytes INTEGER, format TEXT, compression TEXT, "
    "created_at TEXT)",
    "CREATE INDEX idx_file_log_export ON file_log (export_name, id DESC)",
    "CREATE TABLE chunk_run (run_id TEXT PRIMARY KEY, export_name TEXT, plan_hash TEXT, "
    "status TEXT, max_chunk_attempts INTEGER DEFAULT 3, created_at TEXT, updated_at TEXT)",
    "CREATE TABLE chunk_task (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, chunk_index "
    "INTEGER, start_key TEXT, end_key TEXT, status TEXT, attempts INTEGER DEFAULT 0, last_error "
    "TEXT, rows_written INTEGER, file_name TEXT, updated_at TEXT, UNIQUE(run_id, chunk_index))",
    "CREATE TABLE export_progression (export_name TEXT PRIMARY KEY, last_committed_strategy "
    "TEXT, last_committed_cursor TEXT, last_committed_chunk_index INTEGER, "
    "last_committed_run_id TEXT, last_committed_at TEXT, last_verified_strategy TEXT, "
    "last_verified_cursor TEXT, last_verified_chunk_index INTEGER, last_verified_run_id TEXT, "
    "last_verified_at TEXT)",
    "CREATE TABLE run_aggregate (run_aggregate_id TEXT PRIMARY KEY, started_at TEXT, "
    "finished_at TEXT, duration_ms INTEGER, config_path TEXT, parallel_mode TEXT, total_exports "
    "INTEGER, success_count INTEGER, failed_count INTEGER, skipped_count INTEGER, total_rows "
    "INTEGER, total_files INTEGER, total_bytes INTEGER, details_json TEXT)",
    "CREATE TABLE export_shape (export_name TEXT, column_name TEXT, max_byte_len INTEGER, "
    "updated_at TEXT, PRIMARY KEY (export_name, column_name))",
    "CREATE TABLE run_journal (run_id TEXT PRIMARY KEY, export_name TEXT, finished_at TEXT, "
    "journal_json TEXT)",
]


def write_077_state(
    path: Path, cursors: dict[str, str], unfinished_chunk_run: str | None = None
) -> None:
    """A 0.7.7 state file: schema v8, one cursor and one successful run per export."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA journal_mode=WAL")
        for ddl in SCHEMA_V8:
            db.execute(ddl)
        db.execute("INSERT INTO schema_version VALUES (8)")
        for export, value in cursors.items():
            at = "2026-11-30T02:00:00.123456+00:00"
            run_id = f"{export}_20261130T020000"
            db.execute("INSERT INTO export_state VALUES (?, ?, ?)", (export, value, at))
            db.execute(
                "INSERT INTO export_metrics (export_name, run_at, duration_ms, total_rows, "
                "peak_rss_mb, status, tuning_profile, format, mode, files_produced, "
                "bytes_written, run_id) VALUES (?, ?, 812, 60, 45, 'success', 'balanced', "
                "'parquet', 'incremental', 1, 4096, ?)",
                (export, at, run_id),
            )
            db.execute(
                "INSERT INTO file_log (run_id, export_name, file_name, row_count, bytes, format, "
                "compression, created_at) VALUES (?, ?, ?, 60, 4096, 'parquet', 'zstd', ?)",
                (run_id, export, f"{export}_20261130_020000.parquet", at),
            )
        if unfinished_chunk_run is not None:  # of day windows, which rivet cannot continue
            export = next(iter(cursors))
            days: list[Task077] = [
                (0, "2026-01-01", "2026-01-30", "completed", 5, "f.parquet"),
                (1, "2026-01-31", "2026-03-01", "pending", None, None),
            ]
            write_077_chunk_run(db, export, unfinished_chunk_run, "h", days)


Task077 = tuple[int, str, str, str, int | None, str | None]  # index, start, end, status, rows, file


def write_077_chunk_run(
    db: sqlite3.Connection, export: str, run_id: str, plan_hash: str, tasks: list[Task077]
) -> None:
    """An in-progress 0.7.7 chunk run: keys inclusive, a completed task names its file."""
    at = "2026-11-30T01:00:00.000000+00:00"
    db.execute(
        "INSERT INTO chunk_run VALUES (?, ?, ?, 'in_progress', 3, ?, ?)",
        (run_id, export, plan_hash, at, at),
    )
    for index, start, end, status, rows, file_name in tasks:
        db.execute(
            "INSERT INTO chunk_task (run_id, chunk_index, start_key, end_key, status, attempts, "
            "rows_written, file_name, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, index, start, end, status, int(status != "pending"), rows, file_name, at),
        )


def write_077_postgres_state(conn: Any, cursors: dict[str, str]) -> None:
    """The same on a PostgreSQL state database (0.7.7: BIGSERIAL ids, `rivet_schema_version`),
    in the connection's current schema."""
    for ddl in SCHEMA_V8:
        ddl = ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
        conn.execute(ddl.replace("TABLE schema_version", "TABLE rivet_schema_version"))
    conn.execute("INSERT INTO rivet_schema_version VALUES (8)")
    for export, value in cursors.items():
        at = "2026-11-30T02:00:00.123456+00:00"
        conn.execute("INSERT INTO export_state VALUES (%s, %s, %s)", (export, value, at))
        conn.execute(
            "INSERT INTO export_metrics (export_name, run_at, duration_ms, total_rows, status, "
            "mode, files_produced, bytes_written, run_id) VALUES (%s, %s, 812, 60, 'success', "
            "'incremental', 1, 4096, %s)",
            (export, at, f"{export}_20261130T020000"),
        )
