"""`rivet` command line."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import click

from rivet.cli import planning, trust
from rivet.cli.common import (
    config_option,
    export_required,
    guarded,
    param_option,
    parse_params,
    write_new_file,
)
from rivet.cli.logging import configure_logging
from rivet.core.errors import ExportFailed
from rivet.core.memory import limit_malloc_arenas, use_system_allocator_for_arrow
from rivet.core.stop import on_stop_signals

RUN_EXAMPLES = """
\b
Examples:
  export DATABASE_URL=postgresql://extractor@db.internal:5432/shop
  rivet run -c rivet.yaml                     # every export in the file
  rivet run -c rivet.yaml -e orders           # one export
  rivet run -c rivet.yaml -e orders -e users  # several
  rivet run -c rivet.yaml -p region=eu        # fills ${region} in the config
  rivet run -c rivet.yaml --json > run.json   # machine-readable run summary on stdout
  rivet run -c rivet.yaml --validate          # re-read every part before publishing it
  rivet run -c rivet.yaml --reconcile         # and compare the source's row count first
  rivet run -c rivet.yaml -e events --resume  # continue a killed checkpointed chunk run
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rivet-extract", prog_name="rivet")
@click.option("--json-errors", is_flag=True, help="On error, print one JSON line on stderr.")
@click.pass_context
def cli(ctx: click.Context, json_errors: bool) -> None:
    """rivet: extract tables and queries from PostgreSQL or MySQL into Parquet or CSV, safely.

    Reads are short, bounded statements (read-only, one snapshot on PostgreSQL); parts are published
    atomically with a manifest (_manifest.json) and a _SUCCESS marker. See `rivet run --help`.
    """
    ctx.ensure_object(dict)
    ctx.obj["json_errors"] = json_errors
    configure_logging()


@cli.command(epilog=RUN_EXAMPLES)
@config_option
@click.option(
    "-e",
    "--export",
    "exports",
    multiple=True,
    metavar="NAME",
    help="Run only this export (repeatable). Default: all exports.",
)
@param_option
@click.option(
    "--validate",
    is_flag=True,
    help="Re-read every part (all rows) before publishing; a mismatch fails the export.",
)
@click.option(
    "--reconcile",
    is_flag=True,
    help="Before publishing, compare the source's count of the exported range (each chunk for "
    "chunked exports), taken inside the read's snapshot, with the rows written; a mismatch fails "
    "the export. Implies --validate.",
)
@click.option(
    "--parallel-exports",
    is_flag=True,
    help="Run the exports at the same time on threads (as parallel_exports: true), as many at "
    "once as the server's free connections allow.",
)
@click.option(
    "--parallel-export-processes",
    is_flag=True,
    help="Run each export in its own child process (as parallel_export_processes: true), as "
    "many at once as the server's free connections allow; a child that dies is reported failed.",
)
@click.option("--child", is_flag=True, hidden=True)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the unfinished chunk run of each chunked export with chunk_checkpoint: true "
    "(only the chunks not completed are read).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout when done."
)
@click.option(
    "--summary-output",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Also write the run summary JSON to PATH.",
)
@click.pass_context
def run(
    ctx: click.Context,
    config_path: Path,
    exports: tuple[str, ...],
    params: tuple[str, ...],
    validate: bool,
    reconcile: bool,
    parallel_exports: bool,
    parallel_export_processes: bool,
    child: bool,
    resume: bool,
    as_json: bool,
    summary_output: Path | None,
) -> None:
    """Run exports: read the source, write parts, publish the manifest and _SUCCESS.

    The per-export summary (rows, files, bytes, duration, peak memory) goes to stderr; progress
    is a live bar on a terminal and a log line every 10 s otherwise. Exit status is 0 when every
    export succeeded (or was skipped), 1 otherwise.
    """
    from rivet.commands.run import run as run_command

    # The modules just imported stay for the life of the process: leave them out of the
    # garbage collector's full passes, which would otherwise walk them again and again.
    gc.freeze()

    def action() -> None:
        aggregate = run_command(
            config_path,
            exports,
            parse_params(params),
            stdout_taken=as_json,
            validate=validate,
            reconcile=reconcile,
            resume=resume,
            parallel_exports=parallel_exports,
            parallel_export_processes=parallel_export_processes,
            child=child,
        )
        data = aggregate.to_json()
        if summary_output is not None:
            summary_output.write_text(json.dumps(data, indent=2) + "\n")
        if as_json:
            click.echo(json.dumps(data, indent=2))
        if aggregate.failed:
            names = ", ".join(r.export_name for r in aggregate.failed)
            raise ExportFailed(
                f"{len(aggregate.failed)} of {len(aggregate.results)} export(s) failed: {names} "
                "(causes above)"
            )

    guarded(ctx, action)


