"""The writer port: a part file that takes Arrow batches and reports its size as it grows."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow as pa


class PartWriter(Protocol):
    rows: int

    def write(self, batch: pa.RecordBatch) -> None: ...

    def bytes_written(self) -> int: ...

    def flush(self) -> None:
        """Write what is buffered now (a Parquet row group ends here)."""

    def close(self) -> None:
        """Finish the file: after this it is complete and readable."""

    def abort(self) -> None:
        """Stop writing; the (incomplete) file is left for the caller to delete."""


def open_writer(
    kind: str,
    path: Path,
    schema: pa.Schema,
    *,
    compression: str,
    compression_level: int | None,
    row_group_rows: int,
    row_group_bytes: int | None,
) -> PartWriter:
    if kind == "parquet":
        from rivet.formats.parquet import ParquetPartWriter

        return ParquetPartWriter(
            path, schema, compression, compression_level, row_group_rows, row_group_bytes
        )
    from rivet.formats.csv import CsvPartWriter

    return CsvPartWriter(path, schema)
