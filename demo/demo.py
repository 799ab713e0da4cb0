"""Start a throwaway PostgreSQL, seed three tables, export them with `rivet run`, stop it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from pgserver import ThrowawayPostgres  # demo/ is on sys.path: python runs demo/demo.py

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
    server = ThrowawayPostgres()
    try:
        server.start()
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(SEED)
        config = server.workdir / "rivet.yaml"
        config.write_text(CONFIG.replace("OUTPUT", str(OUTPUT)))
        print(f"demo database on port {server.port}, config {config}\n", flush=True)
        env = {**os.environ, "DATABASE_URL": server.url}
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
        server.stop()


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"\ndemo finished in {time.perf_counter() - started:.1f}s, database stopped")
    sys.exit(code)