@cli.command(
    epilog="""
\b
Examples:
  rivet doctor -c rivet.yaml          # one line per check, exit 1 if any failed
  rivet doctor -c rivet.yaml --json   # the same as JSON
"""
)
@config_option
@param_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, config_path: Path, params: tuple[str, ...], as_json: bool) -> None:
    """Check that a config can run here: config, source login and version, each export's
    table or query (existence, privileges, read strategy), and a write-and-remove probe on
    each destination. Reads no data and leaves nothing behind."""
    from rivet.commands.doctor import doctor as doctor_command

    def action() -> None:
        checks = doctor_command(config_path, parse_params(params))
        if as_json:
            click.echo(json.dumps([c.to_json() for c in checks], indent=2))
        else:
            click.echo(f"rivet doctor: {config_path}\n")
            for check in checks:
                click.echo(
                    f"[{check.status}]{' ' * (5 - len(check.status))}{check.name}: {check.detail}"
                )
                if check.fix:
                    click.echo(f"        fix: {check.fix}")
            failed = sum(c.status == "FAIL" for c in checks)
            click.echo(
                "\nAll checks passed."
                if not failed
                else f"\n{failed} check(s) failed. Fix them before running exports."
            )
        if any(c.status == "FAIL" for c in checks):
            sys.exit(1)

    guarded(ctx, action)


@cli.command(
    epilog="""
\b
Examples:
  rivet check -c rivet.yaml                    # strategy, estimate, warnings, type report
  rivet check -c rivet.yaml -e orders --json   # one export, as JSON
  rivet check -c rivet.yaml --strict           # exit 1 if any column would be lossy
  rivet check -c rivet.yaml --target bigquery  # BigQuery type per column, and what cannot load
"""
)
@config_option
@click.option(
    "-e",
    "--export",
    "exports",
    multiple=True,
    metavar="NAME",
    help="Check only this export (repeatable).",
)
@param_option
@click.option("--type-report", is_flag=True, help="Accepted for compatibility: always shown.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 if any column is lossy or unsupported (or, with --target, cannot be held there).",
)
@click.option(
    "--target",
    type=click.Choice(["bigquery"]),
    help="Also show each column's type in this warehouse, and flag what it cannot hold.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def check(
    ctx: click.Context,
    config_path: Path,
    exports: tuple[str, ...],
    params: tuple[str, ...],
    type_report: bool,
    strict: bool,
    target: str | None,
    as_json: bool,
) -> None:
    """Is each export safe for the source? Reads no rows.

    Per export: the read strategy, the row estimate, the bound on the run's peak memory (and the
    settings that set it), the first statement the read would run and the server's EXPLAIN of
    it, a verdict (SAFE, DEGRADED or UNSAFE, with the reasons), the
    recommended profile (and parallel and chunk_size for chunked exports), and every column's
    source type, Arrow type and fidelity (exact, compatible, logical_string, lossy, unsupported).
    Exit status 1 when an export is UNSAFE (or, with --strict, a mapping is lossy).
    """
    from rivet.commands.check import check as check_command
    from rivet.commands.check import render, render_rich

    def action() -> None:
        checks = check_command(config_path, exports, parse_params(params), target)
        if as_json:
            click.echo(json.dumps([c.to_json() for c in checks], indent=2))
        elif sys.stdout.isatty():
            from rich.console import Console

            render_rich(checks, Console())
        else:
            click.echo(render(checks))
        violations = [f"{c.export}.{name}" for c in checks for name in c.violations]
        if strict and violations:
            raise ExportFailed(f"strict mode: unsafe type mappings found: {violations}")
        unwritable = [c.export for c in checks if c.destination_error]
        if unwritable:
            raise ExportFailed(
                f"no credentials for the destination of: {', '.join(unwritable)} (see above)"
            )
        unpartitioned = [c.export for c in checks if c.layout_error]
        if unpartitioned:
            raise ExportFailed(f"partition_by cannot be written for: {', '.join(unpartitioned)}")
        unsafe = [c.export for c in checks if c.verdict.verdict == "unsafe"]
        if unsafe:
            raise ExportFailed(
                f"unsafe for the source: {', '.join(unsafe)} (see the reasons above)"
            )

    guarded(ctx, action)


