"""Publishing a run: the parts, then manifest.json, then _SUCCESS (see docs/commit-protocol.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from rivet.destinations import Destination, StagedPart
from rivet.pipeline.manifest import manifest_bytes, success_marker
from rivet.planning.export_plan import ExportPlan
from rivet.report.model import ExportResult, PartRecord


def publish_run(
    plan: ExportPlan,
    schema: pa.Schema,
    destination: Destination,
    parts: list[StagedPart],
    result: ExportResult,
) -> None:
    result.finished_at = datetime.now(UTC).isoformat()
    manifest = manifest_bytes(result, schema, plan.table, parts, destination.kind)
    destination.publish(parts, manifest, success_marker(manifest), result.run_id)
    result.parts = [PartRecord(p.final_name, p.rows, p.size_bytes, p.fingerprint) for p in parts]
    result.files = len(parts)
    result.bytes = sum(p.size_bytes for p in parts)
    result.note("published", parts=len(parts), rows=sum(p.rows for p in parts))
