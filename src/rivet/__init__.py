"""rivet: safe, predictable extraction from production databases into Parquet or CSV.

The Python API is what the `rivet` command runs:

    import rivet

    result = rivet.run("rivet.yaml", exports=["orders"], params={"region": "eu"})
    if result.failed:
        raise SystemExit(1)
    checks = rivet.check("rivet.yaml")
    rivet.plan("rivet.yaml", output="plan.json")   # review it, then:
    rivet.apply("plan.json")

`config` is a path to a rivet.yaml or a `rivet.config.RivetConfig` built in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivet.commands.check import ExportCheck
    from rivet.config.models import RivetConfig
    from rivet.report.model import ExportResult, ExportStatus, RunAggregate

__all__ = [
    "ExportResult",
    "ExportStatus",
    "RunAggregate",
    "__version__",
    "apply",
    "check",
    "plan",
    "run",
]


def run(
    config: str | Path | RivetConfig,
    exports: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    *,
    validate: bool = False,
    reconcile: bool = False,
    resume: bool = False,
    quiet: bool = False,
    parallel_exports: bool = False,
    parallel_export_processes: bool = False,
) -> RunAggregate:
    """Run the exports (all when none are named), as `rivet run` does, and return the typed
    result: one `ExportResult` per export (status, rows, files, bytes, parts, warnings, error).
    A failed export is recorded in the result, not raised; a bad config, an unknown export or an
    unreachable state store raise `rivet.core.errors.RivetError` subclasses. Progress and the
    summary go to stderr unless `quiet`; `parallel_exports` runs the exports at the same time
    (as the config key does); `reconcile` compares the source's row count before publishing
    (and implies `validate`)."""
    from rivet.commands.run import run as run_command

    source = Path(config) if isinstance(config, str | Path) else config
    return run_command(
        source,
        exports,
        params,
        validate=validate,
        reconcile=reconcile,
        resume=resume,
        quiet=quiet,
        parallel_exports=parallel_exports,
        parallel_export_processes=parallel_export_processes,
    )


def check(
    config: str | Path | RivetConfig,
    exports: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    target: str | None = None,
) -> list[ExportCheck]:
    """`rivet check` as data: per export the strategy, EXPLAIN, verdict and type report."""
    from rivet.commands.check import check as check_command

    source = Path(config) if isinstance(config, str | Path) else config
    return check_command(source, exports, params, target)


def __getattr__(name: str) -> Any:
    # Resolved on first use: importlib.metadata costs ~40 ms at every start otherwise.
    if name in ("ExportResult", "ExportStatus", "RunAggregate"):
        from rivet.report import model

        return getattr(model, name)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("rivet-extract")
        except PackageNotFoundError:  # running from a source tree without installation
            return "0.0.0+unknown"
    raise AttributeError(name)


def plan(
    config: str | Path,
    exports: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    output: str | Path | None = None,
) -> dict[str, Any]:
    """Make a sealed plan of the exports, as `rivet plan` does; return the artifact (a JSON
    object) and, with `output`, also write it there (never over an existing file)."""
    import json

    from rivet.commands.plan import make_plan

    artifact = make_plan(Path(config), exports, params)
    if output is not None:
        with open(output, "x", encoding="utf-8") as handle:
            handle.write(json.dumps(artifact, indent=2) + "\n")
    return artifact


def apply(
    plan_file: str | Path,
    *,
    force: bool = False,
    validate: bool = False,
    reconcile: bool = False,
    quiet: bool = False,
) -> RunAggregate:
    """Run a plan written by `plan`, as `rivet apply` does. A changed, expired (unless `force`)
    or overtaken plan raises `rivet.commands.plan.PlanRefused`."""
    from rivet.commands.plan import apply as apply_command

    return apply_command(Path(plan_file), force, quiet, validate, reconcile)
