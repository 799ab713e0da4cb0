"""`max_file_size` rotates parts close to the size (issue 17, item 4: `1MB` on 100k rows wrote
one 2.3 MB Parquet file). Every part but the last is within about one row group (Parquet) or
one batch slice (CSV) of the size, and together they hold every row once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import rivet as api
from tests.live.conftest import PG_URL, Pg, write_config

ROWS = 100_000


@pytest.fixture
def table(pg: Pg) -> str:
    pg.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h, "
               "timestamptz '2026-01-01' + g * interval '1 s' AS at "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    return f"{pg.schema}.t"


def _part_index(path: Path) -> int:
    return int(path.stem.rsplit("_part", 1)[1]) if "_part" in path.stem else 0


@pytest.mark.parametrize(
    "fmt,size,limit",
    [
        ("parquet", "1MB", 1 << 20),
        ("parquet", "512KB", 512 << 10),
        ("parquet", "1500KB", 1500 << 10),
        ("csv", "1MB", 1 << 20),
        ("csv", "700KB", 700 << 10),
    ],
)
def test_parts_rotate_close_to_max_file_size(
    tmp_path: Path, table: str, fmt: str, size: str, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "t", "table": table, "format": fmt, "max_file_size": size,
          "destination": {"type": "local", "path": str(out)}}],
    )  # fmt: skip
    (result,) = api.run(config, quiet=True).results
    assert result.status == "success", result.error
    parts = sorted(
        out.glob(f"t_*.{fmt}"),
        key=lambda p: int(p.stem.rsplit("_part", 1)[1]) if "_part" in p.stem else 0,
    )
    sizes = [p.stat().st_size for p in parts]
    total = sum(sizes)
    assert len(parts) > 1 and len(parts) >= total // limit, sizes  # it rotated
    for part_size in sizes[:-1]:
        assert 0.75 * limit <= part_size <= 1.1 * limit, (size, sizes)
    assert sizes[-1] <= 1.1 * limit, (size, sizes)
    if fmt == "parquet":
        ids = [i for p in parts for i in pq.read_table(p).column("id").to_pylist()]
    else:
        ids = [i for p in parts for i in pd.read_csv(p)["id"].tolist()]
    assert sorted(ids) == list(range(1, ROWS + 1))
