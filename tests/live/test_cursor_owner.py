"""Two configs in one folder share its state file; a stored cursor remembers the config and
table that stored it, so another config's export of the same name never silently continues it
(issue 17, item 3: the second config's first run exported 0 rows)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import yaml

from tests.live.conftest import Pg, rivet


def _write(tmp_path: Path, name: str, table: str, out: str) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({
        "source": {"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL"},
        "exports": [{"name": "orders", "table": table, "mode": "incremental",
                     "cursor_column": "id", "format": "csv",
                     "destination": {"type": "local", "path": str(tmp_path / out)}}],
    }))  # fmt: skip
    return path


def _rows(config: Path) -> int:
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["exports"][0]["rows"])


def test_a_second_config_with_the_same_export_name_is_told_whose_cursor_it_found(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute("CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 40) g")
    first = _write(tmp_path, "eu.yaml", f"{pg.schema}.orders", "eu")
    second = _write(tmp_path, "us.yaml", f"{pg.schema}.orders", "us")
    assert _rows(first) == 40
    refused = rivet("run", "-c", str(second))
    assert refused.returncode == 1
    assert "belongs to export 'orders' of eu.yaml" in refused.stderr, refused.stderr
    assert f"rivet state adopt -c {second} -e orders" in refused.stderr
    assert not list((tmp_path / "us").glob("*.csv"))  # nothing written, nothing skipped
    adopted = rivet("state", "adopt", "-c", str(second), "-e", "orders")
    assert adopted.returncode == 0, adopted.stderr
    assert _rows(second) == 0  # it continues the cursor now, as asked
    assert rivet("run", "-c", str(first)).returncode == 1  # and eu.yaml is the one refused


def test_another_table_under_the_same_name_is_refused(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE a AS SELECT g AS id FROM generate_series(1, 5) g")
    pg.execute("CREATE TABLE b AS SELECT g AS id FROM generate_series(1, 9) g")
    config = _write(tmp_path, "rivet.yaml", f"{pg.schema}.a", "out")
    assert _rows(config) == 5
    _write(tmp_path, "rivet.yaml", f"{pg.schema}.b", "out")
    refused = rivet("run", "-c", str(config))
    assert refused.returncode == 1 and f"reading {pg.schema}.a" in refused.stderr
    assert rivet("state", "reset", "-c", str(config), "-e", "orders").returncode == 0
    assert _rows(config) == 9


def test_a_cursor_stored_without_owner_is_bound_by_its_next_run(tmp_path: Path, pg: Pg) -> None:
    """State written before owners were kept (or imported from rivet-cli 0.7.7) has none."""
    pg.execute("CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 40) g")
    config = _write(tmp_path, "rivet.yaml", f"{pg.schema}.orders", "out")
    assert _rows(config) == 40
    with sqlite3.connect(tmp_path / ".rivet_state.db") as db:
        (payload,) = db.execute("SELECT position_json FROM export_state").fetchone()
        stored = json.loads(payload)
        assert stored["owner"] == {"config": "rivet.yaml", "table": f"{pg.schema}.orders"}
        del stored["owner"]
        db.execute("UPDATE export_state SET position_json = ?", (json.dumps(stored),))
    pg.execute("INSERT INTO orders VALUES (41)")
    result = rivet("run", "-c", str(config), "--json")
    summary = json.loads(result.stdout)["exports"][0]
    assert summary["rows"] == 1
    assert any("had no owner" in w and "now bound to rivet.yaml" in w for w in summary["warnings"])
    again = rivet("run", "-c", str(config), "--json")
    assert not json.loads(again.stdout)["exports"][0]["warnings"]
