"""`rivet validate`: verify each export's destination prefix against its manifests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rivet.commands.run import query_text, select_exports
from rivet.config import load_config
from rivet.destinations import open_destination
from rivet.destinations.targets import StdoutTarget
from rivet.pipeline.verify import Verification, verify
from rivet.planning.export_plan import resolve_export


def validate(
    config_path: Path,
    exports: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    run_id: str | None = None,
    full: bool = False,
    day: datetime | None = None,
) -> list[Verification]:
    """One verification per selected export (stdout exports have nothing to verify). `day`
    fills the `{date}` placeholder of destination paths (default: today, UTC)."""
    params = dict(params or {})
    config = load_config(config_path, params)
    config_dir = config_path.resolve().parent
    moment = day or datetime.now(UTC)
    results = []
    for export in select_exports(config, exports):
        plan = resolve_export(export, config, query_text(export, config_dir, params), moment)
        if isinstance(plan.destination, StdoutTarget):
            continue
        destination = open_destination(plan.destination, plan.name)
        results.append(verify(plan.name, destination, run_id, full))
    return results


def render(results: Sequence[Verification]) -> str:
    lines = []
    for r in results:
        lines += [
            f"── {r.export_name} ──",
            f"  prefix:   {r.prefix}",
            f"  status:   {r.status.upper()}",
            f"  runs:     {len(r.runs)}",
            f"  parts:    {r.parts_verified} verified, {len(r.problems)} problem(s)",
            f"  rows:     {r.rows:,}",
        ]
        lines += [f"  {p.kind}: {p.path}: {p.detail}" for p in r.problems]
    return "\n".join(lines) if lines else "No exports with a destination to validate."
