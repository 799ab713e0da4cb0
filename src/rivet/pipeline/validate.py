"""Reading a part back: `rivet run --validate` before publishing, `rivet validate --full` after.

A part is decoded completely (Parquet: every row group; CSV: parsed, so quoted newlines are not
miscounted). Its row count must match what was written, and so must every column's checksum:
Parquet keeps the Arrow types exactly; a CSV part is parsed back into the written types (NULL is
an empty field, "" a quoted one) for the columns whose text the CSV reader turns back into the
same values: integers, floats, booleans, strings, dates, timestamps and decimal128. Columns
rivet renders itself (binary as hex, lists as JSON, times, decimal256) are covered by the
part's content hash only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rivet.core.errors import ValidationError
from rivet.destinations.base import StagedPart
from rivet.integrity.checksums import TableChecksums


def read_back(
    path: Path, kind: str, types: Mapping[str, pa.DataType] | None = None
) -> tuple[int, dict[str, str] | None]:
    """Rows of a part file and its column checksums (CSV: of the columns that parse back
    exactly, given the written `types`); raises what the reader raises."""
    if kind == "parquet":
        handle = pq.ParquetFile(path)
        return _checksummed(handle.schema_arrow, handle.iter_batches())
    if not types:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=8 << 20))
        return sum(batch.num_rows for batch in reader), None
    parsed = {n: t for n, t in types.items() if _parses_back(t)}
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=8 << 20, column_names=list(types), skip_rows=1),
        convert_options=pacsv.ConvertOptions(
            column_types={n: parsed.get(n, pa.string()) for n in types},
            null_values=[""],  # only an empty field: "nan" is NaN, "NULL" a string
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=list(parsed),
        ),
    )
    return _checksummed(reader.schema, reader)


def _checksummed(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch]
) -> tuple[int, dict[str, str]]:
    sums = TableChecksums(schema)
    rows = 0
    for batch in batches:
        sums.update(batch)
        rows += batch.num_rows
    return rows, sums.digests()


def _parses_back(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_date32(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_decimal128(kind)
    )


def differences(
    expected_rows: int,
    expected_columns: Mapping[str, str],
    rows: int,
    columns: Mapping[str, str] | None,
    partial: bool = False,
) -> list[str]:
    """What differs between a part as recorded and as read back (`partial`: only the columns
    read back are compared, as for CSV)."""
    found = []
    if rows != expected_rows:
        found.append(f"expected {expected_rows:,} rows, got {rows:,}")
    if columns is not None and expected_columns:
        changed = [
            n
            for n, digest in expected_columns.items()
            if (n in columns or not partial) and columns.get(n) != digest
        ]
        if changed:
            found.append(f"column checksums differ: {', '.join(changed)}")
    return found


def validate_part(
    part: StagedPart, kind: str, export: str, schema: pa.Schema | None = None
) -> None:
    try:
        types = {f.name: f.type for f in schema} if schema is not None else None
        rows, columns = read_back(part.path, kind, types)
    except Exception as exc:
        raise ValidationError(
            f"export '{export}': validation failed: {part.final_name} cannot be read back: {exc}",
        ) from None
    found = differences(part.rows, part.columns, rows, columns, partial=kind == "csv")
    if found:
        raise ValidationError(
            f"export '{export}': validation failed: {'; '.join(found)} in {part.final_name}; "
            "nothing was published",
        )
