"""Rows at the boundary: an incremental run re-reads the stored cursor value, not only what
follows it.

A row can commit after the last run with exactly the last exported cursor value (a transaction
that stamped `updated_at` early, a batch of rows sharing one timestamp). Reading strictly after
the stored position would never see it: a query export orders by the cursor alone, and a table
export's tie-break (the primary key) does not follow commit order. So each run reads from the
stored value itself (`cursor >= value`) and drops the rows it already exported there, known by
identity (the canonical hash of all their values). The state keeps the identities of the rows
at the newest cursor value only: 8 bytes a row, usually a handful of rows.

The read is in cursor order, so only rows at its first value can repeat an exported row, and
the rows at its last value are the next boundary: neither needs the stored value itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rivet.integrity.row_hash import row_hashes
from rivet.state.cursor_window import CursorWindow

U64 = npt.NDArray[np.uint64]


class BoundaryRows:
    def __init__(self, stored: CursorWindow | None) -> None:
        self._seen: U64 = np.sort(stored.hashes) if stored is not None else np.zeros(0, np.uint64)
        self._first: pa.Scalar | None = None  # the read's first cursor value
        self._checking = len(self._seen) > 0
        self._last: pa.Scalar | None = None  # the newest cursor value read so far
        self._last_rows: list[U64] = []  # identities of the rows read at that value
        self.skipped = 0  # rows read again and dropped: already exported

    def filter(self, batches: Iterable[pa.RecordBatch], cursor: str) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if not batch.num_rows:
                continue
            values = batch.column(cursor)
            if self._first is None:
                self._first = values[0]
            self._remember_last(batch, values)
            if self._checking:
                batch = self._drop_exported(batch, values)
            if batch.num_rows:
                yield batch

    def window(self) -> CursorWindow | None:
        """What the state keeps for the next run (None: keep what it has)."""
        if self._last is None:
            return None
        hashes = np.concatenate(self._last_rows)
        if self._first is not None and self._last.equals(self._first):
            hashes = np.concatenate([hashes, self._seen])  # still the stored value, maybe
        hashes = np.unique(hashes)
        return CursorWindow(np.zeros(len(hashes), np.int64), hashes)

    def _drop_exported(self, batch: pa.RecordBatch, values: pa.Array) -> pa.RecordBatch:
        at_first = _equal(values, self._first)
        if not at_first.all():
            self._checking = False  # a later value: no row after it was exported before
        if not at_first.any():
            return batch
        known = np.zeros(batch.num_rows, dtype=bool)  # only rows at the first value can be
        known[at_first] = np.isin(_hashes(batch.filter(pa.array(at_first))), self._seen)
        if not known.any():
            return batch
        self.skipped += int(known.sum())
        return batch.filter(pa.array(~known))

    def _remember_last(self, batch: pa.RecordBatch, values: pa.Array) -> None:
        last = values[len(values) - 1]
        at_last = _equal(values, last)
        if self._last is None or not last.equals(self._last):
            self._last_rows = []
        self._last = last
        self._last_rows.append(_hashes(batch.filter(pa.array(at_last))))


def _equal(values: pa.Array, value: pa.Scalar | None) -> npt.NDArray[np.bool_]:
    equal = pc.fill_null(pc.equal(values, value), False)
    return np.asarray(equal.to_numpy(zero_copy_only=False), dtype=bool)


def _hashes(batch: pa.RecordBatch) -> U64:
    return np.asarray(row_hashes(batch).to_numpy(), dtype=np.int64).view(np.uint64)
