"""What runs leave behind besides cursors: schemas and column shapes (for drift), the run
journal, and the log of published files."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rivet.state.backend import Backend


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SchemaLog:
    """schema_history (the columns of each successful run) and column_shape (running max byte
    width of each text/binary column)."""

    def __init__(self, db: Backend) -> None:
        self._db = db

    def latest(self, export: str) -> list[tuple[str, str]] | None:
        found = self._db.rows(
            "SELECT columns_json FROM schema_history WHERE export_name = ? "
            "ORDER BY recorded_at DESC LIMIT 1",
            (export,),
        )
        return [(c[0], c[1]) for c in json.loads(found[0][0])] if found else None

    def record(self, export: str, run_id: str, columns: Sequence[tuple[str, str]]) -> None:
        with self._db.locked():
            self._db.change(
                "DELETE FROM schema_history WHERE export_name = ? AND run_id = ?", (export, run_id)
            )
            self._db.change(
                "INSERT INTO schema_history VALUES (?, ?, ?, ?)",
                (export, run_id, _now(), json.dumps([list(c) for c in columns])),
            )

    def shapes(self, export: str) -> dict[str, int]:
        rows = self._db.rows(
            "SELECT column_name, max_bytes FROM column_shape WHERE export_name = ?", (export,)
        )
        return {name: int(width) for name, width in rows}

    def record_shapes(self, export: str, run_id: str, widths: Mapping[str, int]) -> None:
        """Keep each column's running maximum."""
        known = self.shapes(export)
        with self._db.locked():
            for column, width in widths.items():
                if column in known and known[column] >= width:
                    continue
                self._db.change(
                    "DELETE FROM column_shape WHERE export_name = ? AND column_name = ?",
                    (export, column),
                )
                self._db.change(
                    "INSERT INTO column_shape VALUES (?, ?, ?, ?)", (export, column, width, run_id)
                )


@dataclass(frozen=True)
class JournalEntry:
    run_id: str
    export_name: str
    finished_at: str
    journal: dict[str, Any]


class Journal:
    """run_journal: one JSON document per run (its events, in order)."""

    def __init__(self, db: Backend) -> None:
        self._db = db

    def record(self, run_id: str, export: str, journal: Mapping[str, Any]) -> None:
        with self._db.locked():
            self._db.change("DELETE FROM run_journal WHERE run_id = ?", (run_id,))
            self._db.change(
                "INSERT INTO run_journal VALUES (?, ?, ?, ?)",
                (run_id, export, _now(), json.dumps(journal)),
            )

    def recent(self, export: str, limit: int = 5, run_id: str | None = None) -> list[JournalEntry]:
        if run_id is not None:
            rows = self._db.rows(
                "SELECT run_id, export_name, finished_at, journal_json FROM run_journal "
                "WHERE export_name = ? AND run_id = ?",
                (export, run_id),
            )
        else:
            rows = self._db.rows(
                "SELECT run_id, export_name, finished_at, journal_json FROM run_journal "
                "WHERE export_name = ? ORDER BY finished_at DESC LIMIT ?",
                (export, limit),
            )
        return [JournalEntry(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


@dataclass(frozen=True)
class FileRecord:
    run_id: str
    export_name: str
    file_name: str
    rows: int
    bytes: int
    fingerprint: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FileLog:
    """file_log: every part a run published."""

    def __init__(self, db: Backend) -> None:
        self._db = db

    def record(self, records: Sequence[FileRecord]) -> None:
        with self._db.locked():
            for r in records:
                self._db.change(
                    "DELETE FROM file_log WHERE run_id = ? AND file_name = ?",
                    (r.run_id, r.file_name),
                )
                self._db.change(
                    "INSERT INTO file_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                    tuple(r.__dict__.values()),
                )

    def recent(self, export: str | None = None, limit: int = 50) -> list[FileRecord]:
        where, params = ("WHERE export_name = ?", (export,)) if export else ("", ())
        rows = self._db.rows(
            f"SELECT run_id, export_name, file_name, row_count, bytes, fingerprint, created_at "
            f"FROM file_log {where} ORDER BY created_at DESC, file_name DESC LIMIT ?",
            (*params, limit),
        )
        return [FileRecord(*row) for row in rows]
