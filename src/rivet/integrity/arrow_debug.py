"""Arrow types as arrow-rs prints them (`{:?}`): rivet-cli 0.7.7 hashes these into a manifest's
`schema_fingerprint`, so readers that compare fingerprints see the same value for the same
schema whichever of the two wrote it."""

from __future__ import annotations

import pyarrow as pa

_UNITS = {"s": "Second", "ms": "Millisecond", "us": "Microsecond", "ns": "Nanosecond"}
_SIMPLE = {
    pa.null(): "Null",
    pa.bool_(): "Boolean",
    pa.int8(): "Int8",
    pa.int16(): "Int16",
    pa.int32(): "Int32",
    pa.int64(): "Int64",
    pa.uint8(): "UInt8",
    pa.uint16(): "UInt16",
    pa.uint32(): "UInt32",
    pa.uint64(): "UInt64",
    pa.float16(): "Float16",
    pa.float32(): "Float32",
    pa.float64(): "Float64",
    pa.date32(): "Date32",
    pa.date64(): "Date64",
    pa.string(): "Utf8",
    pa.large_string(): "LargeUtf8",
    pa.binary(): "Binary",
    pa.large_binary(): "LargeBinary",
    pa.month_day_nano_interval(): "Interval(MonthDayNano)",
}


def debug_name(kind: pa.DataType) -> str:
    """`Timestamp(Microsecond, Some("UTC"))`, `Decimal128(10, 2)`, `List(Field { ... })`..."""
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if pa.types.is_timestamp(kind):
        zone = f'Some("{kind.tz}")' if kind.tz else "None"
        return f"Timestamp({_UNITS[kind.unit]}, {zone})"
    if pa.types.is_time32(kind) or pa.types.is_time64(kind):
        return f"Time{kind.bit_width}({_UNITS[kind.unit]})"
    if pa.types.is_duration(kind):
        return f"Duration({_UNITS[kind.unit]})"
    if pa.types.is_decimal(kind):
        return f"Decimal{kind.bit_width}({kind.precision}, {kind.scale})"
    if pa.types.is_fixed_size_binary(kind):
        return f"FixedSizeBinary({kind.byte_width})"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        name = "LargeList" if pa.types.is_large_list(kind) else "List"
        return f"{name}({_field(kind.value_field)})"
    if pa.types.is_struct(kind):
        return f"Struct([{', '.join(_field(kind.field(i)) for i in range(kind.num_fields))}])"
    return str(kind)  # no type rivet writes reaches this


def _field(field: pa.Field) -> str:
    return (
        f'Field {{ name: "{field.name}", data_type: {debug_name(field.type)}, '
        f"nullable: {'true' if field.nullable else 'false'}, dict_id: 0, "
        "dict_is_ordered: false, metadata: {} }"
    )