INIT_EXAMPLES = """
\b
Examples:
  rivet init --source-env DATABASE_URL -o rivet.yaml       # every table of schema public
  rivet init --source-env DATABASE_URL --schema sales -o rivet.yaml
  rivet init --source-file ./db.url --table orders         # one table, YAML on stdout
  rivet init --source-env DATABASE_URL --discover          # ranked candidates as JSON
"""


@cli.command(epilog=INIT_EXAMPLES)
@click.option("--source", "source_url", metavar="URL", help="postgresql:// or mysql:// URL.")
@click.option("--source-env", metavar="VAR", help="Environment variable holding the URL.")
@click.option("--source-file", metavar="PATH", help="File holding the URL.")
@click.option("--schema", metavar="S", help="Schema (MySQL: database); default public / the URL's.")
@click.option("--table", metavar="T", help="Only this table or view.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Write the config here (never over an existing file) instead of stdout.",
)
@click.option("--discover", is_flag=True, help="Print JSON: sizes, ranked cursor/chunk candidates.")
@click.pass_context
def init(
    ctx: click.Context,
    source_url: str | None,
    source_env: str | None,
    source_file: str | None,
    schema: str | None,
    table: str | None,
    output: Path | None,
    discover: bool,
) -> None:
    """Scaffold a rivet.yaml from the catalog: one export per table or view.

    Large tables with an integer primary key become chunked exports (checkpointed, parallel by
    size); large tables with an indexed timestamp become incremental exports on it; the rest are
    full exports. Each export carries a comment that says why. The URL itself is never written:
    the config reads it from --source-env's variable (DATABASE_URL for --source) or --source-file.
    """
    from rivet.commands import init as init_command

    def action() -> None:
        arg = init_command.source_arg(source_url, source_env, source_file)
        engine, advice = init_command.discover(arg, schema, table)
        if discover:
            click.echo(json.dumps(init_command.discover_json(advice), indent=2))
            return
        text = init_command.render_yaml(arg, advice, engine)
        if output is None:
            click.echo(text, nl=False)
            return
        write_new_file(output, text, "config")
        click.echo(f"wrote {output}: {len(advice)} export(s); next: rivet check -c {output}",
                   err=True)  # fmt: skip

    guarded(ctx, action)


@cli.group()
def state() -> None:
    """Inspect or reset what runs remember: cursors, chunk runs, run history.

    The state is .rivet_state.db next to the config, or the PostgreSQL database named by
    RIVET_STATE_URL.
    """


@state.command("show")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the cursors as JSON.")
@click.pass_context
def state_show(ctx: click.Context, config_path: Path, as_json: bool) -> None:
    """List each export's last cursor value and when it was stored."""
    from rivet.commands.state import show

    def action() -> None:
        cursors = show(config_path)
        if as_json:
            click.echo(
                json.dumps(
                    [
                        {
                            "export": c.export_name,
                            "cursor": c.cursor_value,
                            "position": c.position,
                            "columns": c.position_columns,
                            "run_id": c.run_id,
                            "updated_at": c.updated_at,
                        }
                        for c in cursors
                    ],
                    indent=2,
                )
            )
        elif not cursors:
            click.echo("No export state recorded yet.")
        else:
            click.echo(f"{'EXPORT':<30} {'LAST CURSOR':<40} LAST RUN")
            click.echo("-" * 90)
            for c in cursors:
                click.echo(f"{c.export_name:<30} {c.cursor_value or '':<40} {c.updated_at}")

    guarded(ctx, action)


