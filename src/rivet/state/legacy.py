"""Reading a rivet-cli 0.7.7 state file (its migrations v1-v8) on first use.

0.7.7 keeps one cursor value per export (`export_state.last_cursor_value`, compared strictly:
`cursor > value`), run metrics and a file log, in tables of the same names as rivet's but other
columns. The first rivet that opens such a file copies it to `<file>.rivet-cli-0.7.7.bak`,
builds rivet's schema in a new file beside it, imports the cursors, metrics and file log, and
then replaces the original with the new file in one rename: a crash at any point leaves either
the untouched 0.7.7 file or the imported one, never half of each.

An imported cursor keeps 0.7.7's strict comparison for its first run (no position columns, no
identities of the rows at its value): that run reads exactly the rows 0.7.7 would have read
next, so nothing is exported twice and nothing is skipped that 0.7.7 would have read. From then
on the cursor is rivet's (position, boundary re-read).

An unfinished 0.7.7 chunk run of integer ranges is imported as an unfinished rivet chunk run:
its chunks (0.7.7's inclusive `[start, end]` as `[start, end + 1)`), the files of its completed
chunks (already at the destination: adopted on `--resume`, see pipeline/chunks_077.py), and one
more chunk for the rows whose chunk column is NULL (0.7.7 never exported those). A run of other
keys (0.7.7's day windows) cannot be continued: it is refused, not dropped.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rivet.state.errors import StateError

BACKUP_SUFFIX = ".rivet-cli-0.7.7.bak"
IMPORTED = "rivet-cli 0.7.7"
IMPORTED_PLAN = "rivet-cli-0.7.7:"  # an imported chunk run's plan hash: this, then 0.7.7's
IMPORTED_FOLDER = "rivet-cli-0.7.7"  # an imported part's staged path (never there): adopted


def is_legacy(path: Path) -> bool:
    """A 0.7.7 file: `export_state` without rivet's `position_json` column."""
    if not path.is_file():
        return False
    with closing(_read_only(path)) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(export_state)")]
    return bool(columns) and "position_json" not in columns


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def import_legacy(path: Path, create: Callable[[Path], Any]) -> Path:
    """Replace the 0.7.7 file at `path` by a rivet store holding its state; `create(path)`
    opens (and so migrates) a new rivet store there. Returns the backup's path."""
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    fresh = path.with_name(path.name + ".importing")
    fresh.unlink(missing_ok=True)
    with closing(_read_only(path)) as peek:
        _refuse_unfinished_chunk_runs(peek, path)
    with closing(sqlite3.connect(path, timeout=10)) as old:
        # One file, no write-ahead log beside it: the backup and the replacement below are
        # then each one whole file. A busy checkpoint means 0.7.7 is still using it.
        busy = old.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy and busy[0]:
            raise StateError(
                f"state store '{path}' is in use by another process (is rivet-cli 0.7.7 still "
                "running?); it was not changed",
                hint="let that run finish, then run rivet again",
            )
        old.execute("PRAGMA journal_mode=DELETE")
        if not backup.exists():
            with closing(sqlite3.connect(backup)) as copy:
                old.backup(copy)
        create(fresh).close()
        with closing(sqlite3.connect(fresh)) as new, new:
            copy_state(_sqlite_tables(old), new.execute)
        with closing(sqlite3.connect(fresh)) as new:  # fold its WAL into the file
            new.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # The 0.7.7 file is one file now (no log beside it): the new one takes its place in one
    # rename.
    for suffix in ("-wal", "-shm"):
        Path(str(fresh) + suffix).unlink(missing_ok=True)
    os.replace(fresh, path)
    return backup


@dataclass(frozen=True)
class Tables:
    """The 0.7.7 tables to read: their names (with `prefix` once renamed) and columns."""

    rows: Callable[[str], list[tuple[Any, ...]]]
    names: set[str]
    columns: Callable[[str], set[str]]
    prefix: str = ""

    def has(self, table: str) -> bool:
        return self.prefix + table in self.names

    def select(self, table: str, wanted: Sequence[tuple[str, str]]) -> list[tuple[Any, ...]]:
        """The `wanted` (column, default SQL) of every row, the default where 0.7.7 lacked it."""
        present = self.columns(self.prefix + table)
        selected = ", ".join(c if c in present else d for c, d in wanted)
        return self.rows(f"SELECT {selected} FROM {self.prefix}{table}")


def _sqlite_tables(db: sqlite3.Connection) -> Tables:
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return Tables(
        lambda sql: db.execute(sql).fetchall(),
        names,
        lambda table: {row[1] for row in db.execute(f"PRAGMA table_info({table})")},
    )


Write = Callable[[str, Sequence[Any]], Any]


_RUN = [("run_id", "NULL"), ("export_name", "NULL"), ("plan_hash", "''"),
        ("max_chunk_attempts", "3"), ("created_at", "''")]  # fmt: skip
_TASK = [("run_id", "NULL"), ("chunk_index", "0"), ("start_key", "NULL"), ("end_key", "NULL"),
         ("status", "'pending'"), ("attempts", "0"), ("rows_written", "NULL"),
         ("file_name", "NULL")]  # fmt: skip


def _unfinished_runs(old: Tables) -> list[tuple[Any, ...]]:
    if not old.has("chunk_run") or not old.has("chunk_task"):
        return []
    return [
        row
        for row in old.select("chunk_run", [*_RUN, ("status", "''")])
        if row[-1] == "in_progress"
    ]


def _tasks(old: Tables, run_id: str) -> list[tuple[Any, ...]]:
    return sorted(row for row in old.select("chunk_task", _TASK) if row[0] == run_id)


