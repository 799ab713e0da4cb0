"""Parquet parts. Batches are buffered into row groups bounded by rows and by Arrow bytes.

The reader hands out ~16 MB batches; writing each as its own row group would give thousands of
tiny groups, so batches are gathered until the row group policy says the group is full.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


class ParquetPartWriter:
    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        compression: str,
        compression_level: int | None,
        row_group_rows: int,
        row_group_bytes: int | None,
    ) -> None:
        self._sink = pa.OSFile(str(path), "wb")
        self._schema = schema
        self._compression, self._level = compression, compression_level
        self._writer: pq.ParquetWriter | None = None
        self._max_rows = row_group_rows
        self._max_bytes = row_group_bytes
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._flushed_arrow_bytes = 0  # Arrow bytes of the row groups written so far
        self.rows = 0

    def _open(self, sample: pa.RecordBatch | None) -> pq.ParquetWriter:
        return pq.ParquetWriter(
            self._sink,
            self._schema,
            compression=self._compression.upper() if self._compression != "none" else "NONE",
            compression_level=self._level,
            write_statistics=True,
            use_dictionary=dictionary_columns(sample) if sample is not None else False,
        )

    def write(self, batch: pa.RecordBatch) -> None:
        while batch.num_rows:
            room = self._max_rows - self._pending_rows
            head, batch = batch.slice(0, room), batch.slice(room)
            self._pending.append(head)
            self._pending_rows += head.num_rows
            self._pending_bytes += head.nbytes
            self.rows += head.num_rows
            if self._pending_rows >= self._max_rows or (
                self._max_bytes is not None and self._pending_bytes >= self._max_bytes
            ):
                self._flush()

    def bytes_written(self) -> int:
        """The file's size if it were closed now: the row groups written, plus the rows still
        buffered at the compression ratio those groups had (1:1 before the first one)."""
        written = int(self._sink.tell())
        ratio = written / self._flushed_arrow_bytes if self._flushed_arrow_bytes else 1.0
        return written + int(self._pending_bytes * ratio)

    def flush(self) -> None:
        self._flush()

    def close(self) -> None:
        self._flush()
        if self._writer is None:  # no rows at all: a valid, empty file with the schema
            self._writer = self._open(None)
        self._writer.close()
        self._sink.close()

    def abort(self) -> None:
        self._pending.clear()
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._sink.close()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending)
        if self._writer is None:
            self._writer = self._open(self._pending[0])
        self._writer.write_table(table, row_group_size=table.num_rows)
        self._flushed_arrow_bytes += self._pending_bytes
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0


def dictionary_columns(sample: pa.RecordBatch, max_distinct_ratio: float = 0.5) -> list[str]:
    """Columns worth dictionary-encoding, judged on the first batch.

    Dictionary encoding of a high-cardinality column costs CPU and memory (its pages are held
    until the column chunk ends) and then falls back to plain encoding anyway. Distinct values
    are counted against the values present: a column of 90% NULLs whose values never repeat
    is not worth a dictionary either.
    """
    chosen = []
    rows = min(sample.num_rows, 10_000)
    for field, column in zip(sample.schema, sample.columns, strict=True):
        kind = field.type
        if (
            rows == 0
            or pa.types.is_nested(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_null(kind)
        ):
            continue
        head = column.slice(0, rows)
        if pc.count_distinct(head).as_py() <= max_distinct_ratio * (rows - head.null_count):
            chosen.append(field.name)
    return chosen
