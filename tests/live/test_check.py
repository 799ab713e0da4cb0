"""`rivet check`: strategy and a type report from the live catalog, for tables and queries."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import My, Pg, rivet, write_config


def test_type_report_for_table_and_query_exports(tmp_path: Path, pg: Pg) -> None:
    pg.execute(
        "CREATE TABLE c (id int PRIMARY KEY, amount numeric(12,2), raw numeric, "
        "addr inet, tags text[])"
    )
    config = write_config(
        tmp_path,
        [
            {
                "name": "t",
                "table": f"{pg.schema}.c",
                "format": "parquet",
                "destination": {"type": "local", "path": "out"},
            },
            {
                "name": "q",
                "query": f"SELECT id, amount * 2 AS doubled FROM {pg.schema}.c",
                "format": "csv",
                "destination": {"type": "local", "path": "out"},
            },
        ],
    )
    result = rivet("check", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    checks = {c["export"]: c for c in json.loads(result.stdout)}
    columns = {col["name"]: col for col in checks["t"]["columns"]}
    assert columns["amount"]["arrow_type"] == "decimal128(12, 2)"
    assert columns["amount"]["fidelity"] == "exact"
    assert columns["raw"]["fidelity"] == "logical_string"
    assert columns["addr"]["arrow_type"] == "string" and columns["tags"]["fidelity"] == "compatible"
    assert checks["t"]["strategy"] == "keyset(id)"  # an empty table has no row estimate
    assert checks["q"]["strategy"] == "cursor"
    assert [c["name"] for c in checks["q"]["columns"]] == ["id", "doubled"]
    text = rivet("check", "-c", str(config), "-e", "t", "--strict")
    assert text.returncode == 0 and "logical_string ~" in text.stdout


def _verdicts(tmp_path: Path, url: str, engine: str, exports: list[dict[str, object]]) -> Any:
    for export in exports:
        export.setdefault("format", "parquet")
        export.setdefault("destination", {"type": "local", "path": "out"})
    config = write_config(
        tmp_path, exports, source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL"}
    )
    return rivet("check", "-c", str(config), "--json", url=url)


@pytest.fixture(params=["postgres", "mysql"])
def big(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """Table `big` (150,000 rows, PK id, `at` without an index); returns (engine, url, name)."""
    if request.param == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        pg.execute(
            "CREATE TABLE big AS SELECT g AS id, g % 1000 AS grp, timestamp '2026-01-01' "
            "+ g * interval '1 second' AS at FROM generate_series(1, 150000) g"
        )
        pg.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
        pg.execute("CREATE TABLE nokey AS SELECT * FROM big")
        pg.execute("ANALYZE big")
        pg.execute("ANALYZE nokey")
        return "postgres", pg.url, f"{pg.schema}"
    my: My = request.getfixturevalue("my")
    my.execute("SET SESSION max_recursive_iterations = 200000")
    my.execute("CREATE TABLE big (id INT PRIMARY KEY, grp INT, at DATETIME)")
    my.execute(
        "INSERT INTO big WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s "
        "WHERE g < 150000) SELECT g, g % 1000, TIMESTAMP('2026-01-01') + INTERVAL g SECOND FROM s"
    )
    my.execute("CREATE TABLE nokey AS SELECT * FROM big")
    my.execute("ANALYZE TABLE big, nokey")
    return "mysql", my.url, my.database


def test_verdicts_flag_exactly_the_unsafe_reads(tmp_path: Path, big: tuple[str, str, str]) -> None:
    engine, url, schema = big
    result = _verdicts(
        tmp_path,
        url,
        engine,
        [
            {"name": "pk", "table": f"{schema}.big"},
            {"name": "cursor_no_index", "table": f"{schema}.big", "mode": "incremental",
             "cursor_column": "at"},
            {"name": "no_key", "table": f"{schema}.nokey"},
            {"name": "chunks_on_pk", "table": f"{schema}.big", "mode": "chunked",
             "chunk_size": 50000, "parallel": 2},
            {"name": "too_parallel", "table": f"{schema}.big", "mode": "chunked",
             "chunk_size": 50000, "parallel": 5000},
        ],
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # an unsafe export fails the check
    assert "unsafe for the source: cursor_no_index" in result.stderr
    checks = {c["export"]: c for c in json.loads(result.stdout)}
    verdicts = {name: c["verdict"]["verdict"] for name, c in checks.items()}
    assert verdicts == {
        "pk": "safe",
        "cursor_no_index": "unsafe",
        "no_key": "degraded",
        "chunks_on_pk": "safe",
        "too_parallel": "degraded",
    }
    assert "index at" in checks["cursor_no_index"]["verdict"]["reasons"][0]
    (budget,) = checks["too_parallel"]["verdict"]["reasons"]
    assert "needs 5002 connections at once; the server allows" in budget
    assert checks["chunks_on_pk"]["verdict"]["parallel"] >= 1
    # what the run sends first: a key range over the integer key, not a LIMIT page
    statement = checks["pk"]["statement"]
    assert re.search(r"WHERE \S*.id. > -?\d+ AND \S*.id. <= \d+ ORDER BY \S*.id. LIMIT \d+$",
                     statement), statement  # fmt: skip
    assert checks["pk"]["plan"]


def test_bigquery_target_maps_every_column_and_strict_refuses_what_cannot_load(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute(
        "CREATE TABLE bq (id int PRIMARY KEY, amount numeric(12,2), wide numeric(40,10), "
        "huge numeric(60,2), at timestamptz, local_at timestamp, tags int[], span interval)"
    )
    config = write_config(
        tmp_path,
        [{"name": "bq", "table": f"{pg.schema}.bq", "format": "parquet",
          "destination": {"type": "local", "path": "out"}}],
    )  # fmt: skip
    result = rivet("check", "-c", str(config), "--target", "bigquery", "--json")
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(result.stdout)
    types = {name: (t["type"], t["status"]) for name, t in report["target"].items()}
    assert types == {
        "id": ("INT64", "ok"),
        "amount": ("NUMERIC", "ok"),
        "wide": ("BIGNUMERIC", "ok"),
        "huge": ("BIGNUMERIC", "fail"),
        "at": ("TIMESTAMP", "ok"),
        "local_at": ("DATETIME", "ok"),
        "tags": ("ARRAY<INT64>", "ok"),
        "span": ("STRING", "ok"),  # intervals are exported as ISO 8601 text
    }
    assert report["violations"] == ["huge"]
    strict = rivet("check", "-c", str(config), "--target", "bigquery", "--strict")
    assert strict.returncode == 1 and "bq.huge" in strict.stderr and "bq.span" not in strict.stderr
    assert "exceeds BIGNUMERIC" in strict.stdout
