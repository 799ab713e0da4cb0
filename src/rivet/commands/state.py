"""What repeated runs remember, for `rivet state ...`, `rivet metrics` and `rivet journal`:
cursors, chunk runs, run metrics, published files, run journals."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rivet.config import load_config
from rivet.core.errors import ExportNotFound
from rivet.pipeline.cursor_owner import owner_of
from rivet.state import CursorState, StateStore, open_state
from rivet.state.chunk_runs import ChunkRun, ChunkTask
from rivet.state.history import FileRecord, JournalEntry
from rivet.state.progression import Progress
from rivet.state.run_log import RunRecord


@dataclass(frozen=True)
class ChunkReport:
    run: ChunkRun | None
    tasks: list[ChunkTask]


@contextmanager
def _state(
    config_path: Path, params: Mapping[str, str] | None, export: str | None = None
) -> Iterator[StateStore]:
    """Open the state next to a config that loads (a broken config is reported, not half-used),
    after checking that `export` is one of its exports."""
    config = load_config(config_path, params)
    names = [e.name for e in config.exports]
    if export is not None and export not in names:
        raise ExportNotFound(
            f"export '{export}' not found in config",
            hint=f"known exports: {', '.join(names)}",
        )
    state = open_state(config_path.resolve().parent)
    try:
        yield state
    finally:
        state.close()


def show(config_path: Path, params: Mapping[str, str] | None = None) -> list[CursorState]:
    with _state(config_path, params) as state:
        return state.cursors()


def reset(config_path: Path, export: str, params: Mapping[str, str] | None = None) -> bool:
    """Forget an export's cursor: its next run starts from the beginning. True if one existed."""
    with _state(config_path, params, export) as state:
        return state.reset(export)


def adopt(config_path: Path, export: str, params: Mapping[str, str] | None = None) -> bool:
    """Bind the stored cursor of `export` to this config (whose export continues it). True if
    one existed."""
    config = load_config(config_path, params)
    with _state(config_path, params, export) as state:
        table = next(e.table for e in config.exports if e.name == export)
        return state.adopt(export, owner_of(table, str(config_path)))


def chunks(config_path: Path, export: str, params: Mapping[str, str] | None = None) -> ChunkReport:
    """The latest chunk run of an export and its tasks."""
    with _state(config_path, params, export) as state:
        run = state.chunks.latest(export)
        return ChunkReport(run, state.chunks.tasks(run.run_id) if run else [])


def reset_chunks(config_path: Path, export: str, params: Mapping[str, str] | None = None) -> int:
    """Forget an export's chunk runs (an unfinished one can then not be resumed)."""
    with _state(config_path, params, export) as state:
        return state.chunks.reset(export)


def runs(
    config_path: Path,
    export: str | None = None,
    limit: int = 20,
    params: Mapping[str, str] | None = None,
) -> list[RunRecord]:
    with _state(config_path, params, export) as state:
        return state.runs.recent(export, limit)


def files(
    config_path: Path,
    export: str | None = None,
    limit: int = 50,
    params: Mapping[str, str] | None = None,
) -> list[FileRecord]:
    """The parts recent runs published, newest first."""
    with _state(config_path, params, export) as state:
        return state.files.recent(export, limit)


def journal(
    config_path: Path,
    export: str,
    limit: int = 5,
    run_id: str | None = None,
    params: Mapping[str, str] | None = None,
) -> list[JournalEntry]:
    """The journals of an export's recent runs (or of one run), newest first."""
    with _state(config_path, params, export) as state:
        return state.journal.recent(export, limit, run_id)


def progression(
    config_path: Path, export: str | None = None, params: Mapping[str, str] | None = None
) -> list[Progress]:
    """How far each export is committed, and how far verified by a reconcile."""
    with _state(config_path, params, export) as state:
        return state.progression.all(export)
