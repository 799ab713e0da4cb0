"""`-m live` and `-m "not live"` select what they say (issue 19, item 3): a marker that selects
nothing lets a run that needed the servers pass without them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collected(marker: str) -> list[str]:
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-m",
            marker,
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in listing.splitlines() if "::" in line]


def test_live_selects_exactly_the_live_tests() -> None:
    live, rest = _collected("live"), _collected("not live")
    assert live and rest
    assert all(t.startswith("tests/live/") for t in live)
    assert not any(t.startswith("tests/live/") for t in rest)
