"""`rivet validate`: verify each export's destination prefix against its manifests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rivet.commands.run import query_text, select_exports
from rivet.config import load_config
from rivet.destinations import open_destination, open_iceberg
from rivet.destinations.targets import StdoutTarget
from rivet.pipeline.verify import Verification, verify
from rivet.planning.export_plan import resolve_export
from rivet.state import open_state
from rivet.state.errors import StateError


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
        table = None
        if plan.iceberg is not None:
            table = open_iceberg(plan.iceberg, plan.destination, plan.name, config_dir)
        verification = verify(plan.name, destination, run_id, full, table is not None, table)
        if verification.status == "no manifest":
            verification.hint = _elsewhere(config_dir, plan.name, destination.uri)
        results.append(verification)
    return results


def _elsewhere(config_dir: Path, export: str, looked_at: str) -> str | None:
    """Where the export's last successful run published, when that is not where validate
    looked: a relative destination path resolves against the working directory, as it did
    for `rivet run`."""
    try:
        state = open_state(config_dir)
    except StateError:
        return None
    try:
        runs = [r for r in state.runs.recent(export, 20) if r.status == "success"]
    except StateError:
        return None
    finally:
        state.close()
    published = next(
        (r.details.get("destination") for r in runs if r.details.get("destination")), None
    )
    if not published or published == looked_at:
        return None
    return (
        f"its last run published to {published}: a relative destination path resolves "
        "against the working directory, so run `rivet validate` from the folder `rivet run` ran "
        "in, or make destination.path absolute"
    )


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
        if r.hint:
            lines.append(f"  Hint: {r.hint}")
    return "\n".join(lines) if lines else "No exports with a destination to validate."
