"""Suite-wide: tests write only under temporary folders, never into the checkout; tests under
tests/live are marked `live`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_CACHES = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv/", ".hypothesis")


def _checkout_files() -> set[str] | None:
    try:
        listing = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout: nothing to compare
    return {line for line in listing.splitlines() if not any(c in line for c in _CACHES)}


_BEFORE = _checkout_files()


@pytest.fixture(autouse=True)
def _in_a_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs from its own temporary folder: whatever it writes relative to the working
    directory (a config built in Python keeps its state there) stays out of the checkout."""
    monkeypatch.chdir(tmp_path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/live is `live` (needs the servers), so `-m live` and
    `-m "not live"` select what they say; a marker in a conftest alone marks nothing."""
    live = ROOT / "tests" / "live"
    for item in items:
        if item.path.is_relative_to(live):
            item.add_marker(pytest.mark.live)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    after = _checkout_files()
    if _BEFORE is None or after is None:
        return
    written = sorted(after - _BEFORE)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("tests wrote into the checkout: " + ", ".join(written), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
