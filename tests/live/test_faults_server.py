"""Faults from the server side: an operator's cancel or kill, and a restart of the server
mid-export. Each run completes with exactly the source rows or fails with a classified error,
and a failed run publishes nothing."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
from demo.pgserver import ThrowawayPostgres

from tests.live.conftest import PG_URL, My, Pg, rivet
from tests.live.test_faults import ROWS, _config, _ids


def _while_running(action: Callable[[], bool], deadline_s: float = 30) -> threading.Thread:
    """Call `action` every few ms until it says it acted (or the deadline passes)."""

    def loop() -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and not action():
            time.sleep(0.001)

    thread = threading.Thread(target=loop)
    thread.start()
    return thread


def _pg_table(pg: Pg) -> str:
    pg.execute(f"CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    return f"{pg.schema}.t"


def test_an_operator_cancel_fails_the_export_with_its_cause(tmp_path: Path, pg: Pg) -> None:
    """pg_cancel_backend raises the same SQLSTATE as a statement timeout (57014): reading the
    statement again would defy the operator, so the export fails, saying why."""
    _pg_table(pg)
    # A view whose statements each sleep 0.3 s once (an InitPlan), so the canceller sees one
    # running however fast the machine reads; it has no key, so it is read through a cursor.
    pg.execute("CREATE VIEW slow AS SELECT id, pad FROM t WHERE (SELECT pg_sleep(0.3)) IS NOT NULL")
    config = _config(tmp_path, "postgres", f"{pg.schema}.slow", throttle_ms=20)
    watcher = psycopg.connect(PG_URL, autocommit=True)

    def cancel() -> bool:
        row = watcher.execute(
            "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE 'FETCH % FROM _rivet_cur' AND pid <> pg_backend_pid()"
        ).fetchone()
        return bool(row and row[0])

    canceller = _while_running(cancel)
    result = rivet("run", "-c", str(config))
    canceller.join()
    watcher.close()
    assert result.returncode == 1
    assert "57014" in result.stderr and "statement_timeout" in result.stderr
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    assert not list((tmp_path / "out").glob("*.parquet"))


@pytest.fixture
def my_table(my: My) -> tuple[My, str]:
    my.execute("CREATE TABLE t (id INT PRIMARY KEY, pad TEXT)")
    my.execute(f"INSERT INTO t SELECT seq, REPEAT('x', 200) FROM seq_1_to_{ROWS}")
    my.execute("ANALYZE TABLE t")  # row width from the catalog sizes the pages
    return my, f"{my.database}.t"


def _my_killer(my: My, statement: str, matching: str = "%AS _rivet%") -> Callable[[], bool]:
    watcher = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)

    def kill() -> bool:
        with watcher.cursor() as cur:
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE command <> 'Sleep' "
                f"AND db = '{my.database}' AND info LIKE %s AND id <> CONNECTION_ID()",
                (matching,),
            )
            ids = [row[0] for row in cur.fetchall()]
            for thread in ids:
                with contextlib.suppress(pymysql.err.OperationalError):  # it finished already
                    cur.execute(f"{statement} {int(thread)}")
        return bool(ids)

    return kill


def test_a_killed_mysql_connection_is_read_again(tmp_path: Path, my_table: tuple[My, str]) -> None:
    my, table = my_table
    # A view whose statements each sleep 0.3 s once (a derived table), so the killer sees a page
    # running however fast the machine reads; chunked by id, each chunk is read as key sub-ranges.
    my.execute(f"CREATE VIEW slow AS SELECT id, pad FROM {table} JOIN (SELECT SLEEP(0.3) AS s) z")
    export = {"mode": "chunked", "chunk_column": "id", "chunk_size": ROWS // 3,
              "chunk_snapshot": "per_chunk"}  # fmt: skip
    config = _config(tmp_path, "mysql", f"{my.database}.slow", export, batch_size_memory_mb=8)
    # only a page (a key sub-range), not the span query that plans the chunks
    killer = _while_running(_my_killer(my, "KILL CONNECTION", matching="%_rivet.%>=%"))
    result = rivet("run", "-c", str(config), url=my.url + "?prefer_socket=false")
    killer.join()
    assert result.returncode == 0, result.stderr
    assert "retry 1 of 20" in result.stderr
    assert "streamed statement" not in result.stderr  # a chunked read is not one statement
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))


def test_kill_query_fails_the_export_with_its_cause(
    tmp_path: Path, my_table: tuple[My, str]
) -> None:
    my, table = my_table
    # A view that sleeps 0.3 s once per statement (a derived table), so the killer sees the
    # statement running however fast the machine reads; it has no key: one streamed statement.
    my.execute(f"CREATE VIEW slow AS SELECT id, pad FROM {table} JOIN (SELECT SLEEP(0.3) AS s) z")
    config = _config(tmp_path, "mysql", f"{my.database}.slow", throttle_ms=20)
    killer = _while_running(_my_killer(my, "KILL QUERY"))
    result = rivet("run", "-c", str(config), url=my.url + "?prefer_socket=false")
    killer.join()
    assert result.returncode == 1
    assert "1317" in result.stderr or "interrupted" in result.stderr.lower()
    assert not list((tmp_path / "out").glob("*.parquet"))


@pytest.fixture
def throwaway() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_server_restart_mid_export_is_survived(
    tmp_path: Path, throwaway: ThrowawayPostgres
) -> None:
    with psycopg.connect(throwaway.url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE t AS SELECT g AS id, repeat('x', 200) AS pad "
                     f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
        conn.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    config = _config(tmp_path, "postgres", "public.t", throttle_ms=50, retry_backoff_ms=300)
    command = [sys.executable, "-m", "rivet", "run", "-c", str(config)]
    env = {"RIVET_TEST_SOURCE_URL": throwaway.url, "PATH": "/usr/bin:/bin"}
    export = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    with psycopg.connect(throwaway.url, autocommit=True) as watcher:
        deadline = time.monotonic() + 30
        while not watcher.execute(  # restart once the export is reading its pages
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%FROM public.t AS%' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the export never started reading"
            time.sleep(0.01)
    throwaway.restart()
    _, stderr = export.communicate(timeout=120)
    assert export.returncode == 0, stderr
    assert "retry" in stderr  # it did lose its connection
    assert _ids(tmp_path / "out") == list(range(1, ROWS + 1))
