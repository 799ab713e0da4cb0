"""Errors are classified by SQLSTATE / MySQL error number: what no retry can fix fails at once,
what a retry can fix is retried (issue 17, item 9: an unknown database or role was retried three
times, and any error without a code was classed transient).

The transient side also has tests of its own elsewhere: connections cut by a proxy
(test_faults.py), a terminated backend, a KILL and a server restart (test_faults_server.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from demo.pgserver import ThrowawayPostgres

from tests.live.conftest import PG_URL, My, Pg, rivet, write_config

# A long backoff: a retry that should not happen would show in stderr ("retry 1 of 3").
TUNING = {"max_retries": 3, "retry_backoff_ms": 2000}


def _config(tmp_path: Path, engine: str, export: dict[str, Any]) -> Path:
    return write_config(
        tmp_path,
        [{"name": "e", "format": "csv", "tuning": TUNING,
          "destination": {"type": "local", "path": str(tmp_path / "out")}, **export}],
        source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip


def _fails_at_once(config: Path, url: str, *expected: str) -> str:
    result = rivet("run", "-c", str(config), url=url)
    assert result.returncode == 1, result.stderr
    assert "retry" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def scram_server() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(password="right-pw")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_postgres_unknown_database_fails_at_once(tmp_path: Path) -> None:
    config = _config(tmp_path, "postgres", {"table": "public.t"})
    url = PG_URL.rsplit("/", 1)[0] + f"/no_such_db_{uuid.uuid4().hex[:6]}"
    _fails_at_once(config, url, "does not exist", "check the database name")


def test_postgres_unknown_role_fails_at_once(tmp_path: Path) -> None:
    config = _config(tmp_path, "postgres", {"table": "public.t"})
    _fails_at_once(config, PG_URL.replace("postgres@", "no_such_role@"), 'role "no_such_role"')


def test_postgres_bad_password_fails_at_once(
    tmp_path: Path, scram_server: ThrowawayPostgres
) -> None:
    config = _config(tmp_path, "postgres", {"table": "public.t"})
    url = scram_server.url.replace("right-pw", "wrong-pw")
    stderr = _fails_at_once(config, url, "password authentication failed")
    assert "wrong-pw" not in stderr


@pytest.mark.parametrize(
    "export,expected",
    [
        ({"query": "SELEC 1"}, "42601"),
        ({"table": "public.no_such_table"}, "does not exist"),
    ],
    ids=["syntax", "missing-table"],
)
def test_postgres_statement_errors_fail_at_once(
    tmp_path: Path, pg: Pg, export: dict[str, Any], expected: str
) -> None:
    _fails_at_once(_config(tmp_path, "postgres", export), PG_URL, expected)


def test_postgres_serialization_failure_is_retried(tmp_path: Path, pg: Pg) -> None:
    """A view that raises SQLSTATE 40001 while this test holds an advisory lock: the export
    fails its first statement, the test sees the retry and lets go, the retry succeeds."""
    key = int(uuid.uuid4().int % 2**31)
    pg.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g")
    pg.execute(
        f"CREATE FUNCTION gate() RETURNS bool LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NOT pg_try_advisory_xact_lock_shared({key}) THEN "
        "RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END IF; "
        "RETURN true; END $$"
    )
    pg.execute("CREATE VIEW v AS SELECT id FROM t WHERE (SELECT gate())")
    holder = psycopg.connect(PG_URL, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (key,))
    config = _config(tmp_path, "postgres", {"table": f"{pg.schema}.v"})
    command = [sys.executable, "-m", "rivet", "run", "-c", str(config)]
    env = {"RIVET_TEST_SOURCE_URL": PG_URL, "PATH": "/usr/bin:/bin"}
    export = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert export.stderr is not None
    seen = []
    for line in export.stderr:  # wait for the retry to be announced, then let the view pass
        seen.append(line)
        if "retry 1 of 3" in line:
            break
    holder.execute("SELECT pg_advisory_unlock(%s)", (key,))
    holder.close()
    rest = export.stderr.read()
    assert export.wait(timeout=60) == 0, "".join(seen) + rest
    assert any("40001" in line for line in seen), seen
    rows = (tmp_path / "out").glob("e_*.csv")
    assert sum(len(p.read_text().splitlines()) - 1 for p in rows) == 100


def _my_config(tmp_path: Path, export: dict[str, Any]) -> Path:
    return _config(tmp_path, "mysql", export)


def test_mysql_unknown_database_fails_at_once(tmp_path: Path, my: My) -> None:
    url = my.url.rsplit("/", 1)[0] + f"/no_such_db_{uuid.uuid4().hex[:6]}"
    _fails_at_once(_my_config(tmp_path, {"table": "t"}), url, "1049")


def test_mysql_bad_password_fails_at_once(tmp_path: Path, my: My) -> None:
    user = f"rivet_pw_{uuid.uuid4().hex[:6]}"
    my.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw'")
    my.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-pw'")
    try:
        url = my.url.replace("root:@", f"{user}:wrong-pw@")
        stderr = _fails_at_once(_my_config(tmp_path, {"table": "t"}), url, "1045")
        assert "wrong-pw" not in stderr
    finally:
        my.execute(f"DROP USER '{user}'@'%'")
        my.execute(f"DROP USER '{user}'@'localhost'")


@pytest.mark.parametrize(
    "export,expected",
    [({"query": "SELEC 1"}, "1064"), ({"table": "no_such_table"}, "1146")],
    ids=["syntax", "missing-table"],
)
def test_mysql_statement_errors_fail_at_once(
    tmp_path: Path, my: My, export: dict[str, Any], expected: str
) -> None:
    if "table" in export:
        export = {"table": f"{my.database}.{export['table']}"}
    _fails_at_once(_my_config(tmp_path, export), my.url, expected)
