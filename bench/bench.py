"""Benchmark: rivet vs the physical limit (psql binary COPY) vs DuckDB's postgres extension.

Creates `rivet_bench.narrow` (5M rows) and `rivet_bench.wide` (1M rows x 20 columns) once, then
runs each tool on each table, interleaved, `--runs` times, and reports medians of wall time,
rows/s, peak RSS (GNU time), output bytes and the longest single statement the server saw
(pg_stat_activity sampled every 50 ms). Not a test: run it by hand, paste the table into
bench/README.md.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/bench.py --runs 3
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SCHEMA = "rivet_bench"
ROWS = {"narrow": 5_000_000, "wide": 1_000_000}
CREATE = {
    "narrow": f"""
        CREATE TABLE {SCHEMA}.narrow AS
        SELECT g::int8 AS id, (g % 100000)::int4 AS i, (g * 7)::int8 AS b, g * 0.5::float8 AS f,
               timestamp '2020-01-01' + g * interval '1 second' AS ts
        FROM generate_series(1, {ROWS["narrow"]}) g;
        ALTER TABLE {SCHEMA}.narrow ADD PRIMARY KEY (id);""",
    "wide": f"""
        CREATE TABLE {SCHEMA}.wide AS
        SELECT g::int8 AS id,
               md5(g::text)::uuid AS u,
               CASE WHEN g % 10 = 0 THEN NULL ELSE 'name-' || md5(g::text) END::varchar(64) AS vc,
               repeat(md5(g::text), 16 + g % 16) AS body,
               CASE WHEN g % 10 = 1 THEN NULL ELSE jsonb_build_object('k', g, 'tags',
                    jsonb_build_array('a', md5(g::text)), 'nested', jsonb_build_object('x', g % 7))
               END AS doc,
               (g * 1.2345)::numeric(18,4) AS n1,
               CASE WHEN g % 10 = 2 THEN NULL ELSE (g * 12345.6789012345)::numeric(38,10) END AS n2,
               g % 2 = 0 AS flag,
               date '2000-01-01' + (g % 9000) AS d,
               timestamp '2020-01-01' + g * interval '1 second' AS ts,
               CASE WHEN g % 10 = 3 THEN NULL ELSE timestamptz '2020-01-01 00:00:00+00'
                    + g * interval '1 minute' END AS tstz,
               ARRAY[g % 10, g % 100, g % 1000]::int4[] AS arr,
               decode(md5(g::text), 'hex') AS bin,
               (g % 1000)::int4 AS i4,
               (g * 31)::int8 AS i8,
               g / 3.0::float8 AS f8,
               (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + g % 4] AS status,
               CASE WHEN g % 10 = 4 THEN NULL ELSE 'C' || (g % 99999)::text
                    END::varchar(16) AS code,
               (g % 30000)::int2 AS small,
               CASE WHEN g % 10 = 5 THEN NULL ELSE 'note ' || g END AS note
        FROM generate_series(1, {ROWS["wide"]}) g;
        ALTER TABLE {SCHEMA}.wide ADD PRIMARY KEY (id);""",
}
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cell:
    tool: str
    table: str
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    out_mb: list[float] = field(default_factory=list)
    longest: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tables", default="narrow,wide")
    parser.add_argument("--tools", default="copy,rivet,duckdb")
    parser.add_argument("--profile", default="fast", help="rivet tuning profile")
    args = parser.parse_args()
    tables, tools = args.tables.split(","), args.tools.split(",")
    prepare(args.url, tables)
    work = Path(tempfile.mkdtemp(prefix="rivet-bench-"))
    cells = {(tool, t): Cell(tool, t) for t in tables for tool in tools}
    try:
        for run in range(args.runs):
            for table in tables:
                for tool in tools:
                    measure(cells[(tool, table)], args.url, work, args.profile)
                    c = cells[(tool, table)]
                    print(
                        f"run {run + 1} {tool:7} {table:7} wall {c.wall[-1]:6.2f}s "
                        f"rss {c.rss_mb[-1]:6.0f} MB longest {c.longest[-1]:5.2f}s",
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(report(cells, tables, tools, args.runs))


def prepare(url: str, tables: list[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        for table in tables:
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{table}",)
            ).fetchone()
            if exists and exists[0]:
                count = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}").fetchone()
                if count and count[0] == ROWS[table]:
                    continue
            print(f"creating {SCHEMA}.{table} ({ROWS[table]:,} rows)...", flush=True)
            conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
            conn.execute(CREATE[table])
            conn.execute(f"VACUUM ANALYZE {SCHEMA}.{table}")


def measure(cell: Cell, url: str, work: Path, profile: str) -> None:
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = COMMANDS[cell.tool](url, cell.table, out, work, profile)
    sampler = LongestStatement(url)
    sampler.start()
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True)
    wall = time.perf_counter() - started
    longest = sampler.stop()
    if proc.returncode != 0:
        cell.failures.append(proc.stderr.strip().splitlines()[-2:][0] if proc.stderr else "?")
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    cell.wall.append(wall)
    cell.rss_mb.append(rss_kb / 1024)
    cell.out_mb.append(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20)
    cell.longest.append(longest)


def _copy(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    sql = f"COPY (SELECT * FROM {SCHEMA}.{table}) TO STDOUT (FORMAT binary)"
    return ["sh", "-c", f"psql '{url}' -c \"{sql}\" > /dev/null"]


def _rivet(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    config = work / f"rivet_{table}.yaml"
    config.write_text(
        f"source: {{type: postgres, url: '{url}', tuning: {{profile: {profile}}}}}\n"
        f"exports:\n  - name: {table}\n    table: {SCHEMA}.{table}\n    format: parquet\n"
        f"    compression: zstd\n    destination: {{type: local, path: '{out}'}}\n"
    )
    return [str(ROOT / ".venv" / "bin" / "rivet"), "run", "-c", str(config)]


def _duckdb(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    import duckdb_extension_postgres

    source = glob.glob(
        os.path.dirname(duckdb_extension_postgres.__file__)
        + "/extensions/*/postgres.duckdb_extension"
    )[0]
    extension = work / "postgres_scanner.duckdb_extension"  # the file name must match the entry
    shutil.copy(source, extension)
    script = (
        "import duckdb; c = duckdb.connect(); "
        f"c.execute(\"LOAD '{extension}'\"); "
        f"c.execute(\"ATTACH '{url}' AS pg (TYPE postgres, READ_ONLY)\"); "
        f"c.execute(\"COPY (SELECT * FROM pg.{SCHEMA}.{table}) TO '{out}/{table}.parquet' "
        '(FORMAT parquet, COMPRESSION zstd)")'
    )
    return [sys.executable, "-c", script]


COMMANDS = {"copy": _copy, "rivet": _rivet, "duckdb": _duckdb}


class LongestStatement:
    """Longest time any other client statement stayed active, sampled every 50 ms."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        self._stop = threading.Event()
        self._longest = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._conn.close()
        return self._longest

    def _sample(self) -> None:
        sql = (
            "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)), 0) "
            "FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        while not self._stop.wait(0.05):
            row = self._conn.execute(sql).fetchone()
            self._longest = max(self._longest, float(row[0]) if row else 0.0)


def report(
    cells: dict[tuple[str, str], Cell], tables: list[str], tools: list[str], runs: int
) -> str:
    lines = [
        f"Medians of {runs} interleaved runs; x limit = wall / psql binary COPY wall.",
        "",
        "| table | tool | wall s | x limit | rows/s | peak RSS MB | output MB "
        "| longest statement s | failures |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for table in tables:
        limit = statistics.median(cells[("copy", table)].wall) if "copy" in tools else None
        for tool in tools:
            c = cells[(tool, table)]
            wall = statistics.median(c.wall)
            ratio = f"{wall / limit:.2f}" if limit else "-"
            lines.append(
                f"| {table} | {tool} | {wall:.2f} | {ratio} | {ROWS[table] / wall:,.0f} | "
                f"{max(c.rss_mb):.0f} | {statistics.median(c.out_mb):.0f} | "
                f"{max(c.longest):.2f} | {'; '.join(c.failures) or '-'} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
