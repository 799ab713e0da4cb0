"""Hive-style partition folders from the rows' values (issue 20, item 3): readers derive the
partition columns with the expected types and see exactly the source's rows; chunked mode,
max_file_size, replace, S3 and GCS; bad input refused before any row is read."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from tests.live.conftest import S3, Gcs, My, Pg, duckdb_on_s3, rivet, write_config

ROWS = 3000
REGIONS = ["eu", "us", "a/b=c%d", None, ""]


def _table(pg: Pg, rows: int = ROWS) -> str:
    pg.execute(
        f"""CREATE TABLE orders AS SELECT g AS id,
              (ARRAY['eu', 'us', 'a/b=c%d', NULL, ''])[1 + g % 5] AS region,
              (g % 3)::int8 AS shard,
              timestamptz '2024-01-30 20:00Z' + (g * 7 || ' minutes')::interval AS created_at,
              (g * 1.25)::numeric(12, 2) AS amount
            FROM generate_series(1, {rows}) g"""
    )
    pg.execute("ALTER TABLE orders ADD PRIMARY KEY (id)")
    return f"{pg.schema}.orders"


def _export(table: str, path: Path | dict[str, Any], **extra: Any) -> dict[str, Any]:
    destination = path if isinstance(path, dict) else {"type": "local", "path": str(path)}
    return {"name": "orders", "table": table, "format": "parquet",
            "partition_by": ["region", "shard", {"column": "created_at", "granularity": "day"}],
            "destination": destination, **extra}  # fmt: skip


def _source_rows(pg: Pg) -> dict[int, tuple[Any, ...]]:
    """id -> (region as readers see it: '' is NULL's folder, shard, day of created_at in UTC)."""
    rows = pg.conn.execute(
        "SELECT id, NULLIF(region, ''), shard, (created_at AT TIME ZONE 'UTC')::date FROM orders"
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _seen(table: pa.Table) -> dict[int, tuple[Any, ...]]:
    day = [date.fromisoformat(d) if isinstance(d, str) else d
           for d in table["created_at_day"].to_pylist()]  # fmt: skip
    return {
        i: (r, s, d)
        for i, r, s, d in zip(
            table["id"].to_pylist(),
            table["region"].to_pylist(),
            table["shard"].to_pylist(),
            day,
            strict=True,
        )
    }


def test_readers_derive_the_partition_columns(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg)
    out = tmp_path / "out"
    config = write_config(tmp_path, [_export(table, out)])
    result = rivet("run", "-c", str(config), "--validate")
    assert result.returncode == 0, result.stderr
    assert "empty strings share NULL's folder __HIVE_DEFAULT_PARTITION__" in result.stderr
    expected = _source_rows(pg)
    # Hive's escaping: '/', '=' and '%' are %XX in the folder name, NULL is the default folder
    assert (out / "region=a%2Fb%3Dc%25d").is_dir()
    assert (out / "region=__HIVE_DEFAULT_PARTITION__").is_dir()
    assert not list(out.glob("*.parquet"))  # every part is in a partition folder

    glob = f"{out}/**/*.parquet"
    by_duckdb = duckdb.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
    types = dict(zip(by_duckdb.columns, map(str, by_duckdb.types), strict=True))
    assert (types["region"], types["shard"], types["created_at_day"]) == (
        "VARCHAR",
        "BIGINT",
        "DATE",
    )
    assert _seen(by_duckdb.arrow().read_all()) == expected

    by_polars = pl.read_parquet(glob, hive_partitioning=True)
    assert by_polars.schema["shard"] == pl.Int64 and by_polars.schema["created_at_day"] == pl.Date
    assert _seen(by_polars.to_arrow()) == expected

    # pyarrow infers int32 for small integers and text for dates; the partitioning schema from
    # the manifest's partition_by gives the source's types (docs/layout.md)
    inferred = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert inferred.schema.field("shard").type == pa.int32()
    assert _seen(inferred) == expected
    typed = ds.partitioning(
        pa.schema([("region", pa.string()), ("shard", pa.int64()),
                   ("created_at_day", pa.date32())]), flavor="hive",
    )  # fmt: skip
    exact = ds.dataset(out, format="parquet", partitioning=typed).to_table()
    assert exact.schema.field("created_at_day").type == pa.date32()
    assert _seen(exact) == expected

    # pandas: the NULL folder needs partitions read without dictionaries (pyarrow cannot unify
    # dictionaries with nulls)
    frame = pd.read_parquet(out, partitioning=ds.HivePartitioning.discover(infer_dictionary=False))
    assert len(frame) == ROWS and frame["region"].isna().sum() == 2 * ROWS // 5

    # the files keep every other column with its type; the manifest lists them per partition
    manifest = json.loads((out / "_manifest.json").read_text())
    assert [c["name"] for c in manifest["columns"]] == ["id", "created_at", "amount"]
    assert exact.schema.field("amount").type == pa.decimal128(12, 2)
    assert [k["key"] for k in manifest["partition_by"]] == ["region", "shard", "created_at_day"]
    assert sum(p["rows"] for p in manifest["partitions"]) == ROWS
    first = manifest["partitions"][0]
    assert all(manifest["parts"][i - 1]["partition"] == first["path"] for i in first["parts"])
    escaped = next(p for p in manifest["partitions"] if p["path"].startswith("region=a%2F"))
    assert escaped["values"]["region"] == "a/b=c%d"
    assert rivet("validate", "-c", str(config), "--full").returncode == 0


def test_chunked_with_max_file_size_and_replace(tmp_path: Path, pg: Pg) -> None:
    """Every chunk writes its own parts into the folders; the second run replaces the first,
    and folders left empty by it are removed."""
    table = _table(pg, rows=20_000)
    out = tmp_path / "out"
    export = _export(table, out, mode="chunked", chunk_column="id", chunk_size=5000, parallel=2,
                     chunk_checkpoint=True, max_file_size="16KB",
                     partition_by={"column": "created_at", "granularity": "month"})  # fmt: skip
    config = write_config(tmp_path, [export])
    assert rivet("run", "-c", str(config)).returncode == 0
    first = json.loads((out / "_manifest.json").read_text())
    assert any(re.search(r"_chunk\d+_part\d+\.parquet$", p["path"]) for p in first["parts"])
    pg.execute("DELETE FROM orders WHERE created_at < '2024-02-01'")  # January's rows go
    result = rivet("run", "-c", str(config), "--validate")
    assert result.returncode == 0, result.stderr
    assert not (out / "created_at_month=2024-01").exists()
    months = duckdb.sql(
        f"SELECT created_at_month, count(*), count(DISTINCT id) FROM "
        f"read_parquet('{out}/**/*.parquet', hive_partitioning = true) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    expected = pg.conn.execute(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'), count(*), count(*) "
        "FROM orders GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert months == expected
    assert rivet("validate", "-c", str(config), "--full").returncode == 0


def test_s3_partitions_read_as_one_table(tmp_path: Path, pg: Pg, s3: S3) -> None:
    table = _table(pg)
    destination = {"type": "s3", "bucket": s3.bucket, "prefix": "lake/orders/",
                   "endpoint": s3.endpoint, "region": "us-east-1"}  # fmt: skip
    by = ["region", {"column": "created_at", "granularity": "month"}]
    config = write_config(
        tmp_path, [_export(table, destination, partition_by=by, max_file_size="4KB")]
    )
    for _ in range(2):  # the second run replaces the first
        result = rivet("run", "-c", str(config))
        assert result.returncode == 0, result.stderr
    keys = s3.keys("lake/orders/")
    assert "lake/orders/region=eu/created_at_month=2024-01/orders_" in "\n".join(keys)
    assert not [k for k in keys if "_rivet_staging" in k]
    fs = pafs.S3FileSystem(endpoint_override=s3.endpoint, region="us-east-1",
                           access_key="testing", secret_key="testing", scheme="http")  # fmt: skip
    found = ds.dataset(f"{s3.bucket}/lake/orders", format="parquet", filesystem=fs,
                       partitioning="hive").to_table()  # fmt: skip
    regions = dict(zip(found["id"].to_pylist(), found["region"].to_pylist(), strict=True))
    assert regions == {i: row[0] for i, row in _source_rows(pg).items()}
    db = duckdb_on_s3(s3)
    counted = db.execute(
        f"SELECT count(*), count(DISTINCT id), count(DISTINCT created_at_month) FROM "
        f"read_parquet('s3://{s3.bucket}/lake/orders/**/*.parquet', hive_partitioning = true)"
    ).fetchone()
    assert counted == (ROWS, ROWS, 2)
    assert rivet("validate", "-c", str(config), "--full").returncode == 0


def test_gcs_partitions(tmp_path: Path, pg: Pg, gcs: Gcs) -> None:
    table = _table(pg, rows=500)
    destination = {"type": "gcs", "bucket": gcs.bucket, "prefix": "lake/orders/",
                   "endpoint": gcs.endpoint, "allow_anonymous": True}  # fmt: skip
    config = write_config(tmp_path, [_export(table, destination, partition_by="shard")])
    result = rivet("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    parts = [k for k in gcs.keys("lake/orders/") if k.endswith(".parquet")]
    assert sorted({k.split("/")[2] for k in parts}) == ["shard=0", "shard=1", "shard=2"]
    manifest = json.loads(gcs.read("lake/orders/_manifest.json"))
    assert sorted(p["values"]["shard"] for p in manifest["partitions"]) == ["0", "1", "2"]
    assert rivet("validate", "-c", str(config), "--full").returncode == 0


def test_mariadb_partitions_by_day_of_a_sub_second_datetime(tmp_path: Path, my: My) -> None:
    my.execute("CREATE TABLE ev (id INT PRIMARY KEY, kind VARCHAR(10), seen DATETIME(6))")
    my.execute(
        "INSERT INTO ev VALUES (1, 'a', '2024-03-01 23:59:59.999999'), "
        "(2, 'b', '2024-03-02 00:00:00.000001'), (3, NULL, NULL), (4, 'a', '2024-03-02 12:00:00')"
    )
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "ev", "table": "ev", "format": "parquet", "destination":
          {"type": "local", "path": str(out)},
          "partition_by": ["kind", {"column": "seen", "granularity": "day"}]}],
        source={"type": "mysql", "url": my.url},
    )  # fmt: skip
    result = rivet("run", "-c", str(config), "--validate")
    assert result.returncode == 0, result.stderr
    rows = duckdb.sql(
        f"SELECT id, kind, seen_day, seen FROM read_parquet('{out}/**/*.parquet', "
        "hive_partitioning = true) ORDER BY id"
    ).fetchall()
    assert rows == [
        (1, "a", date(2024, 3, 1), datetime(2024, 3, 1, 23, 59, 59, 999999)),
        (2, "b", date(2024, 3, 2), datetime(2024, 3, 2, 0, 0, 0, 1)),
        (3, None, None, None),
        (4, "a", date(2024, 3, 2), datetime(2024, 3, 2, 12)),
    ]


def test_bad_partition_columns_are_refused_before_reading(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg, rows=100)
    out = tmp_path / "out"
    cases = {
        "nope": "partition_by 'nope': no such column",
        "amount": "partition_by 'amount': its type decimal128(12, 2) does not survive a folder",
        "created_at": "partition_by 'created_at': a timestamp column needs a granularity",
    }
    for column, message in cases.items():
        config = write_config(tmp_path, [_export(table, out, partition_by=column)])
        result = rivet("run", "-c", str(config))
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert not out.exists() or not any(out.rglob("*.parquet"))
        checked = rivet("check", "-c", str(config))  # preflight says it too
        assert checked.returncode == 1 and "Partitions:   FAIL export 'orders'" in checked.stdout
        assert message in checked.stdout
    wrong = {"column": "shard", "granularity": "day"}
    config = write_config(tmp_path, [_export(table, out, partition_by=wrong)])
    result = rivet("run", "-c", str(config))
    assert "granularity needs a date or timestamp column (it is int64)" in result.stderr
    config = write_config(tmp_path, [_export(table, {"type": "stdout"}, format="csv")])
    result = rivet("run", "-c", str(config))
    assert "partition_by: stdout cannot take partition folders" in result.stderr


def test_too_many_partitions_fail_and_keep_the_published_run(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg, rows=500)
    out = tmp_path / "out"
    config = write_config(tmp_path, [_export(table, out, partition_by="shard")])
    assert rivet("run", "-c", str(config)).returncode == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    config = write_config(tmp_path, [_export(table, out, partition_by="id", max_partitions=100)])
    result = rivet("run", "-c", str(config))
    assert result.returncode != 0
    assert "partition_by gives more than 100 partition folders in one run" in result.stderr
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == before
    assert not (out / ".rivet_staging").exists()


def test_the_day_of_a_time_zone_aware_column_is_its_utc_day(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE t (id int PRIMARY KEY, at timestamptz)")
    pg.execute("SET TIME ZONE 'America/New_York'")
    pg.execute("INSERT INTO t VALUES (1, '2024-06-01 21:00'), (2, '2024-06-02 01:00')")
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "t", "table": f"{pg.schema}.t", "format": "parquet",
          "destination": {"type": "local", "path": str(out)},
          "partition_by": {"column": "at", "granularity": "day"}}],
    )  # fmt: skip
    assert rivet("run", "-c", str(config), env={"TZ": "Asia/Tokyo"}).returncode == 0
    found = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    days = dict(zip(found["id"].to_pylist(), found["at_day"].to_pylist(), strict=True))
    assert days == {1: "2024-06-02", 2: "2024-06-02"}  # 01:00 and 05:00 UTC
    stamps = found.sort_by("id")["at"].to_pylist()
    assert stamps[0] == datetime(2024, 6, 2, 1, tzinfo=UTC)


def test_a_stopped_partitioned_chunk_run_resumes_to_every_row_once(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg, rows=6000)
    out = tmp_path / "out"
    export = _export(table, out, mode="chunked", chunk_column="id", chunk_size=1000,
                     chunk_checkpoint=True, partition_by="region")  # fmt: skip
    config = write_config(tmp_path, [export])
    stopped = rivet("run", "-c", str(config),
                    env={"RIVET_TEST_SIGNAL_AT": "after_chunk_checkpoint:SIGTERM"})  # fmt: skip
    assert stopped.returncode == 143, stopped.stderr
    assert "--resume" in stopped.stderr
    assert not [p for p in out.glob("region=*")]  # nothing published, staging hidden
    resumed = rivet("run", "-c", str(config), "--resume", "--validate")
    assert resumed.returncode == 0, resumed.stderr
    ids = duckdb.sql(
        f"SELECT id FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert sorted(i for (i,) in ids) == list(range(1, 6001))
    assert not (out / ".rivet_staging").exists()
