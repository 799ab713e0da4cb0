"""Commands that prove what was exported: validate, reconcile, repair, metrics, journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from rivet.cli.common import config_option, guarded, param_option, parse_params
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
    it must also decode to its rows and per-column checksums. manifest.json must be the latest
    run's manifest and _SUCCESS must hold its hash; objects no manifest lists are reported.
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


COMMANDS = [validate]
