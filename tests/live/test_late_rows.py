"""cursor_lag: a row committed after a row with a later cursor is exported by the next run,
exactly once; without a lag it is lost (the problem the key solves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

import rivet
from tests.live.conftest import PG_URL, My, Pg, parquet_ids, write_config


def _run(config: Path) -> Any:
    (result,) = rivet.run(config, quiet=True).results
    assert result.status == "success", result.error
    return result


@pytest.mark.parametrize("lag", ["1h", None])
def test_a_late_commit_is_exported_once(
    tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch, lag: str | None
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE ev (id int PRIMARY KEY, updated_at timestamptz NOT NULL, v text)")
    pg.execute("INSERT INTO ev SELECT g, timestamptz '2026-01-01' + g * interval '1 min', 'x' "
               "FROM generate_series(1, 100) g")  # fmt: skip
    out = tmp_path / "out"
    export = {"name": "ev", "table": f"{pg.schema}.ev", "format": "parquet",
              "mode": "incremental", "cursor_column": "updated_at",
              "destination": {"type": "local", "path": str(out)}}  # fmt: skip
    if lag:
        export["cursor_lag"] = lag
    config = write_config(tmp_path, [export])
    assert _run(config).rows == 100

    # T1 stamps its row 01:50 but commits only after T2 committed a row stamped 02:00
    slow = psycopg.connect(PG_URL, autocommit=False)
    slow.execute(f"INSERT INTO {pg.schema}.ev VALUES (101, '2026-01-01 01:50+00', 'late')")
    pg.execute("INSERT INTO ev VALUES (102, '2026-01-01 02:00+00', 'on time')")
    assert _run(config).rows == 1  # 102; 101 is not visible yet
    slow.commit()
    slow.close()
    third = _run(config)
    if lag:
        assert third.rows == 1  # 101; the re-read rows already exported are skipped
        assert parquet_ids(out) == list(range(1, 103))  # every row exactly once
        assert any(e["event"] == "late_rows" for e in third.events)
        assert _run(config).rows == 0  # and nothing comes back on the next run
    else:
        assert third.rows == 0
        assert 101 not in parquet_ids(out)  # lost for good: the cursor is past it


def test_lag_on_mysql_with_an_integer_cursor(
    tmp_path: Path, my: My, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", my.url)
    my.execute("CREATE TABLE seqs (id INT PRIMARY KEY, version BIGINT NOT NULL)")
    my.execute("INSERT INTO seqs SELECT seq, seq * 10 FROM seq_1_to_50")
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "seqs", "table": f"{my.database}.seqs", "format": "parquet",
          "mode": "incremental", "cursor_column": "version", "cursor_lag": 100,
          "destination": {"type": "local", "path": str(out)}}],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip
    assert _run(config).rows == 50
    my.execute("INSERT INTO seqs VALUES (51, 455), (52, 600)")  # 455 is behind the cursor (500)
    assert _run(config).rows == 2
    assert parquet_ids(out) == list(range(1, 53))


def test_a_lag_that_does_not_fit_the_cursor_is_refused(
    tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE n (id int PRIMARY KEY)")
    pg.execute("INSERT INTO n VALUES (1)")
    config = write_config(
        tmp_path,
        [{"name": "n", "table": f"{pg.schema}.n", "format": "csv", "mode": "incremental",
          "cursor_column": "id", "cursor_lag": "15m",
          "destination": {"type": "local", "path": str(tmp_path / "o")}}],
    )  # fmt: skip
    (first,) = rivet.run(config, quiet=True).results
    assert first.status == "failed" and first.error is not None
    assert "cursor_lag is a duration (0:15:00), which does not fit the cursor's type int32" in (
        first.error
    )
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
