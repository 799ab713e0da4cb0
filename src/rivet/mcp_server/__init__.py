"""rivet-mcp: read-only database health checks over the Model Context Protocol (the `mcp`
extra: pip install 'rivet-extract[mcp]')."""

from __future__ import annotations

import sys

from rivet.core.errors import MissingExtra


def main(argv: list[str] | None = None) -> None:
    """The `rivet-mcp` command: the server, or a clear error when the extra is missing."""
    try:
        from rivet.mcp_server.server import main as serve
    except ImportError as exc:
        if (exc.name or "").split(".")[0] != "mcp":
            raise
        print(f"Error: {MissingExtra('rivet-mcp', 'mcp')}", file=sys.stderr)
        raise SystemExit(1) from None
    serve(argv)
