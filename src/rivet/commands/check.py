"""`rivet check`: what each export would do, and how every column will be carried (type report)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rivet.commands.run import open_source, query_text, select_exports
from rivet.config import load_config
from rivet.pipeline.chunked import chunk_strategy
from rivet.pipeline.request import read_request
from rivet.plan.export_plan import resolve_export
from rivet.sources.base import ColumnReport

STRICT_FIDELITIES = {"lossy", "unsupported"}


@dataclass
class ExportCheck:
    export: str
    strategy: str
    row_estimate: int | None
    warnings: list[str]
    columns: Sequence[ColumnReport]

    @property
    def violations(self) -> list[ColumnReport]:
        return [c for c in self.columns if c.fidelity in STRICT_FIDELITIES]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["violations"] = [c.name for c in self.violations]
        return data


def check(
    config_path: Path, exports: Sequence[str] = (), params: Mapping[str, str] | None = None
) -> list[ExportCheck]:
    """Describe each selected export against the live source (reads no rows)."""
    params = dict(params or {})
    config = load_config(config_path, params)
    config_dir = config_path.resolve().parent
    now = datetime.now(UTC)
    plans = [
        resolve_export(e, config, query_text(e, config_dir, params), now)
        for e in select_exports(config, exports)
    ]
    source = open_source(config, config_dir)
    try:
        results = []
        for plan in plans:
            request = read_request(plan)
            prepared = source.prepare(request)
            strategy, warnings = prepared.strategy, list(prepared.warnings)
            if plan.chunks is not None:  # the chunk boundaries, as the run would cut them
                layout = source.chunk_layout(request, prepared, plan.chunks)
                strategy = chunk_strategy(plan.chunks, layout)
                warnings += layout.warnings
            results.append(
                ExportCheck(
                    plan.name, strategy, prepared.row_estimate, warnings, list(prepared.columns)
                )
            )
        return results
    finally:
        source.close()


def render(checks: Sequence[ExportCheck]) -> str:
    blocks = []
    for c in checks:
        estimate = f"~{c.row_estimate:,}" if c.row_estimate is not None else "unknown"
        lines = [
            f"Export: {c.export}",
            f"  Strategy:     {c.strategy}",
            f"  Row estimate: {estimate}",
        ]
        lines += [f"  Warning:      {w}" for w in c.warnings]
        width = max([len(col.name) for col in c.columns] + [6])
        source_width = max([len(col.source_type) for col in c.columns] + [11])
        arrow_width = max([len(col.arrow_type) for col in c.columns] + [10])
        lines.append(
            f"  {'Column':<{width}}  {'Source type':<{source_width}}  "
            f"{'Arrow type':<{arrow_width}}  Fidelity"
        )
        lines.append("  " + "-" * (width + source_width + arrow_width + 16))
        for col in c.columns:
            mark = (
                " ✗"
                if col.fidelity in STRICT_FIDELITIES
                else " ~"
                if col.fidelity == "logical_string"
                else ""
            )
            lines.append(
                f"  {col.name:<{width}}  {col.source_type:<{source_width}}  "
                f"{col.arrow_type:<{arrow_width}}  {col.fidelity}{mark}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
