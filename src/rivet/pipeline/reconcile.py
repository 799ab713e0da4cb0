"""Reconcile: the source's COUNT(*) of what an export covered against the rows it wrote.

`rivet run --reconcile` counts before publishing, so a mismatch publishes nothing and moves no
cursor: the whole read for full exports, the window from the old position up to the last row
exported for incremental and time-window exports, and each chunk for chunked exports. `rivet
reconcile` counts each chunk of the latest checkpointed chunk run again, after the fact.

The count of `--reconcile` shares the read's snapshot, so that a mismatch is a real difference
and never a write that happened meanwhile: on PostgreSQL one exported snapshot held while the
export reads and counts, or the chunk's own transaction; on MySQL, where every statement is a
consistent read of its own, the rows those statements returned (InReadCount). `rivet reconcile`
counts after the fact, against the source as it is then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class InReadCount:
    """Where the source counts inside the read (ReadRequest.on_counted): the last count."""

    def __init__(self) -> None:
        self.rows: int | None = None

    def __call__(self, rows: int) -> None:
        self.rows = rows


def later_count_note(source_rows: int, counted_later: int) -> str | None:
    """A statement of its own after a MySQL read: a difference is shown, never failed on (it
    cannot tell a write since the read from a row missed)."""
    if counted_later == source_rows:
        return None
    return (
        f"reconcile: the source holds {counted_later:,} rows in the exported range now, the read's "
        f"statements returned {source_rows:,}: rows were written since (MySQL/MariaDB pages are "
        "separate reads, so this later count cannot share their snapshots)"
    )


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
    counted: Mapping[int, int] | None = None,
) -> list[ChunkCount]:
    """Each chunk's count: `counted` holds those taken inside the chunks' own reads (this run's);
    the others (chunks of an earlier, resumed process; `rivet reconcile`) are counted now."""
    counts = []
    for task in tasks:
        if task.status != "completed":
            counts.append(ChunkCount(task.chunk.index, task.chunk.label, None, None, "unknown"))
            continue
        found = (counted or {}).get(task.chunk.index)
        if found is None:
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
