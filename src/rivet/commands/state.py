"""`rivet state show|reset`: inspect and reset the cursors that incremental exports keep."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rivet.config import load_config
from rivet.core.errors import ExportNotFound
from rivet.state import CursorState, open_state


def show(config_path: Path, params: Mapping[str, str] | None = None) -> list[CursorState]:
    load_config(config_path, params)  # a broken config is reported, not half-used
    state = open_state(config_path.resolve().parent)
    try:
        return state.cursors()
    finally:
        state.close()


def reset(config_path: Path, export: str, params: Mapping[str, str] | None = None) -> bool:
    """Forget an export's cursor: its next run starts from the beginning. True if one existed."""
    config = load_config(config_path, params)
    names = [e.name for e in config.exports]
    if export not in names:
        raise ExportNotFound(
            f"export '{export}' not found in config",
            hint=f"known exports: {', '.join(names)}; `rivet state show -c {config_path}` "
            "lists the recorded cursors",
        )
    state = open_state(config_path.resolve().parent)
    try:
        return state.reset(export)
    finally:
        state.close()
