"""`rivet init` then `rivet run`, unchanged, on every table of a mixed schema, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.live.conftest import My, Pg, rivet

ROWS = 160_000


def _postgres(pg: Pg) -> dict[str, int]:
    pg.execute(
        "CREATE TABLE big AS SELECT g AS id, (g % 1000)::numeric(12,2) AS amount, "
        "'row ' || g AS note, timestamptz '2026-01-01' + g * interval '1 second' AS at "
        f"FROM generate_series(1, {ROWS}) g"
    )
    pg.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
    pg.execute(
        "CREATE TABLE events AS SELECT md5(g::text)::uuid AS id, "
        "timestamptz '2026-01-01' + g * interval '1 second' AS updated_at, "
        f"jsonb_build_object('g', g) AS payload FROM generate_series(1, {ROWS}) g"
    )
    pg.execute("ALTER TABLE events ADD PRIMARY KEY (id)")
    pg.execute("CREATE INDEX ON events (updated_at)")
    pg.execute(
        "CREATE TABLE small (code text PRIMARY KEY, raw bytea, day date, flag bool, tags int[])"
    )
    pg.execute("INSERT INTO small VALUES ('a', '\\x00ff', '2026-01-01', true, '{1,2}'), "
               "('b', NULL, NULL, NULL, NULL)")  # fmt: skip
    pg.execute("CREATE TABLE nokey AS SELECT g::float8 / 3 AS x, g * interval '1 minute' AS span "
               "FROM generate_series(1, 1000) g")  # fmt: skip
    pg.execute('CREATE TABLE "Mixed Case" (id int PRIMARY KEY, "Some Value" text)')
    pg.execute("""INSERT INTO "Mixed Case" VALUES (1, 'x'), (2, 'y')""")
    pg.execute("CREATE VIEW recent AS SELECT id, at FROM big WHERE id <= 10")
    for table in ("big", "events", "small", "nokey", '"Mixed Case"'):
        pg.execute(f"ANALYZE {table}")
    return {"big": ROWS, "events": ROWS, "small": 2, "nokey": 1000, "Mixed Case": 2, "recent": 10}


def _mysql(my: My) -> dict[str, int]:
    my.execute("SET SESSION max_recursive_iterations = 1000000")
    seq = f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {ROWS}) "
    my.execute("CREATE TABLE big (id INT PRIMARY KEY, amount DECIMAL(12,2), note VARCHAR(40), "
               "at DATETIME(6))")  # fmt: skip
    my.execute(f"INSERT INTO big {seq} SELECT g, g % 1000, CONCAT('row ', g), "
               "TIMESTAMP('2026-01-01') + INTERVAL g SECOND FROM s")  # fmt: skip
    my.execute("CREATE TABLE events (id CHAR(32) PRIMARY KEY, updated_at DATETIME NOT NULL, "
               "payload JSON, KEY (updated_at))")  # fmt: skip
    my.execute(f"INSERT INTO events {seq} SELECT MD5(g), TIMESTAMP('2026-01-01') + INTERVAL g "
               "SECOND, JSON_OBJECT('g', g) FROM s")  # fmt: skip
    my.execute("CREATE TABLE small (code VARCHAR(10) PRIMARY KEY, raw BLOB, day DATE, flag BOOL, "
               "v ENUM('p', 'q'))")  # fmt: skip
    my.execute("INSERT INTO small VALUES ('a', x'00ff', '2026-01-01', 1, 'p'), "
               "('b', NULL, NULL, NULL, NULL)")  # fmt: skip
    my.execute("CREATE TABLE nokey (x DOUBLE, t TIME)")
    my.execute("INSERT INTO nokey VALUES (1.5, '10:00:00'), (2.5, '-01:00:00')")
    my.execute("CREATE TABLE `Mixed Case` (id INT PRIMARY KEY, `Some Value` TEXT)")
    my.execute("INSERT INTO `Mixed Case` VALUES (1, 'x'), (2, 'y')")
    my.execute("CREATE VIEW recent AS SELECT id, at FROM big WHERE id <= 10")
    my.execute("ANALYZE TABLE big, events, small, nokey, `Mixed Case`")
    return {"big": ROWS, "events": ROWS, "small": 2, "nokey": 2, "Mixed Case": 2, "recent": 10}


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_init_then_run_exports_every_table_unchanged(
    tmp_path: Path, request: pytest.FixtureRequest, engine: str
) -> None:
    if engine == "postgres":
        pg: Pg = request.getfixturevalue("pg")
        counts, url, schema = _postgres(pg), pg.url, pg.schema
    else:
        my: My = request.getfixturevalue("my")
        counts, url, schema = _mysql(my), my.url, my.database
    config = tmp_path / "rivet.yaml"
    env_args = ("--source-env", "RIVET_TEST_SOURCE_URL", "--schema", schema)
    made = rivet("init", *env_args, "-o", str(config), url=url)
    assert made.returncode == 0, made.stderr
    text = config.read_text()
    assert "mode: chunked" in text and "mode: incremental" in text  # big, events
    assert "RIVET_TEST_SOURCE_URL" in text and "127.0.0.1" not in text.split("source:")[1]
    again = rivet("init", *env_args, "-o", str(config), url=url)
    assert again.returncode == 1 and "never overwrites" in again.stderr

    discovered = rivet("init", *env_args, "--discover", url=url)
    tables = {t["table"]: t for t in json.loads(discovered.stdout)}
    assert tables["events"]["cursor_candidates"][0]["column"] == "updated_at"
    assert "indexed" in tables["events"]["cursor_candidates"][0]["reasons"]
    assert tables["big"]["chunk_candidates"][0]["reasons"][0] == "primary_key"
    assert {t: v["suggested_mode"] for t, v in tables.items()}["recent"] == "full"

    ran = rivet("run", "-c", str(config), "--json", url=url)
    assert ran.returncode == 0, ran.stderr
    exports = json.loads(ran.stdout)["exports"]
    rows = {e["export_name"]: (e["status"], e["rows"]) for e in exports}
    assert rows == {name: ("success", n) for name, n in counts.items()}
