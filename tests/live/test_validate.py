"""`rivet validate`: deleting, truncating or editing a part, or adding one, is always reported."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rivet
from rivet.commands.validate import validate
from rivet.pipeline.manifest import success_marker
from rivet.pipeline.parts import fingerprint
from tests.live.conftest import PG_URL, S3, Pg, write_config
from tests.live.conftest import rivet as rivet_cli


@pytest.fixture
def exported(tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A completed parquet export of 30,000 rows in several parts."""
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE v (id int PRIMARY KEY, name text, note text, amount numeric(10,2))")
    pg.execute(
        "INSERT INTO v SELECT g, 'name ' || g, CASE WHEN g % 3 = 0 THEN NULL "
        "WHEN g % 3 = 1 THEN '' ELSE md5(g::text) END, g / 7.0 FROM generate_series(1, 30000) g"
    )
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [
            {
                "name": "v",
                "table": f"{pg.schema}.v",
                "max_file_size": "200KB",
                "format": "parquet",
                "parquet": {"row_group_rows": 5000},
                "destination": {"type": "local", "path": str(out)},
            }
        ],
    )
    result = rivet.run(config, quiet=True)
    assert result.results[0].status == "success", result.results[0].error
    return config, out


def _parts(out: Path) -> list[Path]:
    return sorted(out.glob("v_*.parquet"))


def _problems(config: Path, full: bool = False) -> list[tuple[str, str]]:
    (report,) = validate(config, full=full)
    return [(p.kind, p.path) for p in report.problems]


def test_a_clean_export_validates_with_checksums(exported: tuple[Path, Path]) -> None:
    config, out = exported
    assert len(_parts(out)) > 1
    (report,) = validate(config, full=True)
    assert report.status == "passed", report.problems
    assert report.rows == 30000
    assert report.parts_verified == len(_parts(out))
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["manifest_version"] == 1  # rivet-cli 0.7.7's, extra fields added
    run_manifest = out / "_manifests" / f"{manifest['run_id']}.json"
    assert run_manifest.read_bytes() == (out / "_manifest.json").read_bytes()
    checksums = manifest["parts"][0]["column_checksums"]
    assert set(checksums) == {"id", "name", "note", "amount"}
    assert all(c.startswith("xxh3:") for c in checksums.values())


def test_a_deleted_part_is_missing(exported: tuple[Path, Path]) -> None:
    config, out = exported
    victim = _parts(out)[1]
    victim.unlink()
    assert _problems(config) == [("missing", victim.name)]


