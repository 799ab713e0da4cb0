"""MySQL / MariaDB source end to end: every type with its edge values, paging, bad input."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.live.conftest import My, TlsServer, rivet, write_config

TYPES = """
    id INT UNSIGNED PRIMARY KEY, b TINYINT(1), ti TINYINT, tiu TINYINT UNSIGNED,
    su SMALLINT UNSIGNED, mi MEDIUMINT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
    f FLOAT, d DOUBLE, dec1 DECIMAL(10,2), dec2 DECIMAL(65,30), dt DATE, dtm DATETIME(6),
    ts TIMESTAMP(6) NULL, tm TIME(6), y YEAR, bit1 BIT(1), bit12 BIT(12), e ENUM('a','b'),
    st SET('x','y'), j JSON, vc VARCHAR(20), tx TEXT, bl BLOB, bn BINARY(4), g GEOMETRY
"""
ROW_1 = """(1, 1, -128, 255, 65535, -8388608, 4294967295, -9223372036854775808,
    18446744073709551615, 1.5, 2.5, -12345678.91,
    12345678901234567890123456789012345.123456789012345678901234567891, '1000-01-01',
    '2020-01-02 03:04:05.123456', '2020-01-02 03:04:05.5', '-838:59:59.000001', 2024, b'1',
    b'101010101010', 'b', 'x,y', '{"a": [1, "😀"]}', 'naïve 😀', '', x'00ff', x'01020304',
    ST_GeomFromText('POINT(1 2)'))"""
ROW_2 = """(2, 0, 127, 0, 0, 8388607, 0, 9223372036854775807, 0, -0.5, 1e300, 0.01, 0,
    '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07', '838:59:59', 1901, b'0',
    b'0', 'a', '', 'null', '', 'a,"b"', x'', x'00000000', NULL)"""
ROW_3 = "(3" + ", NULL" * 27 + ")"


def _export(tmp_path: Path, my: My, export: dict[str, object]) -> tuple[object, Path]:
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "m",
                "format": "parquet",
                "destination": {"type": "local", "path": str(out)},
                **export,
            }
        ],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )
    return rivet("run", "-c", str(config), "--json", "--validate", url=my.url), out


def test_every_type_round_trips_exactly(tmp_path: Path, my: My) -> None:
    my.execute(f"CREATE TABLE types ({TYPES})")
    my.execute(f"INSERT INTO types VALUES {ROW_1}, {ROW_2}, {ROW_3}")
    result, out = _export(tmp_path, my, {"table": f"{my.database}.types"})
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    (part,) = out.glob("m_*.parquet")
    table = pq.read_table(part)
    types = {f.name: f.type for f in table.schema}
    assert types["b"] == pa.bool_() and types["tiu"] == pa.uint8() and types["su"] == pa.uint16()
    assert types["iu"] == pa.uint32() and types["bu"] == pa.uint64() and types["mi"] == pa.int32()
    assert types["dec1"] == pa.decimal128(10, 2) and types["dec2"] == pa.decimal256(65, 30)
    assert types["ts"] == pa.timestamp("us", tz="UTC") and types["dtm"] == pa.timestamp("us")
    assert types["tm"] == pa.duration("us") and types["bit12"] == pa.int64()
    assert types["bl"] == pa.binary() and types["g"] == pa.binary()
    one, two, three = (r for r in sorted(table.to_pylist(), key=lambda r: r["id"]))
    assert one["b"] is True and two["b"] is False
    assert (one["tiu"], one["su"], one["iu"], one["bu"]) == (255, 65535, 4294967295, 2**64 - 1)
    assert (one["bi"], two["bi"]) == (-(2**63), 2**63 - 1)
    assert one["dec1"] == Decimal("-12345678.91")
    assert one["dec2"] == Decimal(
        "12345678901234567890123456789012345.123456789012345678901234567891"
    )
    assert one["dt"] == dt.date(1000, 1, 1) and two["dt"] == dt.date(9999, 12, 31)
    assert two["dtm"] == dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
    assert one["ts"] == dt.datetime(2020, 1, 2, 3, 4, 5, 500000, tzinfo=dt.UTC)
    assert two["ts"] == dt.datetime(2038, 1, 19, 3, 14, 7, tzinfo=dt.UTC)
    assert one["tm"] == -dt.timedelta(hours=838, minutes=59, seconds=59, microseconds=1)
    assert two["tm"] == dt.timedelta(hours=838, minutes=59, seconds=59)
    assert one["y"] == 2024 and one["bit1"] is True and one["bit12"] == 0b101010101010
    assert one["e"] == "b" and one["st"] == "x,y" and two["st"] == ""
    assert json.loads(one["j"]) == {"a": [1, "😀"]}
    assert one["vc"] == "naïve 😀" and two["vc"] == "" and three["vc"] is None
    assert one["bl"] == b"\x00\xff" and two["bl"] == b"" and one["bn"] == b"\x01\x02\x03\x04"
    assert one["g"][:5] == b"\x01\x01\x00\x00\x00"  # WKB point, little endian
    assert all(v is None for k, v in three.items() if k != "id")


@pytest.mark.parametrize(
    ("column", "value", "key"),
    [
        ("d DATE", "'0000-00-00'", "id INT"),
        ("d DATE", "'2020-05-00'", "id INT"),
        ("d DATETIME(6)", "'2020-00-05 01:02:03'", "id INT"),
        ("d DATETIME(6)", "'0000-00-00 00:00:00'", "id VARCHAR(8)"),  # keyset pages
        ("d TIMESTAMP NULL", "'0000-00-00 00:00:00'", "id INT"),
        ("d TINYINT(1)", "2", "id INT"),
    ],
)
def test_values_no_type_can_carry_fail_loudly_naming_the_column(
    tmp_path: Path, my: My, column: str, value: str, key: str
) -> None:
    """Zero dates (whole or partly zero) and TINYINT(1) values other than 0/1, found whether
    the page is read lean (ConnectorX refuses it, and it is read again guarded) or checked in
    Arrow; the rows before the bad one are in other pages."""
    my.execute("SET SESSION sql_mode = ''")
    my.execute(f"CREATE TABLE z ({key} PRIMARY KEY, {column})")
    good = "1" if "TINYINT" in column else "'2020-01-01'"
    my.execute(f"INSERT INTO z SELECT seq, {good} FROM seq_1_to_3000")
    my.execute(f"UPDATE z SET d = {value} WHERE id = 2500")
    result, out = _export(
        tmp_path, my, {"table": f"{my.database}.z", "tuning": {"batch_size": 1000}}
    )
    assert result.returncode == 1  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "column 'd'" in stderr and ("zero" in stderr or "0 and 1" in stderr), stderr
    assert list(out.iterdir()) == []


def test_integer_key_ranges_and_composite_keyset(tmp_path: Path, my: My) -> None:
    my.execute("CREATE TABLE r (id BIGINT PRIMARY KEY, v INT)")
    my.execute("INSERT INTO r SELECT seq, seq FROM seq_1_to_20000")
    my.execute("CREATE TABLE c (a INT, b INT, v INT, PRIMARY KEY (a, b))")
    my.execute("INSERT INTO c SELECT seq % 7, seq, seq FROM seq_1_to_5000")
    my.execute("ANALYZE TABLE r, c")
    result, out = _export(
        tmp_path, my, {"table": f"{my.database}.r", "tuning": {"batch_size": 1000}}
    )
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    summary = json.loads(result.stdout)["exports"][0]  # type: ignore[attr-defined]
    assert summary["strategy"] == "key ranges(id, 1 connection(s))" and summary["statements"] >= 20
    (part,) = out.glob("*.parquet")
    assert pq.read_table(part).column("id").to_pylist() == list(range(1, 20001))
    (tmp_path / "c").mkdir()
    result, out = _export(
        tmp_path / "c", my, {"table": f"{my.database}.c", "tuning": {"batch_size": 1000}}
    )
    summary = json.loads(result.stdout)["exports"][0]  # type: ignore[attr-defined]
    assert summary["strategy"] == "keyset(a, b)" and summary["statements"] == 6
    (part,) = out.glob("*.parquet")
    assert sorted(pq.read_table(part).column("v").to_pylist()) == list(range(1, 5001))


@pytest.mark.parametrize(
    ("export", "expected"),
    [
        ({"table": "nope"}, "doesn't exist"),
        ({"query": "SELECT missing FROM dual"}, "Unknown column"),
        ({"query": "SELEC 1"}, "1064"),
    ],
)
def test_bad_input_names_the_export_and_writes_nothing(
    tmp_path: Path, my: My, export: dict[str, object], expected: str
) -> None:
    result, out = _export(tmp_path, my, export)
    assert result.returncode == 1  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert "export 'm'" in stderr and expected in stderr and "Traceback" not in stderr
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_credentials_never_echo_the_password(tmp_path: Path, my: My) -> None:
    url = my.url.replace("root:@", "nobody:s3cr3t-pw@", 1)
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "m",
                "table": "t",
                "format": "csv",
                "destination": {"type": "local", "path": str(out)},
            }
        ],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )
    result = rivet("run", "-c", str(config), url=url)
    assert result.returncode == 1
    assert "export 'm': cannot connect to the MySQL source" in result.stderr
    assert "Access denied" in result.stderr
    assert "s3cr3t-pw" not in result.stderr


def test_parallel_ranges_keep_key_order_through_dense_clusters(tmp_path: Path, my: My) -> None:
    my.execute("CREATE TABLE s (id BIGINT PRIMARY KEY)")
    my.execute("INSERT INTO s SELECT seq FROM seq_1_to_1000")
    my.execute("INSERT INTO s SELECT seq FROM seq_1000000_to_1020000")
    my.execute("ANALYZE TABLE s")
    result, out = _export(
        tmp_path, my,
        {"table": f"{my.database}.s", "tuning": {"profile": "fast", "batch_size": 1000}},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    summary = json.loads(result.stdout)["exports"][0]  # type: ignore[attr-defined]
    assert summary["strategy"] == "key ranges(id, 2 connection(s))"
    (part,) = out.glob("*.parquet")
    expected = list(range(1, 1001)) + list(range(1000000, 1020001))
    assert pq.read_table(part).column("id").to_pylist() == expected


def test_text_date_and_decimal_keys_page_with_keyset(tmp_path: Path, my: My) -> None:
    my.execute(
        "CREATE TABLE k (tenant VARCHAR(20), day DATE, amount DECIMAL(30,2), v INT, "
        "PRIMARY KEY (tenant, day, amount)) CHARSET utf8mb4"
    )
    my.execute(
        "INSERT INTO k SELECT CONCAT('tén''ant\\\\', seq % 3), DATE '2020-01-01' + INTERVAL "
        "(seq % 50) DAY, seq * 1.25, seq FROM seq_1_to_3000"
    )
    result, out = _export(
        tmp_path, my, {"table": f"{my.database}.k", "tuning": {"batch_size": 1000}}
    )
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    summary = json.loads(result.stdout)["exports"][0]  # type: ignore[attr-defined]
    assert summary["strategy"] == "keyset(tenant, day, amount)" and summary["statements"] == 4
    (part,) = out.glob("*.parquet")
    assert sorted(pq.read_table(part).column("v").to_pylist()) == list(range(1, 3001))


@pytest.mark.parametrize(("mode", "ok"), [("require", True), ("verify-full", True),
                                          ("disable", False)])  # fmt: skip
def test_tls_block_is_honoured(tmp_path: Path, tls_mariadb: TlsServer, mode: str,
                               ok: bool) -> None:  # fmt: skip
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "t", "table": "d.t", "format": "csv",
          "destination": {"type": "local", "path": str(out)}}],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL",
                "tls": {"mode": mode, "ca_file": tls_mariadb.ca_file}},
    )  # fmt: skip
    result = rivet("run", "-c", str(config), url=f"mysql://tls:pw@127.0.0.1:{tls_mariadb.port}/d")
    assert (result.returncode == 0) is ok, result.stderr
    if ok:
        (part,) = out.glob("*.csv")
        assert part.read_text().splitlines() == ["id", "1", "2", "3"]
    else:  # the user REQUIRE SSL: without TLS the server refuses it
        assert "Access denied" in result.stderr and "pw@" not in result.stderr


def test_lost_connection_mid_read_fails_cleanly(tmp_path: Path, my: My) -> None:
    from tests.live.faultproxy import FaultProxy

    my.execute("CREATE TABLE big (id INT PRIMARY KEY, pad TEXT)")
    my.execute("INSERT INTO big SELECT seq, REPEAT('x', 500) FROM seq_1_to_20000")
    with FaultProxy(3306, cut_after_bytes=2_000_000) as proxy:
        # prefer_socket=false: the driver would otherwise switch to the unix socket on loopback
        url = my.url.replace("127.0.0.1:3306", f"127.0.0.1:{proxy.port}") + "?prefer_socket=false"
        out = tmp_path / "out"
        config = write_config(
            tmp_path,
            [{"name": "m", "table": f"{my.database}.big", "format": "parquet",
              "tuning": {"retry_backoff_ms": 10},
              "destination": {"type": "local", "path": str(out)}}],
            source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
        )  # fmt: skip
        result = rivet("run", "-c", str(config), url=url)
    assert result.returncode == 1
    assert "export 'm'" in result.stderr and "MySQL error" in result.stderr
    assert list(out.iterdir()) == []  # no part, no manifest, no staging left behind


def test_unknown_database_is_a_clear_connect_error(tmp_path: Path, my: My) -> None:
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "m", "table": "t", "format": "csv",
          "destination": {"type": "local", "path": str(out)}}],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip
    result = rivet("run", "-c", str(config), url=my.url.rsplit("/", 1)[0] + "/no_such_db_x")
    assert result.returncode == 1
    assert "export 'm': cannot connect to the MySQL source: Unknown database" in result.stderr
    assert "check the database name" in result.stderr


def test_incremental_over_a_timestamp_cursor_keeps_ties(tmp_path: Path, my: My) -> None:
    my.execute("CREATE TABLE ev (id INT PRIMARY KEY, at TIMESTAMP(6) NULL)")
    my.execute("INSERT INTO ev SELECT seq, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL (seq DIV 10) "
               "MINUTE FROM seq_1_to_95")  # fmt: skip
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "m", "table": f"{my.database}.ev", "mode": "incremental",
          "cursor_column": "at", "format": "parquet",
          "destination": {"type": "local", "path": str(out)}}],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip
    first = rivet("run", "-c", str(config), "--json", url=my.url)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)["exports"][0]
    assert summary["rows"] == 95 and summary["strategy"] == "incremental(at, id)"
    my.execute("INSERT INTO ev VALUES (96, TIMESTAMP '2026-01-01 00:09:00'), "
               "(97, TIMESTAMP '2026-01-01 00:10:00')")  # fmt: skip
    second = rivet("run", "-c", str(config), "--json", url=my.url)
    assert json.loads(second.stdout)["exports"][0]["rows"] == 2
    parts = sorted(out.glob("m_*.parquet"))
    assert sorted(pq.read_table(parts[-1]).column("id").to_pylist()) == [96, 97]


def test_read_sessions_are_utc_read_only_and_bounded(tmp_path: Path, my: My) -> None:
    """The settings each read connection runs first (one SET on MariaDB) are in force."""
    result, out = _export(
        tmp_path,
        my,
        {
            "query": "SELECT @@tx_read_only AS ro, @@time_zone AS tz, "
            "@@max_statement_time AS mst, @@lock_wait_timeout AS lwt",
            "tuning": {"statement_timeout_s": 42, "lock_timeout_s": 7},
        },
    )
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    (part,) = out.glob("m_*.parquet")
    (row,) = pq.read_table(part).to_pylist()
    assert (int(row["ro"]), row["tz"], float(row["mst"]), int(row["lwt"])) == (1, "+00:00", 42, 7)
