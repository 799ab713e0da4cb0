"""The canonical row hash: typed, length-prefixed, the same for equal values of sibling types."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pyarrow as pa

from rivet.integrity.row_hash import column_hashes, row_hashes


def _one(**columns: pa.Array) -> list[int]:
    return row_hashes(pa.record_batch(columns)).to_pylist()  # type: ignore[no-any-return]


def test_sibling_types_hash_alike() -> None:
    assert _one(a=pa.array([5, None], pa.int32())) == _one(a=pa.array([5, None], pa.int64()))
    assert _one(a=pa.array([5], pa.uint32())) == _one(a=pa.array([5], pa.int8()))
    assert _one(a=pa.array(["x"], pa.string())) == _one(a=pa.array(["x"], pa.large_string()))
    assert _one(a=pa.array([1.5], pa.float32())) == _one(a=pa.array([1.5], pa.float64()))
    d = decimal.Decimal("12.50")
    assert _one(a=pa.array([d], pa.decimal128(10, 2))) == _one(
        a=pa.array([d], pa.decimal256(40, 2))
    )
    ts = datetime.datetime(2026, 1, 1, 12)
    assert _one(a=pa.array([ts], pa.timestamp("us"))) == _one(a=pa.array([ts], pa.timestamp("ms")))


def test_types_and_nulls_are_told_apart() -> None:
    texts = _one(a=pa.array(["1", "", None]))
    assert len(set(texts)) == 3
    assert _one(a=pa.array(["1"])) != _one(a=pa.array([b"1"]))  # text is not binary
    assert _one(a=pa.array([1])) != _one(a=pa.array([True]))
    ts = datetime.datetime(2026, 1, 1)
    assert _one(a=pa.array([ts], pa.timestamp("us"))) != _one(
        a=pa.array([ts], pa.timestamp("us", "UTC"))
    )
    assert _one(a=pa.array([0.0])) == _one(a=pa.array([-0.0]))


def test_boundaries_and_positions_matter() -> None:
    split = _one(a=pa.array(["ab", "a"]), b=pa.array(["c", "bc"]))
    assert split[0] != split[1]
    swapped = _one(a=pa.array(["x", "y"]), b=pa.array(["y", "x"]))
    assert swapped[0] != swapped[1]
    padded = _one(a=pa.array(["abcdefgh", "abcdefgh\x00"]))  # zero padding is not a value
    assert padded[0] != padded[1]


def test_slices_and_blocks_give_the_same_hashes() -> None:
    values = pa.array([("v" * (i % 1000)) + str(i) for i in range(20_000)])  # ~10 MB: 3 blocks
    whole = column_hashes(values)
    assert np.array_equal(column_hashes(values.slice(5_000, 7)), whole[5_000:5_007])
    assert len(set(whole.tolist())) == 20_000
