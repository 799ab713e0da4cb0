"""`_rivet_row_hash`: a 64-bit hash of each row's values, canonical across formats and engines.

Every value is hashed from a typed, canonical form, never from its rendering:

    integers  the value as a signed 64-bit integer (unsigned above 2**63 - 1: tagged apart)
    floats    the IEEE 754 double (float32 widened exactly; -0.0 as 0.0; one NaN)
    booleans  0 / 1
    decimals  the exact decimal text with its scale ("12.50")
    dates     days since 1970-01-01; timestamps: microseconds since the epoch, tagged by whether
              they are UTC instants (timestamptz, MySQL TIMESTAMP) or wall-clock (timestamp,
              DATETIME); times and durations: microseconds
    text      the UTF-8 bytes; binary: the bytes (tagged apart from text)
    NULL      its own constant, so NULL differs from "", 0 and false

A fixed-width value hashes as mix(mix(value) ^ tag); a byte string as
mix(tag ^ mix(length) + sum over its 8-byte little-endian words w_j (the last zero-padded) of
mix(w_j ^ mix(j + 1))), which is length-prefixed and position-sensitive. The row hash chains
the column hashes in column order: h = mix(h * P + column_hash). `mix` is the SplitMix64
finaliser; all arithmetic is mod 2**64. The result is stored as int64 (the same 64 bits).
Columns of other types (arrays, intervals) hash their Python value's text: correct, but slower.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

U64 = npt.NDArray[np.uint64]
_TAGS = {
    name: np.uint64(0x9E3779B97F4A7C15 * (i + 1) % (1 << 64))
    for i, name in enumerate(
        ["null", "int", "uint", "float", "bool", "decimal", "date", "instant", "local",
         "time", "duration", "text", "binary", "other", "row"]
    )
}  # fmt: skip
_P = np.uint64(0x100000001B3)
_BLOCK_BYTES = 4 << 20  # byte-string hashing works on blocks of this many value bytes


def _mix(x: U64) -> U64:
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def row_hashes(batch: pa.RecordBatch) -> pa.Array:
    """One int64 per row of `batch`."""
    with np.errstate(over="ignore"):
        rows = np.full(batch.num_rows, _TAGS["row"], dtype=np.uint64)
        for column in batch.columns:
            rows = _mix(rows * _P + column_hashes(column))
    return pa.array(rows.view(np.int64), pa.int64())


def column_hashes(array: pa.Array) -> U64:
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    tag, values = _canonical(array)
    with np.errstate(over="ignore"):
        if isinstance(values, pa.Array):
            hashed = _bytes_hashes(values, _TAGS[tag])
        else:
            hashed = _mix(_mix(values) ^ _TAGS[tag])
        if array.null_count:
            nulls = ~array.is_valid().to_numpy(zero_copy_only=False)
            hashed[nulls] = _mix(np.array([_TAGS["null"]], dtype=np.uint64))[0]
    return hashed


def _canonical(array: pa.Array) -> tuple[str, U64 | pa.Array]:
    """(tag, uint64 words) for fixed-width families; (tag, binary array) for byte strings."""
    kind = array.type
    if pa.types.is_integer(kind):
        if pa.types.is_unsigned_integer(kind):
            words = _numpy(array, np.uint64)
            tag = "uint" if bool((words > np.uint64(2**63 - 1)).any()) else "int"
            return tag, words
        return "int", _numpy(array, np.int64).view(np.uint64)
    if pa.types.is_floating(kind):
        floats = _numpy(array, np.float64) + 0.0  # -0.0 + 0.0 is 0.0
        floats[np.isnan(floats)] = np.nan
        return "float", floats.view(np.uint64)
    if pa.types.is_boolean(kind):
        return "bool", _numpy(array, np.uint64)
    if pa.types.is_decimal(kind):
        return "decimal", pc.cast(array, pa.string()).cast(pa.large_binary())
    if pa.types.is_date(kind):
        days = array.cast(pa.date32()).cast(pa.int32())
        return "date", _numpy(days, np.int64).view(np.uint64)
    if pa.types.is_timestamp(kind):
        micros = pc.cast(array, pa.timestamp("us", kind.tz), safe=False).cast(pa.int64())
        return ("instant" if kind.tz else "local"), _numpy(micros, np.int64).view(np.uint64)
    if pa.types.is_time(kind):
        micros = pc.cast(array, pa.time64("us"), safe=False).cast(pa.int64())
        return "time", _numpy(micros, np.int64).view(np.uint64)
    if pa.types.is_duration(kind):
        micros = pc.cast(array, pa.duration("us"), safe=False).cast(pa.int64())
        return "duration", _numpy(micros, np.int64).view(np.uint64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text", array.cast(pa.large_binary())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return "binary", array.cast(pa.large_binary())
    if pa.types.is_fixed_size_binary(kind):
        return "binary", array.cast(pa.binary()).cast(pa.large_binary())
    texts = [None if v is None else repr(v).encode() for v in array.to_pylist()]
    return "other", pa.array(texts, pa.large_binary())


def _numpy(array: pa.Array, dtype: type) -> U64:
    filled = pc.fill_null(array, pa.scalar(0, array.type) if not pa.types.is_boolean(array.type)
                          else False)  # fmt: skip
    return np.asarray(filled.to_numpy(zero_copy_only=False)).astype(dtype)


def _bytes_hashes(values: pa.Array, tag: np.uint64) -> U64:
    """Hash each value of a large_binary array (NULL slots are overwritten by the caller)."""
    count = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset : values.offset + count + 1
    ]
    data_buffer = values.buffers()[2]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    lengths = np.diff(offsets).astype(np.uint64)
    hashed = _mix(lengths) ^ tag
    start = 0
    while start < count:
        end = start + 1
        budget = offsets[start] + _BLOCK_BYTES
        end = max(end, int(np.searchsorted(offsets, budget, side="right")) - 1)
        end = min(end, count)
        hashed[start:end] += _block_sums(data, offsets[start : end + 1])
        start = end
    return _mix(hashed)


def _block_sums(data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> U64:
    """Per value: sum over its 8-byte little-endian words w_j (the last one zero-padded) of
    mix(w_j ^ mix(j + 1)): position-sensitive, and with the length hashed apart, unambiguous."""
    first, last = int(offsets[0]), int(offsets[-1])
    count = len(offsets) - 1
    if last == first:
        return np.zeros(count, dtype=np.uint64)
    block = np.zeros(last - first + 8, dtype=np.uint8)
    block[: last - first] = data[first:last]
    # every 8-byte window of the block, unaligned: window k holds bytes k..k+7
    windows = np.ndarray((last - first,), dtype="<u8", buffer=block, strides=(1,))
    lengths = np.diff(offsets)
    words = (lengths + 7) // 8
    word_starts = np.concatenate([np.zeros(1, np.int64), np.cumsum(words)])
    index = np.arange(int(word_starts[-1]), dtype=np.int64) - np.repeat(word_starts[:-1], words)
    at = np.repeat(offsets[:-1] - first, words) + index * 8
    left = np.repeat(lengths, words) - index * 8  # bytes of the value from this word on
    masks = np.where(
        left >= 8,
        np.uint64(0xFFFFFFFFFFFFFFFF),
        (np.uint64(1) << (np.minimum(left, 7).astype(np.uint64) * np.uint64(8))) - np.uint64(1),
    )
    values = windows[at].astype(np.uint64) & masks
    terms = _mix(values ^ _mix(index.astype(np.uint64) + np.uint64(1)))
    sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(terms, dtype=np.uint64)])
    per_value: U64 = sums[word_starts[1:]] - sums[word_starts[:-1]]
    return per_value
