"""Benchmark: one sealed plan run by N `rivet apply --worker` processes against one chunked
`rivet run` with `parallel: N`, on bench's narrow table (5M rows); what the state database sees
(statements per chunk); and a claim's round trip.

    .venv/bin/python bench/workers.py --runs 3 [--workers 4] [--table narrow] [--profile fast]

Every run uses a state database of its own (`rivet_bench_state`, dropped and created again), so
its transaction count (pg_stat_database.xact_commit: every statement rivet's state sessions send
outside a transaction is one) belongs to that run alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engines

STATE_DB = "rivet_bench_state"
RIVET = os.environ.get("BENCH_RIVET", str(engines.ROOT / ".venv" / "bin" / "rivet"))


def config(work: Path, table: str, out: Path, profile: str, parallel: int, chunks: int) -> Path:
    size = engines.ROWS[table] // chunks
    path = work / f"{table}.yaml"
    path.write_text(
        f"source: {{type: postgres, url_env: BENCH_SOURCE_URL, tuning: {{profile: {profile}}}}}\n"
        f"exports:\n  - name: {table}\n    table: {engines.SCHEMA}.{table}\n"
        f"    format: parquet\n    mode: chunked\n    chunk_column: id\n"
        f"    chunk_size: {size}\n    parallel: {parallel}\n    chunk_snapshot: per_chunk\n"
        f"    destination: {{type: local, path: '{out}'}}\n"
    )
    return path


def fresh_state(admin: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {STATE_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {STATE_DB}")
    return admin.rsplit("/", 1)[0] + f"/{STATE_DB}"


def transactions(admin: str) -> int:
    time.sleep(1.2)  # statistics are flushed by each backend at most once a second
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                           "WHERE datname = %s", (STATE_DB,)).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


def one_process(url: str, table: str, profile: str, workers: int, chunks: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="rivet-bench-") as folder:
        work = Path(folder)
        state = fresh_state(url)
        path = config(work, table, work / "out", profile, workers, chunks)
        env = {**os.environ, "BENCH_SOURCE_URL": url, "RIVET_STATE_URL": state}
        started = time.perf_counter()
        subprocess.run([RIVET, "run", "-c", str(path)], env=env, check=True,
                       stderr=subprocess.DEVNULL, cwd=work)  # fmt: skip
        wall = time.perf_counter() - started
        return wall, transactions(url)


def phases(state: str, began_at: datetime) -> tuple[float, float]:
    """(seconds from the workers' start to the first claim, from there to the publish)."""
    with psycopg.connect(state, autocommit=True) as conn:
        row = conn.execute("SELECT (SELECT min(leased_at) FROM chunk_task), updated_at "
                           "FROM chunk_run").fetchone()  # fmt: skip
    assert row is not None
    first, published = (datetime.fromisoformat(v) for v in row)
    return (first - began_at).total_seconds(), (published - first).total_seconds()


def as_workers(
    url: str, table: str, profile: str, workers: int, chunks: int
) -> tuple[float, float, int, tuple[float, float]]:
    """(plan seconds, workers' wall seconds, state transactions of the workers, phases)."""
    with tempfile.TemporaryDirectory(prefix="rivet-bench-") as folder:
        work = Path(folder)
        state = fresh_state(url)
        path = config(work, table, work / "out", profile, 1, chunks)
        env = {**os.environ, "BENCH_SOURCE_URL": url, "RIVET_STATE_URL": state}
        started = time.perf_counter()
        plan = work / "plan.json"
        subprocess.run([RIVET, "plan", "-c", str(path), "--for-workers", "-o", str(plan)],
                       env=env, check=True, capture_output=True, cwd=work)  # fmt: skip
        planned = time.perf_counter()
        before = transactions(url)
        began, began_at = time.perf_counter(), datetime.now(UTC)
        command = [RIVET, "apply", str(plan), "--worker"]
        procs = [
            subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, cwd=work)
            for _ in range(workers)
        ]
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - began
        assert codes == [0] * workers, codes
        split = phases(state, began_at)
        return planned - started, wall, transactions(url) - before, split


def claims(url: str, chunks: int, claimers: int) -> list[float]:
    """Seconds per claim (with its record) of `claimers` workers sharing a run of `chunks`."""
    from rivet.core.chunks import Chunk
    from rivet.state.chunk_runs import SharedRun
    from rivet.state.leases import Leases
    from rivet.state.store import StateStore, _Postgres

    state_url = fresh_state(url)
    store = StateStore(_Postgres(state_url))
    run = "bench_claims"
    store.chunks.start_shared("bench", run, "h", [Chunk(i, str(i), str(i + 1), False)
                                                  for i in range(chunks)], 3,
                              SharedRun("plan", "host", "source", None))  # fmt: skip
    seconds: list[float] = []
    lock = threading.Lock()

    def claimer() -> None:
        leases = Leases(state_url)
        try:
            while True:
                began = time.perf_counter()
                claim = leases.claim(run)
                took = time.perf_counter() - began
                if claim is None:
                    return
                leases.complete(run, claim.task.chunk.index, 1, [])
                with lock:
                    seconds.append(took)
        finally:
            leases.close()

    threads = [threading.Thread(target=claimer) for _ in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--table", default="narrow")
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--chunks", type=int, default=10)
    args = parser.parse_args()
    url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    engines.pg_prepare(url, [args.table])
    one, many = [], []
    for _ in range(args.runs):  # interleaved
        one.append(one_process(url, args.table, args.profile, args.workers, args.chunks))
        many.append(as_workers(url, args.table, args.profile, args.workers, args.chunks))
    chunks = args.chunks
    wall_one = statistics.median(w for w, _ in one)
    wall_many = statistics.median(w for _, w, _, _ in many)
    print(f"{args.table}, {chunks} chunks, profile {args.profile}, medians of {args.runs}:")
    print(f"  rivet run, parallel {args.workers}:       {wall_one:6.2f} s  "
          f"state transactions {statistics.median(t for _, t in one):.0f}")  # fmt: skip
    print(f"  {args.workers} workers (rivet apply --worker): {wall_many:6.2f} s  "
          f"({wall_many / wall_one:.2f}x)  plan {statistics.median(p for p, _, _, _ in many):.2f} s"
          f"  state transactions {statistics.median(t for _, _, t, _ in many):.0f}")  # fmt: skip
    start = statistics.median(p[0] for _, _, _, p in many)
    reading = statistics.median(p[1] for _, _, _, p in many)
    print(
        f"    of which: start to first claim {start:.2f} s, first claim to publish {reading:.2f} s"
    )
    for claimers in (1, 4):
        taken = sorted(claims(url, 500, claimers))
        print(
            f"  claim round trip, {claimers} claimer(s), 500 chunks: median "
            f"{statistics.median(taken) * 1000:.2f} ms, p95 "
            f"{taken[int(len(taken) * 0.95)] * 1000:.2f} ms, max {taken[-1] * 1000:.2f} ms"
        )


if __name__ == "__main__":
    main()
