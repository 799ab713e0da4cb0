"""Column checksums: canonical (batching, offsets width), typed (NULL is not ""), exact."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from rivet.integrity.checksums import checksums_of

TABLE = pa.table(
    {
        "i": pa.array([1, None, 3, 4, 5], pa.int64()),
        "s": pa.array(["a", "", None, "dd", "€"], pa.string()),
        "b": pa.array([True, None, False, True, True]),
        "d": pa.array(
            [decimal.Decimal("1.20"), None, decimal.Decimal("3"), decimal.Decimal("-4.5"), None],
            pa.decimal128(10, 2),
        ),
        "ts": pa.array(
            [datetime.datetime(2020, 1, 1), None, None, datetime.datetime(2021, 1, 1), None],
            pa.timestamp("us", tz="UTC"),
        ),
        "l": pa.array([[1, 2], None, [], [3], [None]], pa.list_(pa.int32())),
        "bin": pa.array([b"x", None, b"", b"yy", b"z"]),
    }
)


def _sums(table: pa.Table, chunk: int | None = None) -> dict[str, str]:
    return checksums_of(table.schema, table.to_batches(max_chunksize=chunk))


def test_batch_boundaries_do_not_matter() -> None:
    assert _sums(TABLE) == _sums(TABLE, 2) == _sums(TABLE, 1)


def test_a_parquet_round_trip_reproduces_every_checksum(tmp_path: Path) -> None:
    pq.write_table(TABLE, tmp_path / "t.parquet")
    back = pq.read_table(tmp_path / "t.parquet")
    assert _sums(back, 3) == _sums(TABLE)


def test_null_and_empty_differ_and_each_change_is_seen() -> None:
    base = _sums(TABLE)
    null_for_empty = TABLE.set_column(1, "s", pa.array(["a", None, None, "dd", "€"]))
    assert _sums(null_for_empty)["s"] != base["s"]
    assert {k for k, v in _sums(null_for_empty).items() if v != base[k]} == {"s"}
    zero_for_null = TABLE.set_column(0, "i", pa.array([1, 0, 3, 4, 5], pa.int64()))
    assert _sums(zero_for_null)["i"] != base["i"]
    swapped = TABLE.set_column(6, "bin", pa.array([b"x", None, b"", b"y", b"yz"]))
    assert _sums(swapped)["bin"] != base["bin"]


def test_large_offsets_are_the_same_family() -> None:
    large = TABLE.set_column(1, "s", TABLE.column("s").cast(pa.large_string()))
    assert _sums(large) == _sums(TABLE)
    narrower = TABLE.set_column(0, "i", TABLE.column("i").cast(pa.int32()))
    assert _sums(narrower)["i"] != _sums(TABLE)["i"]  # the type is part of the checksum


def test_schema_fingerprint_hashes_arrow_rs_type_names_as_rivet_cli_0_7_7() -> None:
    """reference.md 7.2: xxh3_64 over name-sorted `name\\t<Arrow type Debug>\\n` lines."""
    import pyarrow as pa
    import xxhash

    from rivet.pipeline.manifest import schema_fingerprint

    schema = pa.schema([("name", pa.string()), ("id", pa.int64()),
                        ("at", pa.timestamp("us", "UTC")), ("d", pa.date32()),
                        ("amount", pa.decimal128(12, 2)),
                        ("local", pa.timestamp("us"))])  # fmt: skip
    lines = (
        'amount\tDecimal128(12, 2)\nat\tTimestamp(Microsecond, Some("UTC"))\nd\tDate32\n'
        "id\tInt64\nlocal\tTimestamp(Microsecond, None)\nname\tUtf8\n"
    )
    assert schema_fingerprint(schema) == f"xxh3:{xxhash.xxh3_64_hexdigest(lines.encode())}"


def test_checksums_stored_by_earlier_versions_are_reproduced() -> None:
    """Manifests keep these digests: `rivet validate` of a part an earlier rivet wrote must find
    them again, whatever the implementation."""
    assert _sums(TABLE) == {
        "i": "xxh3:5bb4bad470d89900", "s": "xxh3:4434a97fd2be72ea",
        "b": "xxh3:85a62012d7e9862a", "d": "xxh3:13b1ffb90939d125",
        "ts": "xxh3:99a962fb0149726a", "l": "xxh3:8356522dc25ca58f",
        "bin": "xxh3:006f6dd06e99185a",
    }  # fmt: skip
    assert _sums(TABLE.slice(1, 3))["b"] == "xxh3:8ca27291dfa46d52"


_COLUMNS = [
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.float64(), st.floats()),
    (pa.bool_(), st.booleans()),
    (pa.string(), st.text(max_size=4)),
    (pa.timestamp("us", tz="UTC"), st.datetimes(timezones=st.just(datetime.UTC))),
]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_slice_sums_as_the_same_values_copied(data: st.DataObject) -> None:
    """Arrays arrive as slices of larger buffers (bitmaps that start mid-byte): the checksum
    follows the values, not the buffers."""
    kind, values = data.draw(st.sampled_from(_COLUMNS))
    items = data.draw(st.lists(st.one_of(st.none(), values), max_size=40))
    start = data.draw(st.integers(0, len(items)))
    length = data.draw(st.integers(0, len(items) - start))
    sliced = pa.array(items, kind).slice(start, length)
    copied = pa.array(items[start : start + length], kind)
    schema = pa.schema([("c", kind)])
    assert checksums_of(schema, [pa.table({"c": sliced})]) == checksums_of(
        schema, [pa.table({"c": copied})]
    )
