"""`rivet check`'s verdict on an export: safe, degraded or unsafe for the source, and why (pure).

What is judged is the server's own plan (EXPLAIN) of the first statement the read would run, the
row estimate, the chunk layout and the connection budget:
- unsafe: statements that should each read a bounded slice (keyset pages, chunks) scan a large
  table whole, so the export repeats a full scan page after page;
- degraded: one statement reads a large table whole (no key to page by), the chunk key is
  sparse, or the export needs more connections than the server has free;
- safe: otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rivet.core.chunks import ChunkSpec
from rivet.sources.base import Explain

LARGE_ROWS = 100_000  # a full scan of fewer rows is cheap whatever the plan


@dataclass
class Verdict:
    verdict: str  # safe | degraded | unsafe
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = "balanced"
    parallel: int | None = None  # chunked exports only
    chunk_size: int | None = None


def judge(
    explain: Explain,
    rows: int | None,
    paged: bool,
    order_columns: list[str],
    chunks: ChunkSpec | None,
    chunk_warnings: list[str],
    connections: int,
    pooler_notes: list[str],
) -> Verdict:
    """`paged`: the read is a series of bounded statements (keyset pages, key ranges, chunks);
    `connections`: how many the export holds at once; `order_columns`: what its statements
    filter and order by (named in the advice)."""
    large = [(table, n) for table, n in explain.full_scans if n >= LARGE_ROWS]
    rows = rows if rows is not None else max((n for _, n in explain.full_scans), default=None)
    verdict = Verdict("safe", notes=list(pooler_notes))
    unit = "chunk" if chunks is not None else "page"
    for table, n in large:
        if paged:
            verdict.verdict = "unsafe"
            verdict.reasons.append(
                f"every {unit} scans the whole of {table} (~{n:,} rows, sequential scan): "
                f"index {', '.join(order_columns) or 'the column it filters on'}"
            )
        else:
            _degrade(
                verdict,
                f"one statement reads all of {table} (~{n:,} rows): with no key to page by it "
                "stays open for the whole export; use `table:` with a primary key, or chunked mode",
            )
    for warning in chunk_warnings:
        _degrade(verdict, warning)
    free = explain.max_connections - explain.connections_in_use
    if connections > free:
        _degrade(
            verdict,
            f"needs {connections} connections at once; the server allows {explain.max_connections}"
            f" and {explain.connections_in_use} are in use ({free} free): lower parallel",
        )
    verdict.profile = _profile(rows, indexed=not large)
    if chunks is not None:
        verdict.parallel = min(_parallel(rows, indexed=not large), max(1, free - 3))
        verdict.chunk_size = max(10_000, min(500_000, (rows or 0) // (verdict.parallel * 4)))
    return verdict


def _degrade(verdict: Verdict, reason: str) -> None:
    verdict.reasons.append(reason)
    if verdict.verdict == "safe":
        verdict.verdict = "degraded"


def _profile(rows: int | None, indexed: bool) -> str:
    if rows is None:
        return "balanced"
    if indexed:
        return "fast" if rows <= 1_000_000 else "balanced" if rows <= 10_000_000 else "safe"
    return "balanced" if rows <= 1_000_000 else "safe"


def _parallel(rows: int | None, indexed: bool) -> int:
    rows = rows or 0
    if rows < 50_000 or (not indexed and rows > 5_000_000):
        return 1
    if not indexed or rows < 500_000:
        return 2
    return 4
