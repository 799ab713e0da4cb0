"""Chunked mode on both engines: every row exactly once, NULL keys included, parallel workers,
checkpoints that survive a SIGKILL, and the refusals that keep state from being reset silently."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.live.conftest import Cli, My, Pg, rivet, write_config

ROWS = 5000


@dataclass
class Db:
    engine: str
    url: str
    table: str  # qualified name of the test table
    execute: Callable[[str], None]

    def run(self, config: Path, *args: str, env: dict[str, str] | None = None) -> Cli:
        return rivet("run", "-c", str(config), *args, env=env, url=self.url)


@pytest.fixture(params=["postgres", "mysql"])
def db(request: pytest.FixtureRequest) -> Db:
    """A table `c` of ROWS rows: id 1..ROWS (PK), grp (NULL on every 7th row), day, name."""
    if request.param == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        pg.execute(
            "CREATE TABLE c (id int PRIMARY KEY, grp int, day timestamptz, name text NOT NULL)"
        )
        pg.execute(
            f"INSERT INTO c SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 500 END, "
            f"timestamptz '2026-01-01 00:00:00+00' + (g % 90) * interval '1 day' "
            f"+ interval '23 hours', 'n' || lpad(g::text, 6, '0') FROM generate_series(1, {ROWS}) g"
        )
        pg.execute("CREATE INDEX ON c (grp)")
        pg.execute("ANALYZE c")
        return Db("postgres", pg.url, f"{pg.schema}.c", pg.execute)
    my: My = request.getfixturevalue("my")
    my.execute(
        "CREATE TABLE c (id INT PRIMARY KEY, grp INT NULL, day DATETIME, name VARCHAR(20) NOT NULL,"
        " KEY (grp), KEY (day), KEY (name))"
    )
    my.execute("SET SESSION max_recursive_iterations = 100000")
    my.execute(
        "INSERT INTO c WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s "
        f"WHERE g < {ROWS}) SELECT g, IF(g % 7 = 0, NULL, g % 500), "
        "TIMESTAMP('2026-01-01 23:00:00') + INTERVAL (g % 90) DAY, CONCAT('n', LPAD(g, 6, '0')) "
        "FROM s"
    )
    my.execute("ANALYZE TABLE c")
    return Db("mysql", my.url, f"{my.database}.c", my.execute)


def _config(tmp_path: Path, db: Db, **export: Any) -> Path:
    entry = {
        "name": "c",
        "table": db.table,
        "mode": "chunked",
        "format": "parquet",
        "destination": {"type": "local", "path": str(tmp_path / "out")},
        **export,
    }
    return write_config(
        tmp_path, [entry], source={"type": db.engine, "url_env": "RIVET_TEST_SOURCE_URL"}
    )


def _published(out: Path) -> tuple[list[int], dict[str, Any]]:
    """The ids of the parts the manifest lists; asserts no other part file is there."""
    manifest = json.loads((out / "_manifest.json").read_text())
    listed = {p["path"] for p in manifest["parts"]}
    on_disk = {p.name for p in out.iterdir() if p.suffix in (".parquet", ".csv")}
    assert on_disk == listed
    ids: list[int] = []
    for name in sorted(listed):
        ids += pq.read_table(out / name).column("id").to_pylist()
    return sorted(ids), manifest


def test_parallel_range_chunks_export_every_row_once_with_null_keys(tmp_path: Path, db: Db) -> None:
    config = _config(tmp_path, db, chunk_column="grp", chunk_size=100, parallel=3)
    result = db.run(config, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    assert summary["strategy"].startswith("chunked(grp: 6 ranges, parallel=3")
    ids, manifest = _published(tmp_path / "out")
    assert ids == list(range(1, ROWS + 1))  # the NULL-grp rows included, each row once
    names = [p["path"] for p in manifest["parts"]]
    assert len(names) == 6  # 5 ranges of grp 0..499, plus the NULL chunk
    # rivet-cli 0.7.7's names: <export>_<YYYYMMDD_HHMMSS>_chunk<i>.<ext>, chunk numbers unpadded
    assert all(re.fullmatch(r"c_\d{8}_\d{6}_chunk[0-5]\.(csv|parquet)", n) for n in names), names


def test_primary_key_is_the_default_chunk_column_and_chunk_count_sets_the_size(
    tmp_path: Path, db: Db
) -> None:
    result = db.run(_config(tmp_path, db, chunk_count=4), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    assert "chunked(id: 4 ranges" in summary["strategy"]
    # as rivet-cli 0.7.7: the column rivet chose is named, with the line that fixes it
    assert any("chunked by the primary key 'id'; set chunk_column: id" in w
               for w in summary["warnings"]), summary["warnings"]  # fmt: skip
    ids, manifest = _published(tmp_path / "out")
    assert ids == list(range(1, ROWS + 1))
    assert [p["rows"] for p in manifest["parts"]] == [1250] * 4


def test_day_chunks_use_utc_day_boundaries(tmp_path: Path, db: Db) -> None:
    config = _config(tmp_path, db, chunk_column="day", chunk_by_days=30, format="parquet")
    result = db.run(config, "--json")
    assert result.returncode == 0, result.stderr
    ids, manifest = _published(tmp_path / "out")
    assert ids == list(range(1, ROWS + 1))
    # days 0..89 at 23:00 UTC: three 30-day windows; the column has no NULLs (PG: nullable)
    rows = [p["rows"] for p in manifest["parts"]]
    assert rows[:3] == [
        sum(1 for g in range(1, ROWS + 1) if lo <= g % 90 < lo + 30) for lo in (0, 30, 60)
    ]


def test_dense_chunks_cut_real_rows_of_a_text_column(tmp_path: Path, db: Db) -> None:
    config = _config(tmp_path, db, chunk_column="name", chunk_dense=True, chunk_size=1200)
    result = db.run(config, "--json")
    assert result.returncode == 0, result.stderr
    ids, manifest = _published(tmp_path / "out")
    assert ids == list(range(1, ROWS + 1))
    assert [p["rows"] for p in manifest["parts"]] == [1200, 1200, 1200, 1200, 200]


@pytest.mark.parametrize("point", ["after_chunk_checkpoint", "after_first_batch", "after_manifest"])
def test_a_killed_checkpointed_run_resumes_without_loss_or_duplicates(
    tmp_path: Path, db: Db, point: str
) -> None:
    config = _config(
        tmp_path, db, chunk_column="id", chunk_size=1000, chunk_checkpoint=True, parallel=2
    )
    killed = db.run(config, env={"RIVET_TEST_PANIC_AT": point})
    assert killed.returncode == -9
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    plain = db.run(config)  # a fresh run must not silently start over
    assert plain.returncode == 1
    assert "--resume" in plain.stderr and "reset-chunks" in plain.stderr
    resumed = db.run(config, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    ids, _ = _published(tmp_path / "out")
    assert ids == list(range(1, ROWS + 1))
    state = sqlite3.connect(tmp_path / ".rivet_state.db")
    assert state.execute("SELECT status FROM chunk_run").fetchall() == [("completed",)]
    assert not (tmp_path / "out" / ".rivet_staging").exists()


def test_resume_refuses_without_a_run_and_after_the_plan_changed(tmp_path: Path, db: Db) -> None:
    config = _config(tmp_path, db, chunk_column="id", chunk_size=1000, chunk_checkpoint=True)
    nothing = db.run(config, "--resume")
    assert nothing.returncode == 1
    assert "no unfinished chunk run to resume" in nothing.stderr
    assert db.run(config, env={"RIVET_TEST_PANIC_AT": "after_chunk_checkpoint"}).returncode == -9
    changed = _config(tmp_path, db, chunk_column="id", chunk_size=700, chunk_checkpoint=True)
    refused = db.run(changed, "--resume")
    assert refused.returncode == 1
    assert "chunk plan changed" in refused.stderr and "reset-chunks" in refused.stderr
    chunks = rivet("state", "chunks", "-c", str(changed), "-e", "c", "--json")
    tasks = json.loads(chunks.stdout)["tasks"]
    assert [t["status"] for t in tasks].count("completed") == 1 and len(tasks) == 5
    reset = rivet("state", "reset-chunks", "-c", str(changed), "-e", "c")
    assert reset.returncode == 0 and "Removed 1 chunk run" in reset.stdout
    again = db.run(changed, "--json")
    assert again.returncode == 0, again.stderr
    ids, _ = _published(tmp_path / "out")
    assert ids == list(range(1, ROWS + 1))


def test_a_chunk_column_that_cannot_be_chunked_is_a_clear_error(tmp_path: Path, db: Db) -> None:
    missing = db.run(_config(tmp_path, db, chunk_column="nope"))
    assert missing.returncode == 1 and "chunk_column 'nope' is not a column" in missing.stderr
    text = db.run(_config(tmp_path, db, chunk_column="name"))  # range chunks need integers
    assert text.returncode == 1 and "range chunks need an integer column" in text.stderr


def test_parallel_chunks_read_one_snapshot(tmp_path: Path, pg: Pg) -> None:
    """Rows changed while a parallel chunked export runs are not seen by any chunk."""
    pg.execute("CREATE TABLE s AS SELECT g AS id FROM generate_series(1, 20000) g")
    pg.execute("ALTER TABLE s ADD PRIMARY KEY (id)")
    config = write_config(
        tmp_path,
        [
            {
                "name": "s",
                "table": f"{pg.schema}.s",
                "mode": "chunked",
                "chunk_size": 2000,
                "parallel": 2,
                "format": "parquet",
                "tuning": {"batch_size": 1000, "throttle_ms": 150},
                "destination": {"type": "local", "path": str(tmp_path / "out")},
            }
        ],
    )

    def change_rows() -> None:
        # once a worker reads its first chunk, the run's snapshot exists
        deadline = time.monotonic() + 60
        while not list((tmp_path / "out").glob(".rivet_staging/*/chunk-*")):
            assert time.monotonic() < deadline, "the export never started reading"
            time.sleep(0.02)
        pg.execute("BEGIN")
        pg.execute("DELETE FROM s WHERE id > 18000")
        pg.execute("INSERT INTO s SELECT g FROM generate_series(20001, 22000) g")
        pg.execute("COMMIT")

    writer = threading.Thread(target=change_rows)
    writer.start()
    result = rivet("run", "-c", str(config))
    writer.join()
    assert result.returncode == 0, result.stderr
    ids, _ = _published(tmp_path / "out")
    assert ids == list(range(1, 20001))  # the table as it was when the export started


def test_check_shows_the_chunk_plan_and_warns_about_a_sparse_key(tmp_path: Path, db: Db) -> None:
    db.execute("INSERT INTO c (id, grp, day, name) VALUES (9000000, 1, NULL, 'far away')")
    config = _config(tmp_path, db, chunk_column="id", chunk_size=1000)
    checked = rivet("check", "-c", str(config), "--json", url=db.url)
    assert checked.returncode == 0, checked.stderr
    (report,) = json.loads(checked.stdout)
    assert report["strategy"].startswith("chunked(id: 9000 ranges")
    assert any("is sparse" in w and "chunk_dense" in w for w in report["warnings"])


def test_parallel_stays_within_source_max_connections(tmp_path: Path, db: Db) -> None:
    entry = {"name": "c", "table": db.table, "mode": "chunked", "chunk_column": "id",
             "chunk_size": 1000, "parallel": 4, "format": "parquet",
             "destination": {"type": "local", "path": str(tmp_path / "out")}}  # fmt: skip
    source = {"type": db.engine, "url_env": "RIVET_TEST_SOURCE_URL", "max_connections": 3}
    config = write_config(tmp_path, [entry], source=source)
    result = db.run(config, "--json")
    assert result.returncode == 0, result.stderr
    (summary,) = json.loads(result.stdout)["exports"]
    # 3 = the catalog connection + the snapshot holder (PostgreSQL only) + the readers
    workers = 1 if db.engine == "postgres" else 2
    expected = f"parallel 4 lowered to {workers}: source.max_connections is 3"
    assert expected in summary["warnings"]
    ids, _ = _published(tmp_path / "out")
    assert ids == list(range(1, ROWS + 1))


def test_chunk_reads_reuse_their_connections_one_transaction_each(pg: Pg) -> None:
    """Chunks read on pooled connections (connecting costs ~26 ms with the ADBC driver): each
    chunk gets a fresh REPEATABLE READ, READ ONLY transaction with its settings, and a pooled
    connection that died while idle is replaced, not handed out."""
    from rivet.sources.base import ReadRequest, ReadStats
    from rivet.sources.pg_read import Connections

    request = ReadRequest(
        export="e", table=None, query="SELECT 1", column_overrides={}, page_bytes=1 << 20,
        max_page_rows=None, statement_timeout_s=7, lock_timeout_s=1, throttle_ms=0,
        read_connections=1,
    )  # fmt: skip
    probe = (
        "SELECT pg_backend_pid() AS pid, now()::text AS started, "
        "current_setting('transaction_isolation') AS iso, "
        "current_setting('transaction_read_only') AS ro, "
        "current_setting('statement_timeout') AS timeout"
    )
    pool = Connections(pg.url)
    try:
        seen = []
        for _ in range(3):
            with pool.session(request, ReadStats(), None) as session:
                seen.append(session.fetch(probe).to_pylist()[0])
        assert len({row["pid"] for row in seen}) == 1  # one connection, reused
        assert len({row["started"] for row in seen}) == 3  # a transaction per chunk
        assert all((r["iso"], r["ro"], r["timeout"]) == ("repeatable read", "on", "7s")
                   for r in seen)  # fmt: skip
        pg.execute(f"SELECT pg_terminate_backend({seen[0]['pid']})")
        while pg.scalar(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {seen[0]['pid']}"):
            time.sleep(0.01)  # until the server has ended that backend (observed)
        with pool.session(request, ReadStats(), None) as session:
            row = session.fetch(probe).to_pylist()[0]
        assert row["pid"] != seen[0]["pid"] and row["iso"] == "repeatable read"
    finally:
        pool.close()
