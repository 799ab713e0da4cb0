"""Quality gates (`quality:`): row count bounds, NULL ratios, uniqueness.

Observed batch by batch while parts are written and evaluated before publishing, so a failing
gate publishes nothing and moves no cursor. Uniqueness follows SQL: NULLs are not values, so
two NULLs are not duplicates. It is counted on the 64-bit canonical hashes of the values (see
rivet.integrity.row_hash): 8 bytes per distinct value, and a false duplicate among a billion
distinct values has a probability of about 3 in 100,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from rivet.core.errors import QualityError
from rivet.integrity.row_hash import column_hashes

_MERGE_EVERY = 32  # batches of hashes kept apart before they are merged (sorted, unique)


@dataclass(frozen=True)
class Gates:
    row_count_min: int | None = None
    row_count_max: int | None = None
    null_ratio_max: dict[str, float] = field(default_factory=dict)
    unique_columns: tuple[str, ...] = ()
    unique_max_entries: int | None = None

    def columns(self) -> set[str]:
        """The columns the null-ratio and uniqueness gates look at."""
        return set(self.null_ratio_max) | set(self.unique_columns)


class QualityTracker:
    def __init__(self, gates: Gates, export: str, schema_names: Sequence[str]) -> None:
        unknown = sorted(gates.columns() - set(schema_names))
        if unknown:
            raise QualityError(
                f"export '{export}': quality: unknown column(s) {unknown}",
                hint="the result has columns: " + ", ".join(schema_names),
            )
        self._gates = gates
        self._export = export
        self._schema_names = tuple(schema_names)
        self.rows = 0
        self._nulls = dict.fromkeys(gates.null_ratio_max, 0)
        self._seen: dict[str, _Distinct] = {c: _Distinct() for c in gates.unique_columns}
        self._values = dict.fromkeys(gates.unique_columns, 0)
        self.warnings: list[str] = []

    @property
    def column_gates(self) -> bool:
        return bool(self._gates.columns())

    def observe(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for name in self._nulls:
            self._nulls[name] += batch.column(name).null_count
        for name, seen in list(self._seen.items()):
            column = batch.column(name)
            self._values[name] += len(column) - column.null_count
            seen.add(column_hashes(column.drop_null()))
        self._cap()

    def fork(self) -> QualityTracker:
        """An empty tracker of the same gates, for rows that count only once `merge`d: a chunk
        observes into its own, so the rows of an attempt that failed are never counted."""
        return QualityTracker(self._gates, self._export, self._schema_names)

    def merge(self, other: QualityTracker) -> None:
        self.rows += other.rows
        for name in self._nulls:
            self._nulls[name] += other._nulls[name]
        for name in list(self._seen):
            if name not in other._seen:  # the fork stopped counting it (unique_max_entries)
                del self._seen[name]
                continue
            self._values[name] += other._values[name]
            self._seen[name].absorb(other._seen[name])
        self.warnings.extend(w for w in other.warnings if w not in self.warnings)
        self._cap()

    def _cap(self) -> None:
        cap = self._gates.unique_max_entries
        for name, seen in list(self._seen.items()):
            if cap is not None and seen.bound() >= cap and seen.count() >= cap:
                warning = (
                    f"uniqueness check of column '{name}' stopped at {cap:,} "
                    "distinct values (quality.unique_max_entries)"
                )
                if warning not in self.warnings:
                    self.warnings.append(warning)
                del self._seen[name]

    def problems(self, row_count: int | None = None) -> list[str]:
        """What fails. `row_count`: the rows the count gates judge, when they are more than
        the rows observed here (chunks completed by an earlier, resumed-from run)."""
        gates, found = self._gates, []
        count = self.rows if row_count is None else row_count
        if gates.row_count_min is not None and count < gates.row_count_min:
            found.append(f"{count:,} rows, fewer than row_count_min {gates.row_count_min:,}")
        if gates.row_count_max is not None and count > gates.row_count_max:
            found.append(f"{count:,} rows, more than row_count_max {gates.row_count_max:,}")
        for name, limit in gates.null_ratio_max.items():
            ratio = self._nulls[name] / self.rows if self.rows else 0.0
            if ratio > limit:
                found.append(f"column '{name}': null ratio {ratio:.4f} exceeds {limit:.4f}")
        for name, seen in self._seen.items():
            duplicates = self._values[name] - seen.count()
            if duplicates:
                found.append(
                    f"column '{name}': {duplicates:,} duplicate values out of "
                    f"{self._values[name]:,}"
                )
        return found

    def check(self, found: list[str] | None = None) -> None:
        """Raise QualityError for the problems found (computed here unless given)."""
        found = self.problems() if found is None else found
        if found:
            raise QualityError(
                f"export '{self._export}': quality gate failed, nothing published: "
                + "; ".join(found),
                hint="fix the data or the `quality:` thresholds; the cursor did not move",
            )


class _Distinct:
    """The distinct 64-bit hashes seen so far, as sorted numpy arrays merged now and then."""

    def __init__(self) -> None:
        self._parts: list[npt.NDArray[np.uint64]] = []

    def add(self, hashes: npt.NDArray[np.uint64]) -> None:
        self._parts.append(_sorted_unique(hashes))
        if len(self._parts) >= _MERGE_EVERY:
            self._merge()

    def absorb(self, other: _Distinct) -> None:
        self._parts.extend(other._parts)
        self._merge()

    def bound(self) -> int:
        """At least the distinct count (cheap: no merge)."""
        return sum(len(p) for p in self._parts)

    def count(self) -> int:
        self._merge()
        return len(self._parts[0]) if self._parts else 0

    def _merge(self) -> None:
        if len(self._parts) > 1:
            self._parts = [_sorted_unique(np.concatenate(self._parts))]


def _sorted_unique(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """np.unique, by sorting: numpy's hash-based unique is ~20x slower on 64-bit hashes."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    distinct: npt.NDArray[np.uint64] = ordered[keep]
    return distinct
