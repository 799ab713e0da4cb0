"""`--reconcile` counts inside the export's own snapshot on PostgreSQL (issue 17, item 5): rows
changed on the source between the read and the count no longer make a mismatch. The run stops
itself (SIGSTOP) right before counting, the test deletes and inserts rows, then lets it go."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import PG_URL, Pg, write_config

ROWS = 30_000


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("T")


def _run_with_writes_before_the_count(config: Path, pg: Pg) -> dict[str, Any]:
    env = {"RIVET_TEST_SOURCE_URL": PG_URL, "PATH": "/usr/bin:/bin",
           "RIVET_TEST_SIGNAL_AT": "before_reconcile:SIGSTOP"}  # fmt: skip
    command = [sys.executable, "-m", "rivet", "run", "-c", str(config), "--reconcile", "--json"]
    export = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=config.parent)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _stopped(export.pid):
        assert export.poll() is None, export.communicate()
        assert time.monotonic() < deadline, "the run never reached its reconcile count"
        time.sleep(0.005)
    pg.execute("DELETE FROM t WHERE id <= 100")  # rows the export read, gone now
    pg.execute(f"INSERT INTO t SELECT g, 'new' FROM generate_series({ROWS + 1}, {ROWS + 50}) g")
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
    pg.execute(f"CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE t")
    target = {"table": f"{pg.schema}.t"} if "query" not in export else {}
    url = PG_URL + f"?options=-csearch_path%3D{pg.schema}"
    config = write_config(
        tmp_path,
        [{"name": "t", **target, **export, "format": "parquet",
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
        source={"type": "postgres", "url": url},
    )  # fmt: skip
    summary = _run_with_writes_before_the_count(config, pg)
    assert summary["status"] == "success", summary["error"]
    assert summary["rows"] == ROWS
    assert summary["reconcile"] == f"match ({ROWS:,})"
    assert pg.scalar("SELECT count(*) FROM t") == ROWS - 100 + 50  # the writes did happen
