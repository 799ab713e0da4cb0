"""Benchmark: an export of `rivet_bench.wide` while a proxy cuts every connection every N seconds,
against the same export undisturbed (issue target: every row, no duplicate part, < 2x the wall).

    .venv/bin/python bench/flapping.py --every 2 --runs 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live.faultproxy import FaultProxy  # noqa: E402

URL = "postgresql://postgres@127.0.0.1:{port}/test"


def run(work: Path, port: int, profile: str) -> tuple[float, float, int, int]:
    """(wall s, peak RSS MB, rows, parts) of one export of rivet_bench.wide through `port`."""
    out = work / f"out_{time.monotonic_ns()}"
    config = work / "rivet.yaml"
    config.write_text(
        f"source: {{type: postgres, url: '{URL.format(port=port)}', "
        f"tuning: {{profile: {profile}, retry_backoff_ms: 200, max_retries: 50}}}}\n"
        "exports:\n  - name: wide\n    table: rivet_bench.wide\n    format: parquet\n"
        f"    destination: {{type: local, path: '{out}'}}\n"
    )
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", str(ROOT / ".venv/bin/rivet"), "run", "-c", str(config),
         "--json"], capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    summary = json.loads(proc.stdout)["exports"][0]
    rss = int(proc.stderr.strip().splitlines()[-1]) / 1024
    return wall, rss, summary["rows"], summary["files"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=2.0, help="seconds between cuts")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--profile", default="fast")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rivet-flap-"))
    for _ in range(args.runs):
        wall, rss, rows, parts = run(work, 5432, args.profile)
        print(f"undisturbed  wall {wall:6.2f}s  rss {rss:5.0f} MB  rows {rows:,}  parts {parts}")
        with FaultProxy(5432, cut_every_s=args.every) as proxy:
            wall, rss, rows, parts = run(work, proxy.port, args.profile)
        print(f"cut every {args.every}s wall {wall:6.2f}s  rss {rss:5.0f} MB  rows {rows:,}  "
              f"parts {parts}  cuts {proxy.cuts}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
