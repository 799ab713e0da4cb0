"""Parquet parts. Batches are buffered into row groups bounded by rows and by Arrow bytes.

The reader hands out ~16 MB batches; writing each as its own row group would give thousands of
tiny groups, so batches are gathered until the row group policy says the group is full.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
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
        self._writer = pq.ParquetWriter(
            self._sink,
            schema,
            compression=compression.upper() if compression != "none" else "NONE",
            compression_level=compression_level,
            write_statistics=True,
        )
        self._max_rows = row_group_rows
        self._max_bytes = row_group_bytes
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self.rows = 0

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
        return int(self._sink.tell())

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._sink.close()

    def abort(self) -> None:
        self._pending.clear()
        try:
            self._writer.close()
        finally:
            self._sink.close()

    def _flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending)
        self._writer.write_table(table, row_group_size=table.num_rows)
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
