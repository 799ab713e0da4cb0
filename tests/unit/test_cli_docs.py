"""The CLI reference is generated from --help: an undocumented command change fails here."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_matches_help() -> None:
    render = runpy.run_path(str(ROOT / "scripts" / "cli_docs.py"))["render"]
    assert (ROOT / "docs" / "cli.md").read_text() == render(), (
        "docs/cli.md is stale: run .venv/bin/python scripts/cli_docs.py"
    )
