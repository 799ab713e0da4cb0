"""Every PostgreSQL type with its edge values, exported to Parquet and CSV and read back."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.live.conftest import Pg, rivet, write_config

COLUMNS = """
    id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
    n numeric(12,2), n38 numeric(38,10), n50 numeric(50,5), nu numeric,
    d date, ts timestamp, tstz timestamptz, t time, iv interval, u uuid, j jsonb, js json,
    tx text, vc varchar(10), bp char(5), nm name, by bytea, e mood, dom posint,
    ai int4[], at text[], an numeric(6,2)[], au uuid[], inet_c inet, money_c money
"""
ROW_1 = """(1, true, -32768, -2147483648, -9223372036854775808, 1.5, 'NaN',
    -9999999999.99, 1234567890123456789012345678.1234567891,
    123456789012345678901234567890123456789012345.12345,
    '123456789012345678901234567890123456789.000000000000000000001',
    '0001-01-01', '1900-01-01 00:00:00.000001', '2020-06-01 12:00:00+02', '24:00:00',
    '1 year 2 mons -3 days 04:05:06.5', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    '{"k": [1, "x"]}', '[1, 2]', '', 'naïve 😀', 'ab', 'pg', '\\x00ff', 'happy', 5,
    '{1,NULL,3}', '{x,NULL,""}', '{1.50,NULL}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
    '10.0.0.1/8', 12.5)"""
ROW_2 = """(2, false, 32767, 2147483647, 9223372036854775807, '-Infinity', 'Infinity',
    0.01, -0.0000000001, 0, 'NaN',
    '9999-12-31', '2262-04-12 23:47:16.854776', '1970-01-01 00:00:00+00', '00:00:00',
    '-1 day', '00000000-0000-0000-0000-000000000000', 'null', '{}', E'line\\nbreak, "quoted"',
    '', '', '', '', 'sad', 1, '{}', '{}', '{}', '{}', '::1', -0.01)"""
ROW_3 = "(3" + ", NULL" * 31 + ")"


@pytest.fixture
def matrix(pg: Pg) -> str:
    pg.execute("CREATE TYPE mood AS ENUM ('sad', 'happy')")
    pg.execute("CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)")
    pg.execute(f"CREATE TABLE matrix ({COLUMNS})")
    pg.execute(f"INSERT INTO matrix VALUES {ROW_1}, {ROW_2}, {ROW_3}")
    return f"{pg.schema}.matrix"


def _export(tmp_path: Path, table: str, fmt: str) -> Path:
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "matrix",
                "table": table,
                "format": fmt,
                "destination": {"type": "local", "path": str(out)},
            }
        ],
    )
    # --validate: every part is read back and its column checksums compared, for every type
    result = rivet("run", "-c", str(config), "--validate")
    assert result.returncode == 0, result.stderr
    (part,) = out.glob(f"matrix_*.{fmt}")
    return part


def test_parquet_types_and_values_round_trip(tmp_path: Path, matrix: str) -> None:
    table = pq.read_table(_export(tmp_path, matrix, "parquet"))
    schema = table.schema
    expected_types = {
        "b": pa.bool_(),
        "i2": pa.int16(),
        "i4": pa.int32(),
        "i8": pa.int64(),
        "f4": pa.float32(),
        "f8": pa.float64(),
        "n": pa.decimal128(12, 2),
        "n38": pa.decimal128(38, 10),
        "n50": pa.decimal256(50, 5),
        "nu": pa.string(),
        "d": pa.date32(),
        "ts": pa.timestamp("us"),
        "tstz": pa.timestamp("us", tz="UTC"),
        "t": pa.time64("us"),
        "iv": pa.string(),
        "u": pa.string(),
        "j": pa.string(),
        "js": pa.string(),
        "tx": pa.string(),
        "vc": pa.string(),
        "bp": pa.string(),
        "nm": pa.string(),
        "by": pa.binary(),
        "e": pa.string(),
        "dom": pa.int32(),
        "ai": pa.list_(pa.int32()),
        "at": pa.list_(pa.string()),
        "an": pa.list_(pa.decimal128(6, 2)),
        "au": pa.list_(pa.string()),
        "inet_c": pa.string(),
        "money_c": pa.string(),
    }
    for name, arrow_type in expected_types.items():
        assert schema.field(name).type == arrow_type, name
    assert schema.field("j").metadata[b"rivet.logical_type"] == b"json"
    assert schema.field("nu").metadata[b"rivet.fidelity"] == b"logical_string"

    rows = {r["id"]: r for r in table.to_pylist()}
    one, two, three = rows[1], rows[2], rows[3]
    assert (one["i2"], one["i4"], one["i8"]) == (-32768, -2147483648, -(2**63))
    assert (two["i2"], two["i4"], two["i8"]) == (32767, 2147483647, 2**63 - 1)
    assert one["f8"] != one["f8"]  # NaN survives as NaN
    assert two["f4"] == float("-inf") and two["f8"] == float("inf")
    assert one["n"] == Decimal("-9999999999.99") and two["n"] == Decimal("0.01")
    assert one["n38"] == Decimal("1234567890123456789012345678.1234567891")
    assert one["n50"] == Decimal("123456789012345678901234567890123456789012345.12345")
    assert one["nu"] == "123456789012345678901234567890123456789.000000000000000000001"
    assert two["nu"] == "NaN"
    assert one["d"] == dt.date(1, 1, 1) and two["d"] == dt.date(9999, 12, 31)
    assert one["ts"] == dt.datetime(1900, 1, 1, 0, 0, 0, 1)
    assert (
        table.column("ts").cast(pa.int64())[1].as_py() == 9_223_458_436_854_776
    )  # beyond the ns range
    assert one["tstz"] == dt.datetime(2020, 6, 1, 10, 0, tzinfo=dt.UTC)
    assert table.column("t").cast(pa.int64())[0].as_py() == 86_400_000_000  # 24:00:00 kept
    assert one["iv"] == "P1Y2M-3DT4H5M6.5S" and two["iv"] == "P-1D"
    assert one["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert json.loads(one["j"]) == {"k": [1, "x"]} and two["j"] == "null"
    assert one["tx"] == "" and three["tx"] is None  # empty string is not NULL
    assert one["vc"] == "naïve 😀" and one["bp"] == "ab   "
    assert one["by"] == b"\x00\xff" and two["by"] == b"" and three["by"] is None
    assert one["e"] == "happy" and one["dom"] == 5
    assert one["ai"] == [1, None, 3] and two["ai"] == [] and three["ai"] is None
    assert one["at"] == ["x", None, ""]
    assert one["an"] == [Decimal("1.50"), None]
    assert one["au"] == ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]
    assert one["inet_c"] == "10.0.0.1/8" and one["money_c"] == "12.50"
    assert all(v is None for k, v in three.items() if k != "id")


def test_csv_renders_every_type_and_keeps_null_apart_from_empty(
    tmp_path: Path, matrix: str
) -> None:
    text = _export(tmp_path, matrix, "csv").read_text(encoding="utf-8")
    header, *_ = text.splitlines(keepends=False)
    assert header.startswith("id,b,i2,i4,i8,f4,f8,n,n38")
    rows = {r["id"]: r for r in csv.DictReader(text.splitlines(keepends=True))}
    one, two, three = rows["1"], rows["2"], rows["3"]
    assert one["n"] == "-9999999999.99" and one["n38"] == "1234567890123456789012345678.1234567891"
    assert one["n50"] == "123456789012345678901234567890123456789012345.12345"
    assert one["by"] == "00ff" and one["b"] == "true"
    assert one["ai"] == "[1,null,3]" and one["at"] == '["x",null,""]' and one["an"] == "[1.50,null]"
    assert one["t"] == "24:00:00.000000" and two["t"] == "00:00:00.000000"
    assert one["tstz"] == "2020-06-01 10:00:00.000000Z"
    assert two["tx"] == 'line\nbreak, "quoted"'
    # NULL is an empty field, an empty string is "": check the raw text, not the parsed value.
    raw_three = next(line for line in text.splitlines() if line.startswith("3,"))
    assert raw_three == "3" + "," * 31
    assert ',"",' in next(line for line in text.splitlines() if line.startswith("1,"))
    assert three["tx"] == "" and one["tx"] == ""


@pytest.mark.parametrize(
    ("ddl", "value", "column_hint"),
    [
        ("v numeric(10,2)", "'NaN'", "NaN or Infinity"),
        ("v date", "'infinity'", "'infinity'"),
        ("v timestamptz", "'-infinity'", "'infinity'"),
        ("v int4[]", "'{{1,2},{3,4}}'", "multi-dimensional"),
    ],
)
def test_values_without_an_exact_carrier_fail_loudly_and_write_nothing(
    tmp_path: Path, pg: Pg, ddl: str, value: str, column_hint: str
) -> None:
    pg.execute(f"CREATE TABLE edge (id int PRIMARY KEY, {ddl})")
    pg.execute("INSERT INTO edge SELECT g, NULL FROM generate_series(1, 50) g")
    pg.execute(f"INSERT INTO edge VALUES (51, {value})")
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "edge",
                "table": f"{pg.schema}.edge",
                "format": "parquet",
                "destination": {"type": "local", "path": str(out)},
            }
        ],
    )
    result = rivet("run", "-c", str(config))
    assert result.returncode == 1
    assert column_hint in result.stderr and "column 'v'" in result.stderr
    assert "columns: {v: text}" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == []  # no part, no manifest, no staging dir


def test_text_override_carries_infinity_and_nan(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE edge (id int PRIMARY KEY, d date, n numeric(10,2))")
    pg.execute("INSERT INTO edge VALUES (1, 'infinity', 'NaN'), (2, '2020-01-02', 1.5)")
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "edge",
                "table": f"{pg.schema}.edge",
                "format": "parquet",
                "columns": {"d": "text", "n": "float8"},
                "destination": {"type": "local", "path": str(out)},
            }
        ],
    )
    result = rivet("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    (part,) = out.glob("*.parquet")
    rows = pq.read_table(part).to_pylist()
    assert rows[0]["d"] == "infinity" and rows[1]["d"] == "2020-01-02"
    assert rows[0]["n"] != rows[0]["n"] and rows[1]["n"] == 1.5
