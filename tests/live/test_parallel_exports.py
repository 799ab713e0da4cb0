"""--parallel-exports on both engines: every export of a 14-table schema, each complete."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.live.conftest import My, Pg, rivet, write_config

TABLES = 14


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_parallel_exports_complete_every_table(
    tmp_path: Path, request: pytest.FixtureRequest, engine: str
) -> None:
    if engine == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        for i in range(TABLES):
            pg.execute(f"CREATE TABLE t{i} AS SELECT g AS id, g * {i} AS v "
                       f"FROM generate_series(1, {1000 * (i + 1)}) g")  # fmt: skip
            pg.execute(f"ALTER TABLE t{i} ADD PRIMARY KEY (id)")
        url, schema = pg.url, pg.schema
    else:
        my: My = request.getfixturevalue("my")
        for i in range(TABLES):
            my.execute(f"CREATE TABLE t{i} (id INT PRIMARY KEY, v BIGINT)")
            my.execute(f"INSERT INTO t{i} SELECT seq, seq * {i} FROM seq_1_to_{1000 * (i + 1)}")
        url, schema = my.url, my.database
    exports = [
        {"name": f"t{i}", "table": f"{schema}.t{i}", "format": "parquet",
         "destination": {"type": "local", "path": str(tmp_path / "out" / f"t{i}")}}
        for i in range(TABLES)
    ]  # fmt: skip
    config = write_config(
        tmp_path, exports, source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL"}
    )
    result = rivet("run", "-c", str(config), "--parallel-exports", "--json", url=url)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["mode"].startswith("parallel (") and summary["counts"]["success"] == TABLES
    assert [e["export_name"] for e in summary["exports"]] == [f"t{i}" for i in range(TABLES)]
    for i in range(TABLES):
        (part,) = (tmp_path / "out" / f"t{i}").glob("*.parquet")
        assert sorted(pq.read_table(part).column("id").to_pylist()) == list(
            range(1, 1000 * (i + 1) + 1)
        )
