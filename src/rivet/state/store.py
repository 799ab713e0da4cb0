"""The state store: one SQLite file (WAL) next to the config.

Schema changes are numbered migrations, applied once, in order, inside one IMMEDIATE
transaction (so two rivet processes opening a new file cannot both migrate it). A cursor is
written only after the run's parts, manifest and `_SUCCESS` are published.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rivet.core.errors import RivetError

STATE_FILE = ".rivet_state.db"
MIGRATIONS = (
    # 1: the reference's export_state, plus the full keyset position of the last exported row
    """
    CREATE TABLE export_state (
        export_name TEXT PRIMARY KEY,
        last_cursor_value TEXT,
        position_json TEXT,
        last_run_id TEXT,
        last_run_at TEXT
    )
    """,
)


class StateError(RivetError):
    """The state store cannot be opened, migrated or written."""


@dataclass(frozen=True)
class CursorState:
    export_name: str
    cursor_value: str | None
    position: tuple[str, ...] | None  # (cursor, key...) text values of the last exported row
    position_columns: tuple[str, ...]
    run_id: str | None
    updated_at: str | None


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=10, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"state store '{path}' cannot be opened: {exc}",
                hint="move the file away to start with fresh state (cursors will restart)",
            ) from None

    def close(self) -> None:
        self._db.close()

    def cursor(self, export: str) -> CursorState | None:
        row = self._db.execute(
            "SELECT last_cursor_value, position_json, last_run_id, last_run_at "
            "FROM export_state WHERE export_name = ?",
            (export,),
        ).fetchone()
        if row is None:
            return None
        stored = json.loads(row[1]) if row[1] else {}
        position = stored.get("values")
        return CursorState(
            export,
            row[0],
            tuple(position) if position else None,
            tuple(stored.get("columns", ())),
            row[2],
            row[3],
        )

    def save_cursor(
        self, export: str, columns: tuple[str, ...], position: tuple[str, ...], run_id: str
    ) -> None:
        payload = json.dumps({"columns": list(columns), "values": list(position)})
        self._db.execute(
            "INSERT INTO export_state VALUES (?, ?, ?, ?, ?) ON CONFLICT (export_name) DO UPDATE "
            "SET last_cursor_value = excluded.last_cursor_value, position_json = "
            "excluded.position_json, last_run_id = excluded.last_run_id, "
            "last_run_at = excluded.last_run_at",
            (export, position[0], payload, run_id, datetime.now(UTC).isoformat()),
        )

    def cursors(self) -> list[CursorState]:
        names = [
            r[0]
            for r in self._db.execute("SELECT export_name FROM export_state ORDER BY export_name")
        ]
        return [c for c in (self.cursor(n) for n in names) if c is not None]

    def reset(self, export: str) -> bool:
        return (
            self._db.execute("DELETE FROM export_state WHERE export_name = ?", (export,)).rowcount
            > 0
        )

    def _migrate(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for number, ddl in enumerate(MIGRATIONS[current:], start=current + 1):
                self._db.execute(ddl)
                self._db.execute("INSERT INTO schema_version VALUES (?)", (number,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise


def open_state(config_dir: Path) -> StateStore:
    """SQLite next to the config. A PostgreSQL backend (RIVET_STATE_URL) is not built yet."""
    if os.environ.get("RIVET_STATE_URL"):
        raise StateError(
            "RIVET_STATE_URL is set, but the PostgreSQL state backend is not available in this "
            "version of rivet yet",
            hint="unset RIVET_STATE_URL to use the SQLite state file next to the config",
        )
    return StateStore(config_dir / STATE_FILE)
