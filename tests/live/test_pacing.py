"""tuning.adaptive against real pressure: checkpoints requested while the export reads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from rivet.sources.mysql import MySQLSource
from tests.live.conftest import PG_URL, My, Pg, rivet
from tests.live.test_faults import ROWS, _config, _ids


def test_checkpoint_pressure_slows_the_export_down(tmp_path: Path, pg: Pg) -> None:
    pg.execute(f"CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    config = _config(tmp_path, "postgres", f"{pg.schema}.t", throttle_ms=100, adaptive=True)
    stop = threading.Event()

    def checkpoints() -> None:  # for 3 s: then the pause halves back as the pressure goes
        end = time.monotonic() + 3
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            while not stop.wait(0.3) and time.monotonic() < end:
                conn.execute("CHECKPOINT")

    pressure = threading.Thread(target=checkpoints)
    pressure.start()
    try:
        result = rivet("run", "-c", str(config))
    finally:
        stop.set()
        pressure.join()
    assert result.returncode == 0, result.stderr
    assert "adaptive pacing slowed the reads for" in result.stderr
    assert "checkpoints_req +" in result.stderr
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))


def test_the_mysql_signals_are_read(my: My) -> None:
    sampler = MySQLSource(my.url).load_sampler("x")
    try:
        signals = sampler.sample()
    finally:
        sampler.close()
    assert set(signals) == {"innodb_log_waits", "replication_lag_s"}
    assert signals["innodb_log_waits"] >= 0 and signals["replication_lag_s"] == 0
