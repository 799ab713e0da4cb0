"""Turn the Arrow batches a driver returns into the planned schema, vectorised.

Checks here fail loudly where a value cannot be carried exactly: NaN/Infinity into a decimal
column, date/timestamp values the driver wrapped around (PostgreSQL ±infinity), and any row a
column's guard flags (multi-dimensional arrays, MySQL zero dates, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from rivet.core.errors import TypeMappingError
from rivet.sources import columns as conv
from rivet.sources.columns import ColumnPlan

GUARD_NAME = "_rivet_guard_{}"
# PostgreSQL's earliest date is Julian day 0 (4714-11-24 BC); anything earlier is a sentinel
# (±infinity) or an out-of-range value wrapped around by the reader.
_MIN_DAYS = -2_440_588
_MIN_MICROS = _MIN_DAYS * 86_400 * 1_000_000


def target_schema(columns: Sequence[ColumnPlan]) -> pa.Schema:
    return pa.schema([c.field() for c in columns])


def normalize(
    batch: pa.RecordBatch, columns: Sequence[ColumnPlan], schema: pa.Schema, export: str
) -> pa.RecordBatch:
    """`batch` holds the planned columns, then the guard columns of `guard_select_list` (a lean
    read, see ColumnPlan.lean_sql, leaves out those of columns with a lean form)."""
    arrays = []
    for index, column in enumerate(columns):
        array = _convert(batch.column(index), column, export)
        _check_range(array, column, export)
        if column.guard_sql is not None:
            guard = batch.schema.get_field_index(GUARD_NAME.format(index))
            assert guard >= 0 or column.lean_sql is not None, f"no guard for {column.name}"
            if guard >= 0 and pc.any(batch.column(guard).cast(pa.bool_())).as_py():
                raise _refused(column, export)
        if array.type != column.arrow_type:
            array = array.cast(column.arrow_type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def select_list(
    columns: Sequence[ColumnPlan], quote: Callable[[str], str], lean: bool
) -> list[str]:
    """The planned columns, then their guard expressions (named for `normalize`). `lean`: the
    columns that have a lean form are read in it, without their guard."""
    selected = [c.lean_sql if lean and c.lean_sql else c.select_sql for c in columns]
    guards = [
        f"({c.guard_sql}) AS {quote(GUARD_NAME.format(i))}"
        for i, c in enumerate(columns)
        if c.guard_sql is not None and not (lean and c.lean_sql)
    ]
    return selected + guards


def _refused(column: ColumnPlan, export: str) -> TypeMappingError:
    return TypeMappingError(
        f"export '{export}': column '{column.name}' ({column.native_type}) {column.guard_problem}",
        hint=f"add `columns: {{{column.name}: text}}` to export its text form",
    )


def _convert(array: pa.Array, column: ColumnPlan, export: str) -> pa.Array:
    if isinstance(array.type, pa.BaseExtensionType):
        array = array.storage
    if column.conversion == conv.DECIMAL:
        return _to_decimal(array, column, export)
    if column.conversion == conv.EPOCH_MICROS_UTC:
        micros = array.cast(pa.int64())
        if column.guard_problem and pc.any(pc.equal(micros, 0)).as_py():
            raise _refused(column, export)
        return micros.view(pa.timestamp("us", tz="UTC"))
    if column.conversion == conv.BOOLEAN_01:
        if pc.any(pc.and_(pc.not_equal(array, 0), pc.not_equal(array, 1))).as_py():
            raise _refused(column, export)
        return array.cast(pa.bool_())
    if column.conversion == conv.MICROS_DURATION:
        return array.cast(pa.int64()).view(pa.duration("us"))
    if column.conversion == conv.DECIMAL_LIST:
        values = array.values
        if isinstance(values.type, pa.BaseExtensionType):
            values = values.storage
        value_type = column.arrow_type.value_type
        decimals = _to_decimal(values, column, export, value_type)
        return pa.ListArray.from_arrays(array.offsets, decimals, mask=array.is_null())
    return array


def _to_decimal(
    array: pa.Array, column: ColumnPlan, export: str, arrow_type: pa.DataType | None = None
) -> pa.Array:
    try:
        return pc.cast(array, arrow_type or column.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        special = pc.is_in(
            pc.utf8_lower(array), pa.array(["nan", "infinity", "-infinity", "inf", "-inf"])
        )
        what = "NaN or Infinity" if pc.any(special).as_py() else "a value that does not fit"
        raise TypeMappingError(
            f"export '{export}': column '{column.name}' ({column.native_type}) holds {what}, "
            "which a decimal column cannot represent",
            hint=f"add `columns: {{{column.name}: text}}` to export the exact text form, or "
            f"`{column.name}: float8` to export a float",
        ) from None


def _check_range(array: pa.Array, column: ColumnPlan, export: str) -> None:
    values = array.flatten() if pa.types.is_list(array.type) else array
    if pa.types.is_date32(values.type):
        floor = _MIN_DAYS
        raw = values.view(pa.int32())
    elif pa.types.is_timestamp(values.type) and values.type.unit == "us":
        floor = _MIN_MICROS
        raw = values.cast(pa.timestamp("us")).view(pa.int64())
    else:
        return
    if len(raw) and raw.null_count < len(raw) and pc.min(raw).as_py() < floor:
        raise TypeMappingError(
            f"export '{export}': column '{column.name}' ({column.native_type}) holds 'infinity', "
            "'-infinity' or a value outside the range rivet can carry exactly",
            hint=f"add `columns: {{{column.name}: text}}` to export its text form",
        )
