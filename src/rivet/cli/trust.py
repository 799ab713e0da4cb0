"""Commands that prove what was exported: validate, reconcile, repair, metrics, journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from rivet.cli.common import (
    config_option,
    export_required,
    guarded,
    param_option,
    parse_params,
)
from rivet.core.errors import ExportFailed, RivetError

VALIDATE_EXAMPLES = """
\b
Examples:
  rivet validate -c rivet.yaml                 # every export's prefix: size and content hash
  rivet validate -c rivet.yaml -e orders --full  # also decode rows and column checksums
  rivet validate -c rivet.yaml -e orders --run-id orders_20261130T101500.123
  rivet validate -c rivet.yaml --date 2026-11-29 # a prefix with {date} from another day
"""


@click.command(epilog=VALIDATE_EXAMPLES)
@config_option
@click.option("-e", "--export", "exports", multiple=True, metavar="NAME", help="Only this export.")
@param_option
@click.option("--run-id", metavar="ID", help="Check only this run's manifest.")
@click.option("--full", is_flag=True, help="Also decode every part: rows and column checksums.")
@click.option(
    "--date", "day", metavar="YYYY-MM-DD", help="The day {date} stands for (default today)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the verification as JSON.")
@click.pass_context
def validate(
    ctx: click.Context,
    config_path: Path,
    exports: tuple[str, ...],
    params: tuple[str, ...],
    run_id: str | None,
    full: bool,
    day: str | None,
    as_json: bool,
) -> None:
    """Check each export's destination against its manifests (no source query).

    Every part a run manifest lists must be present with its size and content hash; with --full
    it must also decode to its rows and per-column checksums. _manifest.json (manifest.json in
    rivet-cli 0.7.7's layout) must be the latest run's manifest and _SUCCESS must hold its hash;
    objects no manifest lists are reported; runs a replacing run retired are not checked.
    Exit 1 on any problem, and when there is no manifest to check.
    """
    from rivet.commands.validate import render
    from rivet.commands.validate import validate as validate_command

    def action() -> None:
        moment = _day(day)
        results = validate_command(config_path, exports, parse_params(params), run_id, full, moment)
        if as_json:
            click.echo(json.dumps([r.to_json() for r in results], indent=2))
        else:
            click.echo(render(results))
        bad = [r.export_name for r in results if r.status != "passed"]
        if bad:
            raise ExportFailed(f"validation failed for {', '.join(bad)}")

    guarded(ctx, action)


def _day(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise RivetError(f"invalid --date '{text}': expected YYYY-MM-DD") from None


@click.command(
    epilog="""
\b
Examples:
  rivet reconcile -c rivet.yaml -e events          # exit 1 when any chunk differs
  rivet reconcile -c rivet.yaml -e events --json   # the per-chunk report
"""
)
@config_option
@export_required
@param_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def reconcile(
    ctx: click.Context, config_path: Path, export: str, params: tuple[str, ...], as_json: bool
) -> None:
    """Count each chunk of a checkpointed chunk run in the source and compare with the rows
    the run wrote for it (chunked exports with chunk_checkpoint: true).

    One short COUNT(*) per chunk, with the chunk's own WHERE. A chunk whose count differs is a
    mismatch (rows changed since the export, or were lost); exit 1 on any mismatch, or when a
    chunk did not complete. `rivet repair` re-exports the chunks that differ. For full,
    incremental and time_window exports use `rivet run --reconcile`.
    """
    from rivet.commands.reconcile import reconcile as reconcile_command

    def action() -> None:
        report = reconcile_command(config_path, export, parse_params(params))
        data = report.to_json()
        if as_json:
            click.echo(json.dumps(data, indent=2))
        else:
            summary = data["summary"]
            click.echo(
                f"  export:  {report.export_name}\n  run:     {report.run_id}\n"
                f"  chunks:  {summary['chunks']} ({summary['matches']} match, "
                f"{summary['mismatches']} mismatch, {summary['unknown']} unknown)\n"
                f"  rows:    source {summary['source_rows']:,} / exported "
                f"{summary['exported_rows']:,}"
            )
            for c in report.chunks:
                if c.status != "match":
                    click.echo(
                        f"  {c.status}: chunk {c.index} {c.range}: source {c.source_rows}, "
                        f"exported {c.exported_rows}"
                    )
            click.echo("  status:  " + ("all chunks match" if report.clean else "MISMATCH"))
        if not report.clean:
            raise ExportFailed(
                f"reconcile of '{export}' found chunks that differ",
                hint=f"see what a repair would do: rivet repair -c {config_path} -e {export}",
            )

    guarded(ctx, action)


@click.command(
    epilog="""
\b
Examples:
  rivet repair -c rivet.yaml -e events             # dry run: which chunks, and why
  rivet repair -c rivet.yaml -e events --execute   # re-export them, then validate
"""
)
@config_option
@export_required
@param_option
@click.option("--execute", is_flag=True, help="Re-export the chunks (default: dry run).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan or result as JSON.")
@click.pass_context
def repair(
    ctx: click.Context,
    config_path: Path,
    export: str,
    params: tuple[str, ...],
    execute: bool,
    as_json: bool,
) -> None:
    """Re-export the chunks of a checkpointed chunk run that reconcile finds different from the
    source, or whose parts are missing, truncated or altered at the destination.

    Without --execute nothing is written: the chunks and reasons are listed. With --execute each
    chunk is read again into new parts; the parts they replace move to _quarantine/<repair run>/
    (nothing is deleted) and a repair manifest lists the export's current parts, so
    `rivet validate` passes again.
    """
    from rivet.commands.reconcile import repair as repair_command

    def action() -> None:
        report = repair_command(config_path, export, parse_params(params), execute)
        if as_json:
            click.echo(json.dumps(report.to_json(), indent=2))
            return
        if not report.candidates:
            click.echo(f"Nothing to repair: every chunk of {report.run_id} matches and validates.")
            return
        verb = "Re-exported" if report.executed else "Would re-export"
        click.echo(f"{verb} {len(report.candidates)} chunk(s) of {report.run_id}:")
        for c in report.candidates:
            click.echo(f"  • chunk {c.index} {c.range}: {c.reason}")
        if report.executed:
            click.echo(f"repair run {report.repair_run_id}: {report.rows:,} rows written")
        else:
            click.echo(f"run with --execute to re-export: rivet repair -c {config_path} "
                       f"-e {export} --execute")  # fmt: skip

    guarded(ctx, action)


@click.command()
@config_option
@click.option("-e", "--export", "export", metavar="NAME", help="Only this export.")
@click.option(
    "--last", "--limit", "limit", default=20, show_default=True, help="How many recent runs."
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.pass_context
def metrics(
    ctx: click.Context, config_path: Path, export: str | None, limit: int, as_json: bool
) -> None:
    """Recent runs from the state store: status, rows, duration, peak memory, files, bytes,
    and the trust checks (retries, validation, quality, schema drift, reconcile)."""
    from rivet.commands.state import runs

    def action() -> None:
        records = runs(config_path, export, limit)
        if as_json:
            click.echo(json.dumps([r.to_json() for r in records], indent=2))
            return
        if not records:
            click.echo("No runs recorded yet.")
            return
        click.echo(
            f"{'EXPORT':<24} {'STATUS':<8} {'ROWS':>12} {'SECONDS':>8} {'RSS MB':>7} "
            f"{'FILES':>5} {'BYTES':>12}  RUN ID"
        )
        for r in records:
            click.echo(
                f"{r.export_name:<24} {r.status:<8} {r.rows:>12,} {r.duration_ms / 1000:>8.1f} "
                f"{r.peak_rss_mb or 0:>7.0f} {r.files:>5} {r.bytes:>12,}  {r.run_id}"
            )
            d = r.details
            checks = [f"retries={d.get('retries', 0)}"] + [
                f"{key}={d[key]}" for key in ("validated", "quality", "schema", "reconcile")
                if d.get(key)
            ]  # fmt: skip
            click.echo("    " + "  ".join(checks))
            if r.error:
                click.echo(f"    error: {' '.join(r.error.split())[:200]}")

    guarded(ctx, action)


@click.command()
@config_option
@export_required
@click.option("--last", "limit", default=5, show_default=True, help="How many recent runs.")
@click.option("--run-id", metavar="ID", help="Only this run.")
@click.option("--json", "as_json", is_flag=True, help="Print the journals as JSON.")
@click.pass_context
def journal(
    ctx: click.Context,
    config_path: Path,
    export: str,
    limit: int,
    run_id: str | None,
    as_json: bool,
) -> None:
    """What happened during an export's recent runs, event by event: the plan, schema changes,
    shape drift, quality, reconcile, what was published, the cursor, the outcome."""
    from rivet.commands.state import journal as journal_command

    def action() -> None:
        entries = journal_command(config_path, export, limit, run_id)
        if as_json:
            click.echo(json.dumps([e.journal for e in entries], indent=2))
            return
        if not entries:
            what = f"run_id '{run_id}'" if run_id else f"export '{export}'"
            click.echo(f"No journal entries for {what} yet.")
            return
        for entry in entries:
            click.echo(f"── {entry.run_id} ──")
            for event in entry.journal.get("events", []):
                detail = "  ".join(
                    f"{k}={v}" for k, v in event.items() if k not in ("at", "event") and v
                )
                click.echo(f"  {event['at'][11:23]}  {event['event']:<16} {detail}")

    guarded(ctx, action)


COMMANDS = [validate, reconcile, repair, metrics, journal]