def test_a_truncated_part_is_reported(exported: tuple[Path, Path]) -> None:
    config, out = exported
    victim = _parts(out)[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    assert _problems(config) == [("truncated", victim.name)]


def test_an_edited_part_of_the_same_size_is_altered(exported: tuple[Path, Path]) -> None:
    config, out = exported
    victim = _parts(out)[-1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    assert _problems(config) == [("altered", victim.name)]
    assert _problems(config, full=True) == [("altered", victim.name)]


def test_a_rewritten_part_fails_its_column_checksums(exported: tuple[Path, Path]) -> None:
    """One value changed and the part rewritten by a tool that also patched the size and hash
    in the manifests: only --full decodes the part, and it names the column."""
    config, out = exported
    victim = _parts(out)[0]
    table = pq.read_table(victim)
    names = table.column("name").to_pylist()
    names[5] = "someone else"
    pq.write_table(table.set_column(1, "name", pa.array(names)), victim)
    for path in [out / "_manifest.json", *(out / "_manifests").glob("*.json")]:
        manifest = json.loads(path.read_text())
        entry = next(p for p in manifest["parts"] if p["path"] == victim.name)
        entry["size_bytes"] = victim.stat().st_size
        entry["content_fingerprint"] = fingerprint(victim)
        path.write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "_SUCCESS").write_text(success_marker((out / "_manifest.json").read_bytes()).decode())
    assert _problems(config) == []
    (report,) = validate(config, full=True)
    assert [(p.kind, p.path) for p in report.problems] == [("altered", victim.name)]
    assert report.problems[0].detail == "column checksums differ: name"


def test_an_extra_file_and_a_stale_marker_are_reported(exported: tuple[Path, Path]) -> None:
    config, out = exported
    (out / "v_stray.parquet").write_bytes(b"PAR1")
    (out / "_SUCCESS").write_text("xxh3:0000000000000000\n")
    assert sorted(_problems(config)) == [("extra", "v_stray.parquet"), ("marker", "_SUCCESS")]


def test_every_run_keeps_its_own_manifest(exported: tuple[Path, Path]) -> None:
    config, out = exported
    # append: the parts of every run stay (a full export replaces by default)
    config.write_text(
        config.read_text().replace(
            "format: parquet", "format: parquet\n  write_disposition: append"
        )
    )
    second = rivet.run(config, quiet=True)
    assert second.results[0].status == "success"
    manifests = sorted((out / "_manifests").glob("*.json"))
    assert len(manifests) == 2
    (report,) = validate(config, full=True)
    assert report.status == "passed", report.problems
    assert report.rows == 60000
    latest = json.loads((out / "_manifest.json").read_text())
    assert latest["run_id"] == second.results[0].run_id
    # one run only
    (one,) = validate(config, run_id=second.results[0].run_id)
    assert one.status == "passed" and one.rows == 30000


def test_cli_exit_code_and_json(exported: tuple[Path, Path]) -> None:
    config, out = exported
    ok = rivet_cli("validate", "-c", str(config), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["status"] == "passed"
    _parts(out)[0].unlink()
    bad = rivet_cli("validate", "-c", str(config))
    assert bad.returncode == 1
    assert "missing" in bad.stdout and "validation failed for v" in bad.stderr


def test_nothing_published_is_not_a_pass(tmp_path: Path, pg: Pg) -> None:
    config = write_config(
        tmp_path,
        [
            {
                "name": "v",
                "table": "x",
                "format": "csv",
                "destination": {"type": "local", "path": str(tmp_path)},
            }
        ],
    )
    result = rivet_cli("validate", "-c", str(config))
    assert result.returncode == 1
    assert "NO MANIFEST" in result.stdout


def test_a_deleted_object_on_s3_is_missing(
    tmp_path: Path, pg: Pg, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE v (id int PRIMARY KEY, name text)")
    pg.execute("INSERT INTO v SELECT g, 'n' || g FROM generate_series(1, 5000) g")
    config = write_config(
        tmp_path,
        [
            {
                "name": "v",
                "table": f"{pg.schema}.v",
                "format": "csv",
                "destination": {
                    "type": "s3",
                    "bucket": s3.bucket,
                    "prefix": "exports/v/",
                    "endpoint": s3.endpoint,
                    "region": "us-east-1",
                },
            }
        ],
    )
    assert rivet.run(config, quiet=True).results[0].status == "success"
    (report,) = validate(config, full=True)
    assert report.status == "passed", report.problems
    (part,) = [k for k in s3.keys("exports/v/") if k.endswith(".csv")]
    s3.client.delete_object(Bucket=s3.bucket, Key=part)
    (report,) = validate(config)
    assert [(p.kind, p.path) for p in report.problems] == [("missing", part.split("/")[-1])]


def test_csv_parts_are_parsed_back_into_their_types(
    tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--validate and validate --full compare a CSV part's column checksums too: an edited value
    is named by its column even when the size and hash in the manifests were patched."""
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    pg.execute("CREATE TABLE c (id int PRIMARY KEY, name text, amount numeric(10,2), "
               "at timestamptz, d date, ok boolean, f float8, raw bytea)")  # fmt: skip
    pg.execute("INSERT INTO c SELECT g, CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN '' "
               "ELSE 'n,\"' || g END, g / 8.0, timestamptz '2026-01-01' + g * interval '1 s', "
               "date '2026-01-01' + g, g % 2 = 0, g / 3.0, decode(md5(g::text), 'hex') "
               "FROM generate_series(1, 2000) g")  # fmt: skip
    out = tmp_path / "out"
    config = write_config(
        tmp_path,
        [{"name": "c", "table": f"{pg.schema}.c", "format": "csv",
          "destination": {"type": "local", "path": str(out)}}],
    )  # fmt: skip
    (result,) = rivet.run(config, validate=True, quiet=True).results
    assert result.status == "success" and result.validated == "pass", result.error
    (report,) = validate(config, full=True)
    assert report.status == "passed", report.problems
    (part,) = out.glob("*.csv")
    text = part.read_text()
    edited = text.replace("2026-01-01 00:00:07", "2026-01-01 00:00:08", 1)
    assert edited != text
    part.write_text(edited)
    for path in [out / "_manifest.json", *(out / "_manifests").glob("*.json")]:
        manifest = json.loads(path.read_text())
        manifest["parts"][0]["content_fingerprint"] = fingerprint(part)
        path.write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "_SUCCESS").write_text(success_marker((out / "_manifest.json").read_bytes()).decode())
    assert _problems(config) == []
    (report,) = validate(config, full=True)
    assert [p.detail for p in report.problems] == ["column checksums differ: at"]


def test_validate_from_another_folder_says_where_the_run_published(tmp_path: Path, pg: Pg) -> None:
    """A relative destination path resolves against the working directory, as for rivet-cli
    0.7.7: `rivet validate` run elsewhere finds no manifest, and says where the run published."""
    pg.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g")
    folder, elsewhere = tmp_path / "jobs", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    config = write_config(
        folder,
        [{"name": "t", "table": f"{pg.schema}.t", "format": "csv",
          "destination": {"type": "local", "path": "out/t"}}],
    )  # fmt: skip
    assert rivet_cli("run", "-c", str(config), cwd=folder).returncode == 0
    here = rivet_cli("validate", "-c", str(config), cwd=folder)
    assert here.returncode == 0, here.stdout + here.stderr
    away = rivet_cli("validate", "-c", str(config), cwd=elsewhere)
    assert away.returncode == 1
    assert "NO MANIFEST" in away.stdout
    assert f"its last run published to {(folder / 'out' / 't').as_uri()}" in away.stdout
    assert "relative destination path resolves against the working directory" in away.stdout
