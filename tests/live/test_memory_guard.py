"""The memory guard on a real export: fail, warn or shrink when batches or RSS grow too big."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.live.conftest import Pg, rivet, write_config

ROWS = 60_000


def _run(tmp_path: Path, pg: Pg, name: str, **tuning: Any) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / name
    config = write_config(
        tmp_path,
        [{"name": "m", "table": f"{pg.schema}.m", "format": "parquet",
          "tuning": {"batch_size_memory_mb": 4, **tuning},
          "destination": {"type": "local", "path": str(out)}}],
    )  # fmt: skip
    result = rivet("run", "-c", str(config), "--json")
    summary = json.loads(result.stdout)["exports"][0] if result.stdout else {}
    return result.returncode, summary, result.stderr


def _rows(out: Path) -> int:
    return sum(pq.read_table(p).num_rows for p in out.glob("*.parquet"))


def test_batch_limit_fails_warns_or_shrinks(tmp_path: Path, pg: Pg) -> None:
    pg.execute(f"CREATE TABLE m AS SELECT g AS id, repeat('x', 200) AS pad "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE m ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE m")
    code, plain, _ = _run(tmp_path, pg, "plain")
    assert code == 0 and plain["warnings"] == []

    code, _, stderr = _run(tmp_path, pg, "fail", max_batch_memory_mb=1,
                           on_batch_memory_exceeded="fail")  # fmt: skip
    assert code == 1 and "larger than tuning.max_batch_memory_mb (1 MB)" in stderr
    assert not list((tmp_path / "fail").glob("*.parquet"))  # nothing published

    code, warned, _ = _run(tmp_path, pg, "warn", max_batch_memory_mb=1)  # default: warn
    assert code == 0 and _rows(tmp_path / "warn") == ROWS
    assert len(warned["warnings"]) == 1 and "max_batch_memory_mb" in warned["warnings"][0]

    code, shrunk, _ = _run(tmp_path, pg, "shrink", max_batch_memory_mb=1,
                           on_batch_memory_exceeded="auto_shrink")  # fmt: skip
    assert code == 0 and _rows(tmp_path / "shrink") == ROWS
    assert "statements shrunk" in shrunk["warnings"][0]
    assert shrunk["statements"] > plain["statements"]


def test_rss_above_the_threshold_shrinks_statements(tmp_path: Path, pg: Pg) -> None:
    pg.execute(f"CREATE TABLE m AS SELECT g AS id, repeat('y', 100) AS pad "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("CREATE UNIQUE INDEX ON m (id)")
    pg.execute("ALTER TABLE m ALTER COLUMN id SET NOT NULL")
    code, plain, _ = _run(tmp_path, pg, "plain", memory_threshold_mb=0)
    code, guarded, _ = _run(tmp_path, pg, "low", memory_threshold_mb=1)  # always above
    assert code == 0 and _rows(tmp_path / "low") == ROWS
    assert "resident memory passed tuning.memory_threshold_mb (1 MB)" in guarded["warnings"][0]
    assert guarded["statements"] > plain["statements"]
