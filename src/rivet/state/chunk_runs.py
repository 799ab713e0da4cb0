"""chunk_run / chunk_task: the ledger of a chunked export, so that a killed run can resume.

A run is `in_progress` until every chunk is `completed` and the run is published. A task is
`pending` -> `running` (claimed, attempts + 1) -> `completed` (rows and parts recorded) or back to
`pending` (a transient failure with attempts left) or `failed`. Claims happen in one locked
transaction, so two workers (threads or processes) never take the same chunk. The workers of a
sealed plan (`rivet apply --worker`) claim through rivet.state.leases instead, which also records
who holds each task (`lease_owner`, since `leased_at`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rivet.core.chunks import Chunk
from rivet.state.backend import Backend


@dataclass(frozen=True)
class ChunkRun:
    run_id: str
    export_name: str
    plan_hash: str
    status: str
    max_attempts: int
    created_at: str
    plan_id: str | None = None  # the sealed plan whose workers share this run
    host: str | None = None  # where the worker that started it runs (its staging, if local)
    publisher: str | None = None  # the worker that publishes it


@dataclass(frozen=True)
class ChunkTask:
    chunk: Chunk
    status: str
    attempts: int
    rows: int | None
    parts: list[dict[str, Any]]  # the task's staged/published parts (see pipeline.chunked)
    error: str | None
    lease: str | None = None  # the worker (host:pid) that claimed it last (`--worker`)
    leased_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "chunk_index": self.chunk.index,
            "range": self.chunk.label,
            "status": self.status,
            "attempts": self.attempts,
            "rows": self.rows,
            "files": [p["name"] for p in self.parts],
            "error": self.error,
            "worker": self.lease,
            "claimed_at": self.leased_at,
        }


@dataclass(frozen=True)
class SharedRun:
    """What a run the workers of a sealed plan share records beside its chunks."""

    plan_id: str
    host: str  # of the worker that starts it
    source_key: str  # the source it reads, without credentials
    max_readers: int | None  # chunks of that source read at once across all workers


_RUN_COLUMNS = (
    "run_id, export_name, plan_hash, status, max_attempts, created_at, plan_id, host, publisher"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ChunkRuns:
    def __init__(self, db: Backend) -> None:
        self._db = db

    def latest(self, export: str) -> ChunkRun | None:
        rows = self._db.rows(
            f"SELECT {_RUN_COLUMNS} FROM chunk_run WHERE export_name = ? "
            "ORDER BY created_at DESC LIMIT 1",
            (export,),
        )
        return ChunkRun(*rows[0]) if rows else None

    def of_plan(self, export: str, plan_id: str) -> ChunkRun | None:
        """The run the workers of a sealed plan share for this export."""
        rows = self._db.rows(
            f"SELECT {_RUN_COLUMNS} FROM chunk_run WHERE export_name = ? AND plan_id = ?",
            (export, plan_id),
        )
        return ChunkRun(*rows[0]) if rows else None

    def in_progress(self, export: str) -> ChunkRun | None:
        run = self.latest(export)
        return run if run is not None and run.status == "in_progress" else None

    def start(
        self, export: str, run_id: str, plan_hash: str, chunks: list[Chunk], max_attempts: int
    ) -> None:
        with self._db.locked():
            self._insert(export, run_id, plan_hash, chunks, max_attempts, _now(), None)

    def start_shared(
        self,
        export: str,
        run_id: str,
        plan_hash: str,
        chunks: list[Chunk],
        max_attempts: int,
        shared: SharedRun,
    ) -> ChunkRun:
        """The plan's run of this export: the one its workers started already, or a new one
        (one transaction under the lock, so concurrent workers start it once). While another
        run of the export (another plan's, or `rivet run`'s) is unfinished, that one."""
        with self._db.locked():
            found = self.of_plan(export, shared.plan_id) or self.in_progress(export)
            if found is None:
                self._insert(export, run_id, plan_hash, chunks, max_attempts, _now(), shared)
                found = self.of_plan(export, shared.plan_id)
        assert found is not None
        return found

    def _insert(
        self,
        export: str,
        run_id: str,
        plan_hash: str,
        chunks: list[Chunk],
        max_attempts: int,
        now: str,
        shared: SharedRun | None,
    ) -> None:
        self._db.change(
            "INSERT INTO chunk_run (run_id, export_name, plan_hash, status, max_attempts, "
            "created_at, updated_at, plan_id, host, source_key, max_readers) "
            "VALUES (?, ?, ?, 'in_progress', ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id, export, plan_hash, max_attempts, now, now,
                *(
                    (shared.plan_id, shared.host, shared.source_key, shared.max_readers)
                    if shared is not None
                    else (None, None, None, None)
                ),
            ),
        )  # fmt: skip
        for chunk in chunks:
            self._db.change(
                "INSERT INTO chunk_task (run_id, chunk_index, start_key, end_key, is_null, "
                "status, attempts, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)",
                (run_id, chunk.index, chunk.low, chunk.high, int(chunk.is_null), now),
            )

    def reopen(self, run_id: str) -> None:
        """On --resume: chunks a killed run left `running`, and chunks that ran out of
        attempts, are pending again (a resume is a new decision to try them)."""
        self._db.change(
            "UPDATE chunk_task SET status = 'pending', attempts = 0, updated_at = ? "
            "WHERE run_id = ? AND status IN ('running', 'failed')",
            (_now(), run_id),
        )

    def reopen_failed(self, run_id: str) -> None:
        """`rivet apply --worker --resume`: chunks that ran out of attempts are pending again
        (those running stay with their workers)."""
        self._db.change(
            "UPDATE chunk_task SET status = 'pending', attempts = 0, updated_at = ? "
            "WHERE run_id = ? AND status = 'failed'",
            (_now(), run_id),
        )

    def claim(self, run_id: str) -> ChunkTask | None:
        with self._db.locked():
            rows = self._db.rows(
                "SELECT chunk_index FROM chunk_task WHERE run_id = ? AND status = 'pending' "
                "ORDER BY chunk_index LIMIT 1",
                (run_id,),
            )
            if not rows:
                return None
            self._db.change(
                "UPDATE chunk_task SET status = 'running', attempts = attempts + 1, "
                "updated_at = ? WHERE run_id = ? AND chunk_index = ?",
                (_now(), run_id, rows[0][0]),
            )
            return self._task(run_id, rows[0][0])

    def complete(self, run_id: str, index: int, rows: int, parts: list[dict[str, Any]]) -> None:
        self._db.change(
            "UPDATE chunk_task SET status = 'completed', rows_written = ?, parts_json = ?, "
            "last_error = NULL, updated_at = ? WHERE run_id = ? AND chunk_index = ?",
            (rows, json.dumps(parts), _now(), run_id, index),
        )

    def fail(self, run_id: str, index: int, error: str, *, retry: bool) -> None:
        self._db.change(
            "UPDATE chunk_task SET status = ?, last_error = ?, updated_at = ? "
            "WHERE run_id = ? AND chunk_index = ?",
            ("pending" if retry else "failed", error, _now(), run_id, index),
        )

    def release(self, run_id: str, index: int, error: str) -> None:
        """A stopped run's chunk: failed, so that --resume reads it again."""
        self.fail(run_id, index, error, retry=False)

    def set_parts(self, run_id: str, index: int, parts: list[dict[str, Any]]) -> None:
        """A completed chunk's part records, measured again (an imported run's parts)."""
        self._db.change(
            "UPDATE chunk_task SET parts_json = ?, updated_at = ? WHERE run_id = ? "
            "AND chunk_index = ?",
            (json.dumps(parts), _now(), run_id, index),
        )

    def reset_task(self, run_id: str, index: int) -> None:
        """A completed chunk whose part is gone from the destination is read again."""
        self._db.change(
            "UPDATE chunk_task SET status = 'pending', attempts = 0, rows_written = NULL, "
            "parts_json = NULL, updated_at = ? WHERE run_id = ? AND chunk_index = ?",
            (_now(), run_id, index),
        )

    def finish(self, run_id: str) -> None:
        self._db.change(
            "UPDATE chunk_run SET status = 'completed', updated_at = ? WHERE run_id = ?",
            (_now(), run_id),
        )

    def tasks(self, run_id: str) -> list[ChunkTask]:
        """Every task of the run, in chunk order (one statement)."""
        rows = self._db.rows(f"SELECT {TASK_COLUMNS} FROM chunk_task WHERE run_id = ? "
                             "ORDER BY chunk_index", (run_id,))  # fmt: skip
        return [task_from_row(row) for row in rows]

    def reset(self, export: str) -> int:
        """Forget every chunk run of an export; returns how many there were."""
        with self._db.locked():
            runs = [
                r[0]
                for r in self._db.rows(
                    "SELECT run_id FROM chunk_run WHERE export_name = ?", (export,)
                )
            ]
            for run_id in runs:
                self._db.change("DELETE FROM chunk_task WHERE run_id = ?", (run_id,))
            self._db.change("DELETE FROM chunk_run WHERE export_name = ?", (export,))
        return len(runs)

    def _task(self, run_id: str, index: int) -> ChunkTask:
        rows = self._db.rows(
            f"SELECT {TASK_COLUMNS} FROM chunk_task WHERE run_id = ? AND chunk_index = ?",
            (run_id, index),
        )
        return task_from_row(rows[0])


TASK_COLUMNS = (
    "chunk_index, start_key, end_key, is_null, status, attempts, rows_written, parts_json, "
    "last_error, lease_owner, leased_at"
)


def task_from_row(row: tuple[Any, ...]) -> ChunkTask:
    index, low, high, is_null, status, attempts, rows, parts, error, lease, leased_at = row
    return ChunkTask(
        Chunk(index, low, high, bool(is_null)),
        status,
        attempts,
        rows,
        json.loads(parts) if parts else [],
        error,
        lease,
        leased_at,
    )
