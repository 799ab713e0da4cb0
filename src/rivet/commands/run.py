"""`rivet run`: load the config, plan every selected export, run them, report."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rivet.commands.processes import run_processes
from rivet.config import load_config
from rivet.config.connection import resolve_source_url, tls_warning
from rivet.config.load import check_model, substitute_text
from rivet.config.models import ExportConfig, RivetConfig
from rivet.core.errors import ConfigError, ExportNotFound, PlanError
from rivet.destinations.targets import StdoutTarget
from rivet.pipeline.export import run_export
from rivet.pipeline.options import RunOptions, WorkerRole
from rivet.planning.export_plan import ExportPlan, resolve_export
from rivet.report.model import ExportResult, ExportStatus, RunAggregate
from rivet.report.progress import (
    EventProgress,
    LiveBoard,
    LogProgress,
    NoProgress,
    ProgressView,
    progress_for,
)
from rivet.report.slack import notify
from rivet.report.summary import render_aggregate, render_export, render_line
from rivet.sources.base import Source
from rivet.state import StateStore, open_state
from rivet.state.errors import StateError

log = logging.getLogger(__name__)
# Exports at once with parallel_exports: each holds its pages and a row group in memory, and
# beyond this the CPU, not the source, is what they wait for.
MAX_PARALLEL_EXPORTS = 4


def run(
    config_path: Path | RivetConfig,
    exports: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    *,
    echo: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
    stdout_taken: bool = False,
    validate: bool = False,
    resume: bool = False,
    reconcile: bool = False,
    quiet: bool = False,
    parallel_exports: bool = False,
    parallel_export_processes: bool = False,
    planned: Planned | None = None,
    child: bool = False,
    worker: WorkerRole | None = None,
) -> RunAggregate:
    """Run the selected exports (all when none given); each failure is recorded, not raised.
    `quiet`: no progress and no summary (the caller reads the returned result). `planned`: the
    export plans and config directory of a sealed plan (`rivet apply`), used as they are.
    `child`: this process runs one export for a parent (--parallel-export-processes): progress
    goes to stderr as JSON events, and the parent prints the summary and notifies. `worker`:
    this process is one of a sealed plan's workers (commands.workers), which prints the
    summary once every export is done."""
    params = dict(params or {})
    options = RunOptions(
        validate=validate,
        reconcile=reconcile,
        resume=resume,
        config_label=str(config_path) if isinstance(config_path, Path) else "<config>",
        worker=worker,
    )
    if planned is not None:
        config, config_dir = check_model(planned.config, planned.config_dir), planned.config_dir
    else:
        config, config_dir = resolve_config(config_path, params)
    options = replace(options, config_dir=config_dir)
    now = datetime.now(UTC)
    if planned is not None:
        plans = list(planned.plans)
    else:
        selected = select_exports(config, exports)
        texts = _inputs(config, config_dir, selected, params)
        plans = [resolve_export(e, config, texts[e.name], now) for e in selected]
    _check_stdout(plans, stdout_taken)
    state = _open_state(config_dir, plans)
    started = time.perf_counter()

    def done(result: ExportResult) -> None:
        _write_run_report(config_dir, result)
        if not quiet and not child and result.status != ExportStatus.WAITING:
            echo(render_export(result) if len(plans) == 1 else render_line(result))

    processes = parallel_export_processes or config.parallel_export_processes
    try:
        if processes and len(plans) > 1:
            if not isinstance(config_path, Path) or planned is not None:
                raise PlanError(
                    "parallel export processes need a config file: each child process reads it",
                    hint="use parallel_exports (threads) with a config built in Python or a plan",
                )
            workers = _export_workers(config, config_dir, plans)
            mode = f"processes ({workers} exports at a time)"
            results = run_processes(config_path, plans, workers, params, options, quiet, done)
        elif (parallel_exports or config.parallel_exports) and len(plans) > 1:
            workers = _export_workers(config, config_dir, plans)
            mode = f"parallel ({workers} exports at a time)"
            results = _run_parallel(
                plans, workers, lambda: open_source(config, config_dir), state, quiet, done,
                options,
            )  # fmt: skip
        else:
            mode = "sequential"
            results = _run_sequential(
                plans, open_source(config, config_dir), state, quiet, done, options, child
            )
    finally:
        if state is not None:
            state.close()
    aggregate = RunAggregate(
        f"agg_{now:%Y%m%dT%H%M%S}",
        str(config_path) if isinstance(config_path, Path) else "<RivetConfig>",
        mode,
        results,
        time.perf_counter() - started,
    )
    if len(plans) > 1 and not quiet and worker is None:
        echo(render_aggregate(aggregate))
    if config.notifications is not None and not child:
        ended = [
            r for r in results if r.status not in (ExportStatus.WAITING, ExportStatus.CONTRIBUTED)
        ]
        if ended:
            notify(config.notifications.slack, ended)
    return aggregate


@dataclass(frozen=True)
class Planned:
    """What `rivet apply` runs: a plan's config, its directory, and its export plans."""

    config: RivetConfig
    config_dir: Path
    plans: Sequence[ExportPlan]


