"""Chunked mode: the chunk policy of an export, and cutting a key span into chunks (pure).

A chunk is a half-open range of its column, `low <= c < high` (either bound may be open), or the
rows whose column is NULL. Bounds are SQL literals rendered by the source that measured them, so a
checkpointed chunk re-reads exactly the same rows after a resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import xxhash

# A key span that would need more chunks than this is refused: a sparse key (ids 1 and 10^12)
# must not turn into a million empty statements.
MAX_CHUNKS = 100_000
# With chunk_size_memory_mb: chunk_size = mb / bytes per row, clamped to these rows.
MEMORY_CHUNK_ROWS = (10_000, 5_000_000)


@dataclass(frozen=True)
class ChunkSpec:
    """The chunk policy of one export (from the config; the column may be resolved later)."""

    column: str | None  # None: the table's single integer primary key
    by: str  # range | days | dense
    size: int  # rows per chunk (range, dense)
    count: int | None  # chunk_count: the span cut into this many chunks
    memory_mb: int | None  # chunk_size_memory_mb: size from the table's bytes per row
    days: int | None  # chunk_by_days
    parallel: int
    checkpoint: bool
    max_attempts: int
    shared_snapshot: bool  # PostgreSQL: every chunk reads one snapshot (else one per chunk)
    # `rivet apply`: the column and chunks fixed by the plan (not computed again)
    planned: tuple[str, tuple[Chunk, ...]] | None = None

    def fingerprint(self, source_sql: str, column: str) -> str:
        """What a resumed run must share with the run it continues (16 hex)."""
        shape = {
            "range": f"{self.size}:{self.count}:{self.memory_mb}",
            "dense": f"dense:{self.size}",
        }
        detail = f"days:{self.days}" if self.by == "days" else shape[self.by]
        return xxhash.xxh3_64_hexdigest(f"{source_sql}\x1f{column}\x1f{detail}".encode())


@dataclass(frozen=True)
class Chunk:
    index: int
    low: str | None  # SQL literal, inclusive; None = open
    high: str | None  # SQL literal, exclusive; None = open
    is_null: bool = False  # the rows whose chunk column is NULL

    @property
    def label(self) -> str:
        if self.is_null:
            return "NULL"
        return f"[{self.low if self.low is not None else '-inf'}, {self.high or '+inf'})"


def integer_chunks(low: int, high: int, size: int) -> list[Chunk]:
    """[low, low+size), ... covering low..high inclusive."""
    starts = range(low, high + 1, size)
    return [Chunk(i, str(start), str(start + size)) for i, start in enumerate(starts)]


def chunk_size_for(spec: ChunkSpec, low: int, high: int, bytes_per_row: float | None) -> int:
    """Rows per chunk from chunk_count (span / count) or chunk_size_memory_mb, else chunk_size."""
    if spec.count is not None:
        return max(1, -(-(high - low + 1) // spec.count))
    if spec.memory_mb is not None:
        per_row = bytes_per_row if bytes_per_row and bytes_per_row > 0 else 512.0
        rows = int((spec.memory_mb << 20) / per_row)
        return max(MEMORY_CHUNK_ROWS[0], min(MEMORY_CHUNK_ROWS[1], rows))
    return spec.size


def day_chunks(first: date, last: date, days: int) -> list[Chunk]:
    """[d, d+days) windows of dates covering first..last, as 'YYYY-MM-DD' literals."""
    chunks: list[Chunk] = []
    start = first
    while start <= last:
        end = start + timedelta(days=days)
        chunks.append(Chunk(len(chunks), f"'{start.isoformat()}'", f"'{end.isoformat()}'"))
        start = end
    return chunks


def dense_chunks(boundaries: list[str]) -> list[Chunk]:
    """Chunks between boundary literals b1 < b2 < ...: (-inf, b1), [b1, b2), ..., [bn, +inf)."""
    edges: list[str | None] = [None, *boundaries, None]
    return [Chunk(i, edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def with_null_chunk(chunks: list[Chunk]) -> list[Chunk]:
    return [*chunks, Chunk(len(chunks), None, None, is_null=True)]
