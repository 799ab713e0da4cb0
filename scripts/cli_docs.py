"""Generate docs/cli.md from the commands' --help (a test checks it is up to date)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.testing import CliRunner

from rivet.cli.app import cli

HEAD = """# Command line

Generated from `--help` by `scripts/cli_docs.py`; `tests/unit/test_cli_docs.py` fails when a
command changes without this page.

Results go to stdout (`--json`), the summary, progress and logs to stderr. Exit status: 0 when
every export succeeded or was skipped; 1 for any failure (bad config, source or destination
error, failed export); 2 for command-line usage errors; 143 when stopped by SIGTERM and 130 by
Ctrl-C, after a clean stop (see [semantics.md](semantics.md)). `--json-errors` prints failures
as one JSON line `{"error": "..."}` on stderr. `RIVET_LOG=info|debug` shows more logs (always
redacted).
"""


def commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    found = [prefix]
    for name in sorted(group.commands):
        command = group.commands[name]
        path = [*prefix, name]
        found += commands(command, path) if isinstance(command, click.Group) else [path]
    return found


def render() -> str:
    runner = CliRunner()
    sections = [HEAD]
    for path in commands(cli, []):
        result = runner.invoke(
            cli, [*path, "--help"], obj={}, prog_name="rivet", terminal_width=100
        )
        output = result.output
        title = " ".join(["rivet", *path])
        sections.append(f"## `{title}`\n\n```\n{output.rstrip()}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    target.write_text(render())
    sys.stdout.write(f"wrote {target}\n")
