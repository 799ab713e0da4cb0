"""Rows that commit late with exactly the last exported cursor value are exported by the next
run, once (issue 17, item 2): for query exports (ordered by the cursor alone) and table exports
(whose primary-key tie-break does not follow commit order), on both engines, by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import rivet as api
from tests.live.conftest import PG_URL, My, Pg, write_config


def _run(config: Path, reconcile: bool = False) -> tuple[int, list[int]]:
    (result,) = api.run(config, quiet=True, reconcile=reconcile).results
    assert result.status == "success", result.error
    ids = []
    for part in result.parts:
        ids += pq.read_table(Path(result.destination.removeprefix("file://")) / part.path)[
            "id"
        ].to_pylist()
    return result.rows, sorted(ids)


def _config(tmp_path: Path, target: dict[str, Any], engine: str) -> Path:
    return write_config(
        tmp_path,
        [{"name": "e", **target, "mode": "incremental", "cursor_column": "c",
          "format": "parquet", "destination": {"type": "local", "path": str(tmp_path / "out")}}],
        source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip


@pytest.fixture(params=["postgres", "mysql"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    if request.param == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
        pg.execute("CREATE TABLE ev (id int PRIMARY KEY, c timestamp(6), v text)")
        return "postgres", pg
    my: My = request.getfixturevalue("my")
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", my.url)
    my.execute("CREATE TABLE ev (id INT PRIMARY KEY, c DATETIME(6), v TEXT)")
    return "mysql", my


def _qualified(engine: tuple[str, Any]) -> str:
    kind, db = engine
    return f"{db.schema if kind == 'postgres' else db.database}.ev"


@pytest.mark.parametrize("shape", ["table", "query"])
def test_a_late_row_at_the_boundary_value_is_exported_once(
    tmp_path: Path, engine: tuple[str, Any], shape: str
) -> None:
    kind, db = engine
    table = _qualified(engine)
    for i in range(10, 20):  # ids 18 and 19 share the last cursor value
        db.execute(f"INSERT INTO ev VALUES ({i}, '2026-01-01 00:00:{min(i, 18):02d}.123456', 'v')")
    target = {"table": table} if shape == "table" else {"query": f"SELECT * FROM {table}"}
    config = _config(tmp_path, target, kind)
    assert _run(config) == (10, list(range(10, 20)))
    # Late: a smaller id (a table's tie-break) with the boundary value; a duplicate-looking row
    # that differs in another column; and one newer row.
    db.execute("INSERT INTO ev VALUES (1, '2026-01-01 00:00:18.123456', 'v')")
    db.execute("INSERT INTO ev VALUES (2, '2026-01-01 00:00:18.123456', 'other')")
    db.execute("INSERT INTO ev VALUES (30, '2026-01-01 00:00:30', 'v')")
    assert _run(config, reconcile=True) == (3, [1, 2, 30])
    assert _run(config, reconcile=True) == (0, [])
    db.execute("INSERT INTO ev VALUES (3, '2026-01-01 00:00:30', 'v')")  # the new boundary
    assert _run(config) == (1, [3])
    assert _run(config) == (0, [])


def test_the_boundary_holds_across_runs_that_add_only_boundary_rows(
    tmp_path: Path, engine: tuple[str, Any]
) -> None:
    kind, db = engine
    config = _config(tmp_path, {"query": f"SELECT * FROM {_qualified(engine)}"}, kind)
    stamp = "'2026-01-01 10:00:00'"
    db.execute(f"INSERT INTO ev VALUES (1, {stamp}, 'a')")
    assert _run(config) == (1, [1])
    db.execute(f"INSERT INTO ev VALUES (2, {stamp}, 'b')")
    assert _run(config) == (1, [2])
    db.execute(f"INSERT INTO ev VALUES (3, {stamp}, 'c')")
    assert _run(config) == (1, [3])  # 1 and 2 are still known at that value
    assert _run(config) == (0, [])
