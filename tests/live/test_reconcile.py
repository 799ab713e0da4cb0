"""Reconcile (source counts against rows written) and repair (re-export what does not match)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rivet
from rivet.commands.reconcile import reconcile, repair
from rivet.commands.state import progression
from rivet.commands.validate import validate
from tests.live.conftest import PG_URL, S3, My, Pg, parquet_ids, write_config
from tests.live.conftest import rivet as rivet_cli


@pytest.fixture
def chunked(tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Pg]:
    """A checkpointed chunked export of the even ids 2..2000, in 10 chunks, completed."""
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE r (id int PRIMARY KEY, v text)")
    pg.execute("INSERT INTO r SELECT g, 'v' || g FROM generate_series(2, 2000, 2) g")
    config = write_config(
        tmp_path,
        [
            {
                "name": "r",
                "table": f"{pg.schema}.r",
                "format": "parquet",
                "mode": "chunked",
                "chunk_size": 200,
                "chunk_checkpoint": True,
                "destination": {"type": "local", "path": str(tmp_path / "out")},
            }
        ],
    )
    (result,) = rivet.run(config, quiet=True).results
    assert result.status == "success", result.error
    return config, pg


def test_a_clean_chunk_run_reconciles(chunked: tuple[Path, Pg]) -> None:
    config, _ = chunked
    report = reconcile(config, "r")
    assert report.clean
    summary = report.to_json()["summary"]
    assert (summary["chunks"], summary["source_rows"], summary["exported_rows"]) == (10, 1000, 1000)
    assert repair(config, "r").candidates == []
    (progress,) = progression(config)
    assert progress.committed_mode == "chunked" and progress.verified == progress.committed


def test_rows_added_in_a_chunk_are_found_and_repaired(chunked: tuple[Path, Pg]) -> None:
    config, pg = chunked
    pg.execute("INSERT INTO r VALUES (251, 'late'), (1999, 'late')")
    cli = rivet_cli("reconcile", "-c", str(config), "-e", "r")
    assert cli.returncode == 1
    assert "mismatch: chunk 1 [202, 402): source 101, exported 100" in cli.stdout
    plan = repair(config, "r")
    assert [(c.index, c.reason) for c in plan.candidates] == [
        (1, "source 101, exported 100"),
        (9, "source 101, exported 100"),
    ]
    assert parquet_ids(config.parent / "out") == list(range(2, 2001, 2))  # a dry run writes nothing
    done = repair(config, "r", execute=True)
    assert done.executed and done.rows == 202
    out = config.parent / "out"
    assert parquet_ids(out) == sorted([*range(2, 2001, 2), 251, 1999])  # each row once
    assert len(list((out / "_quarantine" / str(done.repair_run_id)).glob("*.parquet"))) == 2
    assert reconcile(config, "r").clean
    (report,) = validate(config, full=True)
    assert report.status == "passed", report.problems
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["run_id"] == done.repair_run_id and manifest["row_count"] == 1002


def test_a_deleted_part_is_repaired_until_it_validates(chunked: tuple[Path, Pg]) -> None:
    config, _ = chunked
    out = config.parent / "out"
    victim = sorted(out.glob("*_chunk4.parquet"))[0]
    victim.unlink()
    (before,) = validate(config)
    assert [(p.kind, p.path) for p in before.problems] == [("missing", victim.name)]
    cli = rivet_cli("repair", "-c", str(config), "-e", "r", "--execute")
    assert cli.returncode == 0, cli.stderr
    assert f"chunk 4 [802, 1002): missing: {victim.name}" in cli.stdout
    (after,) = validate(config, full=True)
    assert after.status == "passed", after.problems
    assert parquet_ids(out) == list(range(2, 2001, 2))


def test_run_reconcile_fails_before_publishing(
    tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mismatch publishes nothing and keeps the cursor: here the read is a query whose rows
    are volatile (random()), so the count cannot match."""
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE s (id int PRIMARY KEY)")
    pg.execute("INSERT INTO s SELECT generate_series(1, 5000)")
    out = tmp_path / "out"
    exports: list[dict[str, Any]] = [
        {"name": "ok", "table": f"{pg.schema}.s", "format": "csv",
         "destination": {"type": "local", "path": str(out / "ok")}},
        {"name": "flaky", "query": f"SELECT id FROM {pg.schema}.s WHERE random() < 0.5",
         "format": "csv", "destination": {"type": "local", "path": str(out / "flaky")}},
    ]  # fmt: skip
    config = write_config(tmp_path, exports)
    ok, flaky = rivet.run(config, quiet=True, reconcile=True).results
    assert (ok.status, ok.reconcile, ok.validated) == ("success", "match (5,000)", "pass")
    assert flaky.status == "failed" and flaky.error is not None
    assert "reconcile MISMATCH" in flaky.error
    assert not (out / "flaky").exists() or not list((out / "flaky").glob("*.csv"))


