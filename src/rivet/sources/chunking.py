"""Cutting a chunked export into chunks, the same way on every engine.

Each engine answers a few short catalog questions (`ChunkCatalog`); this module turns the answers
into chunks. Boundaries come from the column's index (min/max, or an OFFSET walk for dense chunks),
so no statement here reads the table itself when the column is indexed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Protocol

import pyarrow as pa

from rivet.core.chunks import (
    MAX_CHUNKS,
    Chunk,
    ChunkSpec,
    chunk_size_for,
    day_chunks,
    dense_chunks,
    integer_chunks,
    with_null_chunk,
)
from rivet.core.errors import SourceError
from rivet.sources.base import ChunkLayout

KINDS = ("integer", "temporal", "orderable")  # what a chunk column can be, by its type


class ChunkCatalog(Protocol):
    def integer_span(self, column: str) -> tuple[int, int] | None: ...

    def date_span(self, column: str) -> tuple[date, date] | None: ...

    def boundary(self, column: str, low: str | None, offset: int) -> str | None:
        """The literal of the value `offset` rows into the column's order from `low` (inclusive;
        from the start when None), or None past the end."""
        ...

    def next_value(self, column: str, after: str) -> str | None:
        """The literal of the first value greater than `after`, or None."""
        ...


def chunk_where(column_sql: str, chunk: Chunk) -> str:
    if chunk.is_null:
        return f"{column_sql} IS NULL"
    bounds = []
    if chunk.low is not None:
        bounds.append(f"{column_sql} >= {chunk.low}")
    if chunk.high is not None:
        bounds.append(f"{column_sql} < {chunk.high}")
    return " AND ".join(bounds) or f"{column_sql} IS NOT NULL"


def layout(
    export: str,
    spec: ChunkSpec,
    column: str,
    kind: str,
    nullable: bool,
    catalog: ChunkCatalog,
    estimate: int | None,
    bytes_per_row: float | None,
    source_sql: str,
) -> ChunkLayout:
    warnings: list[str] = []
    if spec.by == "days":
        _require(export, column, kind, ("temporal",), "chunk_by_days needs a date or timestamp")
        span = catalog.date_span(column)
        chunks = [] if span is None else day_chunks(span[0], span[1], spec.days or 1)
    elif spec.by == "dense":
        _require(export, column, kind, KINDS, "chunk_dense needs an orderable column")
        chunks = dense_chunks(_dense_boundaries(catalog, column, spec.size))
    else:
        _require(export, column, kind, ("integer",), "range chunks need an integer column")
        int_span = catalog.integer_span(column)
        chunks = []
        if int_span is not None:
            size = chunk_size_for(spec, *int_span, bytes_per_row)
            count = -(-(int_span[1] - int_span[0] + 1) // size)
            if count > MAX_CHUNKS:
                raise SourceError(
                    f"export '{export}': chunk_column '{column}' spans {int_span[0]}..{int_span[1]}"
                    f", which makes {count:,} chunks of {size:,}",
                    hint="use chunk_dense: true (chunks of real rows), a larger chunk_size or "
                    "chunk_count",
                )
            chunks = integer_chunks(*int_span, size)
            if estimate and count > 4 * max(1, -(-estimate // size)):
                warnings.append(
                    f"chunk_column '{column}' is sparse: ~{estimate:,} rows over a span of "
                    f"{int_span[1] - int_span[0] + 1:,} values make {count:,} chunks, most of them "
                    "nearly empty; chunk_dense: true cuts chunks of real rows"
                )
    if nullable:
        chunks = with_null_chunk(chunks)
    return ChunkLayout(column, chunks, spec.fingerprint(source_sql, column), warnings)


def _dense_boundaries(catalog: ChunkCatalog, column: str, size: int) -> list[str]:
    """Values b1 < b2 < ... about `size` rows apart: each found by one index walk of `size` rows."""
    boundaries: list[str] = []
    low: str | None = None
    while len(boundaries) < MAX_CHUNKS:
        found = catalog.boundary(column, low, size)
        if found is not None and found == low:  # a run of ties longer than a chunk
            found = catalog.next_value(column, low)
        if found is None:
            break
        boundaries.append(found)
        low = found
    return boundaries


def _require(export: str, column: str, kind: str, allowed: tuple[str, ...], why: str) -> None:
    if kind not in allowed:
        raise SourceError(
            f"export '{export}': chunk_column '{column}' cannot be chunked: {why}",
            hint="choose another chunk_column, or chunk_by_days / chunk_dense to match its type",
        )


def integer_bounds(chunk: Chunk) -> tuple[int, int] | None:
    """(low, high) of a chunk of integer keys with both bounds, else None."""
    if chunk.is_null or chunk.low is None or chunk.high is None:
        return None
    try:
        return int(chunk.low), int(chunk.high)
    except ValueError:
        return None


def sub_ranges(
    low: int,
    high: int,
    fetch: Callable[[int, int], pa.Table],
    first_rows: Callable[[], int],
    page_rows: Callable[[pa.Table], int],
) -> Iterator[pa.Table]:
    """Read an integer chunk [low, high) as key sub-ranges `k >= a AND k < b` (no LIMIT, so
    repeated values of a non-unique chunk column are never split), each sized from the rows per
    key seen so far to return about `page_rows` rows: short statements however large the chunk.
    The first sub-range spans at most `first_rows()` keys (a probe, until a page has measured
    how wide the rows are), so that a chunk of wide rows starts small."""
    span = high - low
    width = max(1, min(span // 64 if span > 64 else span, first_rows()))
    start = low
    while start < high:
        end = min(high, start + width)
        page = fetch(start, end)
        if page.num_rows:
            yield page
            wanted = page_rows(page)
            width = max(1, min(width * 4, int(width * wanted / page.num_rows)))
        else:
            width *= 4
        start = end
