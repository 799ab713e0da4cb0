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


def _small_tables(pg: Pg, tmp_path: Path, count: int) -> Path:
    for i in range(count):
        pg.execute(
            f"CREATE TABLE p{i} AS SELECT g AS id FROM generate_series(1, {2000 * (i + 1)}) g"
        )
        pg.execute(f"ALTER TABLE p{i} ADD PRIMARY KEY (id)")
    exports = [
        {"name": f"p{i}", "table": f"{pg.schema}.p{i}", "format": "parquet",
         "destination": {"type": "local", "path": str(tmp_path / "out" / f"p{i}")}}
        for i in range(count)
    ] + [{"name": "missing", "table": f"{pg.schema}.nope", "format": "csv",
          "destination": {"type": "local", "path": str(tmp_path / "out" / "missing")}}]  # fmt: skip
    return write_config(tmp_path, exports)


def test_export_processes_run_each_export_in_a_child(tmp_path: Path, pg: Pg) -> None:
    config = _small_tables(pg, tmp_path, 4)
    result = rivet("run", "-c", str(config), "--parallel-export-processes", "--json")
    assert result.returncode == 1  # `missing` failed; the others did not
    summary = json.loads(result.stdout)
    assert summary["mode"].startswith("processes (")
    by_name = {e["export_name"]: e for e in summary["exports"]}
    assert [by_name[f"p{i}"]["rows"] for i in range(4)] == [2000, 4000, 6000, 8000]
    assert all(by_name[f"p{i}"]["status"] == "success" for i in range(4))
    assert by_name["missing"]["status"] == "failed"
    assert "nope" in by_name["missing"]["error"]
    for i in range(4):
        (part,) = (tmp_path / "out" / f"p{i}").glob("*.parquet")
        assert pq.read_table(part).num_rows == 2000 * (i + 1)
    # the children's progress events, replayed on the parent's view (a log line when piped)
    assert all(f"p{i}: reading" in result.stderr for i in range(4))


def test_a_child_that_dies_is_reported_failed(tmp_path: Path, pg: Pg) -> None:
    config = _small_tables(pg, tmp_path, 2)
    died = rivet("run", "-c", str(config), "--parallel-export-processes", "--json",
                 env={"RIVET_TEST_PANIC_AT": "after_first_batch"})  # fmt: skip
    assert died.returncode == 1
    summary = json.loads(died.stdout)
    assert summary["counts"] == {"success": 0, "failed": 3, "skipped": 0, "contributed": 0}
    errors = {e["export_name"]: e["error"] for e in summary["exports"]}
    assert "its process was killed by SIGKILL before reporting a result" in errors["p0"]
    assert "its process was killed by SIGKILL" in errors["p1"]
    assert not list((tmp_path / "out").glob("p*/*.parquet"))  # nothing half-published
