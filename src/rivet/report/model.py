"""What a run produced, as plain values: rendered by the summary, serialised by --json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class ExportStatus(StrEnum):
    """How an export ended (a str: compares equal to, and serialises as, its value)."""

    RUNNING = "running"  # not ended yet
    SUCCESS = "success"  # published
    FAILED = "failed"  # nothing published; `error` says why
    SKIPPED = "skipped"  # skip_empty and no rows
    INTERRUPTED = "interrupted"  # stopped by SIGTERM / SIGINT; nothing published
    # `rivet apply --worker`: this worker read its share of the chunks ...
    CONTRIBUTED = "contributed"  # ... and another worker published the export
    WAITING = "waiting"  # ... and other workers still hold chunks (not an end: it waits)


@dataclass
class PartRecord:
    path: str
    rows: int
    size_bytes: int
    content_fingerprint: str


@dataclass
class ExportResult:
    export_name: str
    run_id: str
    status: ExportStatus = ExportStatus.RUNNING
    mode: str = "full"
    source_engine: str = "postgres"
    strategy: str = ""
    destination: str = ""
    destination_kind: str = ""  # local | s3 | gcs | stdout
    format: str = ""
    compression: str = ""
    tuning: str = ""
    tuning_profile: str = ""  # fast | balanced | safe
    started_at: str = ""
    finished_at: str = ""
    rows: int = 0
    files: int = 0
    bytes: int = 0
    duration_s: float = 0.0
    peak_rss_mb: float = 0.0
    statements: int = 0
    longest_statement_s: float = 0.0
    parts: list[PartRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cursor: str | None = None  # incremental: the cursor value stored after this run
    quality: str | None = None  # pass | FAIL when a `quality:` block is set
    validated: str | None = None  # pass with --validate (a failed validation fails the export)
    schema: str | None = None  # new (first run) | ok | CHANGED
    schema_changes: list[str] = field(default_factory=list)
    reconcile: str | None = None  # with --reconcile: "match (N)" | "MISMATCH (...)"
    replaced: str | None = None  # write_disposition: replace: the earlier runs it retired
    table: str | None = None  # table_format: iceberg: the table and the snapshot committed
    retries: int = 0
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # the run journal

    def note(self, event: str, **detail: Any) -> None:
        """Add an event to the run journal."""
        self.events.append({"at": datetime.now(UTC).isoformat(), "event": event, **detail})

    def to_json(self) -> dict[str, Any]:
        """Every field, and the keys rivet-cli 0.7.7's summary.json has for the same values
        (orchestrators parse those)."""
        data = asdict(self)
        data.update(
            total_rows=self.rows,
            files_produced=self.files,
            bytes_written=self.bytes,
            duration_ms=int(self.duration_s * 1000),
            error_message=self.error,
            schema_changed=self.schema == "CHANGED",
        )
        return data


@dataclass
class RunAggregate:
    aggregate_id: str
    config_path: str
    mode: str
    results: list[ExportResult]
    duration_s: float = 0.0

    @property
    def failed(self) -> list[ExportResult]:
        return [r for r in self.results if r.status == "failed"]

    def to_json(self) -> dict[str, Any]:
        counts = {
            s: sum(r.status == s for r in self.results)
            for s in ("success", "failed", "skipped", "contributed")
        }
        exports = [r.to_json() for r in self.results]
        return {
            "id": self.aggregate_id,
            "config": self.config_path,
            "mode": self.mode,
            "status": "failed" if self.failed else "success",
            "counts": counts,
            "total_rows": sum(r.rows for r in self.results),
            "total_files": sum(r.files for r in self.results),
            "total_bytes": sum(r.bytes for r in self.results),
            "duration_s": round(self.duration_s, 3),
            "exports": exports,
            # rivet-cli 0.7.7's names for the same values
            "run_aggregate_id": self.aggregate_id,
            "config_path": self.config_path,
            "parallel_mode": self.mode,
            "total_exports": len(self.results),
            "success_count": counts["success"],
            "failed_count": counts["failed"],
            "skipped_count": counts["skipped"],
            "duration_ms": int(self.duration_s * 1000),
            "per_export": exports,
        }
