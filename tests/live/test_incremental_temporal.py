"""Every temporal cursor type, with sub-second values, on both engines: a first run exports
every row, a second none, a third only the rows added since (issue 17, item 1: MariaDB rebuilt
TIMESTAMP(6) positions with a division that its div_precision_increment cut to 4 decimals, so
the same rows came back on every run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rivet as api
from tests.live.conftest import My, Pg, write_config

# (column type, an SQL expression of the row number g giving a sub-second value, new rows)
MYSQL_TYPES = [
    ("TIMESTAMP(6)", "TIMESTAMP('2026-01-01 00:00:00') + INTERVAL g * 1001 MICROSECOND"),
    ("TIMESTAMP(3)", "TIMESTAMP('2026-01-01 00:00:00') + INTERVAL g * 7000 MICROSECOND"),
    ("TIMESTAMP", "TIMESTAMP('2026-01-01 00:00:00') + INTERVAL g SECOND"),
    ("DATETIME(6)", "TIMESTAMP('2026-01-01 00:00:00') + INTERVAL g * 1001 MICROSECOND"),
    ("DATETIME(4)", "TIMESTAMP('2026-01-01 00:00:00') + INTERVAL g * 300 MICROSECOND"),
    ("DATETIME(1)", "TIMESTAMP('2026-01-01 00:00:00') + INTERVAL g * 100000 MICROSECOND"),
    ("DATETIME", "TIMESTAMP('2026-01-01 00:00:00') + INTERVAL g SECOND"),
    ("DATE", "DATE('2026-01-01') + INTERVAL g DAY"),
]
PG_TYPES = [
    ("timestamptz", "timestamptz '2026-01-01 00:00:00+00' + g * interval '1001 microseconds'"),
    ("timestamp", "timestamp '2026-01-01 00:00:00' + g * interval '1001 microseconds'"),
    ("timestamp(3)", "timestamp '2026-01-01 00:00:00' + g * interval '7 milliseconds'"),
    ("date", "date '2026-01-01' + g"),
]


def _runs(config: Path) -> int:
    (result,) = api.run(config, quiet=True).results
    assert result.status == "success", result.error
    return result.rows


def _config(tmp_path: Path, target: str, source: dict[str, Any] | None, **extra: Any) -> Path:
    return write_config(
        tmp_path,
        [
            {
                "name": "t",
                "table": target,
                "mode": "incremental",
                "cursor_column": "c",
                "format": "parquet",
                "destination": {"type": "local", "path": str(tmp_path / "out")},
                **extra,
            }
        ],
        source=source,
    )


def _runs_give_all_none_then_the_new(config: Path, add_two: Callable[[], None]) -> None:
    assert _runs(config) == 50
    assert _runs(config) == 0
    assert _runs(config) == 0
    add_two()
    assert _runs(config) == 2
    assert _runs(config) == 0


@pytest.mark.parametrize("kind,value", MYSQL_TYPES, ids=[t for t, _ in MYSQL_TYPES])
def test_mysql_temporal_cursors_move_exactly(
    tmp_path: Path, my: My, kind: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", my.url)
    my.execute(f"CREATE TABLE e (id INT PRIMARY KEY, c {kind} NULL)")
    my.execute(f"INSERT INTO e SELECT g, {value} FROM (SELECT seq AS g FROM seq_1_to_50) s")
    source = {"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"}
    config = _config(tmp_path, f"{my.database}.e", source)
    _runs_give_all_none_then_the_new(
        config,
        lambda: my.execute(
            f"INSERT INTO e SELECT g, {value} FROM (SELECT seq AS g FROM seq_51_to_52) s"
        ),
    )


@pytest.mark.parametrize("kind,value", PG_TYPES, ids=[t for t, _ in PG_TYPES])
def test_postgres_temporal_cursors_move_exactly(
    tmp_path: Path, pg: Pg, kind: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.live.conftest import PG_URL

    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute(f"CREATE TABLE e (id int PRIMARY KEY, c {kind})")
    pg.execute(f"INSERT INTO e SELECT g, {value} FROM generate_series(1, 50) g")
    config = _config(tmp_path, f"{pg.schema}.e", None)
    _runs_give_all_none_then_the_new(
        config,
        lambda: pg.execute(f"INSERT INTO e SELECT g, {value} FROM generate_series(51, 52) g"),
    )


def test_a_mysql_timestamp_cursor_is_shown_and_stored_as_utc_text(
    tmp_path: Path, my: My, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not as epoch microseconds (issue 17); a position stored that way still continues."""
    import json
    import sqlite3

    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", my.url)
    my.execute("CREATE TABLE e (id INT PRIMARY KEY, c TIMESTAMP(6) NULL)")
    my.execute("INSERT INTO e SELECT seq, TIMESTAMP('2026-01-01 00:00:00') "
               "+ INTERVAL seq * 1001 MICROSECOND FROM seq_1_to_50")  # fmt: skip
    config = _config(
        tmp_path, f"{my.database}.e", {"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"}
    )
    (result,) = api.run(config, quiet=True).results
    assert result.cursor == "2026-01-01 00:00:00.050050Z"
    shown = api_state_show(config)
    assert "2026-01-01 00:00:00.050050Z" in shown
    with sqlite3.connect(tmp_path / ".rivet_state.db") as db:  # as an earlier version stored it
        (payload,) = db.execute("SELECT position_json FROM export_state").fetchone()
        stored = json.loads(payload)
        stored["values"][0] = "1767225600050050"
        db.execute("UPDATE export_state SET position_json = ?, last_cursor_value = ?",
                   (json.dumps(stored), "1767225600050050"))  # fmt: skip
    assert _runs(config) == 0
    my.execute("INSERT INTO e VALUES (51, TIMESTAMP('2026-01-01 00:00:00.051051'))")
    assert _runs(config) == 1


def api_state_show(config: Path) -> str:
    from tests.live.conftest import rivet

    result = rivet("state", "show", "-c", str(config))
    assert result.returncode == 0, result.stderr
    return result.stdout
