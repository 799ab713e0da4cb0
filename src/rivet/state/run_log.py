"""export_metrics: one row per export run (outcome, rows, bytes, time, memory, and the trust
checks: retries, validation, quality, schema drift, reconcile)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rivet.state.backend import Backend

_COLUMNS = (
    "run_id, export_name, mode, status, total_rows, files_produced, bytes_written, duration_ms, "
    "peak_rss_mb, error_message, started_at, finished_at, details_json"
)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    export_name: str
    mode: str
    status: str
    rows: int
    files: int
    bytes: int
    duration_ms: int
    peak_rss_mb: float | None
    error: str | None
    started_at: str
    finished_at: str | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class RunLog:
    def __init__(self, db: Backend) -> None:
        self._db = db

    def record(self, run: RunRecord) -> None:
        """Insert or (for a resumed chunk run, which keeps its run id) replace a run's row."""
        values = (*tuple(run.__dict__.values())[:-1], json.dumps(run.details))
        with self._db.locked():
            self._db.change("DELETE FROM export_metrics WHERE run_id = ?", (run.run_id,))
            self._db.change(
                f"INSERT INTO export_metrics ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                values,
            )

    def recent(self, export: str | None = None, limit: int = 20) -> list[RunRecord]:
        where, params = ("WHERE export_name = ?", (export,)) if export else ("", ())
        rows = self._db.rows(
            f"SELECT {_COLUMNS} FROM export_metrics {where} ORDER BY started_at DESC LIMIT ?",
            (*params, limit),
        )
        return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> RunRecord:
    *values, details = row
    record = RunRecord(*values)
    record.details.update(json.loads(details or "{}"))
    return record
