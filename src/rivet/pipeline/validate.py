"""`rivet run --validate`: re-read every finished part before it is published.

Each part is decoded completely (Parquet: every row group; CSV: parsed, so quoted newlines are
not miscounted) and its row count compared with what was written. A part that cannot be read
back, or holds another number of rows, fails the export before anything is published.
"""

from __future__ import annotations

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rivet.core.errors import RivetError
from rivet.destinations.base import StagedPart


class ValidationError(RivetError):
    """A written part does not read back as written."""


def validate_part(part: StagedPart, kind: str, export: str) -> None:
    try:
        if kind == "parquet":
            rows = sum(batch.num_rows for batch in pq.ParquetFile(part.path).iter_batches())
        else:
            reader = pacsv.open_csv(part.path, read_options=pacsv.ReadOptions(block_size=8 << 20))
            rows = sum(batch.num_rows for batch in reader)
    except Exception as exc:
        raise ValidationError(
            f"export '{export}': validation failed: {part.final_name} cannot be read back: {exc}",
        ) from None
    if rows != part.rows:
        raise ValidationError(
            f"export '{export}': validation failed: expected {part.rows:,} rows, got {rows:,} "
            f"in {part.final_name}; nothing was published",
        )
