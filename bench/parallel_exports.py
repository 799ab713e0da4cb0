"""Benchmark: 14 tables run sequentially and with --parallel-exports, on one engine, with the
peak number of server connections seen while each run lasts (the budget must hold).

    .venv/bin/python bench/parallel_exports.py --engine postgres --runs 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engines

TABLES, ROWS = 14, 300_000
SCHEMA = "rivet_bench_multi"


def prepare(engine: str, url: str) -> None:
    if engine == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone():
                return
            conn.execute(f"CREATE SCHEMA {SCHEMA}")
            for i in range(TABLES):
                conn.execute(f"CREATE TABLE {SCHEMA}.t{i} AS SELECT g AS id, g * 2 AS v, "
                             f"md5(g::text) AS s FROM generate_series(1, {ROWS}) g")  # fmt: skip
                conn.execute(f"ALTER TABLE {SCHEMA}.t{i} ADD PRIMARY KEY (id)")
                conn.execute(f"ANALYZE {SCHEMA}.t{i}")
        return
    conn = engines._mysql(url, database=False)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
        cur.execute(f"USE {SCHEMA}")
        cur.execute(f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                    f"'{SCHEMA}'")  # fmt: skip
        if cur.fetchone()[0] == TABLES:
            return
        for i in range(TABLES):
            cur.execute(f"CREATE TABLE {SCHEMA}.t{i} (id INT PRIMARY KEY, v BIGINT, s CHAR(32))")
            cur.execute(f"INSERT INTO {SCHEMA}.t{i} SELECT seq, seq * 2, MD5(seq) "
                        f"FROM seq_1_to_{ROWS}")  # fmt: skip
    conn.commit()


def connections(engine: str, url: str) -> tuple[int, int]:
    """(connections now, max_connections)."""
    if engine == "postgres":
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*), current_setting('max_connections')::int FROM pg_stat_activity "
                "WHERE backend_type = 'client backend'"
            ).fetchone()
            assert row is not None
            return int(row[0]) - 1, int(row[1])
    conn = engines._mysql(url, database=False)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*), @@max_connections FROM information_schema.PROCESSLIST")
        count, most = cur.fetchone()
    conn.close()
    return int(count) - 1, int(most)


def run(engine: str, url: str, work: Path, parallel: bool) -> tuple[float, int]:
    exports = "".join(
        f"  - {{name: t{i}, table: {SCHEMA}.t{i}, format: parquet, "
        f"destination: {{type: local, path: '{work}/out/t{i}'}}}}\n"
        for i in range(TABLES)
    )
    config = work / "rivet.yaml"
    config.write_text(f"source: {{type: {engine}, url: '{url}'}}\nexports:\n{exports}")
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], connections(engine, url)[0])

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    command = [str(engines.ROOT / ".venv/bin/rivet"), "run", "-c", str(config)]
    proc = subprocess.run(command + (["--parallel-exports"] if parallel else []),
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return wall, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["postgres", "mysql"], default="postgres")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    url = engines.ENGINES[args.engine].url
    prepare(args.engine, url)
    baseline, most = connections(args.engine, url)
    print(f"{TABLES} tables x {ROWS:,} rows; max_connections {most}, {baseline} in use before")
    work = Path(tempfile.mkdtemp(prefix="rivet-multi-"))
    for _ in range(args.runs):
        for parallel in (False, True):
            wall, peak = run(args.engine, url, work, parallel)
            label = "parallel  " if parallel else "sequential"
            print(f"{label} wall {wall:6.2f}s  peak connections {peak}", flush=True)


if __name__ == "__main__":
    main()
