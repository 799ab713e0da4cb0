"""Rows of 64 KB: every read shape keeps each statement near the page budget.

A keyset, cursor or chunk read used to start with 10,000 rows (640 MB of these rows) or 1/64 of
a chunk's keys, and never went below 1,000 rows per statement once the width was measured. The
page budget here is 1 MB and a batch over 2 MB fails the run (tuning.max_batch_memory_mb with
on_batch_memory_exceeded: fail), so any statement sized in rows rather than bytes is seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.live.conftest import My, Pg, rivet, write_config

ROWS, WIDTH = 300, 64 * 1024  # 19 MB of Arrow data
TUNING = {"batch_size_memory_mb": 1, "max_batch_memory_mb": 2, "on_batch_memory_exceeded": "fail"}
SHAPES = {  # what the read pages by, and the export settings that make it do so
    "keyset": {},
    "cursor": {},
    "chunks": {"mode": "chunked", "chunk_column": "n", "chunk_size": 200},
    # a chunk of dates is one streamed statement: its batches are what bounds memory
    "date chunks": {"mode": "chunked", "chunk_column": "d", "chunk_by_days": 30},
}


def _export(tmp_path: Path, engine: str, table: str, url: str, extra: dict[str, Any]) -> int:
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "w", "table": table, "format": "parquet", "tuning": TUNING,
          "destination": {"type": "local", "path": str(out)}, **extra}],
        source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip
    result = rivet("run", "-c", str(config), "--json", url=url)
    assert result.returncode == 0, result.stderr
    read = pa.concat_tables(pq.read_table(part) for part in sorted(out.glob("w_*.parquet")))
    assert sorted(read.column("n").to_pylist()) == list(range(1, ROWS + 1))
    assert {len(v) for v in read.column("payload").to_pylist()} == {WIDTH}
    statements: int = json.loads(result.stdout)["exports"][0]["statements"]
    return statements


def _pg_table(pg: Pg, shape: str) -> str:
    key = {"keyset": ", PRIMARY KEY (k)", "chunks": ", PRIMARY KEY (n)"}.get(shape, "")
    pg.execute(f"CREATE TABLE w (k text NOT NULL, n int NOT NULL, payload text, d date{key})")
    # random hex, so that TOAST cannot compress it: the catalog and the read agree on the width
    pg.execute(
        "INSERT INTO w SELECT lpad(g::text, 6, '0'), g, (SELECT string_agg(md5(g::text || i::text),"
        f" '') FROM generate_series(1, {WIDTH // 32}) i), date '2026-01-01' + g / 10 "
        f"FROM generate_series(1, {ROWS}) g"
    )
    pg.execute("ANALYZE w")
    return f"{pg.schema}.w"


@pytest.mark.parametrize("shape", SHAPES)
def test_postgres_statements_stay_near_the_page_budget(tmp_path: Path, pg: Pg, shape: str) -> None:
    statements = _export(tmp_path, "postgres", _pg_table(pg, shape), pg.url, SHAPES[shape])
    # 19 MB in pages of at most ~1 MB; a date chunk is one statement, streamed in ~1 MB batches
    assert statements >= (1 if shape == "date chunks" else 19)


@pytest.mark.parametrize("shape", ["keyset", "chunks"])
def test_mysql_statements_stay_near_the_page_budget(tmp_path: Path, my: My, shape: str) -> None:
    key = "PRIMARY KEY (k)" if shape == "keyset" else "PRIMARY KEY (n)"
    my.execute(f"CREATE TABLE w (k varchar(10) NOT NULL, n int NOT NULL, payload longtext, {key})")
    my.execute("SET SESSION max_recursive_iterations = 100000")
    my.execute(
        "INSERT INTO w WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s "
        f"WHERE g < {ROWS}) SELECT LPAD(g, 6, '0'), g, REPEAT(MD5(g), {WIDTH // 32}) FROM s"
    )
    my.execute("ANALYZE TABLE w")
    statements = _export(tmp_path, "mysql", f"{my.database}.w", my.url, SHAPES[shape])
    assert statements >= 19


@pytest.mark.parametrize("profile", ["fast", "safe"])
def test_a_run_stays_within_the_memory_bound_check_states(
    tmp_path: Path, pg: Pg, profile: str
) -> None:
    """`rivet check` says what bounds the run's memory; the run's sampled peak stays under it,
    and the bound moves with the page budget it names."""
    out = tmp_path / "out"
    export = {
        "name": "w",
        "table": _pg_table(pg, "keyset"),
        "format": "parquet",
        "tuning": {"profile": profile},
        "destination": {"type": "local", "path": str(out)},
    }
    config = write_config(tmp_path, [export])  # fmt: skip
    checked = rivet("check", "-c", str(config), "--json", url=pg.url)
    assert checked.returncode == 0, checked.stderr
    (check,) = json.loads(checked.stdout)
    assert "tuning.batch_size_memory_mb" in check["memory"]
    assert f"~{check['memory_mb']} MB peak" in rivet("check", "-c", str(config), url=pg.url).stdout
    result = rivet("run", "-c", str(config), "--json", url=pg.url)
    assert result.returncode == 0, result.stderr
    assert 0 < json.loads(result.stdout)["exports"][0]["peak_rss_mb"] <= check["memory_mb"]

    export["tuning"] = {"profile": profile, "batch_size_memory_mb": 32}
    wider = write_config(tmp_path, [export])
    (more,) = json.loads(rivet("check", "-c", str(wider), "--json", url=pg.url).stdout)
    assert more["memory_mb"] > check["memory_mb"]