def _integer(text: Any) -> bool:
    try:
        int(str(text))
    except ValueError:
        return False
    return True


def unresumable_chunk_run(old: Tables) -> tuple[str, str] | None:
    """(export, run id) of an unfinished 0.7.7 chunk run rivet cannot continue: not integers."""
    for run in _unfinished_runs(old):
        tasks = _tasks(old, run[0])
        if not all(_integer(t[2]) and _integer(t[3]) for t in tasks):
            return str(run[1]), str(run[0])
    return None


def refusal(where: str, run: tuple[str, str], changed: str) -> StateError:
    export, run_id = run
    return StateError(
        f"state store {where} was written by rivet-cli 0.7.7 and holds its unfinished chunk "
        f"run {run_id} of export '{export}', whose chunks are not integer ranges (day windows): "
        f"rivet cannot continue it; {changed}",
        hint="finish that run with rivet-cli 0.7.7 (`rivet run --resume`) before switching, "
        "or drop it there (`rivet state reset-chunks`) and let rivet export it again",
    )


def _refuse_unfinished_chunk_runs(db: sqlite3.Connection, path: Path) -> None:
    run = unresumable_chunk_run(_sqlite_tables(db))
    if run is not None:
        raise refusal(f"'{path}'", run, "the file was not changed")


def copy_state(old: Tables, write: Write) -> None:
    """0.7.7's cursors, run metrics, file log and unfinished chunk runs into rivet's tables."""
    _copy_unfinished_chunk_runs(old, write)
    for name, value, at in old.select(
        "export_state", [("export_name", "NULL"), ("last_cursor_value", "NULL"),
                         ("last_run_at", "NULL")]
    ):  # fmt: skip
        if value is None:
            continue
        position = {"columns": [], "values": [value], "imported": IMPORTED}
        write(
            "INSERT INTO export_state VALUES (?, ?, ?, ?, ?)",
            (name, value, json.dumps(position), None, at),
        )
    if old.has("export_metrics"):
        wanted = [("id", "0"), ("export_name", "NULL"), ("run_at", "NULL"),
                  ("duration_ms", "0"), ("total_rows", "0"), ("peak_rss_mb", "NULL"),
                  ("status", "'success'"), ("error_message", "NULL"), ("mode", "'full'"),
                  ("files_produced", "0"), ("bytes_written", "0"), ("run_id", "NULL")]  # fmt: skip
        for row in old.select("export_metrics", wanted):
            id_, name, run_at, duration, total, rss, status, error, mode, files, size, run = row
            write(
                "INSERT INTO export_metrics (run_id, export_name, mode, status, total_rows, "
                "files_produced, bytes_written, duration_ms, peak_rss_mb, error_message, "
                "started_at, finished_at, details_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (run or f"{name}_imported_{id_}", name, mode or "full",
                 str(status or "success").lower(), int(total or 0), int(files or 0),
                 int(size or 0), int(duration or 0), rss, error, run_at or "", run_at,
                 json.dumps({"imported": IMPORTED})),
            )  # fmt: skip
    table = next((t for t in ("file_log", "file_manifest") if old.has(t)), None)
    if table is not None:
        wanted = [("id", "0"), ("run_id", "NULL"), ("export_name", "NULL"),
                  ("file_name", "NULL"), ("row_count", "0"), ("bytes", "0"),
                  ("created_at", "NULL")]  # fmt: skip
        for id_, run, name, file_name, count, size, at in old.select(table, wanted):
            write(
                "INSERT INTO file_log VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (run or f"{name}_imported_{id_}", name, file_name, int(count or 0),
                 int(size or 0), "", at or ""),
            )  # fmt: skip


def _copy_unfinished_chunk_runs(old: Tables, write: Write) -> None:
    for run_id, export, plan_hash, attempts, created, _ in _unfinished_runs(old):
        write(
            "INSERT INTO chunk_run (run_id, export_name, plan_hash, status, max_attempts, "
            "created_at, updated_at) VALUES (?, ?, ?, 'in_progress', ?, ?, ?)",
            (run_id, export, IMPORTED_PLAN + str(plan_hash), int(attempts or 3),
             created or "", created or ""),
        )  # fmt: skip
        last = -1
        for _, index, start, end, status, tries, rows, file_name in _tasks(old, run_id):
            done = status == "completed"
            parts = [{"name": file_name, "staged": f"{IMPORTED_FOLDER}/{file_name}",
                      "rows": int(rows or 0), "bytes": None, "fingerprint": None,
                      "imported": IMPORTED}] if done and file_name else []  # fmt: skip
            write(
                "INSERT INTO chunk_task (run_id, chunk_index, start_key, end_key, is_null, "
                "status, attempts, last_error, rows_written, parts_json, updated_at) "
                "VALUES (?, ?, ?, ?, 0, ?, ?, NULL, ?, ?, ?)",
                (run_id, int(index), str(int(start)), str(int(end) + 1),
                 "completed" if done else "pending", int(tries or 0) if done else 0,
                 int(rows or 0) if done else None, json.dumps(parts) if done else None,
                 created or ""),
            )  # fmt: skip
            last = max(last, int(index))
        write(  # the rows 0.7.7 never read: those whose chunk column is NULL
            "INSERT INTO chunk_task (run_id, chunk_index, start_key, end_key, is_null, status, "
            "attempts, last_error, rows_written, parts_json, updated_at) "
            "VALUES (?, ?, NULL, NULL, 1, 'pending', 0, NULL, NULL, NULL, ?)",
            (run_id, last + 1, created or ""),
        )
