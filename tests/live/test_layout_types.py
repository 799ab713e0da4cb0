"""Type fidelity in every layout (issue 20, item 5): both engines' type matrices through Hive
partition folders and through an Iceberg table come back exactly as in plain parts, or are
refused before any row is read with the column named and a fix that works."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog

from tests.live import test_mysql
from tests.live.conftest import PG_URL, My, rivet, write_config
from tests.live.test_type_matrix import matrix  # noqa: F401 (a fixture)


def _run(tmp_path: Path, export: dict[str, Any], source: dict[str, Any] | None, url: str) -> Any:
    config = write_config(tmp_path, [export], source=source)
    return rivet("run", "-c", str(config), "--validate", url=url)


def _by_id(table: pa.Table) -> dict[str, str]:
    """Each column's values in id order, as text (NaN equals NaN)."""
    ordered = table.sort_by("id")
    return {name: repr(ordered[name].to_pylist()) for name in ordered.schema.names}


def _plain(tmp_path: Path, export: dict[str, Any], source: Any, url: str) -> pa.Table:
    out = tmp_path / "plain"
    plain = {**export, "destination": {"type": "local", "path": str(out)}}
    result = _run(tmp_path, plain, source, url)
    assert result.returncode == 0, result.stderr
    return pa.concat_tables(pq.read_table(p) for p in out.glob("*.parquet"))


def _through_hive(tmp_path: Path, export: dict[str, Any], source: Any, url: str, by: str) -> None:
    expected = _plain(tmp_path, export, source, url)
    out = tmp_path / "hive"
    hive = {**export, "partition_by": by, "destination": {"type": "local", "path": str(out)}}
    result = _run(tmp_path, hive, source, url)
    assert result.returncode == 0, result.stderr
    typed = ds.partitioning(pa.schema([expected.schema.field(by)]), flavor="hive")
    found = ds.dataset(out, format="parquet", partitioning=typed).to_table()
    assert found.schema.field(by).type == expected.schema.field(by).type
    for name in expected.schema.names:
        if name != by:  # the files hold every other column with its type and metadata
            assert found.schema.field(name) == expected.schema.field(name), name
    assert _by_id(found) == _by_id(expected)


def _through_iceberg(
    tmp_path: Path, export: dict[str, Any], source: Any, url: str
) -> dict[str, str]:
    """Run until the table takes the export, applying the override each refusal's hint names;
    returns the overrides, and checks the table equals plain parts with the same overrides."""
    out = tmp_path / "ice"
    refused: dict[str, str] = {}
    while True:
        ice = {**export, "table_format": "iceberg", "columns": refused,
               "destination": {"type": "local", "path": str(out)}}  # fmt: skip
        result = _run(tmp_path, ice, source, url)
        if result.returncode == 0:
            break
        assert "has no Iceberg type" in result.stderr, result.stderr
        fix = re.search(r"`columns: \{(\w+): ([^}]+)\}`", result.stderr)
        assert fix and fix[1] not in refused, result.stderr
        assert not list(out.rglob("*.parquet"))  # refused before any row was read
        refused[fix[1]] = fix[2]
    catalog = SqlCatalog("rivet", uri=f"sqlite:///{tmp_path / '.rivet_iceberg.db'}")
    table = catalog.load_table(f"rivet.{export['name']}").scan().to_arrow()
    expected = _plain(tmp_path, {**export, "columns": refused}, source, url)
    assert _by_id(table) == _by_id(expected)
    return refused


def test_postgresql_types_through_hive_folders(tmp_path: Path, matrix: str) -> None:  # noqa: F811
    export = {"name": "matrix", "table": matrix, "format": "parquet"}
    _through_hive(tmp_path, export, None, PG_URL, by="d")


def _mysql_types(my: My) -> dict[str, Any]:
    my.execute(f"CREATE TABLE types ({test_mysql.TYPES})")
    my.execute(
        f"INSERT INTO types VALUES {test_mysql.ROW_1}, {test_mysql.ROW_2}, {test_mysql.ROW_3}"
    )
    return {"name": "m", "table": f"{my.database}.types", "format": "parquet"}


MYSQL = {"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"}


def test_mysql_types_through_hive_folders(tmp_path: Path, my: My) -> None:
    _through_hive(tmp_path, _mysql_types(my), MYSQL, my.url, by="dt")


def test_mysql_types_through_an_iceberg_table(tmp_path: Path, my: My) -> None:
    refused = _through_iceberg(tmp_path, _mysql_types(my), MYSQL, my.url)
    # unsigned 32/64-bit integers, DECIMAL(65,30) and TIME (a duration) have no Iceberg type
    assert refused == {"id": "bigint", "iu": "bigint", "bu": "decimal(20,0)", "dec2": "text",
                       "tm": "text"}  # fmt: skip
