"""Incremental mode end to end: only new rows, ties at the boundary kept, cursor after publish."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rivet.state.store import MIGRATIONS
from tests.live.conftest import PG_URL, My, Pg, rivet, write_config


def _ids(out: Path) -> list[list[int]]:
    runs = []
    for part in sorted(out.glob("t_*.parquet")):
        runs.append(sorted(pq.read_table(part).column("id").to_pylist()))
    return runs


def _config(tmp_path: Path, pg: Pg, cursor: str = "updated_at", **extra: object) -> Path:
    return write_config(
        tmp_path,
        [
            {
                "name": "t",
                "table": f"{pg.schema}.events",
                "mode": "incremental",
                "cursor_column": cursor,
                "format": "parquet",
                "destination": {"type": "local", "path": str(tmp_path / "out")},
                **extra,
            }
        ],
    )


@pytest.fixture
def events(pg: Pg) -> Pg:
    pg.execute("CREATE TABLE events (id int PRIMARY KEY, updated_at timestamptz)")
    pg.execute(
        "INSERT INTO events SELECT g, timestamptz '2026-01-01 00:00:00+00' "
        "+ (g / 10) * interval '1 minute' FROM generate_series(1, 95) g"
    )
    pg.execute("INSERT INTO events VALUES (96, NULL)")
    return pg


def test_second_run_exports_only_new_rows_including_ties(tmp_path: Path, events: Pg) -> None:
    config = _config(tmp_path, events, tuning={"batch_size": 1000})
    first = rivet("run", "-c", str(config), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)["exports"][0]
    assert summary["rows"] == 95  # the NULL-cursor row has no place in the order: documented
    assert summary["cursor"] == "2026-01-01 00:09:00.000000Z"
    # A late row with the same cursor value as the last exported row, and newer rows.
    events.execute("INSERT INTO events VALUES (97, timestamptz '2026-01-01 00:09:00+00')")
    events.execute("INSERT INTO events VALUES (98, timestamptz '2026-01-01 00:10:00+00')")
    second = rivet("run", "-c", str(config), "--json")
    assert second.returncode == 0, second.stderr
    assert _ids(tmp_path / "out") == [list(range(1, 96)), [97, 98]]
    third = rivet("run", "-c", str(config), "--json")
    assert json.loads(third.stdout)["exports"][0]["rows"] == 0  # nothing new, cursor unchanged
    state = rivet("state", "show", "-c", str(config))
    assert "t" in state.stdout and "2026-01-01 00:10:00.000000Z" in state.stdout


def test_the_cursor_moves_only_after_publishing(tmp_path: Path, events: Pg) -> None:
    config = _config(tmp_path, events)
    killed = rivet("run", "-c", str(config), env={"RIVET_TEST_PANIC_AT": "before_cursor_commit"})
    assert killed.returncode == -9
    assert (tmp_path / "out" / "_SUCCESS").exists()  # published, but the cursor did not move
    rerun = rivet("run", "-c", str(config), "--json")
    assert json.loads(rerun.stdout)["exports"][0]["rows"] == 95  # at least once: exported again
    assert rivet("state", "reset", "-c", str(config), "-e", "t").returncode == 0
    again = rivet("run", "-c", str(config), "--json")
    assert json.loads(again.stdout)["exports"][0]["rows"] == 95


def test_timestamps_compare_in_utc_whatever_the_role_time_zone(tmp_path: Path, events: Pg) -> None:
    events.execute("ALTER ROLE postgres SET TimeZone = 'America/New_York'")
    try:
        config = _config(tmp_path, events)
        assert rivet("run", "-c", str(config)).returncode == 0
        events.execute("INSERT INTO events VALUES (99, timestamptz '2026-01-01 00:09:30+00')")
        second = rivet("run", "-c", str(config), "--json")
        assert json.loads(second.stdout)["exports"][0]["rows"] == 1
    finally:
        events.execute("ALTER ROLE postgres RESET TimeZone")


def test_time_window_exports_the_last_days_from_utc_midnight(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE w (id int PRIMARY KEY, at timestamptz, day date)")
    midnight = "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    pg.execute(
        f"INSERT INTO w SELECT g, {midnight} - g * interval '12 hours' + interval '1 s', "
        "(now() AT TIME ZONE 'UTC')::date - g / 2 FROM generate_series(0, 20) g"
    )
    for column, expected in (("at", set(range(0, 7))), ("day", set(range(0, 8)))):
        out = tmp_path / column
        config = write_config(
            tmp_path,
            [
                {
                    "name": "t",
                    "table": f"{pg.schema}.w",
                    "mode": "time_window",
                    "time_column": column,
                    "days_window": 3,
                    "format": "parquet",
                    "destination": {"type": "local", "path": str(out)},
                }
            ],
        )
        result = rivet("run", "-c", str(config), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["exports"][0]["strategy"].startswith("time window(")
        (part,) = out.glob("t_*.parquet")
        assert set(pq.read_table(part).column("id").to_pylist()) == expected, column


def test_postgres_state_backend_and_concurrent_first_use(tmp_path: Path, events: Pg) -> None:
    import threading

    from tests.live.conftest import PG_URL

    state_url = PG_URL + f"?options=-csearch_path%3D{events.schema}"
    env = {"RIVET_STATE_URL": state_url}
    config = _config(tmp_path, events)
    codes: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: codes.append(
                rivet("state", "show", "-c", str(config), env=env).returncode
            )
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [0, 0, 0]  # three processes migrating one new store: each migration once
    assert events.scalar("SELECT count(*) FROM schema_version") == len(MIGRATIONS)
    first = rivet("run", "-c", str(config), "--json", env=env)
    assert json.loads(first.stdout)["exports"][0]["rows"] == 95
    assert (
        events.scalar("SELECT last_cursor_value FROM export_state") == "2026-01-01 00:09:00.000000Z"
    )
    assert not (tmp_path / ".rivet_state.db").exists()
    second = rivet("run", "-c", str(config), "--json", env=env)
    assert json.loads(second.stdout)["exports"][0]["rows"] == 0


def test_coalesce_cursor_falls_back_for_null_cursors(
    tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """incremental_cursor_mode: coalesce orders by COALESCE(updated_at, created_at): rows never
    updated (updated_at NULL) are exported by their creation time, and nothing is lost."""
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE acct (id int PRIMARY KEY, created_at timestamptz NOT NULL, "
               "updated_at timestamptz, v text)")  # fmt: skip
    pg.execute("INSERT INTO acct SELECT g, timestamptz '2026-01-01' + g * interval '1 min', "
               "CASE WHEN g % 2 = 0 THEN timestamptz '2026-02-01' + g * interval '1 min' END, "
               "'v' FROM generate_series(1, 200) g")  # fmt: skip
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "acct", "table": f"{pg.schema}.acct", "format": "parquet",
          "mode": "incremental", "cursor_column": "updated_at",
          "incremental_cursor_mode": "coalesce", "cursor_fallback_column": "created_at",
          "destination": {"type": "local", "path": str(out)}}],
    )  # fmt: skip
    import rivet as api

    (first,) = api.run(config, quiet=True).results
    assert first.status == "success" and first.rows == 200, first.error
    assert first.cursor is not None and first.cursor.startswith("2026-02-01 03:20")  # g = 200
    pg.execute("UPDATE acct SET updated_at = timestamptz '2026-03-01' WHERE id IN (1, 2)")
    pg.execute("INSERT INTO acct VALUES (201, timestamptz '2026-03-02', NULL, 'new')")
    (second,) = api.run(config, quiet=True).results
    assert second.rows == 3
    tables = [pq.read_table(p) for p in sorted(out.glob("*.parquet"))]
    assert all(t.column_names == ["id", "created_at", "updated_at", "v"] for t in tables)
    ids = sorted(i for t in tables for i in t.column("id").to_pylist())
    assert ids == sorted([*range(1, 202), 1, 2])  # 1 and 2 again: they changed


def test_coalesce_on_mysql_says_what_to_do_instead(tmp_path: Path, my: My) -> None:
    my.execute("CREATE TABLE acct (id INT PRIMARY KEY, created_at DATETIME, updated_at DATETIME)")
    config = write_config(
        tmp_path,
        [{"name": "acct", "table": f"{my.database}.acct", "format": "csv",
          "mode": "incremental", "cursor_column": "updated_at",
          "incremental_cursor_mode": "coalesce", "cursor_fallback_column": "created_at",
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip
    result = rivet("run", "-c", str(config), url=my.url)
    assert result.returncode == 1
    assert "coalesce is available for PostgreSQL sources only" in result.stderr
    assert "COALESCE(updated_at, created_at)) STORED" in result.stderr
