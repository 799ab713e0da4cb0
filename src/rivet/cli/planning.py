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
  rivet plan -c rivet.yaml --for-workers -o plan.json  # for `rivet apply --worker` processes
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
@click.option(
    "--for-workers",
    is_flag=True,
    help="A plan that `rivet apply --worker` processes on any hosts share: chunked exports read "
    "a snapshot per chunk (refused for chunk_snapshot: shared).",
)
@click.pass_context
def plan(
    ctx: click.Context,
    config_path: Path,
    exports: tuple[str, ...],
    params: tuple[str, ...],
    output_format: str,
    output: Path | None,
    for_workers: bool,
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
        artifact = make_plan(config_path, exports, parse_params(params), for_workers)
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
  RIVET_STATE_URL=postgresql://... rivet apply plan.json --worker   # one of N workers, any host
  rivet apply a.json b.json --worker   # several plans (configs) as one pool of work
"""
)
@click.argument("plan_files", type=click.Path(path_type=Path), metavar="PLAN...", nargs=-1,
                required=True)  # fmt: skip
@click.option("--force", is_flag=True, help="Apply a plan older than 24 hours.")
@click.option("--validate", is_flag=True, help="As for rivet run.")
@click.option("--reconcile", is_flag=True, help="As for rivet run (implies --validate).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON on stdout.")
@click.option(
    "--worker",
    is_flag=True,
    help="Be one of any number of processes that share the plans' work through the PostgreSQL "
    "state store (RIVET_STATE_URL): claim a chunk (or a whole export), export it, record it, "
    "claim the next; the worker that completes an export's last chunk publishes it. A dead "
    "worker's chunk is taken over by the others. Plans made with `rivet plan --for-workers`.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="With --worker: chunks (and whole exports) that failed are tried again; the "
    "completed ones are kept.",
)
@click.option(
    "--shared-filesystem",
    is_flag=True,
    help="With --worker: a local destination.path (and the default SQLite Iceberg catalog) is "
    "on one filesystem every worker's host mounts (NFS, EFS); otherwise a worker on another "
    "host than the run's first is refused.",
)
@click.pass_context
def apply(
    ctx: click.Context,
    plan_files: tuple[Path, ...],
    force: bool,
    validate: bool,
    reconcile: bool,
    as_json: bool,
    worker: bool,
    resume: bool,
    shared_filesystem: bool,
) -> None:
    """Run a plan made by `rivet plan`, exactly: its exports, from its embedded config, with the
    chunk ranges it fixed. Refused when the seal does not match (the file was edited), when it
    is older than 24 hours (unless --force), or when an incremental cursor moved since planning.
    Exit status as for `rivet run`; a worker exits 0 once every export of its plans is
    published (by it or another worker), non-zero when one failed."""
    from rivet.commands.plan import apply as apply_command
    from rivet.commands.workers import work

    def action() -> None:
        if not worker and (len(plan_files) > 1 or resume or shared_filesystem):
            raise click.UsageError(
                "several plans, --resume and --shared-filesystem go with --worker"
            )
        if worker:
            aggregate = work(plan_files, force, validate=validate,
                             reconcile=reconcile, resume=resume,
                             shared_filesystem=shared_filesystem)  # fmt: skip
        else:
            aggregate = apply_command(plan_files[0], force, validate=validate,
                                      reconcile=reconcile)  # fmt: skip
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
