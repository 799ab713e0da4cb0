"""`rivet plan` / `rivet apply`: a sealed artifact, refused when changed, stale or overtaken,
and otherwise run exactly as planned."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import rivet
from rivet.commands.plan import PlanRefused, load_plan
from tests.live.conftest import PG_URL, My, Pg, parquet_ids, write_config
from tests.live.conftest import rivet as rivet_cli


@pytest.fixture
def setup(tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Pg]:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE c (id int PRIMARY KEY, v text)")
    pg.execute("INSERT INTO c SELECT g, 'v' || g FROM generate_series(1, 1000) g")
    pg.execute("CREATE TABLE e (id int PRIMARY KEY, at timestamptz NOT NULL)")
    pg.execute("INSERT INTO e SELECT g, timestamptz '2026-01-01' + g * interval '1 min' "
               "FROM generate_series(1, 500) g")  # fmt: skip
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {"name": "chunks", "table": f"{pg.schema}.c", "format": "parquet", "mode": "chunked",
             "chunk_size": 250, "destination": {"type": "local", "path": str(out / "chunks")}},
            {"name": "events", "table": f"{pg.schema}.e", "format": "parquet",
             "mode": "incremental", "cursor_column": "at",
             "destination": {"type": "local", "path": str(out / "events")}},
        ],
    )  # fmt: skip
    return config, pg


def test_a_plan_is_sealed_reviewable_and_applied_exactly(
    setup: tuple[Path, Pg], tmp_path: Path
) -> None:
    config, pg = setup
    made = rivet_cli("plan", "-c", str(config), "-o", str(tmp_path / "plan.json"))
    assert made.returncode == 0, made.stderr
    assert (
        "chunked(id: 4 ranges" in made.stdout and "cursor:      after the beginning" in made.stdout
    )
    text = (tmp_path / "plan.json").read_text()
    assert PG_URL not in text and "RIVET_TEST_SOURCE_URL" in text  # the variable, not the URL
    artifact = json.loads(text)
    assert artifact["seal"].startswith("sha256:")
    assert [e["name"] for e in artifact["exports"]] == ["chunks", "events"]  # one artifact
    chunks = artifact["exports"][0]["chunks"]
    assert chunks["column"] == "id" and len(chunks["ranges"]) == 4
    assert "WHERE" in artifact["exports"][0]["statement"]
    # rows added after planning, beyond the planned ranges, are not part of this run
    pg.execute("INSERT INTO c VALUES (5000, 'late')")
    pg.execute("INSERT INTO e VALUES (501, timestamptz '2027-01-01')")
    assert artifact["exports"][1]["cursor"]["until"][1] == "500"  # (cursor, id) of the last row
    result = rivet.apply(tmp_path / "plan.json", quiet=True)
    assert [r.status for r in result.results] == ["success", "success"]
    assert parquet_ids(tmp_path / "out" / "chunks") == list(range(1, 1001))
    assert parquet_ids(tmp_path / "out" / "events") == list(range(1, 501))
    # applying it again: the incremental cursor has moved since planning
    again = rivet_cli("apply", str(tmp_path / "plan.json"))
    assert again.returncode == 1
    assert "export 'events': its cursor moved since the plan was made" in again.stderr
    # the next plain run picks up what came after the plan
    (later,) = rivet.run(config, ["events"], quiet=True).results
    assert later.rows == 1 and parquet_ids(tmp_path / "out" / "events") == list(range(1, 502))


def test_a_changed_plan_is_refused(setup: tuple[Path, Pg], tmp_path: Path) -> None:
    config, _ = setup
    rivet.plan(config, ["chunks"], output=tmp_path / "plan.json")
    artifact = json.loads((tmp_path / "plan.json").read_text())
    artifact["exports"][0]["chunks"]["ranges"][0][2] = "1000000"  # widen a range
    (tmp_path / "plan.json").write_text(json.dumps(artifact))
    refused = rivet_cli("apply", str(tmp_path / "plan.json"))
    assert refused.returncode == 1
    assert "the seal does not match its content" in refused.stderr
    assert not (tmp_path / "out").exists()


def test_a_stale_plan_needs_force(setup: tuple[Path, Pg], tmp_path: Path) -> None:
    config, _ = setup
    rivet.plan(config, ["chunks"], output=tmp_path / "plan.json")
    later = datetime.now(UTC) + timedelta(hours=25)
    with pytest.raises(PlanRefused, match="expired"):
        load_plan(tmp_path / "plan.json", now=later)
    assert load_plan(tmp_path / "plan.json", force=True, now=later)["exports"]


def test_a_keyed_seal_needs_the_same_key(
    setup: tuple[Path, Pg], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = setup
    monkeypatch.setenv("RIVET_PLAN_KEY", "k1")
    artifact = rivet.plan(config, ["chunks"], output=tmp_path / "plan.json")
    assert artifact["seal"].startswith("hmac-sha256:")
    monkeypatch.setenv("RIVET_PLAN_KEY", "k2")
    with pytest.raises(PlanRefused, match="RIVET_PLAN_KEY differs"):
        load_plan(tmp_path / "plan.json")
    monkeypatch.setenv("RIVET_PLAN_KEY", "k1")
    assert load_plan(tmp_path / "plan.json")["plan_id"] == artifact["plan_id"]


def test_a_password_in_the_config_is_refused(tmp_path: Path, pg: Pg) -> None:
    config = write_config(
        tmp_path,
        [{"name": "x", "table": "t", "format": "csv",
          "destination": {"type": "local", "path": str(tmp_path)}}],
        source={"type": "postgres", "url": "postgresql://u:secret@127.0.0.1/test"},
    )  # fmt: skip
    result = rivet_cli("plan", "-c", str(config))
    assert result.returncode != 0
    assert "a plan never stores credentials" in result.stderr and "secret" not in result.stderr


def test_an_incremental_mysql_plan_reads_up_to_the_planned_row(
    tmp_path: Path, my: My, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", my.url)
    my.execute("CREATE TABLE ev (id INT PRIMARY KEY, at TIMESTAMP(6) NOT NULL)")
    my.execute("INSERT INTO ev SELECT seq, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND "
               "FROM seq_1_to_300")  # fmt: skip
    config = write_config(
        tmp_path,
        [{"name": "ev", "table": f"{my.database}.ev", "format": "parquet", "mode": "incremental",
          "cursor_column": "at", "destination": {"type": "local", "path": str(tmp_path / "o")}}],
        source={"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"},
    )  # fmt: skip
    artifact = rivet.plan(config, output=tmp_path / "plan.json")
    assert artifact["exports"][0]["cursor"]["until"][1] == "300"
    my.execute("INSERT INTO ev VALUES (301, '2027-01-01 00:00:00')")
    (applied,) = rivet.apply(tmp_path / "plan.json", quiet=True).results
    assert applied.status == "success" and applied.rows == 300
    assert parquet_ids(tmp_path / "o") == list(range(1, 301))
