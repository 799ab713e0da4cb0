"""Bad input gets one clear line naming the export and what to do, exit 1, and nothing written."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.live.conftest import PG_URL, Pg, rivet, write_config


def _run(tmp_path: Path, export: dict[str, object], url: str = PG_URL) -> tuple[str, Path]:
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "orders",
                "format": "parquet",
                "destination": {"type": "local", "path": str(out)},
                **export,
            }
        ],
    )
    result = rivet("run", "-c", str(config), url=url)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or list(out.iterdir()) == []
    return result.stderr, out


def test_unknown_table(tmp_path: Path, pg: Pg) -> None:
    stderr, _ = _run(tmp_path, {"table": f"{pg.schema}.nope"})
    assert "export 'orders'" in stderr and 'relation "' in stderr and "does not exist" in stderr
    assert "Hint: check the table name" in stderr


def test_unknown_column(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE t (id int)")
    stderr, _ = _run(tmp_path, {"query": f"SELECT id, missing FROM {pg.schema}.t"})
    assert "export 'orders'" in stderr and 'column "missing" does not exist' in stderr


def test_syntax_error(tmp_path: Path, pg: Pg) -> None:
    stderr, _ = _run(tmp_path, {"query": "SELEC 1"})
    assert "export 'orders'" in stderr and "syntax error" in stderr and "42601" in stderr


def test_permission_denied(tmp_path: Path, pg: Pg) -> None:
    role = f"rivet_noperm_{uuid.uuid4().hex[:8]}"
    pg.execute(f"CREATE ROLE {role} LOGIN")
    pg.execute("CREATE TABLE secret (id int)")
    try:
        url = PG_URL.replace("postgres@", f"{role}@", 1)
        stderr, _ = _run(tmp_path, {"table": f"{pg.schema}.secret"}, url=url)
        assert "permission denied" in stderr and "GRANT" in stderr
    finally:
        pg.execute(f"DROP OWNED BY {role}")
        pg.execute(f"DROP ROLE {role}")


def test_bad_credentials_never_echo_the_password(tmp_path: Path, pg: Pg) -> None:
    url = PG_URL.replace("postgres@", "no_such_role:s3cr3t-pw@", 1)
    stderr, _ = _run(tmp_path, {"table": f"{pg.schema}.t"}, url=url)
    assert "export 'orders': cannot connect to the PostgreSQL source" in stderr
    assert 'role "no_such_role" does not exist' in stderr
    assert "s3cr3t-pw" not in stderr


def test_unreachable_host(tmp_path: Path, pg: Pg) -> None:
    """A refused connection may be a server restarting: retried, then a clear failure."""
    export = {"table": "public.t", "tuning": {"max_retries": 1, "retry_backoff_ms": 10}}
    stderr, _ = _run(tmp_path, export, url="postgresql://u:hunter2@127.0.0.1:1/db")
    assert "cannot connect" in stderr and "Connection refused" in stderr
    assert "retry 1 of 1" in stderr
    assert "hunter2" not in stderr


@pytest.mark.parametrize("url_env_value", [None, ""])
def test_unset_url_env_names_the_variable(tmp_path: Path, url_env_value: str | None) -> None:
    config = write_config(
        tmp_path,
        [
            {
                "name": "x",
                "table": "public.t",
                "format": "csv",
                "destination": {"type": "local", "path": "out"},
            }
        ],
        source={"type": "postgres", "url_env": "RIVET_NOT_SET_FOR_TEST"},
    )
    env = {} if url_env_value is None else {"RIVET_NOT_SET_FOR_TEST": url_env_value}
    result = rivet("run", "-c", str(config), env=env)
    assert result.returncode == 1
    assert (
        "source.url_env: environment variable 'RIVET_NOT_SET_FOR_TEST' is not set" in result.stderr
    )


def test_lost_connection_mid_read_fails_cleanly(tmp_path: Path, pg: Pg) -> None:
    from tests.live.faultproxy import FaultProxy

    pg.execute("CREATE TABLE big AS SELECT g AS id, repeat('x', 500) AS pad "
               "FROM generate_series(1, 20000) g")  # fmt: skip
    pg.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
    with FaultProxy(5432, cut_after_bytes=2_000_000) as proxy:
        url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        stderr, _ = _run(
            tmp_path,
            {"table": f"{pg.schema}.big", "tuning": {"retry_backoff_ms": 10}},
            url=url,
        )
    assert "export 'orders'" in stderr and "PostgreSQL" in stderr
