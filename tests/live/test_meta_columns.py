"""meta_columns: `_rivet_row_hash` is the same for the same row whatever the engine or the
format; `_rivet_exported_at` is the run's start."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import rivet
from tests.live.conftest import PG_URL, My, Pg, write_config

ROWS = [
    "(1, 'plain', 12.50, '2026-01-02 03:04:05.678901', TRUE, NULL)",
    "(2, '', 0.00, '1999-12-31 23:59:59', FALSE, 'x')",
    "(3, NULL, -7.25, NULL, NULL, '')",
    "(4, 'ünïcødé 🎉, \"quoted\"', NULL, '2026-06-30 00:00:00', TRUE, 'abcdefghijklmnop')",
]


def _export(tmp_path: Path, name: str, table: str, fmt: str, source: dict[str, str]) -> Path:
    out = tmp_path / name
    config = write_config(
        _folder(tmp_path / f"{name}_config"),
        [{"name": name, "table": table, "format": fmt,
          "meta_columns": {"exported_at": True, "row_hash": True},
          "destination": {"type": "local", "path": str(out)}}],
        source=source,
    )  # fmt: skip
    (result,) = rivet.run(config, quiet=True).results
    assert result.status == "success", result.error
    return out


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _hashes(out: Path) -> dict[int, int]:
    (part,) = [p for p in out.iterdir() if p.suffix in (".parquet", ".csv")]
    table = pq.read_table(part) if part.suffix == ".parquet" else pacsv.read_csv(part)
    return dict(
        zip(
            table.column("id").to_pylist(), table.column("_rivet_row_hash").to_pylist(), strict=True
        )
    )


def test_row_hashes_agree_across_engines_and_formats(
    tmp_path: Path, pg: Pg, my: My, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.execute("CREATE TABLE m (id int PRIMARY KEY, name text, amount numeric(10,2), "
               "at timestamp, flag boolean, note varchar(40))")  # fmt: skip
    pg.execute("INSERT INTO m VALUES " + ", ".join(ROWS))
    my.execute("CREATE TABLE m (id INT PRIMARY KEY, name VARCHAR(50), amount DECIMAL(10,2), "
               "at DATETIME(6), flag BOOLEAN, note VARCHAR(40)) CHARSET utf8mb4")  # fmt: skip
    my.execute("INSERT INTO m VALUES " + ", ".join(ROWS))
    monkeypatch.setenv("RIVET_PG", PG_URL)
    monkeypatch.setenv("RIVET_MY", my.url)
    pg_source = {"type": "postgres", "url_env": "RIVET_PG"}
    my_source = {"type": "mysql", "url_env": "RIVET_MY"}
    pg_parquet = _hashes(_export(tmp_path, "pgp", f"{pg.schema}.m", "parquet", pg_source))
    pg_csv = _hashes(_export(tmp_path, "pgc", f"{pg.schema}.m", "csv", pg_source))
    my_parquet = _hashes(_export(tmp_path, "myp", f"{my.database}.m", "parquet", my_source))
    assert pg_parquet == pg_csv == my_parquet
    assert len(set(pg_parquet.values())) == 4
    pg.execute("UPDATE m SET name = NULL WHERE id = 2")  # NULL is not ""
    changed = _hashes(_export(tmp_path, "pg2", f"{pg.schema}.m", "parquet", pg_source))
    assert {k for k in changed if changed[k] != pg_parquet[k]} == {2}
    stamps = pq.read_table(next((tmp_path / "pg2").glob("*.parquet"))).column("_rivet_exported_at")
    assert stamps.null_count == 0 and len(set(stamps.to_pylist())) == 1