def test_run_reconcile_on_incremental_counts_only_the_window(
    tmp_path: Path, my: My, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", my.url)
    my.execute("CREATE TABLE i (id INT PRIMARY KEY, at DATETIME NOT NULL)")
    my.execute("INSERT INTO i SELECT seq, '2026-01-01' + INTERVAL seq MINUTE FROM seq_1_to_3000")
    config = write_config(
        tmp_path,
        [{"name": "i", "table": f"{my.database}.i", "format": "csv", "mode": "incremental",
          "cursor_column": "at", "destination": {"type": "local", "path": str(tmp_path / "o")}}],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip
    (first,) = rivet.run(config, quiet=True, reconcile=True).results
    assert (first.status, first.reconcile) == ("success", "match (3,000)")
    my.execute("INSERT INTO i VALUES (3001, '2027-01-01'), (3002, '2027-01-02')")
    (second,) = rivet.run(config, quiet=True, reconcile=True).results
    # the boundary value is read again: its row is counted, and known as exported before
    assert second.status == "success" and second.rows == 2
    assert second.reconcile == "match (2 + 1 exported before)"


def test_reconcile_refuses_what_it_cannot_check(tmp_path: Path, pg: Pg) -> None:
    config = write_config(
        tmp_path,
        [{"name": "f", "table": "x", "format": "csv",
          "destination": {"type": "local", "path": str(tmp_path)}}],
    )  # fmt: skip
    result = rivet_cli("reconcile", "-c", str(config), "-e", "f")
    assert result.returncode != 0
    assert "is not chunked" in result.stderr and "rivet run --reconcile" in result.stderr


def test_repair_on_s3_moves_what_it_replaces_and_validates(
    tmp_path: Path, pg: Pg, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE r (id int PRIMARY KEY, v text)")
    pg.execute("INSERT INTO r SELECT g, 'v' || g FROM generate_series(1, 1000) g")
    config = write_config(
        tmp_path,
        [{"name": "r", "table": f"{pg.schema}.r", "format": "csv", "mode": "chunked",
          "chunk_size": 250, "chunk_checkpoint": True,
          "destination": {"type": "s3", "bucket": s3.bucket, "prefix": "r/",
                          "endpoint": s3.endpoint, "region": "us-east-1"}}],
    )  # fmt: skip
    assert rivet.run(config, quiet=True).results[0].status == "success"
    victim = next(k for k in s3.keys("r/") if k.endswith("_chunk2.csv"))
    s3.client.delete_object(Bucket=s3.bucket, Key=victim)
    pg.execute("UPDATE r SET v = 'changed' WHERE id = 10")  # same count: not a candidate
    (before,) = validate(config)
    assert [(p.kind, p.path) for p in before.problems] == [("missing", victim[2:])]
    done = repair(config, "r", execute=True)
    assert [c.index for c in done.candidates] == [2] and done.rows == 250
    (after,) = validate(config, full=True)
    assert after.status == "passed", after.problems
    assert after.rows == 1000
