"""progression: per export, how far it is committed (published: the cursor, the last chunk run or
the last run) and how far it is verified (a reconcile that matched the source)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rivet.state.backend import Backend


@dataclass(frozen=True)
class Progress:
    export_name: str
    committed_mode: str | None
    committed: str | None
    committed_at: str | None
    verified_mode: str | None
    verified: str | None
    verified_at: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Progression:
    def __init__(self, db: Backend) -> None:
        self._db = db

    def commit(self, export: str, mode: str, value: str) -> None:
        self._set(export, "committed", mode, value)

    def verify(self, export: str, mode: str, value: str) -> None:
        self._set(export, "verified", mode, value)

    def all(self, export: str | None = None) -> list[Progress]:
        where, params = ("WHERE export_name = ?", (export,)) if export else ("", ())
        rows = self._db.rows(
            "SELECT export_name, committed_mode, committed_value, committed_at, verified_mode, "
            f"verified_value, verified_at FROM progression {where} ORDER BY export_name",
            params,
        )
        return [Progress(*row) for row in rows]

    def _set(self, export: str, kind: str, mode: str, value: str) -> None:
        now = datetime.now(UTC).isoformat()
        with self._db.locked():
            if not self._db.rows("SELECT 1 FROM progression WHERE export_name = ?", (export,)):
                self._db.change("INSERT INTO progression (export_name) VALUES (?)", (export,))
            self._db.change(
                f"UPDATE progression SET {kind}_mode = ?, {kind}_value = ?, {kind}_at = ? "
                "WHERE export_name = ?",
                (mode, value, now, export),
            )
