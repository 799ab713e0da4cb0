"""SIGTERM (Kubernetes, systemd, `timeout`) and SIGINT stop a run cleanly (issue 17, item 8):
reading stops, staging is cleaned (a checkpointed chunk run keeps its finished chunks), the run
is recorded as interrupted, and the process exits 128 + signal with one line that names
`--resume` where it applies. A stop that arrives while publishing waits for the publish and the
cursor commit, so what is published is always what the state says."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.live.conftest import PG_URL, Pg, rivet, write_config

ROWS = 60_000


@pytest.fixture
def table(pg: Pg) -> str:
    pg.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS pad, "
               "timestamptz '2026-01-01' + g * interval '1 s' AS at "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE t")
    return f"{pg.schema}.t"


def _config(tmp_path: Path, table: str, **export: Any) -> Path:
    return write_config(
        tmp_path,
        [{"name": "t", "table": table, "format": "parquet",
          "tuning": {"batch_size": 5000},
          "destination": {"type": "local", "path": str(tmp_path / "out")}, **export}],
    )  # fmt: skip


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _statuses(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / ".rivet_state.db") as db:
        return [r[0] for r in db.execute("SELECT status FROM export_metrics ORDER BY started_at")]


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("signame,code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_full_export_stopped_mid_read_leaves_nothing(
    tmp_path: Path, table: str, signame: str, code: int
) -> None:
    config = _config(tmp_path, table)
    env = {"RIVET_TEST_SIGNAL_AT": f"after_first_batch:{signame}"}
    result = rivet("run", "-c", str(config), env=env)
    assert result.returncode == code, result.stderr
    line = _error_line(result.stderr)
    assert f"export 't': stopped by {signame}; nothing was published" in line
    assert "Traceback" not in result.stderr
    assert _files(tmp_path / "out") == []  # no part, no .tmp, no _SUCCESS, no staging
    assert _statuses(tmp_path) == ["interrupted"]


def test_an_incremental_export_stopped_while_publishing_finishes_the_step(
    tmp_path: Path, table: str
) -> None:
    """The signal comes between publish and cursor commit: both happen, then the process stops."""
    config = _config(tmp_path, table, mode="incremental", cursor_column="at")
    env = {"RIVET_TEST_SIGNAL_AT": "before_cursor_commit:SIGTERM"}
    result = rivet("run", "-c", str(config), env=env)
    assert result.returncode == 143, result.stderr
    assert "once export 't' was published" in _error_line(result.stderr)
    out = tmp_path / "out"
    assert (out / "_SUCCESS").exists()
    assert _statuses(tmp_path) == ["success"]
    again = rivet("run", "-c", str(config), "--json")
    assert json.loads(again.stdout)["exports"][0]["rows"] == 0  # the cursor did move


def test_a_checkpointed_chunk_run_stopped_keeps_its_chunks_and_resumes(
    tmp_path: Path, table: str
) -> None:
    config = _config(
        tmp_path, table, mode="chunked", chunk_column="id", chunk_size=10_000,
        chunk_checkpoint=True, parallel=1,
    )  # fmt: skip
    env = {"RIVET_TEST_SIGNAL_AT": "after_chunk_checkpoint:SIGTERM"}
    result = rivet("run", "-c", str(config), env=env)
    assert result.returncode == 143, result.stderr
    line = _error_line(result.stderr)
    assert "stopped by SIGTERM; nothing was published" in line
    assert f"`rivet run -c {config} -e t --resume`" in line
    out = tmp_path / "out"
    with sqlite3.connect(tmp_path / ".rivet_state.db") as db:
        kept = {f"chunk-{i:05d}" for (i,) in db.execute(
            "SELECT chunk_index FROM chunk_task WHERE status = 'completed'")}  # fmt: skip
        # the chunk being read when the stop came was recorded stopped: the run waited for
        # its reader (it was left `running`, its thread cut off at exit, before)
        unfinished = db.execute(
            "SELECT status, last_error FROM chunk_task WHERE status <> 'completed' "
            "AND last_error IS NOT NULL"
        ).fetchall()
        running = db.execute("SELECT count(*) FROM chunk_task WHERE status = 'running'")
        assert running.fetchone() == (0,)
    left = _files(out)
    assert unfinished == [("failed", "stopped: the run was stopped")], unfinished
    assert kept and left, left
    assert {Path(name).parent.name for name in left} == kept  # no half-written chunk's files
    assert not (out / "_SUCCESS").exists()
    assert _statuses(tmp_path) == ["interrupted"]
    resumed = rivet("run", "-c", str(config), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    ids = sorted(i for p in out.glob("t_*.parquet") for i in pq.read_table(p)["id"].to_pylist())
    assert ids == list(range(1, ROWS + 1))


def test_a_chunk_run_without_checkpoints_stopped_leaves_nothing(tmp_path: Path, table: str) -> None:
    config = _config(tmp_path, table, mode="chunked", chunk_column="id", chunk_size=10_000,
                     parallel=2)  # fmt: skip
    env = {"RIVET_TEST_SIGNAL_AT": "after_first_batch:SIGTERM"}
    result = rivet("run", "-c", str(config), env=env)
    assert result.returncode == 143, result.stderr
    assert "--resume" not in _error_line(result.stderr)
    assert _files(tmp_path / "out") == []


def test_sigterm_from_outside_while_a_part_is_being_written(tmp_path: Path, table: str) -> None:
    """As Kubernetes stops a pod: a SIGTERM from another process, sent once a part file is
    open in staging."""
    config = _config(tmp_path, table, tuning={"batch_size": 1000, "throttle_ms": 20})
    command = [sys.executable, "-m", "rivet", "run", "-c", str(config)]
    env = {"RIVET_TEST_SOURCE_URL": PG_URL, "PATH": "/usr/bin:/bin"}
    export = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    out = tmp_path / "out"
    deadline = time.monotonic() + 60
    while not list(out.rglob("part-*.tmp")):
        assert export.poll() is None, export.communicate()[1]
        assert time.monotonic() < deadline, "no part was ever opened"
        time.sleep(0.005)
    export.send_signal(signal.SIGTERM)
    _, stderr = export.communicate(timeout=60)
    assert export.returncode == 143, stderr
    assert "stopped by SIGTERM" in _error_line(stderr)
    assert _files(out) == []
    assert _statuses(tmp_path) == ["interrupted"]


def test_a_failed_checkpointed_chunk_run_names_resume(tmp_path: Path, pg: Pg, table: str) -> None:
    """Not only a stop: a chunk that fails for good says how to continue once it is fixed."""
    pg.execute(f"CREATE VIEW v AS SELECT id, 1 / (id - 30000) AS boom FROM {table}")
    config = _config(
        tmp_path, f"{pg.schema}.v", mode="chunked", chunk_column="id", chunk_size=10_000,
        chunk_checkpoint=True, parallel=1,
    )  # fmt: skip
    result = rivet("run", "-c", str(config))
    assert result.returncode == 1
    assert "division by zero" in result.stderr
    assert f"continue with `rivet run -c {config} -e t --resume`" in result.stderr, result.stderr
