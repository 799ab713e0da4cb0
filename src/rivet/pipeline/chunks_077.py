"""Continuing a chunk run that rivet-cli 0.7.7 left unfinished (imported by state/legacy.py).

0.7.7 wrote each completed chunk's file straight to the destination. On `--resume`, rivet first
checks that the run was planned as this config plans it (0.7.7's plan fingerprint over the base
query, the chunk column and the chunk size), then adopts each such file as a part of the run when
it is there, holds the rows 0.7.7 recorded and has the columns rivet writes; otherwise that chunk
is read again (the 0.7.7 file stays where it is, outside the manifest). The other chunks are read
as in any resumed run, and the run is published with one manifest listing every part.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xxhash

from rivet.destinations import Destination
from rivet.pipeline.parts import fingerprint
from rivet.pipeline.validate import read_back
from rivet.planning.export_plan import ExportPlan
from rivet.state.chunk_runs import ChunkRuns
from rivet.state.legacy import IMPORTED_FOLDER, IMPORTED_PLAN

log = logging.getLogger(__name__)


def continues_077_plan(plan_hash: str, plan: ExportPlan, column: str) -> bool:
    """Was this imported run planned as `plan` plans it now? 0.7.7's fingerprint is xxh3_64 of
    `base query ␟ column ␟ <size>␟range` (or `count_<N>`). A chunk size derived from table
    statistics (chunk_size_memory_mb) cannot be recomputed, nor 0.7.7's dense and day windows
    matched to rivet's: those runs do not continue."""
    spec = plan.chunks
    if not plan_hash.startswith(IMPORTED_PLAN) or spec is None:
        return False
    if spec.by != "range" or spec.memory_mb is not None:
        return False
    base = f"SELECT * FROM {plan.table}" if plan.table is not None else (plan.query or "")
    detail = f"count_{spec.count}" if spec.count is not None else f"{spec.size}\x1frange"
    expected = xxhash.xxh3_64_hexdigest(f"{base}\x1f{column}\x1f{detail}".encode())
    return plan_hash[len(IMPORTED_PLAN) :] == expected


def adopt_077_parts(
    runs: ChunkRuns,
    run_id: str,
    staging: Path,
    destination: Destination,
    schema: pa.Schema,
    kind: str,
) -> list[str]:
    """Give each completed chunk's 0.7.7 file what a part record needs (size, content hash,
    column checksums), or send the chunk back to be read; returns warnings."""
    warnings: list[str] = []
    objects = destination.objects()
    scratch = staging / IMPORTED_FOLDER
    scratch.mkdir(parents=True, exist_ok=True)
    for task in runs.tasks(run_id):
        if task.status != "completed" or not any(p.get("imported") for p in task.parts):
            continue
        records: list[dict[str, Any]] = []
        for part in task.parts:
            problem = None
            if part["name"] not in objects:
                problem = "is not at the destination"
            else:
                record, problem = _measured(part, destination, scratch, schema, kind)
                records.append(record)
            if problem is not None:
                warnings.append(
                    f"chunk {task.chunk.index}: rivet-cli 0.7.7's file {part['name']} {problem}; "
                    "the chunk is read again (that file is left in place, outside the manifest)"
                )
                runs.reset_task(run_id, task.chunk.index)
                break
        else:
            runs.set_parts(run_id, task.chunk.index, records)
            log.info("chunk %d: adopted rivet-cli 0.7.7's part", task.chunk.index)
    return warnings


def _measured(
    part: dict[str, Any], destination: Destination, scratch: Path, schema: pa.Schema, kind: str
) -> tuple[dict[str, Any], str | None]:
    local = destination.fetch(part["name"], scratch)
    try:
        try:
            written = (
                pq.read_schema(local)
                if kind == "parquet"
                else pacsv.open_csv(local).schema  # header names; types are not in a CSV
            )
        except Exception as exc:
            return part, f"cannot be read ({type(exc).__name__}: {exc})"
        if written.names != schema.names or (kind == "parquet" and written.types != schema.types):
            return part, "has other columns or column types than rivet writes for this export"
        rows, columns = read_back(local, kind, {f.name: f.type for f in schema})
        if rows != part["rows"]:
            return part, f"holds {rows:,} rows, 0.7.7 recorded {part['rows']:,}"
        return {
            **part,
            "bytes": local.stat().st_size,
            "fingerprint": fingerprint(local),
            "columns": columns or {},
        }, None
    finally:
        if local.parent == scratch:
            local.unlink(missing_ok=True)
