"""A result column planned for export: how to read it, what it becomes, how faithful that is.

Engine-neutral: each engine's type mapping (pg_types, mysql_types) produces these, and
`normalize` applies them to the Arrow batches the driver returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from rivet.core.errors import SourceError
from rivet.sources.base import ColumnReport

EXACT, COMPATIBLE, LOGICAL_STRING, LOSSY, UNSUPPORTED = (
    "exact",
    "compatible",
    "logical_string",
    "lossy",
    "unsupported",
)

# Conversions `normalize` knows (the driver's Arrow column -> the planned Arrow type):
NONE = "none"
DECIMAL = "decimal"  # exact decimal text -> decimal128/256
DECIMAL_LIST = "decimal_list"  # list of decimal text -> list of decimals
# int64 microseconds since the epoch -> timestamp[us, UTC]; 0 is refused with `guard_problem`
# (MySQL reads its zero TIMESTAMP as 0, and no valid TIMESTAMP is the epoch itself)
EPOCH_MICROS_UTC = "epoch_micros_utc"
BOOLEAN_01 = "boolean_01"  # integer 0/1 -> bool; any other value is refused with `guard_problem`
MICROS_DURATION = "micros_duration"  # int64 microseconds -> duration[us]


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    native_type: str
    select_sql: str
    arrow_type: pa.DataType
    fidelity: str
    logical_type: str | None = None
    conversion: str = NONE
    # An SQL boolean evaluated per row; a true value fails the export with `guard_problem`
    # (e.g. a multi-dimensional array, a MySQL zero date): values rivet refuses to carry silently.
    guard_sql: str | None = None
    guard_problem: str | None = None
    # A cheaper select-list entry without the guard, for values the driver itself refuses
    # loudly (ConnectorX panics on a MySQL zero date): pages are read with it, and only a page
    # the driver refused is read again with `select_sql` and the guard, which names the column.
    lean_sql: str | None = None
    note: str | None = None

    def field(self) -> pa.Field:
        metadata = {"rivet.native_type": self.native_type, "rivet.fidelity": self.fidelity}
        if self.logical_type:
            metadata["rivet.logical_type"] = self.logical_type
        return pa.field(self.name, self.arrow_type, nullable=True, metadata=metadata)


def check_result_columns(export: str, names: Sequence[str], overrides: Iterable[str]) -> None:
    """Refuse results a file cannot hold faithfully, and overrides that name no column."""
    duplicates = sorted({n for n in names if list(names).count(n) > 1})
    if duplicates:
        raise SourceError(
            f"export '{export}': the result has duplicate column names {duplicates}",
            hint="alias the columns in the query (SELECT a.id AS a_id, b.id AS b_id ...)",
        )
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise SourceError(
            f"export '{export}': columns: override for unknown column(s) {unknown}",
            hint="the result has columns: " + ", ".join(names),
        )


def column_notes(plans: Sequence[ColumnPlan]) -> list[str]:
    """The summary's warnings for columns converted in a documented way (not overrides)."""
    return [
        f"column '{p.name}': {p.note}"
        for p in plans
        if p.note and not p.note.startswith("override")
    ]


def column_reports(plans: Sequence[ColumnPlan]) -> list[ColumnReport]:
    return [
        ColumnReport(p.name, p.native_type, str(p.arrow_type), p.fidelity, p.note) for p in plans
    ]