@state.command("reset")
@config_option
@click.option(
    "-e",
    "--export",
    "export",
    required=True,
    metavar="NAME",
    help="The export whose cursor to forget.",
)
@click.pass_context
def state_reset(ctx: click.Context, config_path: Path, export: str) -> None:
    """Forget an export's cursor: its next run exports from the beginning again."""
    from rivet.commands.state import reset

    def action() -> None:
        existed = reset(config_path, export)
        click.echo(
            f"State reset for export '{export}'"
            if existed
            else f"No state recorded for export '{export}'; nothing to reset"
        )

    guarded(ctx, action)


@state.command("adopt")
@config_option
@export_required
@click.pass_context
def state_adopt(ctx: click.Context, config_path: Path, export: str) -> None:
    """Bind an export's stored cursor to this config, so that its next run continues it.

    A cursor remembers the config file (by name) and table of the export that stored it; a run
    of another config's export of the same name stops rather than continue it silently. When
    this export does continue it (the config was renamed or moved), adopt it.
    """
    from rivet.commands.state import adopt

    def action() -> None:
        if adopt(config_path, export):
            click.echo(f"The cursor of export '{export}' now belongs to {config_path}")
        else:
            click.echo(f"No cursor recorded for export '{export}'; nothing to adopt")

    guarded(ctx, action)


@state.command("chunks")
@config_option
@export_required
@click.option("--json", "as_json", is_flag=True, help="Print the chunk run as JSON.")
@click.pass_context
def state_chunks(ctx: click.Context, config_path: Path, export: str, as_json: bool) -> None:
    """Show an export's latest chunk run and the status of each chunk."""
    from rivet.commands.state import chunks

    def action() -> None:
        report = chunks(config_path, export)
        run = report.run
        if as_json:
            data = {
                "export": export,
                "run_id": run.run_id if run else None,
                "plan_hash": run.plan_hash if run else None,
                "status": run.status if run else None,
                "plan_id": run.plan_id if run else None,  # `rivet apply --worker`
                "publisher": run.publisher if run else None,
                "tasks": [t.to_json() for t in report.tasks],
            }
            click.echo(json.dumps(data, indent=2))
            return
        if run is None:
            click.echo(f"No chunk checkpoint data for export '{export}'.")
            return
        counts: dict[str, int] = {}
        for task in report.tasks:
            counts[task.status] = counts.get(task.status, 0) + 1
        click.echo(f"export:    {export}\nrun_id:    {run.run_id}\nplan_hash: {run.plan_hash}")
        click.echo(f"status:    {run.status}  ({', '.join(f'{n} {s}' for s, n in counts.items())})")
        if run.plan_id is not None:
            click.echo(f"plan:      {run.plan_id} (shared by its workers; publisher: "
                       f"{run.publisher or 'none yet'})")  # fmt: skip
        click.echo(f"{'CHUNK':>6}  {'STATUS':<10} {'TRIES':>5} {'ROWS':>12}  RANGE")
        for task in report.tasks:
            rows = f"{task.rows:,}" if task.rows is not None else "-"
            held = (
                f"  worker {task.lease} since {task.leased_at[:19]}"
                if task.lease and task.leased_at and task.status == "running"
                else ""
            )
            click.echo(
                f"{task.chunk.index:>6}  {task.status:<10} {task.attempts:>5} {rows:>12}  "
                f"{task.chunk.label}{held}" + (f"  error: {task.error}" if task.error else "")
            )

    guarded(ctx, action)


@state.command("reset-chunks")
@config_option
@export_required
@click.pass_context
def state_reset_chunks(ctx: click.Context, config_path: Path, export: str) -> None:
    """Forget an export's chunk runs: an unfinished one is dropped, the next run starts over."""
    from rivet.commands.state import reset_chunks

    def action() -> None:
        removed = reset_chunks(config_path, export)
        click.echo(f"Removed {removed} chunk run record(s) for export '{export}'.")

    guarded(ctx, action)


