"""`meta_columns`: `_rivet_exported_at` (the run's start, UTC) and `_rivet_row_hash` (see
rivet.integrity.row_hash), appended after the data columns. The row hash covers the data
columns only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import pyarrow as pa

from rivet.integrity.row_hash import row_hashes
from rivet.planning.export_plan import ExportPlan

EXPORTED_AT = "_rivet_exported_at"
ROW_HASH = "_rivet_row_hash"


class MetaColumns:
    @classmethod
    def of(cls, plan: ExportPlan, started: datetime) -> MetaColumns:
        return cls(started if plan.meta_exported_at else None, plan.meta_row_hash)

    def __init__(self, exported_at: datetime | None, row_hash: bool) -> None:
        self._exported_at = exported_at
        self._row_hash = row_hash

    @property
    def active(self) -> bool:
        return self._exported_at is not None or self._row_hash

    def schema(self, schema: pa.Schema) -> pa.Schema:
        for name in (EXPORTED_AT, ROW_HASH):
            if name in schema.names:
                raise ValueError(f"the result already has a column named {name}")
        if self._exported_at is not None:
            schema = schema.append(pa.field(EXPORTED_AT, pa.timestamp("us", "UTC"), False))
        if self._row_hash:
            schema = schema.append(pa.field(ROW_HASH, pa.int64(), False))
        return schema

    def apply(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            columns, fields = list(batch.columns), list(batch.schema)
            if self._exported_at is not None:
                stamp = pa.scalar(self._exported_at, pa.timestamp("us", "UTC"))
                columns.append(pa.repeat(stamp, batch.num_rows))
                fields.append(pa.field(EXPORTED_AT, pa.timestamp("us", "UTC"), False))
            if self._row_hash:
                columns.append(row_hashes(batch))
                fields.append(pa.field(ROW_HASH, pa.int64(), False))
            yield pa.RecordBatch.from_arrays(
                columns, schema=pa.schema(fields, batch.schema.metadata)
            )
