"""Start a throwaway PostgreSQL, seed three tables, export them with `rivet run`, stop it."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
OUTPUT = Path.cwd() / "output"
SEED = """
CREATE TYPE status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, country char(2),
                        created_at timestamptz NOT NULL, profile jsonb);
INSERT INTO customers
SELECT g, 'user' || g || '@example.com', (ARRAY['DE','FR','US','JP'])[1 + g % 4],
       timestamptz '2025-01-01 00:00:00+00' + g * interval '37 minutes',
       jsonb_build_object('tier', g % 3, 'tags', jsonb_build_array('a', 'b'))
FROM generate_series(1, 20000) g;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount numeric(12,2),
                     status status, items int[], placed_at timestamp, note text);
INSERT INTO orders
SELECT g, 1 + g % 20000, round((random() * 500)::numeric, 2),
       (ARRAY['new','paid','shipped']::status[])[1 + g % 3], ARRAY[g % 7, g % 11],
       timestamp '2025-01-01' + g * interval '90 seconds',
       CASE WHEN g % 10 = 0 THEN NULL WHEN g % 10 = 1 THEN '' ELSE 'gift wrap ✓' END
FROM generate_series(1, 200000) g;
CREATE TABLE events AS
SELECT g AS seq, md5(g::text)::uuid AS event_id, interval '1 second' * g AS since_start
FROM generate_series(1, 5000) g;
ANALYZE;
"""
CONFIG = """\
# rivet demo: three exports from a throwaway PostgreSQL (see demo/demo.py)
source:
  type: postgres
  url_env: DATABASE_URL
  environment: local            # the `fast` tuning profile: no throttling on a laptop database
exports:
  - name: customers
    table: public.customers     # read in short keyset pages over the primary key
    format: parquet
    destination: {type: local, path: "OUTPUT/{export}"}
  - name: orders
    table: public.orders
    format: parquet
    compression: zstd
    max_file_size: 1MB          # rotates into orders_<ts>_part0.parquet, _part1, ...
    destination: {type: local, path: "OUTPUT/{export}"}
  - name: paid_orders_csv
    query: >-
      SELECT id, customer_id, amount, items, placed_at, note FROM orders WHERE status = 'paid'
    format: csv
    destination: {type: local, path: "OUTPUT/{export}"}
"""


def main() -> int:
    bindir = _postgres_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="rivet-demo-"))
    owner = _server_user()
    port = _free_port()
    try:
        _start(bindir, workdir, owner, port)
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SEED)
        config = workdir / "rivet.yaml"
        config.write_text(CONFIG.replace("OUTPUT", str(OUTPUT)))
        print(f"demo database on port {port}, config {config}\n", flush=True)
        env = {**os.environ, "DATABASE_URL": url}
        rivet = [sys.executable, "-m", "rivet", "run", "-c", str(config)]
        code = subprocess.call(rivet, env=env)
        print("\nfiles written:")
        for path in sorted(OUTPUT.rglob("*")):
            if path.is_file():
                print(f"  {path.relative_to(Path.cwd())}  ({path.stat().st_size:,} bytes)")
        print(
            '\nread one back with: .venv/bin/python -c "import pyarrow.parquet as pq; '
            f"print(pq.read_table('{next(OUTPUT.glob('customers/*.parquet'), '')}'))\""
        )
        return code
    finally:
        _stop(bindir, workdir, owner)
        shutil.rmtree(workdir, ignore_errors=True)


def _postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    sys.exit("the demo needs the PostgreSQL server binaries (apt-get install postgresql)")


def _server_user() -> str | None:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        sys.exit("running as root needs a 'postgres' system user for the demo server")
    return "postgres"


def _as(owner: str | None, *cmd: str) -> None:
    prefix = ["runuser", "-u", owner, "--"] if owner else []
    subprocess.run([*prefix, *cmd], check=True, stdout=subprocess.DEVNULL)


def _start(bindir: Path, workdir: Path, owner: str | None, port: int) -> None:
    workdir.chmod(0o755)
    if owner:
        shutil.chown(workdir, owner)
    data = workdir / "data"
    _as(
        owner,
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    )
    _as(
        owner,
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(workdir / "log"),
        "-w",
        "-o",
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={workdir} "
        "-c fsync=off",
        "start",
    )


def _stop(bindir: Path, workdir: Path, owner: str | None) -> None:
    if (workdir / "data" / "postmaster.pid").exists():
        _as(owner, str(bindir / "pg_ctl"), "-D", str(workdir / "data"), "-m", "fast", "-w", "stop")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"\ndemo finished in {time.perf_counter() - started:.1f}s, database stopped")
    sys.exit(code)
