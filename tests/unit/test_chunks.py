"""Cutting key spans into chunks (pure): ranges, counts, memory sizing, days, dense, NULL."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

from rivet.core.chunks import (
    Chunk,
    ChunkSpec,
    chunk_size_for,
    day_chunks,
    dense_chunks,
    integer_chunks,
    with_null_chunk,
)
from rivet.sources.chunking import chunk_where

SPEC = ChunkSpec(None, "range", 100, None, None, None, 1, False, 3, True)


def test_integer_chunks_cover_the_span_half_open() -> None:
    chunks = integer_chunks(5, 250, 100)
    assert [(c.low, c.high) for c in chunks] == [("5", "105"), ("105", "205"), ("205", "305")]
    assert integer_chunks(7, 7, 100) == [Chunk(0, "7", "107")]


def test_chunk_count_and_memory_set_the_size() -> None:
    assert chunk_size_for(replace(SPEC, count=4), 1, 5000, None) == 1250
    assert chunk_size_for(replace(SPEC, count=3), 1, 10, None) == 4  # ceil: never a 4th chunk
    # 64 MB over 1 KB rows = 65536 rows; no statistics: 512 bytes per row; clamped to bounds
    assert chunk_size_for(replace(SPEC, memory_mb=64), 0, 10, 1024.0) == 65536
    assert chunk_size_for(replace(SPEC, memory_mb=64), 0, 10, None) == 131072
    assert chunk_size_for(replace(SPEC, memory_mb=1), 0, 10, 1e6) == 10_000
    assert chunk_size_for(SPEC, 0, 10, 1.0) == 100


def test_day_chunks_are_date_windows_up_to_the_last_day() -> None:
    chunks = day_chunks(date(2024, 1, 30), date(2024, 3, 1), 30)
    assert [(c.low, c.high) for c in chunks] == [
        ("'2024-01-30'", "'2024-02-29'"),
        ("'2024-02-29'", "'2024-03-30'"),
    ]


def test_dense_chunks_are_open_at_both_ends_and_null_has_its_own() -> None:
    chunks = with_null_chunk(dense_chunks(["'b'", "'d'"]))
    assert [c.label for c in chunks] == ["[-inf, 'b')", "['b', 'd')", "['d', +inf)", "NULL"]
    assert chunk_where("c", chunks[0]) == "c < 'b'"
    assert chunk_where("c", chunks[1]) == "c >= 'b' AND c < 'd'"
    assert chunk_where("c", chunks[3]) == "c IS NULL"
    assert chunk_where("c", dense_chunks([])[0]) == "c IS NOT NULL"


def test_the_fingerprint_changes_with_the_plan_not_with_parallelism() -> None:
    base = SPEC.fingerprint("t", "id")
    assert replace(SPEC, parallel=8, checkpoint=True).fingerprint("t", "id") == base
    assert replace(SPEC, size=50).fingerprint("t", "id") != base
    assert SPEC.fingerprint("t", "other") != base
    assert SPEC.fingerprint("u", "id") != base
    assert len(base) == 16


def test_an_integer_chunk_is_read_in_sub_ranges_that_cover_it_once() -> None:
    import pyarrow as pa

    from rivet.core.chunks import Chunk
    from rivet.sources.chunking import integer_bounds, sub_ranges

    keys = sorted([*range(0, 10_000, 3), *([5_000] * 700)])  # sparse, with a dense cluster
    statements: list[tuple[int, int]] = []

    def fetch(low: int, high: int) -> pa.Table:
        statements.append((low, high))
        return pa.table({"k": [k for k in keys if low <= k < high]})

    bounds = integer_bounds(Chunk(3, "0", "10000"))
    assert bounds == (0, 10_000)
    pages = list(sub_ranges(*bounds, fetch, lambda: 10, lambda page: 200))
    assert statements[0] == (0, 10)  # a probe first
    assert sorted(k for p in pages for k in p.column("k").to_pylist()) == keys
    assert statements[0][0] == 0 and statements[-1][1] == 10_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(statements))  # no gap, no overlap
    assert max(p.num_rows for p in pages) >= 700  # the repeated value stays in one statement
    assert integer_bounds(Chunk(1, "'2026-01-01'", "'2026-01-02'")) is None
    assert integer_bounds(Chunk(2, None, None, is_null=True)) is None
