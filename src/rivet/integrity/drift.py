"""Schema drift (columns added, removed, retyped, renamed since the last run) and shape drift
(text and binary values growing wider than ever before)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from rivet.integrity.checksums import type_family

Columns = Sequence[tuple[str, str]]  # (name, type family), in schema order


def schema_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, type_family(f.type)) for f in schema]


@dataclass(frozen=True)
class SchemaChange:
    kind: str  # added | removed | retyped | renamed
    column: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def diff_schema(old: Columns, new: Columns) -> list[SchemaChange]:
    """Changes by name. A column removed and one added with the same type at the same position
    is reported as renamed; order changes alone are not drift."""
    old_types, new_types = dict(old), dict(new)
    removed = [n for n, _ in old if n not in new_types]
    added = [n for n, _ in new if n not in old_types]
    old_position = {n: i for i, (n, _) in enumerate(old)}
    new_position = {n: i for i, (n, _) in enumerate(new)}
    changes = []
    for gone in list(removed):
        twin = next(
            (
                a
                for a in added
                if new_position[a] == old_position[gone] and new_types[a] == old_types[gone]
            ),
            None,
        )
        if twin is not None:
            removed.remove(gone)
            added.remove(twin)
            changes.append(SchemaChange("renamed", twin, f"{gone} → {twin}"))
    changes += [SchemaChange("added", n, f"{n} ({new_types[n]})") for n in added]
    changes += [SchemaChange("removed", n, f"{n} ({old_types[n]})") for n in removed]
    changes += [
        SchemaChange("retyped", n, f"{n} ({old_types[n]} → {new_types[n]})")
        for n, _ in new
        if n in old_types and old_types[n] != new_types[n]
    ]
    return changes


class ShapeTracker:
    """The widest value (in bytes) of each text and binary column seen in this run. Thread safe:
    the workers of a chunked export share one."""

    def __init__(self, schema: pa.Schema) -> None:
        self._columns = [
            (i, f.name)
            for i, f in enumerate(schema)
            if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)
            or pa.types.is_binary(f.type)
            or pa.types.is_large_binary(f.type)
        ]
        self.widths: dict[str, int] = {name: 0 for _, name in self._columns}
        self._lock = threading.Lock()

    def observe(self, batch: pa.RecordBatch) -> None:
        for index, name in self._columns:
            widest = pc.max(pc.binary_length(batch.column(index))).as_py() or 0
            if widest > self.widths[name]:
                with self._lock:
                    self.widths[name] = max(self.widths[name], widest)


def shape_warnings(before: Mapping[str, int], now: Mapping[str, int], factor: float) -> list[str]:
    """Columns whose widest value grew beyond `factor` times the widest ever seen before."""
    if factor <= 0:
        return []
    return [
        f"shape drift in column '{name}': max byte length grew {now[name] / before[name]:.1f}x "
        f"({before[name]:,} → {now[name]:,} bytes)"
        for name in now
        if before.get(name, 0) > 0 and now[name] > before[name] * factor
    ]
