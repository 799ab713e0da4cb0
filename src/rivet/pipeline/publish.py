"""Publishing a run: the parts, then its manifest, then _SUCCESS (docs/commit-protocol.md);
then, with write_disposition: replace, retiring the export's earlier runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from rivet.core.faults import fault_point
from rivet.destinations import Destination, StagedPart, open_iceberg
from rivet.destinations.base import DATASET_MANIFEST, MANIFEST
from rivet.formats.hive import file_schema
from rivet.integrity.manifest import ManifestError, parse_manifest
from rivet.pipeline.manifest import manifest_bytes, success_marker
from rivet.pipeline.options import RunOptions
from rivet.pipeline.retire import earlier_runs, retire
from rivet.planning.export_plan import ExportPlan
from rivet.report.model import ExportResult, PartRecord

if TYPE_CHECKING:
    from rivet.destinations.iceberg import IcebergTable


def open_table(
    plan: ExportPlan, schema: pa.Schema, options: RunOptions, result: ExportResult
) -> IcebergTable | None:
    """table_format: iceberg: the table, checked against the export before any row is read."""
    if plan.iceberg is None:
        return None
    table = open_iceberg(plan.iceberg, plan.destination, plan.name, options.config_dir)
    written = file_schema(plan.partitions, schema)
    result.note(
        "iceberg", table=plan.iceberg.identifier, plan=table.prepare(written, plan.partitions)
    )
    return table


def publish_run(
    plan: ExportPlan,
    schema: pa.Schema,
    destination: Destination,
    parts: list[StagedPart],
    result: ExportResult,
    table: IcebergTable | None = None,
) -> None:
    result.finished_at = datetime.now(UTC).isoformat()
    # An Iceberg table's earlier snapshots still name the earlier runs' files: they stay
    retiring = (
        earlier_runs(destination, plan.name, result.run_id)
        if plan.replace and table is None
        else []
    )
    manifest = manifest_bytes(
        result, schema, plan.table, parts, destination.kind, retires=retiring,
        partitions=plan.partitions,
        iceberg_table=plan.iceberg.identifier if plan.iceberg is not None else None,
    )  # fmt: skip
    dataset, latest = plan.layout == "dataset", latest_manifest(plan)

    def commit() -> None:
        assert table is not None and plan.iceberg is not None
        names = [p.final_name for p in parts]
        written = file_schema(plan.partitions, schema)
        table.commit(names, written, plan.partitions, plan.replace, result.run_id)
        how = "overwrite" if plan.replace else "append"
        result.table = f"{plan.iceberg.identifier}, snapshot {table.snapshot_id} ({how})"
        result.note("iceberg_committed", table=plan.iceberg.identifier, snapshot=table.snapshot_id)
        fault_point("after_iceberg_commit")

    destination.publish(
        parts, manifest, success_marker(manifest), result.run_id, latest,
        placed=commit if table is not None else None,
    )  # fmt: skip
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
