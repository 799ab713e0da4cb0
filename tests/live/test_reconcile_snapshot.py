"""`--reconcile` counts inside the export's own snapshot (issue 17, item 5): rows changed on the
source between the read and the count no longer make a mismatch. PostgreSQL counts in the read's
exported snapshot (or a chunk's own transaction); MySQL/MariaDB, whose pages are separate
consistent reads, counts what those statements returned and shows a later count that differs as
a warning. The run stops itself (SIGSTOP) right before counting, the test deletes and inserts
rows, then lets it go."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import PG_URL, My, Pg, write_config

ROWS = 30_000
ENV_URL = "RIVET_TEST_SOURCE_URL"
# rows the export read, gone now; rows it did not read, there now
PG_WRITES = [
    "DELETE FROM t WHERE id <= 100",
    f"INSERT INTO t SELECT g, 'new' FROM generate_series({ROWS + 1}, {ROWS + 50}) g",
]
MY_WRITES = [
    "DELETE FROM t WHERE id <= 100",
    f"INSERT INTO t SELECT seq, 'new' FROM seq_{ROWS + 1}_to_{ROWS + 50}",
]


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("T")


def _pg_table(pg: Pg) -> None:
    pg.execute(f"CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE t")


def _my_table(my: My) -> None:
    my.execute(f"CREATE TABLE t (id INT PRIMARY KEY, v CHAR(32)) "
               f"SELECT seq AS id, md5(seq) AS v FROM seq_1_to_{ROWS}")  # fmt: skip


def _config(folder: Path, export: dict[str, Any], source: dict[str, Any]) -> Path:
    return write_config(
        folder,
        [{"name": "t", **export, "format": "parquet",
          "destination": {"type": "local", "path": str(folder / "out")}}],
        source=source,
    )  # fmt: skip


def _run_with_writes_before_the_count(
    config: Path, writes: list[str], run: Any, url: str = PG_URL
) -> dict[str, Any]:
    env = {ENV_URL: url, "PATH": "/usr/bin:/bin",
           "RIVET_TEST_SIGNAL_AT": "before_reconcile:SIGSTOP"}  # fmt: skip
    command = [sys.executable, "-m", "rivet", "run", "-c", str(config), "--reconcile", "--json"]
    export = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=config.parent)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _stopped(export.pid):
        assert export.poll() is None, export.communicate()
        assert time.monotonic() < deadline, "the run never reached its reconcile count"
        time.sleep(0.005)
    for write in writes:
        run(write)
    export.send_signal(signal.SIGCONT)
    stdout, stderr = export.communicate(timeout=120)
    assert export.returncode == 0, stderr
    summary: dict[str, Any] = json.loads(stdout)["exports"][0]
    return summary


@pytest.mark.parametrize(
    "export",
    [
        {},  # key ranges over the integer primary key
        {"tuning": {"profile": "fast"}},  # two connections, one snapshot
        {"query": "SELECT id, v FROM t"},  # a cursor
    ],
    ids=["key-ranges", "parallel-ranges", "cursor"],
)
def test_a_write_between_read_and_count_is_no_mismatch(
    tmp_path: Path, pg: Pg, export: dict[str, Any]
) -> None:
    _pg_table(pg)
    target = {"table": f"{pg.schema}.t"} if "query" not in export else {}
    url = PG_URL + f"?options=-csearch_path%3D{pg.schema}"
    config = _config(tmp_path, {**target, **export}, {"type": "postgres", "url": url})
    summary = _run_with_writes_before_the_count(config, PG_WRITES, pg.execute)
    assert summary["status"] == "success", summary["error"]
    assert summary["rows"] == ROWS
    assert summary["reconcile"] == f"match ({ROWS:,})"
    assert pg.scalar("SELECT count(*) FROM t") == ROWS - 100 + 50  # the writes did happen


@pytest.mark.parametrize(
    "export",
    [
        {},  # key ranges over the integer primary key
        {"tuning": {"profile": "fast"}},  # ranges read in parallel
        {"query": "SELECT id, v FROM t"},  # one streamed statement
    ],
    ids=["key-ranges", "parallel-ranges", "streamed"],
)
def test_mysql_counts_what_its_statements_read(
    tmp_path: Path, my: My, export: dict[str, Any]
) -> None:
    _my_table(my)
    target = {"table": f"{my.database}.t"} if "query" not in export else {}
    config = _config(tmp_path, {**target, **export}, {"type": "mysql", "url_env": ENV_URL})
    summary = _run_with_writes_before_the_count(config, MY_WRITES, my.execute, my.url)
    assert summary["status"] == "success", summary["error"]
    assert summary["rows"] == ROWS
    assert summary["reconcile"] == f"match ({ROWS:,})"
    # the later statement saw the writes: shown, not failed on
    assert any(
        f"holds {ROWS - 100 + 50:,} rows in the exported range now" in w
        for w in summary["warnings"]
    ), summary["warnings"]


def test_chunks_are_counted_inside_their_own_reads(tmp_path: Path, pg: Pg, my: My) -> None:
    """A chunk run counts each chunk in the chunk's own snapshot (PostgreSQL: its transaction;
    MySQL: its statements), so writes after the chunks were read are no mismatch."""
    _pg_table(pg)
    _my_table(my)
    engines = [("postgres", PG_URL + f"?options=-csearch_path%3D{pg.schema}", f"{pg.schema}.t",
                PG_WRITES, pg.execute),
               ("mysql", my.url, f"{my.database}.t", MY_WRITES, my.execute)]  # fmt: skip
    for engine, url, table, writes, run in engines:
        folder = tmp_path / engine
        folder.mkdir()
        chunked = {"table": table, "mode": "chunked", "chunk_column": "id", "chunk_size": 5_000}
        config = _config(folder, chunked, {"type": engine, "url_env": ENV_URL})
        summary = _run_with_writes_before_the_count(config, writes, run, url)
        assert summary["status"] == "success", (engine, summary["error"])
        assert summary["rows"] == ROWS, engine
        assert summary["reconcile"].startswith("match"), (engine, summary["reconcile"])