def resolve_config(
    config: Path | RivetConfig, params: Mapping[str, str]
) -> tuple[RivetConfig, Path]:
    """A config file (loaded, ${VAR} and params filled) or a model built in Python (checked; its
    relative paths, query files and state are relative to the working directory)."""
    if isinstance(config, RivetConfig):
        return check_model(config, Path.cwd()), Path.cwd()
    return load_config(config, params), config.resolve().parent


def _connections(plan: ExportPlan) -> int:
    """Connections one export holds at once: readers, the catalog one, a snapshot holder."""
    if plan.chunks is not None:
        return plan.chunks.parallel + 1 + int(plan.chunks.shared_snapshot)
    return plan.tuning.read_connections + 1


def _export_workers(config: RivetConfig, config_dir: Path, plans: Sequence[ExportPlan]) -> int:
    """How many exports run at once: at most MAX_PARALLEL_EXPORTS, and as many as the server's
    free connections (less 3 for others) allow, each holding what its plan needs."""
    source = open_source(config, config_dir)
    try:
        most, in_use = source.connection_budget(plans[0].name)
    finally:
        source.close()
    by_connections = (most - in_use - 3) // max(_connections(p) for p in plans)
    workers = max(1, min(len(plans), MAX_PARALLEL_EXPORTS, by_connections))
    if by_connections < min(len(plans), MAX_PARALLEL_EXPORTS):
        log.warning(
            "%d exports run %d at a time: the server allows %d connections and %d are in use",
            len(plans), workers, most, in_use,
        )  # fmt: skip
    return workers


def _run_sequential(
    plans: Sequence[ExportPlan],
    source: Source,
    state: StateStore | None,
    quiet: bool,
    done: Callable[[ExportResult], None],
    options: RunOptions,
    child: bool = False,
) -> list[ExportResult]:
    """Exports one after another on one source (its catalog connection is reused)."""
    results = []
    try:
        for plan in plans:
            progress: ProgressView = (
                EventProgress(sys.stderr)
                if child
                else NoProgress()
                if quiet
                else progress_for(sys.stderr)
            )
            results.append(run_export(plan, source, progress, state, options))
            done(results[-1])
    finally:
        source.close()
    return results


def _run_parallel(
    plans: Sequence[ExportPlan],
    workers: int,
    new_source: Callable[[], Source],
    state: StateStore | None,
    quiet: bool,
    done: Callable[[ExportResult], None],
    options: RunOptions,
) -> list[ExportResult]:
    """Exports on `workers` threads, each with its own source connections; results in plan
    order, each reported as it finishes. An export that fails is recorded, never lost."""
    board = LiveBoard(sys.stderr) if not quiet and sys.stderr.isatty() else None

    def one(plan: ExportPlan) -> ExportResult:
        progress: ProgressView = (
            NoProgress() if quiet else board.view() if board else LogProgress(sys.stderr)
        )
        source = new_source()
        try:
            return run_export(plan, source, progress, state, options)
        finally:
            source.close()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rivet-export") as pool:
        futures = {pool.submit(one, plan): plan for plan in plans}
        for future in as_completed(futures):
            done(future.result())
    return [future.result() for future in futures]


