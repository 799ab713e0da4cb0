"""Reading a part back: `rivet run --validate` before publishing, `rivet validate --full` after.

A part is decoded completely (Parquet: every row group; CSV: parsed, so quoted newlines are not
miscounted). Its row count must match what was written, and for Parquet every column's checksum
too (the Arrow types round-trip exactly). CSV parts are checked by rows and by their content hash,
which covers every byte; their column checksums are recorded for comparison across formats.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rivet.core.errors import RivetError
from rivet.destinations.base import StagedPart
from rivet.integrity.checksums import TableChecksums


class ValidationError(RivetError):
    """A written part does not read back as written."""


def read_back(path: Path, kind: str) -> tuple[int, dict[str, str] | None]:
    """Rows of a part file and (Parquet) its column checksums; raises what the reader raises."""
    if kind == "parquet":
        handle = pq.ParquetFile(path)
        sums = TableChecksums(handle.schema_arrow)
        rows = 0
        for batch in handle.iter_batches():
            sums.update(batch)
            rows += batch.num_rows
        return rows, sums.digests()
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=8 << 20))
    return sum(batch.num_rows for batch in reader), None


def differences(
    expected_rows: int,
    expected_columns: Mapping[str, str],
    rows: int,
    columns: Mapping[str, str] | None,
) -> list[str]:
    """What differs between a part as recorded and as read back."""
    found = []
    if rows != expected_rows:
        found.append(f"expected {expected_rows:,} rows, got {rows:,}")
    if columns is not None and expected_columns:
        changed = [n for n, digest in expected_columns.items() if columns.get(n) != digest]
        if changed:
            found.append(f"column checksums differ: {', '.join(changed)}")
    return found


def validate_part(part: StagedPart, kind: str, export: str) -> None:
    try:
        rows, columns = read_back(part.path, kind)
    except Exception as exc:
        raise ValidationError(
            f"export '{export}': validation failed: {part.final_name} cannot be read back: {exc}",
        ) from None
    found = differences(part.rows, part.columns, rows, columns)
    if found:
        raise ValidationError(
            f"export '{export}': validation failed: {'; '.join(found)} in {part.final_name}; "
            "nothing was published",
        )
