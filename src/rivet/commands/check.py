"""`rivet check`: what each export would do, and how every column will be carried (type report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from rivet.commands.run import open_source, query_text, resolve_config, select_exports
from rivet.commands.verdict import Verdict, judge
from rivet.config import RivetConfig
from rivet.config.connection import resolve_source_url, tls_warning
from rivet.core.errors import DestinationError, PlanError
from rivet.destinations.credentials import credentials_of
from rivet.formats.bigquery import TargetColumn, bigquery_column
from rivet.formats.hive import check_columns
from rivet.pipeline.chunked import chunk_strategy, resolved_column
from rivet.pipeline.meta import MetaColumns
from rivet.pipeline.request import read_request
from rivet.planning.export_plan import ExportPlan, resolve_export
from rivet.planning.memory import memory_bound
from rivet.sources.base import ChunkRead, ColumnReport, Source

STRICT_FIDELITIES = {"lossy", "unsupported"}


@dataclass
class ExportCheck:
    export: str
    strategy: str
    row_estimate: int | None
    warnings: list[str]
    columns: Sequence[ColumnReport]
    verdict: Verdict
    statement: str  # the first statement the read would run, as explained
    plan: list[str]  # the server's plan of it
    target: dict[str, TargetColumn] | None = None  # --target bigquery, by column name
    credentials: str = ""  # the destination's credentials, as found
    destination_error: str | None = None  # no credentials: the run would fail writing
    layout_error: str | None = None  # partition_by names a column the run cannot partition by
    memory_mb: int = 0  # the bound on the run's peak memory (rivet.planning.memory)
    memory: str = ""  # what sets that bound

    @property
    def violations(self) -> list[str]:
        """Columns `--strict` refuses: lossy or unsupported, or that the target cannot hold."""
        failing = {n for n, t in (self.target or {}).items() if t.status == "fail"}
        return [
            c.name for c in self.columns if c.fidelity in STRICT_FIDELITIES or c.name in failing
        ]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["violations"] = self.violations
        return data


def check(
    config_path: Path | RivetConfig,
    exports: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    target: str | None = None,
) -> list[ExportCheck]:
    """Describe each selected export against the live source (reads no rows)."""
    params = dict(params or {})
    config, config_dir = resolve_config(config_path, params)
    now = datetime.now(UTC)
    plans = [
        resolve_export(e, config, query_text(e, config_dir, params), now)
        for e in select_exports(config, exports)
    ]
    source = open_source(config, config_dir)
    try:
        pooler_notes = source.server_info(plans[0].name)[1] if plans else []
        checks = [_check_export(source, plan, pooler_notes) for plan in plans]
        tls = tls_warning(config.source, resolve_source_url(config.source, config_dir))
        if tls and checks:  # once per source
            checks[0][0].warnings.append(tls)
    finally:
        source.close()
    if target == "bigquery":
        for c, schema in checks:
            c.target = {f.name: bigquery_column(f.type) for f in schema}
    return [c for c, _ in checks]


def _check_export(
    source: Source, plan: ExportPlan, pooler_notes: list[str]
) -> tuple[ExportCheck, pa.Schema]:
    request = read_request(plan)
    prepared = source.prepare(request)
    strategy, chunk_warnings = prepared.strategy, []
    warnings = prepared.warnings_for(chunked=plan.chunks is not None)
    order = [c for c in (plan.cursor_column, plan.window and plan.window.column) if c]
    connections = plan.tuning.read_connections + 1  # + the catalog connection
    if plan.chunks is not None:  # the chunk boundaries, as the run would cut them
        layout = source.chunk_layout(request, prepared, plan.chunks)
        strategy = chunk_strategy(plan.chunks, layout)
        chunk_warnings = layout.warnings
        warnings += resolved_column(plan.chunks, layout)  # advice: no reason to degrade
        order = [layout.column]
        connections = plan.chunks.parallel + int(plan.chunks.shared_snapshot) + 1
        if layout.chunks:
            request = replace(request, chunk=ChunkRead(layout.column, layout.chunks[0]))
    explain = source.explain(request, prepared)
    verdict = judge(
        explain,
        prepared.row_estimate,
        paged=plan.chunks is not None or strategy not in ("cursor", "streamed"),
        order_columns=order,
        chunks=plan.chunks,
        chunk_warnings=chunk_warnings,
        connections=connections,
        pooler_notes=pooler_notes,
    )
    found = ExportCheck(
        plan.name,
        strategy,
        prepared.row_estimate,
        warnings + chunk_warnings,
        list(prepared.columns),
        verdict,
        explain.statement,
        explain.plan,
    )
    bound = memory_bound(plan, source.engine)
    found.memory_mb, found.memory = bound.peak_mb, bound.describe()
    try:
        found.credentials = credentials_of(plan.destination, plan.name)
    except DestinationError as exc:
        found.destination_error = str(exc)
    try:
        schema = MetaColumns.of(plan, datetime.now(UTC)).schema(prepared.schema)
        check_columns(plan.partitions, schema, plan.name)
    except PlanError as exc:
        found.layout_error = str(exc)
    return found, prepared.schema


def render(checks: Sequence[ExportCheck]) -> str:
    blocks = []
    for c in checks:
        estimate = f"~{c.row_estimate:,}" if c.row_estimate is not None else "unknown"
        lines = [
            f"Export: {c.export}",
            f"  Strategy:     {c.strategy}",
            f"  Row estimate: {estimate}",
        ]
        if c.memory:
            lines.append(f"  Memory:       {c.memory}")
        lines += [f"  Warning:      {w}" for w in c.warnings]
        if c.destination_error:
            lines.append(f"  Destination:  FAIL {c.destination_error}")
        elif c.credentials:
            lines.append(f"  Destination:  credentials: {c.credentials}")
        if c.layout_error:
            lines.append(f"  Partitions:   FAIL {c.layout_error}")
        v = c.verdict
        lines.append(f"  Verdict:      {v.verdict.upper()}")
        lines += [f"    because     {reason}" for reason in v.reasons]
        lines += [f"  Note:         {note}" for note in v.notes]
        recommended = f"tuning.profile: {v.profile}"
        if v.parallel is not None:
            recommended += f", parallel: {v.parallel}, chunk_size: {v.chunk_size:,}"
        lines.append(f"  Recommended:  {recommended}")
        lines.append(f"  Statement:    {c.statement}")
        lines += [f"  Plan:         {line}" for line in c.plan]
        width = max([len(col.name) for col in c.columns] + [6])
        source_width = max([len(col.source_type) for col in c.columns] + [11])
        arrow_width = max([len(col.arrow_type) for col in c.columns] + [10])
        lines.append(
            f"  {'Column':<{width}}  {'Source type':<{source_width}}  "
            f"{'Arrow type':<{arrow_width}}  {'Fidelity':<17}" + ("BigQuery" if c.target else "")
        )
        lines.append("  " + "-" * (width + source_width + arrow_width + (40 if c.target else 16)))
        for col in c.columns:
            mark = (
                " ✗"
                if col.fidelity in STRICT_FIDELITIES
                else " ~"
                if col.fidelity == "logical_string"
                else ""
            )
            line = (
                f"  {col.name:<{width}}  {col.source_type:<{source_width}}  "
                f"{col.arrow_type:<{arrow_width}}  {col.fidelity + mark:<17}"
            )
            if c.target:
                bq = c.target[col.name]
                line += bq.type + ("" if bq.status == "ok" else f" ({bq.status}: {bq.note})")
            lines.append(line.rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def render_rich(checks: Sequence[ExportCheck], console: Any) -> None:
    """The same report as `render`, as rich panels and tables (for a terminal)."""
    from rich.table import Table

    colour = {"safe": "green", "degraded": "yellow", "unsafe": "bold red"}
    for c in checks:
        v = c.verdict
        console.rule(f"[bold]{c.export}")
        estimate = f"~{c.row_estimate:,}" if c.row_estimate is not None else "unknown"
        console.print(f"Strategy: {c.strategy}    Row estimate: {estimate}")
        if c.memory:
            console.print(f"Memory: {c.memory}", highlight=False)
        console.print(f"Verdict: [{colour[v.verdict]}]{v.verdict.upper()}[/]")
        for line in [*v.reasons, *v.notes, *c.warnings]:
            console.print(f"  • {line}", highlight=False)
        recommended = f"tuning.profile: {v.profile}"
        if v.parallel is not None:
            recommended += f", parallel: {v.parallel}, chunk_size: {v.chunk_size:,}"
        console.print(f"Recommended: {recommended}")
        if c.destination_error:
            console.print(f"Destination: [bold red]FAIL[/] {c.destination_error}", highlight=False)
        elif c.credentials:
            console.print(f"Destination credentials: {c.credentials}", highlight=False)
        if c.layout_error:
            console.print(f"Partitions: [bold red]FAIL[/] {c.layout_error}", highlight=False)
        console.print(f"Statement: {c.statement}", highlight=False, soft_wrap=True)
        console.print("Plan:\n" + "\n".join(f"  {line}" for line in c.plan), highlight=False)
        table = Table("Column", "Source type", "Arrow type", "Fidelity")
        if c.target:
            table.add_column("BigQuery")
        for col in c.columns:
            style = "red" if col.fidelity in STRICT_FIDELITIES else None
            cells = [col.name, col.source_type, col.arrow_type, col.fidelity]
            if c.target:
                bq = c.target[col.name]
                cells.append(bq.type + ("" if bq.status == "ok" else f" ({bq.status}: {bq.note})"))
            table.add_row(*cells, style=style)
        console.print(table)
