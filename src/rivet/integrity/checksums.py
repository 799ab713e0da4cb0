"""Per-column checksums over a canonical, typed encoding of the values.

A column's checksum is `xxh3:<16 hex>` over its type family and row count and three streams
that follow the rows in order, whatever the batch boundaries:

    validity  one byte per row: 1 = value, 0 = NULL (so NULL is never the same as "" or 0)
    values    fixed-width types: each value's little-endian bytes (NULL slots zeroed, every
              floating-point NaN as the one quiet NaN);
              variable-width types: each value's length as int64 (NULL: 0)
    data      variable-width types: the value bytes, back to back

Nested lists add their lengths to `values` and feed their items to a child checksum; structs
feed one child checksum per field. The checksums are computed from the Arrow data before it is
written, so a Parquet part and a CSV part of the same rows carry the same checksums, and a part
read back from Parquet must reproduce them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

_ONES = b"\x01" * (1 << 20)


def type_family(data_type: pa.DataType) -> str:
    """The type as the checksum names it: 32- and 64-bit offset variants are the same family."""
    if pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_large_binary(data_type):
        return "binary"
    if pa.types.is_large_list(data_type):
        return f"list<{type_family(data_type.value_type)}>"
    if pa.types.is_list(data_type):
        return f"list<{type_family(data_type.value_type)}>"
    return str(data_type)


class ColumnChecksum:
    """Streams one column's arrays; `hexdigest()` at any point gives the checksum so far."""

    def __init__(self, data_type: pa.DataType) -> None:
        self._type = data_type
        self._family = type_family(data_type)
        self.rows = 0
        self._validity = xxhash.xxh3_64()
        self._values = xxhash.xxh3_64()
        self._data = xxhash.xxh3_64()
        self._children: list[ColumnChecksum] = []
        if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
            self._children = [ColumnChecksum(data_type.value_type)]
        elif pa.types.is_struct(data_type):
            self._children = [ColumnChecksum(f.type) for f in data_type]

    def update(self, array: pa.Array) -> None:
        if isinstance(array, pa.ChunkedArray):
            for chunk in array.chunks:
                self.update(chunk)
            return
        if isinstance(array.type, pa.ExtensionType):
            array = array.storage
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        count = len(array)
        if count == 0:
            return
        self.rows += count
        valid = _validity(array)
        self._feed_validity(valid, count)
        kind = array.type
        if pa.types.is_boolean(kind):
            values = _bits(array.buffers()[1], array.offset, count)
            self._values.update((values if valid is None else values & valid).data)
        elif _variable_width(kind):
            self._feed_variable(array, valid)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            lengths = pc.fill_null(pc.list_value_length(array), 0)
            self._values.update(lengths.to_numpy().astype("<i8").tobytes())
            self._children[0].update(array.flatten())
        elif pa.types.is_struct(kind):
            for child, values in zip(self._children, array.flatten(), strict=True):
                child.update(values)
        elif pa.types.is_null(kind):
            pass
        else:
            self._feed_fixed(array, count, valid)

    def hexdigest(self) -> str:
        digest = xxhash.xxh3_64()
        digest.update(f"{self._family}\x1f{self.rows}\x1f".encode())
        for stream in (self._validity, self._values, self._data):
            digest.update(stream.digest())
        for child in self._children:
            digest.update(child.hexdigest().encode())
        return f"xxh3:{digest.hexdigest()}"

    def _feed_validity(self, valid: _Bytes | None, count: int) -> None:
        if valid is not None:
            self._validity.update(valid.data)
            return
        while count > 0:
            step = min(count, len(_ONES))
            self._validity.update(_ONES[:step])
            count -= step

    def _feed_fixed(self, array: pa.Array, count: int, valid: _Bytes | None) -> None:
        width = array.type.bit_width // 8
        buffer = array.buffers()[1]
        raw = np.frombuffer(buffer, dtype=np.uint8)[
            array.offset * width : (array.offset + count) * width
        ]
        if valid is not None:  # NULL slots zeroed
            raw = (raw.reshape(count, width) * valid[:, None]).reshape(-1)
        if pa.types.is_floating(array.type) and width in (4, 8):
            floats = raw.view(f"<f{width}")
            nans = np.isnan(floats)
            if nans.any():  # one NaN: drivers and text parsers differ in sign and payload bits
                floats = floats.copy()
                floats[nans] = np.nan
                raw = floats.view(np.uint8)
        self._values.update(np.ascontiguousarray(raw).data)

    def _feed_variable(self, array: pa.Array, valid: _Bytes | None) -> None:
        offsets, lengths = _offsets(array)
        if valid is not None and np.any(lengths * (valid ^ 1)):
            # NULL slots that hold bytes: drop them first
            array = pc.if_else(array.is_valid(), array, _empty(array.type))
            offsets, lengths = _offsets(array)
        self._values.update(np.ascontiguousarray(lengths, dtype="<i8").data)
        data = array.buffers()[2]
        if data is not None and len(offsets):
            self._data.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])


_Bytes = npt.NDArray[np.uint8]


def _validity(array: pa.Array) -> _Bytes | None:
    """One byte per row, 1 = value, 0 = NULL; None when the array has no NULL. Unpacked from the
    validity bitmap: `is_valid().to_numpy()` converts bit by bit and was two thirds of the
    checksums' time on NULL-heavy tables."""
    if array.null_count == 0:
        return None
    bitmap = array.buffers()[0]
    if bitmap is None:  # NULLs without a bitmap (e.g. a union's): ask Arrow
        return np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint8)
    return _bits(bitmap, array.offset, len(array))


def _bits(bitmap: pa.Buffer, offset: int, count: int) -> _Bytes:
    """Bits offset .. offset+count of an Arrow bitmap (least significant bit first), as bytes."""
    first = offset // 8
    packed = np.frombuffer(bitmap, dtype=np.uint8)[first : (offset + count + 7) // 8]
    skip = offset - first * 8
    return np.unpackbits(packed, bitorder="little")[skip : skip + count]


def _variable_width(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _offsets(array: pa.Array) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """The array's offsets (its own slice of them) and the value lengths."""
    kind = np.int64 if _large(array.type) else np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=kind)[
        array.offset : array.offset + len(array) + 1
    ]
    return offsets, np.diff(offsets)


def _empty(kind: pa.DataType) -> pa.Scalar:
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    return pa.scalar("" if text else b"", kind)


def _large(kind: pa.DataType) -> bool:
    return bool(pa.types.is_large_string(kind) or pa.types.is_large_binary(kind))


class TableChecksums:
    """One ColumnChecksum per column of a schema, fed batch by batch."""

    def __init__(self, schema: pa.Schema) -> None:
        self._names = schema.names
        self._columns = [ColumnChecksum(f.type) for f in schema]

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        for checksum, column in zip(self._columns, batch.columns, strict=True):
            checksum.update(column)

    def digests(self) -> dict[str, str]:
        return {n: c.hexdigest() for n, c in zip(self._names, self._columns, strict=True)}


def checksums_of(schema: pa.Schema, batches: Iterable[pa.RecordBatch | pa.Table]) -> dict[str, str]:
    sums = TableChecksums(schema)
    for batch in batches:
        sums.update(batch)
    return sums.digests()
