"""What a finished run leaves in the state store: its metrics row, its journal, the files it
published and the export's progression. A state store that fails here costs a warning only."""

from __future__ import annotations

import logging

from rivet.report.model import ExportResult
from rivet.state import StateStore
from rivet.state.history import FileRecord
from rivet.state.run_log import RunRecord

log = logging.getLogger(__name__)


def record_run(state: StateStore, result: ExportResult) -> None:
    """The run's row in export_metrics, its journal and its files; a state store that fails here
    only costs a warning."""
    details = {
        "retries": result.retries,
        "validated": result.validated,
        "quality": result.quality,
        "schema": result.schema,
        "schema_changes": result.schema_changes,
        "reconcile": result.reconcile,
        "warnings": len(result.warnings),
        "destination": result.destination,  # where it published (`rivet validate` points there)
    }
    try:
        state.runs.record(
            RunRecord(
                result.run_id,
                result.export_name,
                result.mode,
                result.status,
                result.rows,
                result.files,
                result.bytes,
                int(result.duration_s * 1000),
                result.peak_rss_mb,
                result.error,
                result.started_at,
                result.finished_at,
                details,
            )
        )
        state.journal.record(
            result.run_id,
            result.export_name,
            {"run_id": result.run_id, "export_name": result.export_name, "events": result.events},
        )
        _progress(state, result)
        state.files.record(
            [
                FileRecord(
                    result.run_id,
                    result.export_name,
                    p.path,
                    p.rows,
                    p.size_bytes,
                    p.content_fingerprint,
                    result.finished_at,
                )
                for p in result.parts
            ]
        )
    except Exception as exc:
        log.warning(
            "export %s: could not record the run in the state store: %s", result.export_name, exc
        )


def _progress(state: StateStore, result: ExportResult) -> None:
    """A published run moves the export's committed progression; a matching reconcile, its
    verified one."""
    if result.status != "success" or result.mode == "repair":
        return
    if result.mode == "incremental":
        if result.cursor is None:
            return  # nothing new: the committed cursor stays
        value = result.cursor
    else:
        value = f"run {result.run_id} ({result.rows:,} rows)"
    state.progression.commit(result.export_name, result.mode, value)
    if result.reconcile is not None and result.reconcile.startswith("match"):
        state.progression.verify(result.export_name, result.mode, value)
