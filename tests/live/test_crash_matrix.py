"""docs/semantics.md, proven: a `rivet run` SIGKILLed at each crash point, in each single-query
mode, on both engines, is followed by a rerun that leaves every source row published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.live.conftest import My, Pg, rivet, write_config

ROWS = 3000
POINTS = {
    "full": ["after_first_batch", "before_publish", "after_part_published", "after_manifest"],
    "incremental": ["after_first_batch", "after_manifest", "before_cursor_commit"],
    "time_window": ["after_first_batch", "before_publish", "after_manifest"],
}
CASES = [
    (engine, mode, point)
    for engine in ("postgres", "mysql")
    for mode, points in POINTS.items()
    for point in points
]


def _table(request: pytest.FixtureRequest, engine: str) -> tuple[str, str]:
    """A table t(id PK, at timestamp) of ROWS recent rows; returns (qualified name, url)."""
    if engine == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        pg.execute(
            "CREATE TABLE t AS SELECT g AS id, now() - (g % 50) * interval '1 minute' AS at "
            f"FROM generate_series(1, {ROWS}) g"
        )
        pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
        return f"{pg.schema}.t", pg.url
    my: My = request.getfixturevalue("my")
    my.execute("SET SESSION max_recursive_iterations = 100000")
    my.execute("CREATE TABLE t (id INT PRIMARY KEY, at DATETIME)")
    my.execute(
        "INSERT INTO t WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s "
        f"WHERE g < {ROWS}) SELECT g, UTC_TIMESTAMP() - INTERVAL (g % 50) MINUTE FROM s"
    )
    return f"{my.database}.t", my.url


def _published_ids(out: Path) -> set[int]:
    """Rows of every part file under a final name; the latest manifest's parts must exist."""
    manifest = json.loads((out / "_manifest.json").read_text())
    assert all((out / p["path"]).is_file() for p in manifest["parts"])
    ids: set[int] = set()
    for part in out.glob("*.parquet"):
        ids.update(pq.read_table(part).column("id").to_pylist())
    return ids


@pytest.mark.parametrize(("engine", "mode", "point"), CASES)
def test_a_killed_run_then_a_rerun_publishes_every_row(
    tmp_path: Path, request: pytest.FixtureRequest, engine: str, mode: str, point: str
) -> None:
    table, url = _table(request, engine)
    extra: dict[str, Any] = {
        "incremental": {"cursor_column": "at"},
        "time_window": {"time_column": "at", "days_window": 1},
    }.get(mode, {})
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "t",
                "table": table,
                "mode": mode,
                "format": "parquet",
                "max_file_size": "8KB",  # several parts, so a publish can be cut between two
                "tuning": {"batch_size": 1000},
                "destination": {"type": "local", "path": str(out)},
                **extra,
            }
        ],
        source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL"},
    )
    killed = rivet("run", "-c", str(config), env={"RIVET_TEST_PANIC_AT": point}, url=url)
    assert killed.returncode == -9, killed.stderr
    assert not (out / "_SUCCESS").exists() or point == "before_cursor_commit"
    rerun = rivet("run", "-c", str(config), url=url)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "_SUCCESS").exists()
    assert _published_ids(out) == set(range(1, ROWS + 1))
