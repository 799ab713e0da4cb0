"""`cursor_lag`: incremental runs that also pick up rows committed late.

A row can commit after a row with a later cursor value (a long transaction stamped
`updated_at = now()` early): once the cursor has moved past its value, a plain incremental run
never reads it. With `cursor_lag`, each run starts reading at (stored cursor - lag) instead of
just after the stored position, and drops the rows it already exported: the state keeps the
identity (the canonical hash of all its values) and cursor value of every row exported within
`lag` of the newest cursor. A row committed within `lag` of the cursor is exported by the next
run; a row that arrives later than that is still missed (choose the lag from the longest
transaction the source runs). Re-read rows cost reading, not duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from rivet.core.errors import PlanError
from rivet.core.moments import EPOCH, epoch_micros
from rivet.integrity.row_hash import row_hashes
from rivet.sources.base import Incremental, ReadRequest
from rivet.state import StateStore
from rivet.state.cursor_window import CursorWindow

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


class LateRows:
    def __init__(self, export: str, lag: timedelta | int, stored: CursorWindow | None) -> None:
        self._export = export
        self._lag = lag
        self._old = stored or CursorWindow(np.zeros(0, np.int64), np.zeros(0, np.uint64))
        self._old_high = int(self._old.cursors.max()) if len(self._old.cursors) else None
        self._seen = np.sort(self._old.hashes)
        self._tail: list[tuple[I64, U64]] = []
        self._high: int | None = None
        self._span = 0  # the lag in cursor units, once the cursor's type is known
        self.skipped = 0

    def widen(self, request: ReadRequest, cursor_type: pa.DataType, stored: str) -> ReadRequest:
        """Read from (stored cursor - lag) instead of just after the stored position."""
        assert request.incremental is not None
        self._span = _span(self._export, cursor_type, self._lag)
        start = _to_int(cursor_type, stored) - self._span
        bound = _literal(cursor_type, start)
        widened = Incremental(request.incremental.cursor_column, lower_bound=bound)
        return replace(request, incremental=widened)

    def filter(
        self, batches: Iterable[pa.RecordBatch], cursor: str, cursor_type: pa.DataType
    ) -> Iterator[pa.RecordBatch]:
        """Drop rows already exported; remember the identities of the newest rows."""
        self._span = self._span or _span(self._export, cursor_type, self._lag)
        for batch in batches:
            cursors = _ints(batch.column(cursor), cursor_type)
            self._high = max(self._high or int(cursors.max()), int(cursors.max()))
            floor = self._high - self._span
            again = cursors <= self._old_high if self._old_high is not None else None
            recent = cursors >= floor
            if (again is None or not again.any()) and not recent.any():
                yield batch
                continue
            hashes = row_hashes(batch).to_numpy().view(np.uint64)
            if recent.any():
                self._tail.append((cursors[recent], hashes[recent]))
                self._tail = [(c, h) for c, h in self._tail if len(c) and c.max() >= floor]
            if again is not None and again.any():
                known = np.zeros(len(hashes), dtype=bool)
                known[again] = _member(self._seen, hashes[again])
                if known.any():
                    self.skipped += int(known.sum())
                    batch = batch.filter(pa.array(~known))
            yield batch

    def window(self) -> CursorWindow:
        """What the state keeps for the next run: identities within lag of the newest cursor."""
        if self._high is None:
            return self._old
        floor = self._high - self._span
        cursors = np.concatenate([self._old.cursors] + [c for c, _ in self._tail])
        hashes = np.concatenate([self._old.hashes] + [h for _, h in self._tail])
        keep = cursors >= floor
        cursors, hashes = cursors[keep], hashes[keep]
        hashes, first = np.unique(hashes, return_index=True)
        return CursorWindow(cursors[first], hashes)


def open_late_rows(
    export: str, lag: timedelta | int | None, state: StateStore | None
) -> LateRows | None:
    if lag is None or state is None:
        return None
    return LateRows(export, lag, state.windows.load(export))


def _member(sorted_values: U64, values: U64) -> npt.NDArray[np.bool_]:
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_values, values).clip(0, len(sorted_values) - 1)
    found: npt.NDArray[np.bool_] = sorted_values[at] == values
    return found


def _span(export: str, kind: pa.DataType, lag: timedelta | int) -> int:
    if pa.types.is_timestamp(kind) and isinstance(lag, timedelta):
        return lag // timedelta(microseconds=1)
    if pa.types.is_date(kind) and isinstance(lag, timedelta):
        return max(1, -(-lag // timedelta(days=1)))
    if pa.types.is_integer(kind) and isinstance(lag, int):
        return lag
    wanted = "an integer" if pa.types.is_integer(kind) else "a duration such as '15m'"
    given = f"a duration ({lag})" if isinstance(lag, timedelta) else f"an integer ({lag})"
    raise PlanError(
        f"export '{export}': cursor_lag is {given}, which does not fit the cursor's type {kind}",
        hint=f"give {wanted}; cursor_lag works with timestamp, date and integer cursors",
    )


def _ints(column: pa.Array, kind: pa.DataType) -> I64:
    """Cursor values as int64: µs since the epoch, days since the epoch, or the integer."""
    if pa.types.is_timestamp(kind):
        column = pc.cast(column, pa.timestamp("us", kind.tz), safe=False).cast(pa.int64())
    elif pa.types.is_date(kind):
        column = column.cast(pa.date32()).cast(pa.int32())
    filled = pc.fill_null(column.cast(pa.int64()), 0)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64)


def _to_int(kind: pa.DataType, text: str) -> int:
    """A stored cursor value (as the state keeps it) in the units of `_ints`."""
    if pa.types.is_integer(kind):
        return int(text)
    if pa.types.is_date(kind):
        return (date.fromisoformat(text[:10]) - date(1970, 1, 1)).days
    return epoch_micros(text)


def _literal(kind: pa.DataType, value: int) -> tuple[str, str]:
    """A lower bound as Incremental.lower_bound takes it (UTC text, or a number)."""
    if pa.types.is_integer(kind):
        return ("unix", str(value))
    if pa.types.is_date(kind):
        return ("timestamp", (date(1970, 1, 1) + timedelta(days=value)).isoformat())
    moment = EPOCH + timedelta(microseconds=value)
    return ("timestamp", moment.strftime("%Y-%m-%d %H:%M:%S.%f"))
