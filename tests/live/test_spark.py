"""Spark reads an export prefix as a table (issue 20, items 1 and 3): after replacing runs it
sees exactly the published rows (the manifest, marker and staging are skipped), and it derives
Hive partition columns from the folders with the expected types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import Pg, rivet, write_config


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_reads_the_folder_and_derives_partitions(tmp_path: Path, pg: Pg, spark: Any) -> None:
    pg.execute(
        "CREATE TABLE t AS SELECT g AS id, (ARRAY['eu', 'us', NULL])[1 + g % 3] AS region, "
        "(g % 4)::int8 AS shard, timestamptz '2024-05-31 22:00Z' + (g || ' minutes')::interval "
        "AS at FROM generate_series(1, 3000) g"
    )
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    plain, parted = tmp_path / "plain", tmp_path / "parted"
    exports = [
        {"name": "plain", "table": f"{pg.schema}.t", "format": "parquet", "max_file_size": "16KB",
         "destination": {"type": "local", "path": str(plain)}},
        {"name": "parted", "table": f"{pg.schema}.t", "format": "parquet",
         "partition_by": ["region", "shard", {"column": "at", "granularity": "day"}],
         "destination": {"type": "local", "path": str(parted)}},
    ]  # fmt: skip
    config = write_config(tmp_path, exports)
    for _ in range(2):  # the second run replaces the first
        result = rivet("run", "-c", str(config))
        assert result.returncode == 0, result.stderr

    rows = spark.read.parquet(str(plain))
    assert rows.count() == 3000 and rows.select("id").distinct().count() == 3000

    found = spark.read.parquet(str(parted))
    types = dict(found.dtypes)
    assert (types["region"], types["shard"], types["at_day"]) == ("string", "int", "date")
    counted = {
        (r["region"], r["shard"], str(r["at_day"])): r["count"]
        for r in found.groupBy("region", "shard", "at_day").count().collect()
    }
    expected = pg.conn.execute(
        "SELECT region, shard, ((at AT TIME ZONE 'UTC')::date)::text, count(*) FROM t "
        "GROUP BY 1, 2, 3"
    ).fetchall()
    assert counted == {(r, s, d): n for r, s, d, n in expected}
