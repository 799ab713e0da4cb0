"""Run history from the state store: `rivet metrics`, `rivet journal`, `rivet state files`, and
the per-run report files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.live.conftest import Pg, rivet, write_config


def test_metrics_journal_and_files_tell_what_each_run_did(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE h (id int PRIMARY KEY, v text)")
    pg.execute("INSERT INTO h SELECT g, 'v' || g FROM generate_series(1, 2500) g")
    config = write_config(
        tmp_path,
        [{"name": "h", "table": f"{pg.schema}.h", "format": "csv", "quality": {"row_count_min": 1},
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
    )  # fmt: skip
    first = rivet("run", "-c", str(config), "--json")
    assert first.returncode == 0, first.stderr
    pg.execute("ALTER TABLE h ADD COLUMN w int")
    second = rivet("run", "-c", str(config), "--reconcile", "--json")
    assert second.returncode == 0, second.stderr
    assert "CHANGED: added: w (int32)" in second.stderr
    assert "match (2,500)" in second.stderr
    run_ids = [json.loads(r.stdout)["exports"][0]["run_id"] for r in (first, second)]

    metrics = json.loads(rivet("metrics", "-c", str(config), "--json").stdout)
    assert [m["run_id"] for m in metrics] == run_ids[::-1]
    latest = metrics[0]
    assert (latest["status"], latest["rows"], latest["files"]) == ("success", 2500, 1)
    assert latest["details"]["schema"] == "CHANGED"
    assert latest["details"]["reconcile"] == "match (2,500)"
    assert latest["details"]["validated"] == "pass"  # --reconcile implies --validate
    assert latest["details"]["quality"] == "pass"
    table = rivet("metrics", "-c", str(config)).stdout
    assert "schema=CHANGED" in table and "reconcile=match (2,500)" in table

    journals = json.loads(rivet("journal", "-c", str(config), "-e", "h", "--json").stdout)
    events = [e["event"] for e in journals[0]["events"]]
    # a full export replaces: the second run retires the first after publishing
    assert events == ["planned", "schema_changed", "reconciled", "published", "retired", "success"]
    assert journals[0]["events"][4]["runs"] == [run_ids[0]]
    assert journals[0]["events"][1]["changes"] == ["added: w (int32)"]
    one = rivet("journal", "-c", str(config), "-e", "h", "--run-id", run_ids[0])
    assert run_ids[0] in one.stdout and "published" in one.stdout

    files = json.loads(rivet("state", "files", "-c", str(config), "--json").stdout)
    assert [f["run_id"] for f in files] == run_ids[::-1]
    assert all(f["rows"] == 2500 and f["fingerprint"].startswith("xxh3:") for f in files)
    newest, retired = files
    assert (tmp_path / "out" / newest["file_name"]).stat().st_size == newest["bytes"]
    assert not (tmp_path / "out" / retired["file_name"]).exists()  # replaced by the second run

    (progress,) = json.loads(rivet("state", "progression", "-c", str(config), "--json").stdout)
    assert progress["committed"] == f"run {run_ids[1]} (2,500 rows)"
    assert progress["verified"] == progress["committed"]  # --reconcile matched

    report = tmp_path / ".rivet" / "runs" / run_ids[1]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["schema_changes"] == ["added: w (int32)"]
    assert "reconcile" in (report / "summary.md").read_text()
