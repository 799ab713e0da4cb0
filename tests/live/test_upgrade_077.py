"""Upgrade in place (issue 18, item 1): a rivet-cli 0.7.7 state file is imported on first use,
with a backup, and the next incremental run continues exactly where 0.7.7 stopped: no row
exported again, no row skipped."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.live.conftest import PG_URL, My, Pg, rivet, write_config
from tests.live.legacy077 import write_077_state

ROWS = 100
DONE = 60  # 0.7.7 exported rows 1..60 before the switch


@pytest.fixture(params=["postgres", "mysql"])
def source(request: pytest.FixtureRequest) -> tuple[dict[str, str], str, str]:
    """(source block, table, url): 100 rows, one a second; 0.7.7 stopped at row 60."""
    if request.param == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        pg.execute("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz NOT NULL)")
        pg.execute(f"INSERT INTO ev SELECT g, timestamptz '2026-01-01 00:00:00.25+00' "
                   f"+ g * interval '1 s' FROM generate_series(1, {ROWS}) g")  # fmt: skip
        return {"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL"}, f"{pg.schema}.ev", PG_URL
    my: My = request.getfixturevalue("my")
    my.execute("CREATE TABLE ev (id INT PRIMARY KEY, at DATETIME(6) NOT NULL)")
    my.execute(f"INSERT INTO ev SELECT seq, TIMESTAMP('2026-01-01 00:00:00.25') "
               f"+ INTERVAL seq SECOND FROM seq_1_to_{ROWS}")  # fmt: skip
    return {"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"}, f"{my.database}.ev", my.url


def _config(tmp_path: Path, source: dict[str, str], table: str) -> Path:
    return write_config(
        tmp_path,
        [{"name": "ev", "table": table, "mode": "incremental", "cursor_column": "at",
          "format": "parquet", "destination": {"type": "local", "path": str(tmp_path / "out")}}],
        source=source,
    )  # fmt: skip


def test_an_077_cursor_continues_exactly(
    tmp_path: Path, source: tuple[dict[str, Any], str, str]
) -> None:
    block, table, url = source
    config = _config(tmp_path, block, table)
    state = tmp_path / ".rivet_state.db"
    # 0.7.7 renders a timestamp cursor as YYYY-MM-DDTHH:MM:SS.ffffff, UTC, no offset
    write_077_state(state, {"ev": "2026-01-01T00:01:00.250000"})
    first = rivet("run", "-c", str(config), "--json", url=url)
    assert first.returncode == 0, first.stderr
    assert "imported the rivet-cli 0.7.7 state" in first.stderr
    summary = json.loads(first.stdout)["exports"][0]
    ids = sorted(i for p in (tmp_path / "out").glob("*.parquet")
                 for i in pq.read_table(p)["id"].to_pylist())  # fmt: skip
    assert ids == list(range(DONE + 1, ROWS + 1)), ids  # no re-export, no gap
    assert summary["rows"] == ROWS - DONE
    again = rivet("run", "-c", str(config), "--json", url=url)
    assert json.loads(again.stdout)["exports"][0]["rows"] == 0
    backup = tmp_path / ".rivet_state.db.rivet-cli-0.7.7.bak"
    with sqlite3.connect(backup) as db:  # the original, as 0.7.7 left it
        assert db.execute("SELECT last_cursor_value FROM export_state").fetchall() == [
            ("2026-01-01T00:01:00.250000",)
        ]
        assert db.execute("SELECT max(version) FROM schema_version").fetchone() == (8,)
    history = rivet("metrics", "-c", str(config), "--json", url=url)
    runs = json.loads(history.stdout)
    assert any(r["run_id"] == "ev_20261130T020000" for r in runs), runs  # 0.7.7's run kept


def _files(folder: Path) -> list[str]:
    """The folder's files, less SQLite's own -wal/-shm beside a database."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


def test_an_unfinished_077_chunk_run_is_refused_and_the_file_left_alone(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz)")
    config = _config(tmp_path, {"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL"},
                     f"{pg.schema}.ev")  # fmt: skip
    state = tmp_path / ".rivet_state.db"
    write_077_state(state, {"ev": "5"}, unfinished_chunk_run="ev_20261130T010000")
    files = _files(tmp_path)
    result = rivet("run", "-c", str(config))
    assert result.returncode == 1
    assert "unfinished chunk run ev_20261130T010000" in result.stderr
    assert "finish that run with rivet-cli 0.7.7" in result.stderr
    assert (
        sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == files
    )
    with sqlite3.connect(state) as db:  # still 0.7.7's file
        assert db.execute("SELECT max(version) FROM schema_version").fetchone() == (8,)
    assert not (tmp_path / ".rivet_state.db.rivet-cli-0.7.7.bak").exists()


