"""Through pgbouncer in transaction mode: each statement may land on another server connection,
so rivet keeps every setting transaction-local, prepares nothing server-side and holds no cursor
across transactions. Every mode exports exactly the source rows, and doctor names the pooler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.live.conftest import PG_URL, Pg, rivet, write_config


def _ids(folder: Path) -> list[int]:
    ids: list[int] = []
    for part in folder.glob("*.parquet"):
        ids += pq.read_table(part).column("id").to_pylist()
    return sorted(ids)


def test_every_mode_through_pgbouncer(tmp_path: Path, pg: Pg, pgbouncer: int) -> None:
    pg.execute("CREATE TABLE k (id int PRIMARY KEY, at timestamptz NOT NULL, v text)")
    pg.execute("INSERT INTO k SELECT g, timestamptz '2026-01-01' + g * interval '1 s', "
               "md5(g::text) FROM generate_series(1, 30000) g")  # fmt: skip
    pg.execute("CREATE TABLE nokey AS SELECT g AS id FROM generate_series(1, 5000) g")
    out = tmp_path / "out"
    small = {"batch_size_memory_mb": 1}

    def export(name: str, table: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "table": f"{pg.schema}.{table}", "format": "parquet",
                "tuning": small, "destination": {"type": "local", "path": str(out / name)},
                **extra}  # fmt: skip

    config = write_config(
        tmp_path,
        [
            export("keyset", "k"),
            export("cursor", "nokey"),
            export("chunked", "k", mode="chunked", chunk_size=5000, parallel=3),
            export("incremental", "k", mode="incremental", cursor_column="at"),
        ],
        source={"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL",
                "tuning": {"profile": "fast"}},
    )  # fmt: skip
    url = PG_URL.replace("5432", str(pgbouncer))
    result = rivet("run", "-c", str(config), url=url)
    assert result.returncode == 0, result.stderr
    for name in ("keyset", "chunked", "incremental"):
        assert _ids(out / name) == list(range(1, 30001)), name
    assert _ids(out / "cursor") == list(range(1, 5001))
    doctor = rivet("doctor", "-c", str(config), url=url)
    assert "connection pooler" in doctor.stdout
