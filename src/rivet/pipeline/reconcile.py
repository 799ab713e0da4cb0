"""Reconcile: the source's COUNT(*) of what an export covered against the rows it wrote.

`rivet run --reconcile` counts before publishing, so a mismatch publishes nothing and moves no
cursor: the whole read for full exports, the window from the old position up to the last row
exported for incremental and time-window exports, and each chunk for chunked exports. `rivet
reconcile` counts each chunk of the latest checkpointed chunk run again, after the fact.
The count is a separate statement: rows written to the source since the read make a mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from rivet.core.errors import ReconcileError
from rivet.sources.base import ChunkRead, PreparedRead, ReadRequest, Source, retrying
from rivet.state.chunk_runs import ChunkTask


@dataclass(frozen=True)
class ChunkCount:
    index: int
    range: str
    source_rows: int | None
    exported_rows: int | None
    status: str  # match | mismatch | unknown (the chunk did not complete)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def count_read(
    source: Source,
    request: ReadRequest,
    prepared: PreparedRead,
    upto: Sequence[str] | None,
) -> int:
    return retrying(request, lambda: source.count_rows(request, prepared, upto))


def check_rows(export: str, source_rows: int, exported: int, reread: int = 0) -> str:
    """The verdict line for the summary; raises on a mismatch. `reread`: rows the read covered
    that an earlier run exported (an incremental run's boundary value, its cursor_lag)."""
    if source_rows != exported + reread:
        before = f" (and {reread:,} exported before)" if reread else ""
        raise ReconcileError(
            f"export '{export}': reconcile MISMATCH: exported {exported:,} rows{before}, the "
            f"source holds {source_rows:,}; nothing was published",
            hint="rows changed during the export, or rows were lost: run it again; if it "
            "persists, compare with `rivet check` and report it",
        )
    return (
        f"match ({exported:,} + {reread:,} exported before)" if reread else f"match ({exported:,})"
    )


def count_chunks(
    source: Source,
    request: ReadRequest,
    prepared: PreparedRead,
    column: str,
    tasks: Sequence[ChunkTask],
) -> list[ChunkCount]:
    counts = []
    for task in tasks:
        if task.status != "completed":
            counts.append(ChunkCount(task.chunk.index, task.chunk.label, None, None, "unknown"))
            continue
        chunk_request = replace(request, chunk=ChunkRead(column, task.chunk))
        found = count_read(source, chunk_request, prepared, None)
        status = "match" if found == task.rows else "mismatch"
        counts.append(ChunkCount(task.chunk.index, task.chunk.label, found, task.rows, status))
    return counts


def check_chunks(export: str, counts: Sequence[ChunkCount]) -> str:
    bad = [c for c in counts if c.status != "match"]
    if bad:
        listed = ", ".join(
            f"chunk {c.index} {c.range}: source {c.source_rows}, exported {c.exported_rows}"
            for c in bad[:5]
        )
        raise ReconcileError(
            f"export '{export}': reconcile MISMATCH in {len(bad)} chunk(s): {listed}",
            hint=f"`rivet repair -c <config> -e {export}` shows what it would re-export",
        )
    total = sum(c.exported_rows or 0 for c in counts)
    return f"match ({total:,} in {len(counts)} chunks)"
