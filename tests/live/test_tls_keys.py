"""`tls.accept_invalid_certs` and `tls.accept_invalid_hostnames` do what they say on both
engines (issue 18, item 4: they were parsed and silently ignored). PostgreSQL: a throwaway
server whose self-signed certificate names another host; MariaDB: one whose certificate this
client has no CA for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from demo.pgserver import ThrowawayPostgres

from tests.live.conftest import TlsServer, rivet, write_config


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(tls_name="db.other.example")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _run(tmp_path: Path, engine: str, url: str, table: str, tls: dict[str, Any]) -> Any:
    config = write_config(
        tmp_path,
        [{"name": "t", "table": table, "format": "csv",
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
        source={"type": engine, "url_env": "RIVET_TEST_SOURCE_URL", "tls": tls},
    )  # fmt: skip
    return rivet("run", "-c", str(config), url=url)


@pytest.mark.parametrize(
    "tls,ok",
    [
        ({"mode": "verify-full", "with_ca": True}, False),  # names another host
        ({"mode": "verify-full", "with_ca": True, "accept_invalid_hostnames": True}, True),
        ({"mode": "verify-full"}, False),  # no CA for it
        ({"mode": "verify-full", "accept_invalid_certs": True}, True),
        ({"mode": "verify-ca", "accept_invalid_certs": True}, True),
    ],
    ids=["hostname", "accept-hostname", "no-ca", "accept-certs", "verify-ca-accept-certs"],
)
def test_postgres_tls_keys(
    tmp_path: Path, tls_postgres: ThrowawayPostgres, tls: dict[str, Any], ok: bool
) -> None:
    import psycopg

    with psycopg.connect(tls_postgres.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1), (2) ON CONFLICT DO NOTHING")
    block = {k: v for k, v in tls.items() if k != "with_ca"}
    if tls.get("with_ca"):
        block["ca_file"] = str(tls_postgres.cert)
    result = _run(tmp_path, "postgres", tls_postgres.url, "public.t", block)
    assert (result.returncode == 0) is ok, result.stderr
    if ok:
        (part,) = (tmp_path / "out").glob("*.csv")
        assert part.read_text().splitlines() == ["id", "1", "2"]
    else:
        assert "retry" not in result.stderr  # a certificate does not get better on retry
        if "with_ca" not in tls:  # checked against the system's trusted roots, which lack it
            assert "certificate verify failed" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "tls,ok",
    [
        ({"mode": "verify-full"}, False),
        ({"mode": "verify-full", "accept_invalid_certs": True}, True),
    ],
    ids=["no-ca", "accept-certs"],
)
def test_mysql_tls_keys(
    tmp_path: Path, tls_mariadb: TlsServer, tls: dict[str, Any], ok: bool
) -> None:
    url = f"mysql://tls:pw@127.0.0.1:{tls_mariadb.port}/d"
    result = _run(tmp_path, "mysql", url, "d.t", tls)
    assert (result.returncode == 0) is ok, result.stderr
    if ok:
        (part,) = (tmp_path / "out").glob("*.csv")
        assert part.read_text().splitlines() == ["id", "1", "2", "3"]
    else:
        assert "certificate verify failed" in result.stderr
        assert "retry" not in result.stderr  # a certificate does not get better on retry
