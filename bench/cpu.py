"""Where the client's CPU goes when rivet exports a table, stage by stage (issue 22), so that a
slower shape points at its cause:

    start      importing rivet, pyarrow and the engine's driver (a fresh interpreter)
    decode     the driver's pages as it returns them (ADBC's binary COPY decoder on PostgreSQL,
               ConnectorX's binary protocol on MySQL), rivet's paging included
    convert    rivet's conversions of those pages (decimals, timestamps, JSON, checks)
    encode     Parquet encoding without compression, in rivet's row groups
    compress   zstd level 3 on top of that (the difference)

Each stage is measured in this process as CPU seconds (every thread; the database server's CPU is
not counted), with the profile's page sizes, on the tables of bench/engines.py and
bench/shapes.py. The stages run one after another here; in a real run decode, convert and encode
overlap on two threads, so the wall of an export is less than their sum.

    .venv/bin/python bench/cpu.py --engine postgres --tables numeric,text_wide,sparse
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engines
import shapes  # (registers the table shapes)

STAGES = ("start", "decode", "convert", "encode", "compress")


def start_cpu(engine: str) -> float:
    module = "rivet.sources.postgres" if engine == "postgres" else "rivet.sources.mysql"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", f"import rivet.cli.app, rivet.formats.parquet, {module}"],
                   check=True)  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _source_and_request(
    engine: str, url: str, table: str, profile: str
) -> tuple[Any, Any, Any, Any]:
    from rivet.commands.run import source_for_url
    from rivet.config import load_config
    from rivet.pipeline.request import read_request
    from rivet.planning.export_plan import resolve_export
    from rivet.sources.base import retrying

    folder = Path(tempfile.mkdtemp(prefix="rivet-cpu-"))
    config = folder / "rivet.yaml"
    config.write_text(
        f"source: {{type: {engine}, url_env: BENCH_CPU_URL, tuning: {{profile: {profile}}}}}\n"
        f"exports:\n  - name: {table}\n    table: {engines.SCHEMA}.{table}\n"
        f"    format: parquet\n    destination: {{type: local, path: '{folder}/out'}}\n"
    )
    os.environ["BENCH_CPU_URL"] = url
    loaded = load_config(config)
    plan = resolve_export(loaded.exports[0], loaded, None, datetime.now(UTC))
    source = source_for_url(url, engine)
    request = read_request(plan)
    prepared = retrying(request, lambda: source.prepare(request))
    return source, request, prepared, plan.output.row_group


def stages(engine: str, url: str, table: str, profile: str) -> dict[str, float]:
    import pyarrow as pa

    from rivet.formats.parquet import ParquetPartWriter
    from rivet.sources.base import ReadStats

    spent = {"start": start_cpu(engine)}
    source, request, prepared, row_group = _source_and_request(engine, url, table, profile)
    try:
        began = time.process_time()
        rows = sum(page.num_rows for page in source._pages(request, prepared, ReadStats()))
        spent["decode"] = time.process_time() - began
        began = time.process_time()
        batches = list(source.read(request, prepared, ReadStats()))
        spent["convert"] = max(0.0, time.process_time() - began - spent["decode"])
    finally:
        source.close()
    assert sum(b.num_rows for b in batches) == rows
    schema = batches[0].schema if batches else pa.schema([])
    encoded = {}
    for compression, level in (("none", None), ("zstd", 3)):
        # to /dev/null: the CPU of encoding, not of writing a gigabyte to a disk
        began = time.process_time()
        writer = ParquetPartWriter(Path(os.devnull), schema, compression, level,
                                   row_group.max_rows, row_group.max_bytes)  # fmt: skip
        for batch in batches:
            writer.write(batch)
        writer.close()
        encoded[compression] = time.process_time() - began
    spent["encode"] = encoded["none"]
    spent["compress"] = max(0.0, encoded["zstd"] - encoded["none"])
    spent["rows"] = rows
    spent["arrow_mb"] = sum(b.nbytes for b in batches) / 1e6
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=sorted(engines.ENGINES), default="postgres")
    parser.add_argument("--tables", default="narrow,wide," + ",".join(shapes.ROWS))
    parser.add_argument("--profile", default="fast")
    args = parser.parse_args()
    engine = engines.ENGINES[args.engine]
    tables = args.tables.split(",")
    engine.prepare(engine.url, tables)
    name = "postgres" if args.engine == "postgres" else "mysql"
    print(f"| table | rows | Arrow MB | {' | '.join(STAGES)} | sum | largest |")
    print("|---|---:|---:|" + "---:|" * (len(STAGES) + 1) + "---|")
    for table in tables:
        spent = stages(name, engine.url, table, args.profile)
        total = sum(spent[s] for s in STAGES)
        largest = max(STAGES, key=lambda s: spent[s])
        cells = " | ".join(f"{spent[s]:.2f}" for s in STAGES)
        print(f"| {table} | {int(spent['rows']):,} | {spent['arrow_mb']:.0f} | {cells} | "
              f"{total:.2f} | {largest} ({spent[largest] / total:.0%}) |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
