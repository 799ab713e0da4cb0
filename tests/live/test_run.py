"""`rivet run` end to end against the real server: paging, parts, commit protocol, summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.live.conftest import Pg, rivet, write_config


def _config(tmp_path: Path, export: dict[str, object]) -> tuple[Path, Path]:
    out = tmp_path / "out"
    export = {
        "name": "t",
        "format": "parquet",
        "destination": {"type": "local", "path": str(out)},
        **export,
    }
    return write_config(tmp_path, [export]), out


def test_integer_key_is_read_in_ranges_and_every_row_lands_once_in_order(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute(
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS payload "
        "FROM generate_series(1, 25000) g"
    )
    pg.execute("ALTER TABLE big ADD PRIMARY KEY (id)")
    config, out = _config(tmp_path, {"table": f"{pg.schema}.big", "tuning": {"batch_size": 1000}})
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    assert summary["strategy"] == "key ranges(id, 1 connection(s))"
    # one statement per range of ~1,000 rows, and first a probe of 10 rows: pages are sized
    # by the row width measured, not by the catalog's (compressed values look narrow there)
    assert summary["statements"] == 26
    (part,) = out.glob("t_*.parquet")
    assert pq.read_table(part).column("id").to_pylist() == list(range(1, 25001))


def test_parallel_ranges_keep_key_order_and_page_through_dense_clusters(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute(
        "CREATE TABLE skew AS SELECT g AS id FROM generate_series(1, 1000) g "
        "UNION ALL SELECT g FROM generate_series(1000000, 1020000) g"
    )
    pg.execute("ALTER TABLE skew ADD PRIMARY KEY (id)")
    config, out = _config(
        tmp_path,
        {"table": f"{pg.schema}.skew", "tuning": {"profile": "fast", "batch_size": 1000}},
    )
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    assert summary["strategy"] == "key ranges(id, 2 connection(s))"
    (part,) = out.glob("t_*.parquet")
    expected = list(range(1, 1001)) + list(range(1000000, 1020001))
    assert pq.read_table(part).column("id").to_pylist() == expected


def test_composite_and_text_keys_page_correctly(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE comp (tenant text, seq int, v int, PRIMARY KEY (tenant, seq))")
    pg.execute("INSERT INTO comp SELECT 't' || (g % 7), g, g FROM generate_series(1, 5000) g")
    config, out = _config(tmp_path, {"table": f"{pg.schema}.comp", "tuning": {"batch_size": 999}})
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["exports"][0]["strategy"] == "keyset(tenant, seq)"
    (part,) = out.glob("*.parquet")
    values = pq.read_table(part).column("v").to_pylist()
    assert sorted(values) == list(range(1, 5001))


def test_table_without_key_uses_a_cursor_and_says_so(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE heap AS SELECT g AS v FROM generate_series(1, 3000) g")
    config, out = _config(tmp_path, {"table": f"{pg.schema}.heap", "tuning": {"batch_size": 1000}})
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    assert summary["strategy"] == "cursor"
    assert any("no primary key" in w for w in summary["warnings"])
    (part,) = out.glob("*.parquet")
    assert sorted(pq.read_table(part).column("v").to_pylist()) == list(range(1, 3001))


def test_max_file_size_rotates_into_numbered_parts_listed_in_the_manifest(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute(
        "CREATE TABLE r AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 5000) g"
    )
    config, out = _config(
        tmp_path,
        {"query": f"SELECT * FROM {pg.schema}.r", "format": "csv", "max_file_size": "100KB"},
    )
    result = rivet("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    parts = sorted(out.glob("t_*_part*.csv"), key=lambda p: int(p.stem.rsplit("part", 1)[1]))
    assert len(parts) >= 9
    assert all(100 * 1024 * 0.95 < p.stat().st_size < 100 * 1024 * 1.01 for p in parts[:-1])
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["row_count"] == 5000 and manifest["part_count"] == len(parts)
    assert [p["path"] for p in manifest["parts"]] == [p.name for p in parts]
    assert sum(len(p.read_text().splitlines()) - 1 for p in parts) == 5000


def test_success_marker_holds_the_manifest_hash_and_runs_never_overwrite(
    tmp_path: Path, pg: Pg
) -> None:
    import xxhash

    pg.execute("CREATE TABLE s AS SELECT 1 AS v")
    config, out = _config(tmp_path, {"table": f"{pg.schema}.s", "write_disposition": "append"})
    assert rivet("run", "-c", str(config)).returncode == 0
    assert rivet("run", "-c", str(config)).returncode == 0
    # both runs kept, in 0.7.7's second-stamped names: a second taken is not used again
    names = sorted(p.name for p in out.glob("t_*.parquet"))
    assert len(names) == 2 and all(re.fullmatch(r"t_\d{8}_\d{6}\.parquet", n) for n in names)
    manifest = (out / "_manifest.json").read_bytes()
    assert (out / "_SUCCESS").read_text() == f"xxh3:{xxhash.xxh3_64_hexdigest(manifest)}\n"
    assert not (out / ".rivet_staging").exists()


def test_one_export_by_name_and_unknown_name(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE s AS SELECT 1 AS v")
    out = tmp_path / "out"
    exports = [
        {
            "name": n,
            "table": f"{pg.schema}.s",
            "format": "csv",
            "destination": {"type": "local", "path": str(out / n)},
        }
        for n in ("a", "b")
    ]
    config = write_config(tmp_path, exports)
    assert rivet("run", "-c", str(config), "-e", "b").returncode == 0
    assert not (out / "a").exists() and (out / "b" / "_SUCCESS").exists()
    missing = rivet("run", "-c", str(config), "-e", "nope")
    assert missing.returncode == 1
    assert "export 'nope' not found in config" in missing.stderr and "a, b" in missing.stderr


def test_parquet_codec_level_and_row_groups_follow_config(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE rg AS SELECT g AS id FROM generate_series(1, 10000) g")
    config, out = _config(
        tmp_path,
        {
            "table": f"{pg.schema}.rg",
            "compression": "gzip",
            "compression_level": 9,
            "parquet": {"row_group_strategy": "fixed_rows", "row_group_rows": 3000},
        },
    )
    assert rivet("run", "-c", str(config)).returncode == 0
    (part,) = out.glob("*.parquet")
    meta = pq.ParquetFile(part).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        3000,
        3000,
        3000,
        1000,
    ]
    assert meta.row_group(0).column(0).compression == "GZIP"


def test_skip_empty_writes_nothing_and_reports_skipped(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE e (id int PRIMARY KEY)")
    config, out = _config(tmp_path, {"table": f"{pg.schema}.e", "skip_empty": True})
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["exports"][0]["status"] == "skipped"
    assert list(out.iterdir()) == []


def test_params_fill_the_query(tmp_path: Path, pg: Pg) -> None:
    pg.execute(
        "CREATE TABLE p AS SELECT g AS id, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END "
        "AS region FROM generate_series(1, 10) g"
    )
    config, out = _config(
        tmp_path, {"query": f"SELECT id FROM {pg.schema}.p WHERE region = '${{region}}'"}
    )
    result = rivet("run", "-c", str(config), "-p", "region=eu")
    assert result.returncode == 0, result.stderr
    (part,) = out.glob("*.parquet")
    assert pq.read_table(part).column("id").to_pylist() == [2, 4, 6, 8, 10]


@pytest.mark.parametrize("point", ["after_first_batch", "before_publish"])
def test_a_killed_run_leaves_no_part_under_a_final_name(tmp_path: Path, pg: Pg, point: str) -> None:
    pg.execute("CREATE TABLE k AS SELECT g AS id FROM generate_series(1, 30000) g")
    pg.execute("ALTER TABLE k ADD PRIMARY KEY (id)")
    config, out = _config(tmp_path, {"table": f"{pg.schema}.k", "tuning": {"batch_size": 5000}})
    killed = rivet("run", "-c", str(config), env={"RIVET_TEST_PANIC_AT": point})
    assert killed.returncode == -9
    assert [p.name for p in out.iterdir()] == [".rivet_staging"]  # hidden, never a final name
    assert rivet("run", "-c", str(config)).returncode == 0
    (part,) = out.glob("t_*.parquet")
    assert pq.read_table(part).num_rows == 30000


def test_a_run_killed_while_publishing_leaves_no_success_marker(tmp_path: Path, pg: Pg) -> None:
    pg.execute(
        "CREATE TABLE k AS SELECT g AS id, repeat('y', 100) AS pad FROM generate_series(1, 3000) g"
    )
    config, out = _config(
        tmp_path, {"table": f"{pg.schema}.k", "format": "csv", "max_file_size": "50KB"}
    )
    assert rivet("run", "-c", str(config)).returncode == 0
    assert (out / "_SUCCESS").exists()
    killed = rivet("run", "-c", str(config), env={"RIVET_TEST_PANIC_AT": "after_part_published"})
    assert killed.returncode == -9
    assert not (out / "_SUCCESS").exists()  # the old marker never sits beside a partial publish


def test_stdout_carries_the_data_and_nothing_else(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE o AS SELECT g AS id, 'x' || g AS v FROM generate_series(1, 1000) g")
    stdout_export = {
        "name": "o",
        "table": f"{pg.schema}.o",
        "format": "csv",
        "destination": {"type": "stdout"},
    }
    config = write_config(tmp_path, [stdout_export])
    result = rivet("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "id,v" and len(lines) == 1001 and lines[1] == "1,x1"
    assert "status:" in result.stderr  # the summary goes to stderr
    refused = rivet("run", "-c", str(config), "--json")
    assert refused.returncode == 1 and refused.stdout == ""
    assert "--summary-output" in refused.stderr
    two = write_config(tmp_path, [stdout_export, {**stdout_export, "name": "p"}])
    both = rivet("run", "-c", str(two))
    assert both.returncode == 1 and both.stdout == "" and "select one with -e" in both.stderr


def test_stdout_gets_nothing_when_the_export_fails(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE f (id int PRIMARY KEY, d date)")
    pg.execute("INSERT INTO f SELECT g, '2020-01-01' FROM generate_series(1, 100) g")
    pg.execute("INSERT INTO f VALUES (101, 'infinity')")
    config = write_config(
        tmp_path,
        [
            {
                "name": "f",
                "table": f"{pg.schema}.f",
                "format": "parquet",
                "destination": {"type": "stdout"},
            }
        ],
    )
    result = rivet("run", "-c", str(config))
    assert result.returncode == 1 and result.stdout == ""


def test_validate_rereads_parts_and_reports_it(tmp_path: Path, pg: Pg) -> None:
    pg.execute(
        "CREATE TABLE v AS SELECT g AS id, E'line\\nbreak ' || g AS t "
        "FROM generate_series(1, 3000) g"
    )
    for fmt in ("csv", "parquet"):
        config, _out = _config(
            tmp_path, {"table": f"{pg.schema}.v", "format": fmt, "max_file_size": "20KB"}
        )
        result = rivet("run", "-c", str(config), "--validate", "--json")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)["exports"][0]
        assert summary["validated"] == "pass" and summary["rows"] == 3000
        assert summary["files"] > 1 or fmt == "parquet"  # CSV: quoted newlines in parts


def test_long_compressible_rows_are_read_in_pages_of_the_budget(tmp_path: Path, pg: Pg) -> None:
    """256 KB rows of repetitive text: TOAST stores them compressed, so the catalog's bytes per
    row were ~100x too small and the first key range held the whole table (1.2 GB in one
    statement, on bench's long_rows). Pages are now sized by the width read."""
    pg.execute("CREATE TABLE long_rows AS SELECT g AS id, repeat(md5(g::text), 8192) AS body "
               "FROM generate_series(1, 400) g")  # fmt: skip
    pg.execute("ALTER TABLE long_rows ADD PRIMARY KEY (id)")
    pg.execute("ANALYZE long_rows")
    config, out = _config(tmp_path, {"table": f"{pg.schema}.long_rows",
                                     "tuning": {"profile": "safe"}})  # fmt: skip
    result = rivet("run", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["exports"][0]
    # safe pages are 4 MB: after a probe of 10 rows, 20 rows of 256 KB at most (1.25x the
    # budget), so 400 rows take 11 statements or more (before: the first held every row)
    assert summary["statements"] >= 11, summary["statements"]
    (part,) = out.glob("t_*.parquet")
    assert pq.read_table(part, columns=["id"]).column("id").to_pylist() == list(range(1, 401))
