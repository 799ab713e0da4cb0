"""Schema and shape drift, checked against the last successful run before anything is written;
quality gates aggregated over the chunks of a chunked export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rivet
from rivet.report.model import ExportResult
from tests.live.conftest import PG_URL, Pg, write_config


@pytest.fixture
def table(pg: Pg, monkeypatch: pytest.MonkeyPatch) -> Pg:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE d (id int PRIMARY KEY, note text, updated_at timestamptz)")
    pg.execute(
        "INSERT INTO d SELECT g, 'note ' || g, timestamptz '2026-01-01' + g * interval '1 min' "
        "FROM generate_series(1, 1000) g"
    )
    return pg


def _run(tmp_path: Path, pg: Pg, **export: Any) -> ExportResult:
    config = write_config(
        tmp_path,
        [
            {
                "name": "d",
                "table": f"{pg.schema}.d",
                "format": "parquet",
                "destination": {"type": "local", "path": str(tmp_path / "out")},
                **export,
            }
        ],
    )
    (result,) = rivet.run(config, quiet=True).results
    return result


def _runs(tmp_path: Path) -> int:
    return len(list((tmp_path / "out" / "_manifests").glob("*.json")))


def test_added_removed_and_retyped_columns_are_named(tmp_path: Path, table: Pg) -> None:
    first = _run(tmp_path, table)
    assert (first.status, first.schema) == ("success", "new")
    assert _run(tmp_path, table).schema == "ok"
    table.execute("ALTER TABLE d ADD COLUMN region text, DROP COLUMN updated_at")
    table.execute("ALTER TABLE d ALTER COLUMN id TYPE bigint")
    changed = _run(tmp_path, table)
    assert changed.status == "success"
    assert changed.schema == "CHANGED"
    assert sorted(changed.schema_changes) == [
        "added: region (string)",
        "removed: updated_at (timestamp[us, tz=UTC])",
        "retyped: id (int32 → int64)",
    ]
    assert any("schema changed since the last run" in w for w in changed.warnings)
    assert _run(tmp_path, table).schema == "ok"  # the new schema became the reference


def test_a_renamed_column_is_reported_as_renamed(tmp_path: Path, table: Pg) -> None:
    _run(tmp_path, table)
    table.execute("ALTER TABLE d RENAME COLUMN note TO remark")
    result = _run(tmp_path, table, on_schema_drift="continue")
    assert result.schema_changes == ["renamed: note → remark"]
    assert not any("schema changed" in w for w in result.warnings)  # continue: recorded only


def test_fail_writes_nothing_and_keeps_the_cursor(tmp_path: Path, table: Pg) -> None:
    incremental = {"mode": "incremental", "cursor_column": "updated_at", "on_schema_drift": "fail"}
    first = _run(tmp_path, table, **incremental)
    assert first.status == "success" and first.rows == 1000
    cursor = first.cursor
    table.execute("ALTER TABLE d ADD COLUMN region text")
    table.execute("INSERT INTO d VALUES (1001, 'late', timestamptz '2027-01-01', 'eu')")
    failed = _run(tmp_path, table, **incremental)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "schema drift detected for export 'd': added: region (string)" in failed.error
    assert _runs(tmp_path) == 1
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == [first.parts[0].path]
    # the cursor did not move: accepting the change exports the new row, and the row at the
    # boundary value again: with a new column it is a new identity (docs/modes.md)
    accepted = _run(tmp_path, table, **{**incremental, "on_schema_drift": "warn"})
    assert accepted.status == "success" and accepted.rows == 2
    assert accepted.cursor is not None and accepted.cursor > str(cursor)


def test_a_column_growing_wider_warns(tmp_path: Path, table: Pg) -> None:
    assert _run(tmp_path, table).status == "success"
    table.execute("UPDATE d SET note = repeat('n', 400) WHERE id = 7")
    result = _run(tmp_path, table, shape_drift_warn_factor=3)
    assert result.status == "success"
    (warning,) = [w for w in result.warnings if "shape drift" in w]
    assert warning == "shape drift in column 'note': max byte length grew 44.4x (9 → 400 bytes)"
    again = _run(tmp_path, table, shape_drift_warn_factor=3)
    assert not any("shape drift" in w for w in again.warnings)  # 400 is the new reference


def test_chunked_quality_gates_cover_every_chunk(tmp_path: Path, table: Pg) -> None:
    table.execute("UPDATE d SET note = NULL WHERE id > 900")  # only the last chunk has NULLs
    table.execute("UPDATE d SET note = 'dup' WHERE id IN (3, 800)")  # in two chunks
    chunked = {"mode": "chunked", "chunk_size": 100, "parallel": 2}
    failed = _run(tmp_path, table, **chunked, quality={"null_ratio_max": {"note": 0.05},
                                                         "unique_columns": ["note"]})  # fmt: skip
    assert failed.status == "failed" and failed.quality == "FAIL"
    assert failed.error is not None
    assert "column 'note': null ratio 0.1000 exceeds 0.0500" in failed.error
    assert "column 'note': 1 duplicate values out of 900" in failed.error
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    passed = _run(tmp_path, table, **chunked, quality={"null_ratio_max": {"note": 0.1}})
    assert (passed.status, passed.quality, passed.rows) == ("success", "pass", 1000)
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["row_count"] == 1000
