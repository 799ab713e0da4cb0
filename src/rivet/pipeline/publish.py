"""Publishing a run: the parts, then its manifest, then _SUCCESS (docs/commit-protocol.md);
then, with write_disposition: replace, retiring the export's earlier runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from rivet.core.faults import fault_point
from rivet.destinations import Destination, StagedPart
from rivet.destinations.base import DATASET_MANIFEST, MANIFEST
from rivet.integrity.manifest import ManifestError, parse_manifest
from rivet.pipeline.manifest import manifest_bytes, success_marker
from rivet.pipeline.retire import earlier_runs, retire
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
    retiring = earlier_runs(destination, plan.name, result.run_id) if plan.replace else []
    manifest = manifest_bytes(
        result, schema, plan.table, parts, destination.kind, retires=retiring,
        partitions=plan.partitions,
    )  # fmt: skip
    dataset, latest = plan.layout == "dataset", latest_manifest(plan)
    destination.publish(parts, manifest, success_marker(manifest), result.run_id, latest)
    result.parts = [PartRecord(p.final_name, p.rows, p.size_bytes, p.fingerprint) for p in parts]
    result.files = len(parts)
    result.bytes = sum(p.size_bytes for p in parts)
    result.note("published", parts=len(parts), rows=sum(p.rows for p in parts), latest=latest)
    if dataset:
        _drop_old_layout_manifest(destination, result)
    if retiring:
        fault_point("before_retire")
        removed = retire(destination, retiring)
        result.note("retired", runs=retiring, parts=removed)
        result.replaced = f"{len(retiring)} earlier run(s), {removed} part(s) removed"


def latest_manifest(plan: ExportPlan) -> str:
    """Where the latest run's manifest goes in the export's layout."""
    return DATASET_MANIFEST if plan.layout == "dataset" else MANIFEST


def _drop_old_layout_manifest(destination: Destination, result: ExportResult) -> None:
    """A manifest.json left by rivet-cli 0.7.7's layout (or an earlier rivet) is stale now, and
    it stops readers of the folder (it is not Parquet): it goes, with a warning."""
    old = destination.read(MANIFEST)
    if old is None:
        return
    try:
        parse_manifest(old)
    except ManifestError:
        return  # not ours: left alone
    destination.remove([MANIFEST])
    result.warnings.append(
        f"removed {MANIFEST} of the old layout (the latest run's manifest is {DATASET_MANIFEST}"
        " now); set layout: rivet-cli-0.7.7 if a reader of this prefix needs manifest.json"
    )
