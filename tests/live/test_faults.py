"""Source faults for real: connections cut again and again mid-export, backends terminated.
Each run either completes with exactly the source rows or fails with a classified error."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.live.conftest import PG_URL, My, Pg, rivet, write_config
from tests.live.faultproxy import FaultProxy

ROWS = 120_000


def _config(
    tmp_path: Path,
    engine: str,
    table: str,
    export: dict[str, Any] | None = None,
    **tuning: Any,
) -> Path:
    """One parquet export `f` of `table`: `export` adds export keys, `tuning` tuning keys."""
    return write_config(
        tmp_path,
        [
            {
                "name": "f",
                "table": table,
                "format": "parquet",
                **(export or {}),
                # small pages, so that each finishes between two cuts; quick retries
                "tuning": {"batch_size_memory_mb": 1, "retry_backoff_ms": 50, "max_retries": 20,
                           "throttle_ms": 0, **tuning},
                "destination": {"type": "local", "path": str(tmp_path / "out")},
            }
        ],
        source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip


def _ids(out: Path) -> list[int]:
    manifest = json.loads((out / "_manifest.json").read_text())
    names = {p["path"] for p in manifest["parts"]}
    assert names == {p.name for p in out.glob("*.parquet")}  # no part beside the manifest's
    ids: list[int] = []
    for name in names:
        ids += pq.read_table(out / name).column("id").to_pylist()
    return sorted(ids)


@pytest.fixture(params=["postgres", "mysql"])
def source(request: pytest.FixtureRequest) -> tuple[str, str, int, str]:
    """(engine, table, server port, url template with {port})."""
    if request.param == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        pg.execute("CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad "
                   f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
        pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
        pg.execute("ANALYZE t")
        return "postgres", f"{pg.schema}.t", 5432, PG_URL.replace("5432", "{port}")
    my: My = request.getfixturevalue("my")
    my.execute("CREATE TABLE t (id INT PRIMARY KEY, pad TEXT)")
    my.execute(f"INSERT INTO t SELECT seq, REPEAT('x', 200) FROM seq_1_to_{ROWS}")
    my.execute("ANALYZE TABLE t")
    # prefer_socket=false: the driver would otherwise switch to the unix socket on loopback
    url = my.url.replace("3306", "{port}") + "?prefer_socket=false"
    return "mysql", f"{my.database}.t", 3306, url


def test_connections_cut_every_half_second_still_export_every_row_once(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute("CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE t")
    config = _config(tmp_path, "postgres", f"{pg.schema}.t", throttle_ms=100)
    with FaultProxy(5432, cut_every_s=0.5) as proxy:
        result = rivet("run", "-c", str(config), url=PG_URL.replace("5432", str(proxy.port)))
    assert result.returncode == 0, result.stderr
    assert proxy.cuts >= 2  # the export really lived through cuts
    assert "retry 1 of 20" in result.stderr
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))


def test_statements_cut_mid_page_are_read_again_on_both_engines(
    tmp_path: Path, source: tuple[str, str, int, str]
) -> None:
    """The first connections through the proxy die after 1 MB (the catalog connection needs
    less); the pages they were reading are read again on new connections."""
    engine, table, port, url = source
    config = _config(tmp_path, engine, table, batch_size_memory_mb=4)
    with FaultProxy(port, cut_after_bytes=1_000_000, cut_connections=4) as proxy:
        result = rivet("run", "-c", str(config), url=url.format(port=proxy.port))
    assert result.returncode == 0, result.stderr
    assert "retry 1 of 20" in result.stderr, result.stderr
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))


def test_a_terminated_backend_is_reconnected_and_the_export_completes(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute(f"CREATE TABLE t AS SELECT g AS id FROM generate_series(1, {ROWS}) g")
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE t")
    config = _config(tmp_path, "postgres", f"{pg.schema}.t", throttle_ms=200)

    terminated: list[int] = []

    def terminate_reader() -> None:
        """Terminate the first backend seen reading the table (polled, not timed)."""
        deadline = time.monotonic() + 60
        while not terminated and time.monotonic() < deadline:
            rows = pg.conn.execute(  # the function in the target list: only matching rows
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = '' AND datname = current_database() "
                "AND pid <> pg_backend_pid() AND query LIKE '%FROM " + pg.schema + ".t%'"
            ).fetchall()
            terminated.extend(pid for pid, done in rows if done)
            time.sleep(0.002)  # polling interval

    killer = threading.Thread(target=terminate_reader)
    killer.start()
    result = rivet("run", "-c", str(config))
    killer.join()
    assert terminated, "no reading backend was seen to terminate"  # the fault happened
    assert result.returncode == 0, result.stderr
    assert "retry 1 of" in result.stderr
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))


def test_a_permanent_error_is_not_retried(tmp_path: Path, pg: Pg) -> None:
    """A statement timeout would only time out again: it fails at once, with a hint."""
    pg.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g")
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    pg.execute(
        "CREATE VIEW slow AS SELECT t.id FROM t, LATERAL (SELECT pg_sleep(0.3 + t.id * 0)) s"
    )
    config = write_config(
        tmp_path,
        [{"name": "s", "table": f"{pg.schema}.slow", "format": "csv",
          "tuning": {"statement_timeout_s": 1, "max_retries": 5, "retry_backoff_ms": 50},
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
    )  # fmt: skip
    started = time.monotonic()
    result = rivet("run", "-c", str(config))
    assert result.returncode == 1
    assert "57014" in result.stderr and "statement_timeout_s" in result.stderr
    assert "retry" not in result.stderr
    assert time.monotonic() - started < 20


def test_a_chunk_read_again_after_a_cut_counts_once_for_the_quality_gates(
    tmp_path: Path, pg: Pg
) -> None:
    """The first attempt of a chunk had written and observed ~2 MB of rows when its connection
    was cut; the chunk is read again whole. The uniqueness gate sees its rows once."""
    pg.execute("CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE t")
    config = _config(
        tmp_path,
        "postgres",
        f"{pg.schema}.t",
        export={
            "mode": "chunked",
            "chunk_size": 30_000,
            "chunk_max_attempts": 5,
            "quality": {"unique_columns": ["id"], "null_ratio_max": {"pad": 0.0}},
        },
    )
    with FaultProxy(5432, cut_after_bytes=2_500_000, cut_connections=8) as proxy:
        result = rivet("run", "-c", str(config), "--json",
                       url=PG_URL.replace("5432", str(proxy.port)))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "failed, retrying" in result.stderr, result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    assert summary["quality"] == "pass" and summary["rows"] == ROWS
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))
