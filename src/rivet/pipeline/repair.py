"""`rivet repair --execute`: re-export the chunks of a checkpointed chunk run that reconcile or
validation found wrong, and publish a repair manifest.

Each repaired chunk is read again with the same chunk statement into new parts
(`<export>_<repair stamp>_chunk<i>`). The parts they replace are moved to
`_quarantine/<repair run id>/` (never deleted); then the repair run publishes its manifest,
listing every current part of the export (kept and new) and, under `replaces`, the quarantined
ones, so `rivet validate` checks the prefix as readers now see it. The chunk ledger takes the
new rows and parts, so `rivet reconcile` compares against them. A repair that is interrupted
is finished by running it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rivet.destinations import Destination, StagedPart
from rivet.pipeline.chunked import part_record, staged_part
from rivet.pipeline.manifest import manifest_bytes, success_marker
from rivet.pipeline.meta import MetaColumns
from rivet.pipeline.naming import part_base_name
from rivet.pipeline.partitioned import open_sink
from rivet.pipeline.parts import write_all
from rivet.pipeline.publish import latest_manifest
from rivet.planning.export_plan import ExportPlan
from rivet.report.model import ExportResult, ExportStatus, PartRecord
from rivet.sources.base import ChunkRead, PreparedRead, ReadRequest, ReadStats, Source
from rivet.state.chunk_runs import ChunkRuns, ChunkTask


def repair_chunks(
    plan: ExportPlan,
    source: Source,
    request: ReadRequest,
    prepared: PreparedRead,
    column: str,
    runs: ChunkRuns,
    run_id: str,
    indexes: Sequence[int],
    destination: Destination,
) -> ExportResult:
    started = datetime.now(UTC)
    repair_id = f"{plan.name}_{started:%Y%m%dT%H%M%S}.{started.microsecond // 1000:03d}"
    result = ExportResult(
        export_name=plan.name,
        run_id=repair_id,
        mode="repair",
        source_engine=source.engine,
        destination=destination.uri,
        format=plan.output.kind,
        compression=plan.output.compression,
        started_at=started.isoformat(),
    )
    tasks = {t.chunk.index: t for t in runs.tasks(run_id)}
    staging = destination.staging_dir(repair_id)
    try:
        fresh = {i: _read_chunk(plan, source, request, prepared, column, tasks[i], staging,
                                 part_base_name(plan.name, repair_id), destination)
                 for i in indexes}  # fmt: skip
        replaced = [p["name"] for i in indexes for p in tasks[i].parts]
        present = destination.objects()
        for name in replaced:
            if name in present:
                destination.quarantine(name, repair_id)
        parts: list[StagedPart] = []
        for index, task in sorted(tasks.items()):
            if index in fresh:
                parts += fresh[index][1]
            else:
                parts += [staged_part(staging, record) for record in task.parts]
        result.finished_at = datetime.now(UTC).isoformat()
        schema = MetaColumns.of(plan, started).schema(prepared.schema)
        manifest = manifest_bytes(
            result, schema, plan.table, parts, destination.kind, replaces=replaced,
            partitions=plan.partitions,
        )  # fmt: skip
        destination.publish(
            parts, manifest, success_marker(manifest), repair_id, latest_manifest(plan)
        )
        for index, (rows, new_parts) in fresh.items():
            runs.complete(run_id, index, rows, [part_record(p, staging) for p in new_parts])
        result.rows = sum(rows for rows, _ in fresh.values())
        result.files = sum(len(p) for _, p in fresh.values())
        result.status = ExportStatus.SUCCESS
        result.note("repaired", chunks=list(fresh), replaced=replaced, rows=result.rows)
        result.note("success", rows=result.rows, files=result.files)
    finally:
        destination.discard(repair_id)
    result.parts = [PartRecord(p.final_name, p.rows, p.size_bytes, p.fingerprint)
                    for rows, new in fresh.values() for p in new]  # fmt: skip
    result.bytes = sum(p.size_bytes for p in result.parts)
    result.duration_s = (datetime.now(UTC) - started).total_seconds()
    return result


def _read_chunk(
    plan: ExportPlan,
    source: Source,
    request: ReadRequest,
    prepared: PreparedRead,
    column: str,
    task: ChunkTask,
    staging: Path,
    base_name: str,
    destination: Destination,
) -> tuple[int, list[StagedPart]]:
    folder = staging / f"chunk-{task.chunk.index:05d}"
    folder.mkdir(parents=True)
    meta = MetaColumns.of(plan, datetime.now(UTC))
    sink = open_sink(
        plan,
        meta.schema(prepared.schema),
        folder,
        f"{base_name}_chunk{task.chunk.index}",
        deliver=destination.deliver,
        validate=False,
    )
    chunk_request = replace(request, chunk=ChunkRead(column, task.chunk))
    batches = source.read(chunk_request, prepared, ReadStats())
    parts = write_all(sink, meta.apply(batches) if meta.active else batches, lambda b: None)
    return sink.rows, parts
