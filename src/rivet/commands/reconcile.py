"""`rivet reconcile` and `rivet repair`: a checkpointed chunk run against the source, chunk by
chunk, and the re-export of the chunks that do not match (or whose parts failed validation)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rivet.commands.run import open_source, query_text, select_exports
from rivet.config import load_config
from rivet.core.errors import PlanError
from rivet.destinations import Destination, open_destination
from rivet.pipeline.reconcile import ChunkCount, count_chunks
from rivet.pipeline.repair import repair_chunks
from rivet.pipeline.request import read_request
from rivet.pipeline.run_record import record_run
from rivet.pipeline.verify import verify
from rivet.planning.export_plan import ExportPlan, resolve_export
from rivet.sources.base import PreparedRead, ReadRequest, Source, retrying
from rivet.state import StateStore, open_state
from rivet.state.chunk_runs import ChunkRun


@dataclass
class ReconcileReport:
    export_name: str
    run_id: str
    chunks: list[ChunkCount]

    @property
    def clean(self) -> bool:
        return all(c.status == "match" for c in self.chunks)

    def to_json(self) -> dict[str, Any]:
        count = {s: sum(c.status == s for c in self.chunks) for s in ("match", "mismatch")}
        return {
            "export_name": self.export_name,
            "run_id": self.run_id,
            "chunks": [c.to_json() for c in self.chunks],
            "summary": {
                "chunks": len(self.chunks),
                "matches": count["match"],
                "mismatches": count["mismatch"],
                "unknown": len(self.chunks) - count["match"] - count["mismatch"],
                "source_rows": sum(c.source_rows or 0 for c in self.chunks),
                "exported_rows": sum(c.exported_rows or 0 for c in self.chunks),
            },
        }


@dataclass(frozen=True)
class Candidate:
    index: int
    range: str
    reason: str


@dataclass
class RepairReport:
    export_name: str
    run_id: str
    candidates: list[Candidate]
    executed: bool = False
    repair_run_id: str | None = None
    rows: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "export_name": self.export_name,
            "run_id": self.run_id,
            "candidates": [c.__dict__ for c in self.candidates],
            "executed": self.executed,
            "repair_run_id": self.repair_run_id,
            "rows": self.rows,
            "notes": self.notes,
        }


@dataclass
class _Context:
    plan: ExportPlan
    state: StateStore
    run: ChunkRun
    source: Source
    request: ReadRequest
    prepared: PreparedRead
    column: str


@contextmanager
def _chunk_run(
    config_path: Path, export: str, params: Mapping[str, str] | None
) -> Iterator[_Context]:
    params = dict(params or {})
    config = load_config(config_path, params)
    config_dir = config_path.resolve().parent
    (chosen,) = select_exports(config, [export])
    plan = resolve_export(chosen, config, query_text(chosen, config_dir, params), datetime.now(UTC))
    if plan.chunks is None:
        raise PlanError(
            f"export '{export}' is not chunked: reconcile and repair work chunk by chunk",
            hint="for full, incremental and time_window exports use `rivet run --reconcile`",
        )
    if not plan.chunks.checkpoint:
        raise PlanError(
            f"export '{export}': reconcile and repair need the chunk ledger of "
            "chunk_checkpoint: true",
            hint="set chunk_checkpoint: true and run the export",
        )
    state = open_state(config_dir)
    source: Source | None = None
    try:
        run = state.chunks.latest(export)
        if run is None:
            raise PlanError(
                f"export '{export}': no chunk run is recorded yet",
                hint=f"run it first: rivet run -c {config_path} -e {export}",
            )
        source = open_source(config, config_dir)
        request = read_request(plan)
        opened = source
        prepared = retrying(request, lambda: opened.prepare(request))
        layout = opened.chunk_layout(request, prepared, plan.chunks)
        yield _Context(plan, state, run, opened, request, prepared, layout.column)
    finally:
        if source is not None:
            source.close()
        state.close()


def reconcile(
    config_path: Path, export: str, params: Mapping[str, str] | None = None
) -> ReconcileReport:
    """Count each chunk of the latest chunk run in the source and compare with its rows."""
    with _chunk_run(config_path, export, params) as ctx:
        report = _reconcile(ctx)
        if report.clean:
            rows = report.to_json()["summary"]["exported_rows"]
            ctx.state.progression.verify(export, "chunked", f"run {ctx.run.run_id} ({rows:,} rows)")
        return report


def _reconcile(ctx: _Context) -> ReconcileReport:
    tasks = ctx.state.chunks.tasks(ctx.run.run_id)
    counts = count_chunks(ctx.source, ctx.request, ctx.prepared, ctx.column, tasks)
    return ReconcileReport(ctx.plan.name, ctx.run.run_id, counts)


def repair(
    config_path: Path,
    export: str,
    params: Mapping[str, str] | None = None,
    execute: bool = False,
) -> RepairReport:
    """The chunks to re-export (reconcile mismatches, parts missing or altered at the
    destination); with `execute`, re-export them and publish a repair manifest."""
    with _chunk_run(config_path, export, params) as ctx:
        if ctx.run.status != "completed":
            raise PlanError(
                f"export '{export}': chunk run {ctx.run.run_id} did not finish",
                hint=f"finish it first: rivet run -c {config_path} -e {export} --resume",
            )
        destination = open_destination(ctx.plan.destination, ctx.plan.name)
        report = RepairReport(export, ctx.run.run_id, _candidates(ctx, destination))
        if execute and report.candidates and ctx.plan.iceberg is not None:
            raise PlanError(
                f"export '{export}': --execute would move parts that Iceberg table "
                f"{ctx.plan.iceberg.identifier} lists; repair does not commit to the table yet",
                hint=f"rerun the export (rivet run -c {config_path} -e {export}): with "
                "write_disposition replace the new run overwrites the table",
            )
        if execute and report.candidates:
            result = repair_chunks(
                ctx.plan,
                ctx.source,
                ctx.request,
                ctx.prepared,
                ctx.column,
                ctx.state.chunks,
                ctx.run.run_id,
                [c.index for c in report.candidates],
                destination,
            )
            record_run(ctx.state, result)
            report.executed, report.repair_run_id, report.rows = True, result.run_id, result.rows
        return report


def _candidates(ctx: _Context, destination: Destination) -> list[Candidate]:
    found: dict[int, Candidate] = {}
    for count in _reconcile(ctx).chunks:
        if count.status == "mismatch":
            reason = f"source {count.source_rows}, exported {count.exported_rows}"
            found[count.index] = Candidate(count.index, count.range, reason)
    owner = {p["name"]: t.chunk for t in ctx.state.chunks.tasks(ctx.run.run_id) for p in t.parts}
    for problem in verify(
        ctx.plan.name, destination, iceberg=ctx.plan.iceberg is not None
    ).problems:
        chunk = owner.get(problem.path)
        if chunk is not None and chunk.index not in found:
            reason = f"{problem.kind}: {problem.path}"
            found[chunk.index] = Candidate(chunk.index, chunk.label, reason)
    return [found[i] for i in sorted(found)]
