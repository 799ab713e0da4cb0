"""A result column planned for export: how to read it, what it becomes, how faithful that is.

Engine-neutral: each engine's type mapping (pg_types, mysql_types) produces these, and
`normalize` applies them to the Arrow batches the driver returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

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
EPOCH_MICROS_UTC = "epoch_micros_utc"  # int64 microseconds since the epoch -> timestamp[us, UTC]
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
    note: str | None = None

    def field(self) -> pa.Field:
        metadata = {"rivet.native_type": self.native_type, "rivet.fidelity": self.fidelity}
        if self.logical_type:
            metadata["rivet.logical_type"] = self.logical_type
        return pa.field(self.name, self.arrow_type, nullable=True, metadata=metadata)
