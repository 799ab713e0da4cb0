"""CSV parts (RFC 4180): every type is rendered, NULL stays distinct from an empty string.

Rendering: NULL is an empty field; a text value is quoted only when it needs it, as rivet-cli
0.7.7 writes CSV (it holds `,`, `"` or a line end, or it is the empty string, which is `""` so
that it never reads as NULL); booleans `true`/`false`; decimals exact; dates `YYYY-MM-DD`; times
`HH:MM:SS.ffffff` (24:00:00 kept); timestamps `YYYY-MM-DD HH:MM:SS.ffffff` (`Z` suffix when the
column is UTC); binary as lowercase hex; lists as JSON arrays. The header is the column names,
quoted only when they need it. Lines are built column-wise with Arrow compute kernels, never row
by row in Python.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from rivet.core.errors import WriteError
from rivet.formats.csv_values import UnrenderableValue, csv_ready

_SPECIAL = '[,"\r\n]'


class CsvPartWriter:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._sink = pa.OSFile(str(path), "wb")
        self._sink.write(_header(schema.names))
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        try:
            ready = csv_ready(batch)
        except UnrenderableValue as exc:
            raise WriteError(
                f"CSV output: {exc}",
                hint="write Parquet, or export the column as text (`columns: {col: text}`)",
            ) from None
        if ready.num_rows:
            self._sink.write(_lines(ready))
            self._sink.write(b"\n")
        self.rows += batch.num_rows

    def bytes_written(self) -> int:
        return int(self._sink.tell())

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._sink.close()

    def abort(self) -> None:
        self.close()


def _lines(batch: pa.RecordBatch) -> pa.Buffer:
    """The batch's CSV lines joined by `\n` (the last one without its line end)."""
    fields = [_field(column) for column in batch.columns]
    joined = pc.binary_join_element_wise(*fields, ",") if len(fields) > 1 else fields[0]
    one = pa.ListArray.from_arrays(pa.array([0, len(joined)], pa.int32()), joined)
    buffer: pa.Buffer = pc.binary_join(one, "\n")[0].as_buffer()
    return buffer


def _field(column: pa.Array) -> pa.Array:
    """One column as CSV text: NULL empty, text quoted where it must be."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
        needs = pc.or_(pc.match_substring_regex(column, _SPECIAL), pc.equal(column, ""))
        text = pc.if_else(needs, quoted, column)
    else:
        text = pc.cast(column, pa.string())
    return pc.fill_null(text.cast(pa.string()), "")


def _header(names: list[str]) -> bytes:
    def field(name: str) -> str:
        if any(ch in name for ch in ',"\r\n') or name != name.strip():
            return '"' + name.replace('"', '""') + '"'
        return name

    return (",".join(field(n) for n in names) + "\n").encode()
