"""Upgrade in place (issue 18): a chunk run that rivet-cli 0.7.7 left unfinished is continued by
`rivet run --resume`. 0.7.7 wrote its completed chunks' files straight to the destination: rivet
adopts them as parts (not read again), reads the other chunks, and publishes one manifest in
which every source row appears exactly once."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from tests.live.conftest import Pg, rivet, write_config
from tests.live.legacy077 import Task077, write_077_chunk_run, write_077_state

ROWS = 1000
SIZE = 250
RUN = "ev_20261130T010000"


def _table(pg: Pg) -> str:
    pg.execute("CREATE TABLE ev (id int PRIMARY KEY, note text, at timestamptz)")
    pg.execute(f"INSERT INTO ev SELECT g, md5(g::text), timestamptz '2026-01-01' "
               f"+ g * interval '1 min' FROM generate_series(1, {ROWS}) g")  # fmt: skip
    return f"{pg.schema}.ev"


def _config(tmp_path: Path, table: str, size: int = SIZE) -> Path:
    return write_config(
        tmp_path,
        [{"name": "ev", "table": table, "mode": "chunked", "chunk_column": "id",
          "chunk_size": size, "chunk_checkpoint": True, "format": "parquet",
          "layout": "rivet-cli-0.7.7",
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
    )  # fmt: skip


def _rows_as_rivet_writes(tmp_path: Path, table: str) -> pa.Table:
    """The table as rivet writes it (0.7.7 maps these types to the same Arrow types)."""
    elsewhere = tmp_path / "reference"
    elsewhere.mkdir()
    config = write_config(
        elsewhere,
        [{"name": "ref", "table": table, "format": "parquet",
          "destination": {"type": "local", "path": str(elsewhere / "out")}}],
    )  # fmt: skip
    assert rivet("run", "-c", str(config)).returncode == 0
    (part,) = (elsewhere / "out").glob("*.parquet")
    return pq.read_table(part).sort_by("id")


def _deployment_077(tmp_path: Path, table: str, tasks: list[Task077]) -> None:
    """0.7.7's state (its plan fingerprint for this config) and the files it wrote."""
    plan_hash = xxhash.xxh3_64_hexdigest(f"SELECT * FROM {table}\x1fid\x1f{SIZE}\x1frange".encode())
    state = tmp_path / ".rivet_state.db"
    write_077_state(state, {})
    with closing(sqlite3.connect(state)) as db, db:
        write_077_chunk_run(db, "ev", RUN, plan_hash, tasks)


def _manifest_ids(out: Path) -> list[int]:
    manifest = json.loads((out / "manifest.json").read_text())
    ids: list[int] = []
    for part in manifest["parts"]:
        ids += pq.read_table(out / part["path"]).column("id").to_pylist()
    return sorted(ids)


def test_an_unfinished_077_chunk_run_is_continued(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg)
    rows = _rows_as_rivet_writes(tmp_path, table)
    out = tmp_path / "out"
    out.mkdir()
    done = {0: "ev_20261130_010001_chunk0.parquet", 1: "ev_20261130_010002_chunk1.parquet"}
    for index, name in done.items():
        pq.write_table(rows.slice(index * SIZE, SIZE), out / name)
    # chunk 2 was being copied into place when 0.7.7 was killed: a partial file, not completed
    (out / "ev_20261130_010003_chunk2.parquet").write_bytes(b"PAR1 cut short")
    _deployment_077(tmp_path, table, [
        (0, "1", "250", "completed", SIZE, done[0]),
        (1, "251", "500", "completed", SIZE, done[1]),
        (2, "501", "750", "running", None, None),
        (3, "751", "1000", "pending", None, None),
    ])  # fmt: skip
    before = {name: (out / name).stat().st_mtime_ns for name in done.values()}
    config = _config(tmp_path, table)
    result = rivet("run", "-c", str(config), "--resume", "--json")
    assert result.returncode == 0, result.stderr
    assert "imported the rivet-cli 0.7.7 state" in result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    assert summary["run_id"] == RUN and summary["rows"] == ROWS
    manifest = json.loads((out / "manifest.json").read_text())
    listed = [p["path"] for p in manifest["parts"]]
    assert set(done.values()) <= set(listed)  # adopted, not read again or rewritten
    assert {name: (out / name).stat().st_mtime_ns for name in done.values()} == before
    assert "ev_20261130_010003_chunk2.parquet" not in listed
    assert _manifest_ids(out) == list(range(1, ROWS + 1))  # every row once: no gap, no copy
    assert manifest["row_count"] == ROWS
    # 0.7.7's partial file is the one thing no manifest lists; once removed, everything checks
    validated = rivet("validate", "-c", str(config), "--full")
    assert "4 verified, 1 problem(s)" in validated.stdout
    assert "extra: ev_20261130_010003_chunk2.parquet" in validated.stdout
    (out / "ev_20261130_010003_chunk2.parquet").unlink()
    validated = rivet("validate", "-c", str(config), "--full")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    again = rivet("run", "-c", str(config), "--resume")  # the run is finished now
    assert again.returncode == 1 and "no unfinished chunk run" in again.stderr


def test_a_077_file_that_is_gone_or_differs_is_read_again(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg)
    rows = _rows_as_rivet_writes(tmp_path, table)
    out = tmp_path / "out"
    out.mkdir()
    # chunk 0's file holds fewer rows than 0.7.7 recorded; chunk 1's file was deleted
    pq.write_table(rows.slice(0, 100), out / "ev_20261130_010001_chunk0.parquet")
    _deployment_077(tmp_path, table, [
        (0, "1", "250", "completed", SIZE, "ev_20261130_010001_chunk0.parquet"),
        (1, "251", "500", "completed", SIZE, "ev_20261130_010002_chunk1.parquet"),
        (2, "501", "1000", "pending", None, None),
    ])  # fmt: skip
    result = rivet("run", "-c", str(_config(tmp_path, table)), "--resume")
    assert result.returncode == 0, result.stderr
    assert "ev_20261130_010001_chunk0.parquet holds 100 rows, 0.7.7 recorded 250" in result.stderr
    assert "ev_20261130_010002_chunk1.parquet is not at the destination" in result.stderr
    assert _manifest_ids(out) == list(range(1, ROWS + 1))


def test_a_077_run_planned_otherwise_is_not_continued(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg)
    _deployment_077(tmp_path, table, [(0, "1", "250", "pending", None, None)])
    result = rivet("run", "-c", str(_config(tmp_path, table, size=300)), "--resume")
    assert result.returncode == 1
    assert f"rivet-cli 0.7.7 planned run {RUN} otherwise" in result.stderr
    assert "rivet state reset-chunks" in result.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
