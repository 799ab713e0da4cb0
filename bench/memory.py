"""Memory bound: the peak `rivet check` promises for an export, against the peak a run reaches.

For each table and tuning profile (and chunked mode with 4 workers), `rivet check --json` gives
the bound (rivet.planning.memory) and `rivet run` is measured with GNU time (peak RSS of the
whole process). A row where the run went over its bound is marked OVER.

    .venv/bin/python bench/memory.py --engine postgres   # --engine mysql; --tables long_rows
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import engines
import shapes

ROOT = Path(__file__).resolve().parent.parent
RIVET = os.environ.get("BENCH_RIVET", str(ROOT / ".venv" / "bin" / "rivet"))
CHUNKED = "    mode: chunked\n    chunk_size: {size}\n    parallel: 4\n"


def measure(url: str, table: str, profile: str, chunked: bool, work: Path) -> tuple[int, int]:
    """(the bound `rivet check` states, the run's peak RSS), in MB."""
    out = work / "out"
    rows = {**shapes.ROWS, "narrow": 5_000_000, "wide": 1_000_000}[table]
    mode = CHUNKED.format(size=max(1, rows // 10)) if chunked else ""
    command = engines.rivet(url, table, out, work, profile, mode)
    config = command[-1]
    checked = subprocess.run([RIVET, "check", "-c", config, "--json"], capture_output=True,
                             text=True, check=True)  # fmt: skip
    bound = int(json.loads(checked.stdout)[0]["memory_mb"])
    timed = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True,
                           text=True)  # fmt: skip
    assert timed.returncode == 0, timed.stderr[-2000:]
    peak = int(timed.stderr.strip().splitlines()[-1]) // 1024
    return bound, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=sorted(engines.ENGINES), default="postgres")
    parser.add_argument("--tables", default="narrow,wide," + ",".join(shapes.ROWS))
    parser.add_argument("--profiles", default="fast,balanced,safe,fast-chunked")
    args = parser.parse_args()
    engine = engines.ENGINES[args.engine]
    tables = args.tables.split(",")
    engine.prepare(engine.url, tables)
    profiles = args.profiles.split(",")
    print("| table | " + " | ".join(f"{p} bound / peak MB" for p in profiles) + " |")
    print("|---|" + "---:|" * len(profiles))
    for table in tables:
        cells = []
        for profile in profiles:
            with tempfile.TemporaryDirectory(prefix="rivet-bench-memory-") as work:
                bound, peak = measure(engine.url, table, profile.split("-")[0],
                                      profile.endswith("chunked"), Path(work))  # fmt: skip
            cells.append(f"{bound} / {peak}" + (" OVER" if peak > bound else ""))
        print(f"| {table} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
