"""CSV parts (RFC 4180): every type is rendered, NULL stays distinct from an empty string.

Rendering: NULL is an empty field; every string value is quoted, so an empty string is `""`;
booleans `true`/`false`; decimals exact; dates `YYYY-MM-DD`; times `"HH:MM:SS.ffffff"` (24:00:00
kept); timestamps `YYYY-MM-DD HH:MM:SS.ffffff` (`Z` suffix when the column is UTC); binary as
lowercase hex; lists as JSON arrays. The header is the column names, quoted only when they need it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from rivet.core.errors import WriteError
from rivet.formats.csv_values import UnrenderableValue, csv_ready, csv_schema


class CsvPartWriter:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._sink = pa.OSFile(str(path), "wb")
        self._sink.write(_header(schema.names))
        self._writer = pacsv.CSVWriter(
            self._sink,
            csv_schema(schema),
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
        )
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        try:
            ready = csv_ready(batch)
        except UnrenderableValue as exc:
            raise WriteError(
                f"CSV output: {exc}",
                hint="write Parquet, or export the column as text (`columns: {col: text}`)",
            ) from None
        self._writer.write_batch(ready)
        self.rows += batch.num_rows

    def bytes_written(self) -> int:
        return int(self._sink.tell())

    def close(self) -> None:
        self._writer.close()
        self._sink.close()

    def abort(self) -> None:
        self.close()


def _header(names: list[str]) -> bytes:
    def field(name: str) -> str:
        if any(ch in name for ch in ',"\r\n') or name != name.strip():
            return '"' + name.replace('"', '""') + '"'
        return name

    return (",".join(field(n) for n in names) + "\n").encode()