def _open_state(config_dir: Path, plans: Sequence[ExportPlan]) -> StateStore | None:
    """The state store keeps cursors and chunk checkpoints (then it must open) and every run's
    metrics (then a store that cannot open costs only a warning)."""
    needed = any(p.cursor_column or (p.chunks and p.chunks.checkpoint) for p in plans)
    try:
        return open_state(config_dir)
    except StateError as exc:
        if needed:
            raise
        log.warning("run metrics will not be recorded: %s", exc)
        return None


def open_source(config: RivetConfig, config_dir: Path) -> Source:
    return source_for_url(resolve_source_url(config.source, config_dir), config.source.type)


def source_for_url(url: str, engine: str | None = None) -> Source:
    """Only the engine's own driver is imported: ConnectorX and PyMySQL cost a PostgreSQL run
    ~40 MB of memory otherwise, and the ADBC driver a MySQL run as much."""
    if (engine or ("mysql" if url.startswith("mysql") else "postgres")) == "postgres":
        from rivet.sources.postgres import PostgresSource

        return PostgresSource(url)
    from rivet.sources.mysql import MySQLSource

    return MySQLSource(url)


def _check_stdout(plans: Sequence[ExportPlan], stdout_taken: bool) -> None:
    """stdout carries exactly one export's data and nothing else."""
    to_stdout = [p.name for p in plans if isinstance(p.destination, StdoutTarget)]
    if len(to_stdout) > 1:
        raise PlanError(
            f"exports {to_stdout} all write to stdout; one run can stream one export there",
            hint="select one with -e NAME",
        )
    if to_stdout and stdout_taken:
        raise PlanError(
            f"export '{to_stdout[0]}' writes its data to stdout, which --json also uses",
            hint="use --summary-output FILE for the run summary instead of --json",
        )


def select_exports(config: RivetConfig, names: Sequence[str]) -> list[ExportConfig]:
    if not names:
        return list(config.exports)
    by_name = {e.name: e for e in config.exports}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ExportNotFound(
            f"export '{unknown[0]}' not found in config",
            hint="known exports: " + ", ".join(by_name),
        )
    return [by_name[n] for n in names]


def _inputs(
    config: RivetConfig,
    config_dir: Path,
    selected: Sequence[ExportConfig],
    params: Mapping[str, str],
) -> dict[str, str | None]:
    """Every export's query text, and the source URL checked, with every problem (an unset
    variable of any query file, an unset url_env) reported at once, not one per run."""
    texts: dict[str, str | None] = {}
    problems: list[str] = []
    for export in selected:
        try:
            texts[export.name] = query_text(export, config_dir, params)
        except ConfigError as exc:
            problems += exc.problems
    try:
        warning = tls_warning(config.source, resolve_source_url(config.source, config_dir))
        if warning:
            log.warning("%s", warning)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return texts


def query_text(export: ExportConfig, config_dir: Path, params: Mapping[str, str]) -> str | None:
    if export.query_file is None:
        return export.query
    path = config_dir / export.query_file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [f"exports ({export.name}).query_file: cannot read '{path}': {exc.strerror}"]
        ) from None
    return substitute_text(text, params, f"exports ({export.name}).query_file")


def _write_run_report(config_dir: Path, result: ExportResult) -> None:
    folder = config_dir / ".rivet" / "runs" / result.run_id
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
        (folder / "summary.md").write_text(f"```\n{render_export(result)}\n```\n")
    except OSError as exc:
        log.warning("could not write the run report to %s: %s", folder, exc)


__all__ = ["ExportPlan", "run", "select_exports"]
