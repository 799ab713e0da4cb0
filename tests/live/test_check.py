"""`rivet check`: strategy and a type report from the live catalog, for tables and queries."""

from __future__ import annotations

import json
from pathlib import Path

from tests.live.conftest import Pg, rivet, write_config


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