@state.command("files")
@config_option
@click.option("-e", "--export", "export", metavar="NAME", help="Only this export's files.")
@click.option("--limit", default=50, show_default=True, help="How many recent files.")
@click.option("--json", "as_json", is_flag=True, help="Print the files as JSON.")
@click.pass_context
def state_files(
    ctx: click.Context, config_path: Path, export: str | None, limit: int, as_json: bool
) -> None:
    """List the parts recent runs published: run, file, rows, bytes, content hash."""
    from rivet.commands.state import files

    def action() -> None:
        records = files(config_path, export, limit)
        if as_json:
            click.echo(json.dumps([r.to_json() for r in records], indent=2))
            return
        if not records:
            click.echo("No files recorded yet.")
            return
        click.echo(f"{'RUN ID':<36} {'FILE':<48} {'ROWS':>12} {'BYTES':>12}  CREATED")
        for r in records:
            click.echo(
                f"{r.run_id:<36} {r.file_name:<48} {r.rows:>12,} {r.bytes:>12,}  "
                f"{r.created_at[:19]}"
            )

    guarded(ctx, action)


@state.command("progression")
@config_option
@click.option("-e", "--export", "export", metavar="NAME", help="Only this export.")
@click.option("--json", "as_json", is_flag=True, help="Print the progression as JSON.")
@click.pass_context
def state_progression(
    ctx: click.Context, config_path: Path, export: str | None, as_json: bool
) -> None:
    """How far each export is committed (its cursor, or its last published run) and how far it
    is verified (the last run or chunk run a reconcile found equal to the source)."""
    from rivet.commands.state import progression

    def action() -> None:
        rows = progression(config_path, export)
        if as_json:
            click.echo(json.dumps([r.to_json() for r in rows], indent=2))
            return
        if not rows:
            click.echo("No progression recorded yet.")
            return
        click.echo(f"{'EXPORT':<24} {'MODE':<12} {'COMMITTED':<44} {'VERIFIED':<44}")
        for r in rows:
            committed = f"{r.committed or '-'} ({(r.committed_at or '')[:19]})"
            verified = f"{r.verified} ({(r.verified_at or '')[:19]})" if r.verified else "-"
            click.echo(f"{r.export_name:<24} {r.committed_mode or '-':<12} {committed:<44} "
                       f"{verified:<44}")  # fmt: skip

    guarded(ctx, action)


@cli.group()
def schema() -> None:
    """Print schemas of rivet's file formats."""


@schema.command("config")
def schema_config() -> None:
    """Print the JSON Schema of rivet.yaml (generated from the config models)."""
    from rivet.config.models import RivetConfig

    click.echo(json.dumps(RivetConfig.model_json_schema(), indent=2))


@cli.command(
    epilog="""
\b
Install:
  bash: echo 'eval "$(rivet completions bash)"' >> ~/.bashrc
  zsh:  echo 'eval "$(rivet completions zsh)"' >> ~/.zshrc
  fish: rivet completions fish > ~/.config/fish/completions/rivet.fish
"""
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completions(shell: str) -> None:
    """Print the completion script of SHELL (commands, options and their choices)."""
    from click.shell_completion import get_completion_class

    completion = get_completion_class(shell)
    assert completion is not None
    click.echo(completion(cli, {}, "rivet", "_RIVET_COMPLETE").source())


for command in [*trust.COMMANDS, *planning.COMMANDS]:
    cli.add_command(command)
state.add_command(trust.metrics, "runs")  # the same table, where session-2 users look for it


def main() -> None:
    on_stop_signals()  # SIGTERM as Ctrl-C: stop reading, clean up, record, exit 128 + signal
    limit_malloc_arenas()
    use_system_allocator_for_arrow()
    # `--json-errors` belongs to the group, but a scheduler's command line often puts it after
    # the subcommand (`rivet run -c x --json-errors`): accept it anywhere before a `--`.
    args = sys.argv[1:]
    end = args.index("--") if "--" in args else len(args)
    if "--json-errors" in args[1:end]:
        args.remove("--json-errors")
        args.insert(0, "--json-errors")
    cli(args=args, obj={}, prog_name="rivet")
