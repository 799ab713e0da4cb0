"""What the commands share: the config, param and export options, and error reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from rivet.core.errors import RivetError
from rivet.core.redact import redact
from rivet.core.stop import stop_reason

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Path to rivet.yaml.",
)
param_option = click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Value for a ${KEY} placeholder in the config (wins over the environment).",
)


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint="--param")
        params[key] = value
    return params


export_required = click.option(
    "-e", "--export", "export", required=True, metavar="NAME", help="The export."
)


def guarded(ctx: click.Context, action: Callable[[], None]) -> None:
    try:
        action()
    except RivetError as exc:
        fail(ctx, exc, exc.exit_code)
    except KeyboardInterrupt as exc:  # SIGTERM or Ctrl-C: see rivet.core.stop
        name, code = stop_reason(exc)
        detail = getattr(exc, "detail", None)
        fail(ctx, RivetError(detail or f"stopped by {name}; nothing was published"), code)


def fail(ctx: click.Context, exc: BaseException, code: int) -> NoReturn:
    message = redact(str(exc))
    config = (ctx.params or {}).get("config_path")
    if config is not None:  # hints name the config as `-c <config>`: this one
        message = message.replace("-c <config>", f"-c {config}")
    if ctx.obj.get("json_errors"):
        click.echo(json.dumps({"error": message}), err=True)
    else:
        click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def write_new_file(path: Path, text: str, what: str) -> None:
    """Write `text` to a file that must not exist yet (rivet never overwrites a config or a
    plan someone may have edited)."""
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise RivetError(
            f"{path} already exists; rivet never overwrites a {what}",
            hint="remove it, or choose another -o",
        ) from None
