"""The PostgreSQL state store failing under a run (issue 17, item 10): a state session that is
terminated is opened again; a state database that becomes unreachable fails the run with a
state error that says what is published and what is not committed, never an internal error."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.live.conftest import PG_URL, Pg, write_config
from tests.live.faultproxy import FaultProxy

ROWS = 60_000


def _setup(tmp_path: Path, pg: Pg) -> Path:
    pg.execute(
        f"CREATE TABLE t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, {ROWS}) g"
    )
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    return write_config(
        tmp_path,
        [{"name": "t", "table": f"{pg.schema}.t", "mode": "incremental", "cursor_column": "id",
          "format": "parquet", "tuning": {"batch_size": 2000, "throttle_ms": 30},
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
    )  # fmt: skip


def _state_url(pg: Pg, port: int = 5432) -> str:
    return PG_URL.replace("5432", str(port)) + f"?options=-csearch_path%3D{pg.schema}"


def _start(
    config: Path, state_url: str, extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    env = {"RIVET_TEST_SOURCE_URL": PG_URL, "RIVET_STATE_URL": state_url, "PATH": "/usr/bin:/bin",
           **(extra or {})}  # fmt: skip
    command = [sys.executable, "-m", "rivet", "run", "-c", str(config), "--json"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=config.parent)  # fmt: skip


def _wait_reading(out: Path, export: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not list(out.rglob("part-*.tmp")):
        assert export.poll() is None, export.communicate()
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.005)


def test_a_terminated_state_session_is_opened_again(tmp_path: Path, pg: Pg) -> None:
    config = _setup(tmp_path, pg)
    export = _start(config, _state_url(pg))
    _wait_reading(tmp_path / "out", export)
    row = pg.conn.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = 'rivet-state' AND datname = current_database()"
    ).fetchone()
    assert row is not None and row[0] >= 1  # the state session really was terminated
    stdout, stderr = export.communicate(timeout=120)
    assert export.returncode == 0, stderr
    assert json.loads(stdout)["exports"][0]["rows"] == ROWS
    stored = pg.scalar("SELECT last_cursor_value FROM export_state")
    assert stored == str(ROWS)


def test_a_state_store_lost_before_publishing_fails_the_run_with_nothing_published(
    tmp_path: Path, pg: Pg
) -> None:
    config = _setup(tmp_path, pg)
    with FaultProxy(5432) as proxy:
        export = _start(config, _state_url(pg, proxy.port))
        _wait_reading(tmp_path / "out", export)
    # the proxy is gone: the state session is cut and no new one can be opened
    stdout, stderr = export.communicate(timeout=120)
    assert export.returncode == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    (summary,) = json.loads(stdout)["exports"]
    assert summary["status"] == "failed"
    assert "the state store failed before anything was published" in summary["error"]
    assert "Connection refused" in summary["error"]
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    assert not list((tmp_path / "out").glob("*.parquet"))


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("T")


def test_a_state_store_lost_after_publishing_says_the_rows_come_again(
    tmp_path: Path, pg: Pg
) -> None:
    """The run stops itself (SIGSTOP) just before storing the cursor; the state database goes
    away; the run continues and must say what is published and what is not committed."""
    config = _setup(tmp_path, pg)
    with FaultProxy(5432) as proxy:
        env = {"RIVET_TEST_SIGNAL_AT": "before_cursor_commit:SIGSTOP"}
        export = _start(config, _state_url(pg, proxy.port), env)
        deadline = time.monotonic() + 60
        while not _stopped(export.pid):
            assert export.poll() is None, export.communicate()
            assert time.monotonic() < deadline, "the run never reached the cursor commit"
            time.sleep(0.005)
    export.send_signal(signal.SIGCONT)
    stdout, stderr = export.communicate(timeout=120)
    assert export.returncode == 1, stderr
    (summary,) = json.loads(stdout)["exports"]
    error = summary["error"]
    assert f"its {ROWS:,} rows are published" in error, error
    assert "the cursor could not be stored, so the next run exports them again" in error
    assert (tmp_path / "out" / "_SUCCESS").exists()
    with psycopg.connect(_state_url(pg)) as conn:  # the cursor did not move
        assert conn.execute("SELECT count(*) FROM export_state").fetchone() == (0,)
