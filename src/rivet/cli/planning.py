"""`rivet plan` and `rivet apply`: review a run before it happens, then run exactly that."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rivet.cli.common import config_option, guarded, param_option, parse_params, write_new_file
from rivet.core.errors import ExportFailed


@click.command(
    epilog="""
\b
Examples:
  rivet plan -c rivet.yaml -o plan.json          # every export into one sealed artifact
  rivet plan -c rivet.yaml -e orders             # review one export's plan on the terminal
  rivet plan -c rivet.yaml --format json | jq .  # the artifact on stdout
"""
)
@config_option
@click.option("-e", "--export", "exports", multiple=True, metavar="NAME", help="Only this export.")
@param_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["pretty", "json"]),
    default="pretty",
    show_default=True,
    help="How to print the plan (the -o file is always JSON).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Write the sealed artifact here (never over an existing file).",
)
@click.pass_context
def plan(
    ctx: click.Context,
    config_path: Path,
    exports: tuple[str, ...],
    params: tuple[str, ...],
    output_format: str,
    output: Path | None,
) -> None:
    """Resolve the exports against the source and write a sealed plan for `rivet apply`.

    The plan holds, per export: mode, strategy, the first statement, chunk ranges, the cursor
    position, tuning, destination, row estimate and warnings; and the config it came from, with
    a fingerprint. Credentials never appear in it (the source must name them through url_env,
    url_file or password_env). A seal (SHA-256, or HMAC-SHA-256 with RIVET_PLAN_KEY) covers the
    whole artifact; plans are valid for 24 hours.
    """
    from rivet.commands.plan import make_plan, render_plan

    def action() -> None:
        artifact = make_plan(config_path, exports, parse_params(params))
        text = json.dumps(artifact, indent=2) + "\n"
        if output is not None:
            write_new_file(output, text, "plan")
            click.echo(f"wrote {output}; run it with: rivet apply {output}", err=True)
        if output_format == "json":
            click.echo(text, nl=False)
        else:
            click.echo(render_plan(artifact))

    guarded(ctx, action)


@click.command(
    epilog="""
\b
Examples:
  rivet apply plan.json                # refuses a changed, expired (24 h) or overtaken plan
  rivet apply plan.json --force        # apply an expired plan anyway
  rivet apply plan.json --reconcile    # with the same checks as rivet run
"""
)
@click.argument("plan_file", type=click.Path(path_type=Path), metavar="PLAN")
@click.option("--force", is_flag=True, help="Apply a plan older than 24 hours.")
@click.option("--validate", is_flag=True, help="As for rivet run.")
@click.option("--reconcile", is_flag=True, help="As for rivet run (implies --validate).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@click.pass_context
def apply(
    ctx: click.Context,
    plan_file: Path,
    force: bool,
    validate: bool,
    reconcile: bool,
    as_json: bool,
) -> None:
    """Run a plan made by `rivet plan`, exactly: its exports, from its embedded config, with the
    chunk ranges it fixed. Refused when the seal does not match (the file was edited), when it
    is older than 24 hours (unless --force), or when an incremental cursor moved since planning.
    Exit status as for `rivet run`."""
    from rivet.commands.plan import apply as apply_command

    def action() -> None:
        aggregate = apply_command(plan_file, force, validate=validate, reconcile=reconcile)
        if as_json:
            click.echo(json.dumps(aggregate.to_json(), indent=2))
        if aggregate.failed:
            names = ", ".join(r.export_name for r in aggregate.failed)
            raise ExportFailed(
                f"{len(aggregate.failed)} of {len(aggregate.results)} export(s) failed: {names} "
                "(causes above)"
            )

    guarded(ctx, action)


COMMANDS = [plan, apply]
