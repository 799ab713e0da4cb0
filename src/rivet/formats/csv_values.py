"""Vectorised rendering of the Arrow types the CSV writer cannot print: binary and lists."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.array([list(f"{i:02x}".encode()) for i in range(256)], dtype=np.uint8)
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, _csv_type(f.type)) for f in schema])


def csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        try:
            columns.append(_render(column))
        except UnrenderableValue as exc:
            raise UnrenderableValue(f"column '{field.name}' {exc}") from None
    return pa.RecordBatch.from_arrays(columns, schema=csv_schema(batch.schema))


# pyarrow's CSV writer prints "<value out of range: ...>" past year 9999 and for 24:00:00.
_MAX_DAYS = 2_932_896  # 9999-12-31
_MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31 23:59:59.999999
_MICROS = {"h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000}


class UnrenderableValue(ValueError):
    """A value the CSV text form cannot carry exactly."""


def _csv_type(arrow_type: pa.DataType) -> pa.DataType:
    return pa.string() if _needs_rendering(arrow_type) else arrow_type


def _needs_rendering(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_decimal256(arrow_type)
        or pa.types.is_time64(arrow_type)
    )


def _render(array: pa.Array) -> pa.Array:
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        return binary_to_hex(array)
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        return list_to_json(array)
    if pa.types.is_decimal256(array.type):
        return pc.cast(array, pa.string())
    if pa.types.is_time64(array.type):
        return time_to_text(array)
    if pa.types.is_date32(array.type) or pa.types.is_timestamp(array.type):
        _check_year_range(array)
    return array


def time_to_text(array: pa.Array) -> pa.Array:
    """HH:MM:SS.ffffff from microseconds, including PostgreSQL's 24:00:00."""
    micros = array.cast(pa.time64("us")).cast(pa.int64())
    pieces = []
    for unit in ("h", "m", "s"):
        whole = pc.divide(micros, _MICROS[unit])
        micros = pc.subtract(micros, pc.multiply(whole, _MICROS[unit]))
        pieces.append(pc.utf8_lpad(pc.cast(whole, pa.string()), 2, "0"))
    fraction = pc.utf8_lpad(pc.cast(micros, pa.string()), 6, "0")
    seconds = pc.binary_join_element_wise(pieces[2], fraction, ".")
    return pc.binary_join_element_wise(pieces[0], pieces[1], seconds, ":")


def _check_year_range(array: pa.Array) -> None:
    if pa.types.is_date32(array.type):
        raw, limit = array.view(pa.int32()), _MAX_DAYS
    else:
        raw = array.cast(pa.timestamp(array.type.unit)).cast(pa.int64())
        limit = (
            _MAX_MICROS
            * {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[array.type.unit]
            // 1_000_000
        )
    biggest = pc.max(raw).as_py()
    if biggest is not None and biggest > limit:
        raise UnrenderableValue("holds a date after the year 9999, which CSV cannot render")


def binary_to_hex(array: pa.Array) -> pa.Array:
    """Lowercase hex of each value, computed on the buffers (no per-value Python)."""
    array = array.cast(pa.binary())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[
        array.offset : array.offset + len(array) + 1
    ]
    start, end = int(offsets[0]), int(offsets[-1])
    data_buffer = array.buffers()[2]
    raw = (
        np.frombuffer(data_buffer, dtype=np.uint8)[start:end]
        if data_buffer
        else np.zeros(0, np.uint8)
    )
    hex_bytes = _HEX[raw].reshape(-1)
    new_offsets = ((offsets - start) * 2).astype(np.int32)
    text = pa.StringArray.from_buffers(
        len(array), pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(hex_bytes.tobytes())
    )
    if array.null_count:
        text = pc.if_else(array.is_valid(), text, pa.scalar(None, pa.string()))
    return text


def list_to_json(array: pa.Array) -> pa.Array:
    """A JSON array per value: numbers and booleans bare, everything else a JSON string."""
    values = _json_values(array.values)
    rebuilt = pa.ListArray.from_arrays(array.offsets, values)
    joined = pc.binary_join(rebuilt, ",")
    wrapped = pc.binary_join_element_wise("[", joined, "]", "")
    return pc.if_else(array.is_null(), pa.scalar(None, pa.string()), wrapped)


def _json_values(values: pa.Array) -> pa.Array:
    value_type = values.type
    if pa.types.is_list(value_type):
        rendered = list_to_json(values)
    elif (
        pa.types.is_boolean(value_type)
        or pa.types.is_integer(value_type)
        or pa.types.is_floating(value_type)
        or pa.types.is_decimal(value_type)
    ):
        rendered = pc.cast(values, pa.string())
        if pa.types.is_floating(value_type):  # JSON has no NaN/Infinity: quote them
            special = pc.invert(pc.is_finite(values))
            rendered = pc.if_else(special, _quote(rendered), rendered)
    else:
        text = (
            binary_to_hex(values)
            if pa.types.is_binary(value_type)
            else pc.cast(values, pa.string())
        )
        rendered = _quote(text)
    return pc.fill_null(rendered, "null")


def _quote(text: pa.Array) -> pa.Array:
    for old, new in _JSON_ESCAPES:
        text = pc.replace_substring(text, old, new)
    return pc.binary_join_element_wise('"', text, '"', "")
