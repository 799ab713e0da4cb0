"""Benchmark: rivet against the physical limit and its peers, side by side in one run.

PostgreSQL (`--engine postgres`): psql binary COPY (the limit), rivet, DuckDB's postgres extension;
`chunked1` / `chunked4` (rivet in chunked mode, 1 or 4 workers, one snapshot), `perchunk4` (4
workers, a transaction per chunk); `s3` (rivet to moto's S3 server, started on loopback when the
tool is selected); `hive` (partition_by: 1,000 folders on wide, 58 days on narrow); `iceberg`
(each run committed to an Iceberg table).
MariaDB (`--engine mysql`): `mariadb --quick --batch` (a C-client drain, an upper bound for the
limit), rivet, ConnectorX (one `read_sql` to Arrow, written to Parquet), DuckDB's mysql extension.

Creates `rivet_bench.narrow` (5M rows) and `rivet_bench.wide` (1M rows x 20 columns) once (and the
shapes of bench/shapes.py named in `--tables`: numeric, text_wide, json_heavy, decimals, sparse,
long_rows), then
runs each tool on each table, interleaved, `--runs` times, and reports medians of wall time,
rows/s, peak RSS (GNU time), output bytes, the longest single statement and the oldest
transaction (snapshot) the server saw (sampled every 50 ms), and the cores the whole machine
kept busy (client and server CPU seconds over the wall time: 2.00 is all of this machine).
Not a test: run it by hand, paste the table into bench/README.md.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/bench.py --runs 3
    .venv/bin/python bench/bench.py --engine mysql --runs 3
"""

from __future__ import annotations

import argparse
import compileall
import importlib.metadata
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engines
import shapes  # noqa: F401  (registers the table shapes of bench/shapes.py)

ROWS = engines.ROWS


@dataclass
class Cell:
    tool: str
    table: str
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    out_mb: list[float] = field(default_factory=list)
    longest: list[float] = field(default_factory=list)
    transaction: list[float | None] = field(default_factory=list)
    cores: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=sorted(engines.ENGINES), default="postgres")
    parser.add_argument("--url", help="source URL (default: the local server)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tables", default="narrow,wide")
    parser.add_argument("--tools", help="comma-separated; default: every tool of the engine")
    parser.add_argument("--profile", default="fast", help="rivet tuning profile")
    args = parser.parse_args()
    if args.tools and "s3" in args.tools.split(","):
        start_s3()
    engine = engines.ENGINES[args.engine]
    url = args.url or engine.url
    tables = args.tables.split(",")
    tools = args.tools.split(",") if args.tools else list(engine.tools)
    engine.prepare(url, tables)
    # pip compiles an installed package's bytecode; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE (as here) would compile its ~90 modules on every start (~0.1 s).
    compileall.compile_dir(engines.ROOT / "src" / "rivet", quiet=1)
    work = Path(tempfile.mkdtemp(prefix="rivet-bench-"))
    cells = {(tool, t): Cell(tool, t) for t in tables for tool in tools}
    try:
        for run in range(args.runs):
            for table in tables:
                for tool in tools:
                    cell = cells[(tool, table)]
                    command = engine.tools[tool](url, table, work / "out", work, args.profile)
                    measure(cell, command, engine.sampler(url), work / "out")
                    print(f"run {run + 1} {tool:10} {table:7} wall {cell.wall[-1]:6.2f}s "
                          f"rss {cell.rss_mb[-1]:6.0f} MB longest {cell.longest[-1]:5.2f}s",
                          flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(report(cells, tables, tools, args.runs))


def start_s3() -> None:
    """moto's S3 server on loopback for the `s3` tool; it stops with this process."""
    import atexit
    import socket
    import urllib.request

    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(server.terminate)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                      BENCH_S3_ENDPOINT=endpoint)  # fmt: skip
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=engines.S3_BUCKET)


def measure(cell: Cell, command: list[str], sampler: engines.Sampler, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    sampler.start()
    busy = machine_busy_s()
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True)
    wall = time.perf_counter() - started
    busy = machine_busy_s() - busy
    seen = sampler.stop()
    lines = proc.stderr.strip().splitlines()
    if proc.returncode != 0:
        cell.failures.append(lines[-2] if len(lines) > 1 else "?")
    cell.wall.append(wall)
    cell.rss_mb.append(int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else 0.0)
    cell.out_mb.append(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20)
    cell.longest.append(seen.statement_s)
    cell.transaction.append(seen.transaction_s)
    cell.cores.append(busy / wall)


def _longest(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{max(known):.2f}" if known else "-"


def versions() -> str:
    """The decoders and writer measured: a driver's build can move the results by a fifth
    (bench/README.md, session 5)."""
    found = []
    for name in ("adbc-driver-postgresql", "connectorx", "pyarrow", "duckdb"):
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def machine_busy_s() -> float:
    """CPU seconds all processes of the machine (client and database server) have used."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def report(cells: dict[tuple[str, str], Cell], tables: list[str], tools: list[str],
           runs: int) -> str:  # fmt: skip
    lines = [
        f"Versions: {versions()}.",
        f"Medians of {runs} interleaved runs; x first = the median over runs of wall / the wall "
        f"of `{tools[0]}` in the same run (the machine's speed drifts between runs).",
        "",
        "| table | tool | wall s | x first | rows/s | peak RSS MB | output MB "
        "| longest statement s | oldest transaction s | cores busy | failures |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for table in tables:
        first = cells[(tools[0], table)].wall
        for tool in tools:
            c = cells[(tool, table)]
            wall = statistics.median(c.wall)
            ratio = statistics.median(w / f for w, f in zip(c.wall, first, strict=True))
            lines.append(
                f"| {table} | {tool} | {wall:.2f} | {ratio:.2f} | "
                f"{ROWS[table] / wall:,.0f} | {max(c.rss_mb):.0f} | "
                f"{statistics.median(c.out_mb):.0f} | {max(c.longest):.2f} | "
                f"{_longest(c.transaction)} | "
                f"{statistics.median(c.cores):.2f} | {'; '.join(c.failures) or '-'} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
