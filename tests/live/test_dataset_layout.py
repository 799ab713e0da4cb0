"""An export prefix that analytics tools read as a table (issue 20, items 1 and 2): with default
settings pandas, pyarrow.dataset, polars and DuckDB read the folder and see exactly the rows of
the published run; `write_disposition: replace` (the default of full and chunked) retires the
earlier runs once the new one is published, `append` keeps them; rivet-cli 0.7.7's layout is
one setting away."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds

from rivet.commands.validate import validate
from tests.live.conftest import PG_URL, S3, Pg, duckdb_on_s3, rivet, write_config

ROWS = 5000


def _table(pg: Pg) -> str:
    pg.execute(f"CREATE TABLE t AS SELECT g AS id, md5(g::text) AS note "
               f"FROM generate_series(1, {ROWS}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    return f"{pg.schema}.t"


def _config(tmp_path: Path, table: str, **export: Any) -> Path:
    return write_config(
        tmp_path,
        [{"name": "t", "table": table, "format": "parquet", "max_file_size": "64KB",
          "destination": {"type": "local", "path": str(tmp_path / "out")}, **export}],
    )  # fmt: skip


def _duckdb() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _readers(folder: str) -> dict[str, list[int]]:
    """The ids each reader sees in the folder, sorted."""
    return {
        "pandas": sorted(pd.read_parquet(folder)["id"].tolist()),
        "pyarrow.dataset": sorted(ds.dataset(folder, format="parquet").to_table()["id"].to_pylist()),  # noqa: E501
        "polars": sorted(pl.read_parquet(f"{folder}/*.parquet")["id"].to_list()),
        "duckdb glob": sorted(r[0] for r in _duckdb().execute(
            f"SELECT id FROM read_parquet('{folder}/**/*.parquet')").fetchall()),
        "duckdb folder": sorted(r[0] for r in _duckdb().execute(
            f"SELECT id FROM read_parquet('{folder}')").fetchall()),
    }  # fmt: skip


def test_readers_see_exactly_the_published_run(tmp_path: Path, pg: Pg) -> None:
    config = _config(tmp_path, _table(pg))
    for _ in range(3):  # three full runs: replace is the default
        result = rivet("run", "-c", str(config))
        assert result.returncode == 0, result.stderr
    assert re.search(r"replaced:\s+1 earlier run\(s\)", result.stderr)  # what it did, said
    out = tmp_path / "out"
    assert not (out / "manifest.json").exists() and (out / "_manifest.json").exists()
    expected = list(range(1, ROWS + 1))
    assert _readers(str(out)) == dict.fromkeys(_readers(str(out)), expected)
    assert len(list((out / "_manifests").glob("*.json"))) == 1  # the earlier runs retired
    latest = json.loads((out / "_manifest.json").read_text())
    assert len(latest["retires"]) == 1  # each run retired the one before it
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(
        p["path"] for p in latest["parts"]
    )
    assert rivet("validate", "-c", str(config), "--full").returncode == 0


def test_append_keeps_every_run(tmp_path: Path, pg: Pg) -> None:
    config = _config(tmp_path, _table(pg), write_disposition="append")
    for _ in range(3):
        assert rivet("run", "-c", str(config)).returncode == 0
    ids = _readers(str(tmp_path / "out"))["pandas"]
    assert ids == sorted(list(range(1, ROWS + 1)) * 3)
    (report,) = validate(config)
    assert report.status == "passed" and len(report.runs) == 3 and report.rows == 3 * ROWS


def test_a_failed_run_leaves_the_published_one_intact(tmp_path: Path, pg: Pg) -> None:
    table = _table(pg)
    config = _config(tmp_path, table)
    assert rivet("run", "-c", str(config)).returncode == 0
    before = sorted(p.name for p in (tmp_path / "out").glob("*.parquet"))
    pg.execute("ALTER TABLE t RENAME TO gone")
    failed = rivet("run", "-c", str(config))
    assert failed.returncode == 1
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == before
    assert _readers(str(tmp_path / "out"))["pyarrow.dataset"] == list(range(1, ROWS + 1))


def test_a_crash_before_retiring_is_cleaned_up_by_the_next_run(tmp_path: Path, pg: Pg) -> None:
    config = _config(tmp_path, _table(pg))
    assert rivet("run", "-c", str(config)).returncode == 0
    crashed = rivet("run", "-c", str(config), env={"RIVET_TEST_PANIC_AT": "before_retire"})
    assert crashed.returncode == -9  # killed between publishing and retiring (the fault)
    out = tmp_path / "out"
    # both runs' parts are there; the new manifest already retires the old run: validate passes
    assert len(_readers(str(out))["pandas"]) == 2 * ROWS
    (report,) = validate(config)
    assert report.status == "passed", report.problems
    assert report.rows == ROWS and len(report.runs) == 1
    assert rivet("run", "-c", str(config)).returncode == 0
    assert _readers(str(out))["pandas"] == list(range(1, ROWS + 1))
    assert len(list((out / "_manifests").glob("*.json"))) == 1


def test_rivet_cli_077_layout_is_one_setting_away(tmp_path: Path, pg: Pg) -> None:
    config = _config(tmp_path, _table(pg), layout="rivet-cli-0.7.7")
    for _ in range(2):
        assert rivet("run", "-c", str(config)).returncode == 0
    out = tmp_path / "out"
    assert (out / "manifest.json").exists() and not (out / "_manifest.json").exists()
    assert len(list(out.glob("*.parquet"))) > 2 and len(list((out / "_manifests").glob("*"))) == 2
    # switching to the dataset layout: 0.7.7's manifest.json goes, with a warning
    switched = _config(tmp_path, f"{pg.schema}.t")
    result = rivet("run", "-c", str(switched))
    assert result.returncode == 0, result.stderr
    assert "removed manifest.json of the old layout" in result.stderr
    assert not (out / "manifest.json").exists()
    assert _readers(str(out))["pandas"] == list(range(1, ROWS + 1))  # the 0.7.7 runs retired


def test_incremental_replace_is_refused(tmp_path: Path, pg: Pg) -> None:
    config = _config(tmp_path, _table(pg), mode="incremental", cursor_column="id",
                     write_disposition="replace")  # fmt: skip
    result = rivet("run", "-c", str(config))
    assert result.returncode == 1
    assert "write_disposition: replace cannot be used with mode: incremental" in result.stderr


def test_s3_readers_see_exactly_the_published_run(tmp_path: Path, pg: Pg, s3: S3) -> None:
    import pyarrow.fs as pafs

    config = write_config(
        tmp_path,
        [{"name": "t", "table": _table(pg), "format": "parquet", "max_file_size": "64KB",
          "destination": {"type": "s3", "bucket": s3.bucket, "prefix": "lake/t/",
                          "endpoint": s3.endpoint, "region": "us-east-1"}}],
    )  # fmt: skip
    for _ in range(2):
        result = rivet("run", "-c", str(config))
        assert result.returncode == 0, result.stderr
    fs = pafs.S3FileSystem(endpoint_override=s3.endpoint, region="us-east-1",
                           access_key="testing", secret_key="testing", scheme="http")  # fmt: skip
    table = ds.dataset(f"{s3.bucket}/lake/t", format="parquet", filesystem=fs).to_table()
    assert sorted(table["id"].to_pylist()) == list(range(1, ROWS + 1))
    db = duckdb_on_s3(s3)
    found = db.execute(f"SELECT id FROM read_parquet('s3://{s3.bucket}/lake/t/*.parquet')")
    ids = sorted(r[0] for r in found.fetchall())
    assert ids == list(range(1, ROWS + 1))
    assert s3.keys("lake/t/manifest.json") == []


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("T")


def test_an_s3_run_in_progress_is_invisible_to_readers(tmp_path: Path, pg: Pg, s3: S3) -> None:
    """The run stops itself (SIGSTOP) just before publishing, its parts all uploaded: a reader
    listing the prefix still sees exactly the previous run; once it goes on, exactly the new.
    (Parts used to be uploaded to their final keys: the reader saw both runs' rows.)"""
    import pyarrow.fs as pafs

    table = _table(pg)
    config = write_config(
        tmp_path,
        [{"name": "t", "table": table, "format": "parquet", "max_file_size": "64KB",
          "destination": {"type": "s3", "bucket": s3.bucket, "prefix": "lake/t/",
                          "endpoint": s3.endpoint, "region": "us-east-1"}}],
    )  # fmt: skip
    assert rivet("run", "-c", str(config)).returncode == 0
    pg.execute(f"INSERT INTO t SELECT g, 'new' FROM generate_series({ROWS + 1}, {ROWS + 10}) g")
    env = {**os.environ, "RIVET_TEST_SOURCE_URL": PG_URL,
           "RIVET_TEST_SIGNAL_AT": "before_publish:SIGSTOP"}  # fmt: skip
    run = subprocess.Popen([sys.executable, "-m", "rivet", "run", "-c", str(config)], env=env,
                           stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _stopped(run.pid):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the run never reached its publish"
        time.sleep(0.005)
    fs = pafs.S3FileSystem(endpoint_override=s3.endpoint, region="us-east-1",
                           access_key="testing", secret_key="testing", scheme="http")  # fmt: skip

    def ids() -> list[int]:
        found = ds.dataset(f"{s3.bucket}/lake/t", format="parquet", filesystem=fs).to_table()
        return sorted(found["id"].to_pylist())

    assert any(k.startswith("lake/t/_rivet_staging/") for k in s3.keys("lake/t/"))  # uploaded
    assert ids() == list(range(1, ROWS + 1))  # ... and not visible
    run.send_signal(signal.SIGCONT)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert ids() == list(range(1, ROWS + 11))
    assert not any(k.startswith("lake/t/_rivet_staging/") for k in s3.keys("lake/t/"))