def test_what_077_consumers_parse_is_there(tmp_path: Path, pg: Pg) -> None:
    """Issue 18, item 2: the reference's keys in `--json` and summary.json, its manifest fields
    and its schema_fingerprint (extra keys allowed)."""
    import xxhash

    pg.execute("CREATE TABLE o (id int PRIMARY KEY, amount numeric(12, 2), at timestamptz)")
    pg.execute("INSERT INTO o SELECT g, g * 1.5, timestamptz '2026-01-01' + g * interval '1 h' "
               "FROM generate_series(1, 25) g")  # fmt: skip
    config = write_config(
        tmp_path,
        [{"name": "o", "table": f"{pg.schema}.o", "format": "parquet",
          "layout": "rivet-cli-0.7.7",  # what 0.7.7's consumers read (docs/migrating.md)
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
    )  # fmt: skip
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    aggregate = json.loads(result.stdout)
    for key, value in {"success_count": 1, "failed_count": 0, "skipped_count": 0,
                       "total_exports": 1, "total_rows": 25, "total_files": 1}.items():  # fmt: skip
        assert aggregate[key] == value, key
    assert aggregate["run_aggregate_id"].startswith("agg_") and aggregate["duration_ms"] >= 0
    (export,) = aggregate["per_export"]
    assert (export["total_rows"], export["files_produced"]) == (25, 1)
    assert export["bytes_written"] > 0 and export["error_message"] is None
    assert (export["destination_kind"], export["tuning_profile"]) == ("local", "balanced")
    report = json.loads(
        (tmp_path / ".rivet" / "runs" / export["run_id"] / "summary.json").read_text()
    )
    assert report["total_rows"] == 25 and report["duration_ms"] == export["duration_ms"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["manifest_version"] == 1 and manifest["status"] == "success"
    assert manifest["row_count"] == 25 and manifest["part_count"] == 1
    assert manifest["parts"][0]["status"] == "committed"
    lines = ('amount\tDecimal128(12, 2)\nat\tTimestamp(Microsecond, Some("UTC"))\n'
             "id\tInt32\n")  # fmt: skip
    assert manifest["schema_fingerprint"] == f"xxh3:{xxhash.xxh3_64_hexdigest(lines.encode())}"


def test_an_077_postgres_state_database_is_imported_in_one_transaction(
    tmp_path: Path, pg: Pg
) -> None:
    """RIVET_STATE_URL written by 0.7.7: its tables are kept as rivet077_*, the cursor goes on."""
    from tests.live.legacy077 import write_077_postgres_state

    pg.execute("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz NOT NULL)")
    pg.execute(f"INSERT INTO ev SELECT g, timestamptz '2026-01-01 00:00:00.25+00' "
               f"+ g * interval '1 s' FROM generate_series(1, {ROWS}) g")  # fmt: skip
    write_077_postgres_state(pg.conn, {"ev": "2026-01-01T00:01:00.250000"})
    # and an unfinished chunk run of another export: imported for `--resume` (its own test:
    # test_upgrade_077_chunks.py), keys inclusive in 0.7.7, half-open in rivet
    pg.execute("INSERT INTO chunk_run VALUES ('big_1', 'big', 'h', 'in_progress', 3, 'a', 'a')")
    pg.execute("INSERT INTO chunk_task (run_id, chunk_index, start_key, end_key, status) "
               "VALUES ('big_1', 0, '1', '100', 'completed'), ('big_1', 1, '101', '200', "
               "'pending')")  # fmt: skip
    env = {"RIVET_STATE_URL": PG_URL + f"?options=-csearch_path%3D{pg.schema}"}
    config = _config(tmp_path, {"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL"},
                     f"{pg.schema}.ev")  # fmt: skip
    first = rivet("run", "-c", str(config), "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert "imported the rivet-cli 0.7.7 state" in first.stderr
    assert json.loads(first.stdout)["exports"][0]["rows"] == ROWS - DONE
    again = rivet("run", "-c", str(config), "--json", env=env)
    assert json.loads(again.stdout)["exports"][0]["rows"] == 0
    kept = pg.scalar("SELECT last_cursor_value FROM rivet077_export_state")
    assert kept == "2026-01-01T00:01:00.250000"  # 0.7.7's own rows, untouched
    assert pg.scalar("SELECT count(*) FROM export_metrics WHERE run_id = 'ev_20261130T020000'") == 1
    chunks = pg.conn.execute(
        "SELECT chunk_index, start_key, end_key, is_null, status FROM chunk_task "
        "WHERE run_id = 'big_1' ORDER BY 1"
    ).fetchall()
    assert chunks == [(0, "1", "101", 0, "completed"), (1, "101", "201", 0, "pending"),
                      (2, None, None, 1, "pending")]  # fmt: skip
