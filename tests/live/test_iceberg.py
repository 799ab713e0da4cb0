"""table_format: iceberg (issue 20, item 4): each run is one commit of an Apache Iceberg table
whose data files are the run's published parts, read back by pyiceberg and DuckDB's iceberg
reader; replace overwrites, append and incremental add; a crash before the commit leaves the
table as it was; two runs at once both land; bad catalogs and conflicting tables are refused
before any row is read."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from tests.live.conftest import PG_URL, S3, Pg, duckdb_on_s3, rivet, write_config
from tests.live.iceberg_rest import rest_catalog
from tests.live.test_type_matrix import matrix  # noqa: F401 (a fixture)

ROWS = 2000


def _orders(pg: Pg, rows: int = ROWS) -> str:
    pg.execute(
        f"""CREATE TABLE orders AS SELECT g AS id,
              (ARRAY['eu', 'us', NULL, ''])[1 + g % 4] AS region,
              timestamptz '2024-01-30 20:00Z' + (g * 11 || ' minutes')::interval AS created_at,
              (g * 1.25)::numeric(12, 2) AS amount
            FROM generate_series(1, {rows}) g"""
    )
    pg.execute("ALTER TABLE orders ADD PRIMARY KEY (id)")
    return f"{pg.schema}.orders"


def _export(table: str, out: Path | dict[str, Any], **extra: Any) -> dict[str, Any]:
    destination = out if isinstance(out, dict) else {"type": "local", "path": str(out)}
    return {"name": "orders", "table": table, "format": "parquet", "table_format": "iceberg",
            "destination": destination, **extra}  # fmt: skip


def _table(tmp_path: Path, name: str = "orders", **properties: str) -> Table:
    catalog = SqlCatalog("rivet", uri=f"sqlite:///{tmp_path / '.rivet_iceberg.db'}", **properties)
    return catalog.load_table(f"rivet.{name}")


def _duckdb(db: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """DuckDB with its iceberg extension (and avro, which it needs), from their PyPI wheels."""
    db = db or duckdb.connect()
    for module in ("duckdb_extension_avro", "duckdb_extension_iceberg"):
        folder = os.path.dirname(__import__(module).__file__ or "")
        (extension,) = glob.glob(os.path.join(folder, "extensions", "*", "*.duckdb_extension"))
        db.execute(f"LOAD '{extension}'")
    return db


def _source(pg: Pg) -> list[tuple[Any, ...]]:
    return pg.conn.execute(
        "SELECT id, region, created_at, amount FROM orders ORDER BY id"
    ).fetchall()


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    ordered = table.select(["id", "region", "created_at", "amount"]).sort_by("id")
    return list(zip(*(c.to_pylist() for c in ordered.columns), strict=True))


def test_runs_are_snapshots_read_by_pyiceberg_and_duckdb(tmp_path: Path, pg: Pg) -> None:
    out = tmp_path / "out"
    by = ["region", {"column": "created_at", "granularity": "day"}]
    config = write_config(tmp_path, [_export(_orders(pg), out, partition_by=by)])
    first = rivet("run", "-c", str(config), "--validate")
    assert first.returncode == 0, first.stderr
    table = _table(tmp_path)
    assert _rows(table.scan().to_arrow()) == _source(pg)
    assert [str(f.transform) for f in table.spec().fields] == ["identity", "day"]
    # the table's files are the run's parts, registered where rivet published them
    files = {t.file.file_path for t in table.scan().plan_files()}
    assert files == {str(p) for p in out.rglob("*.parquet")}
    # '' and NULL are different partitions of an Iceberg table (the files hold the column)
    assert (out / "region=").is_dir() and (out / "region=__HIVE_DEFAULT_PARTITION__").is_dir()
    assert table.scan(row_filter="region = ''").to_arrow().num_rows == ROWS // 4

    pg.execute("DELETE FROM orders WHERE id <= 100")  # replace: the next run overwrites
    second = rivet("run", "-c", str(config))
    assert second.returncode == 0, second.stderr
    table = table.refresh()
    assert _rows(table.scan().to_arrow()) == _source(pg)
    operations = [s.summary.operation.value for s in table.snapshots()]
    assert operations == ["append", "delete", "append"]  # the delete and add: one commit
    assert table.current_snapshot().summary["rivet.run_id"] in second.stderr + str(
        sorted((out / "_manifests").iterdir())
    )
    db = _duckdb()
    found = db.execute(
        f"SELECT count(*), count(DISTINCT id), sum(amount), typeof(any_value(created_at)) "
        f"FROM iceberg_scan('{table.metadata_location}')"
    ).fetchone()
    expected = pg.conn.execute("SELECT count(*), count(*), sum(amount) FROM orders").fetchone()
    assert found == (*expected, "TIMESTAMP WITH TIME ZONE")
    assert rivet("validate", "-c", str(config)).returncode == 0  # metadata/ is the table's


def test_incremental_runs_append(tmp_path: Path, pg: Pg) -> None:
    table = _orders(pg, rows=500)
    config = write_config(
        tmp_path,
        [_export(table, tmp_path / "out", mode="incremental", cursor_column="id",
                 partition_by={"column": "created_at", "granularity": "month"})],
    )  # fmt: skip
    assert rivet("run", "-c", str(config)).returncode == 0
    pg.execute(
        "INSERT INTO orders SELECT g, 'eu', timestamptz '2024-03-01Z', 1 "
        "FROM generate_series(501, 650) g"
    )
    result = rivet("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    found = _table(tmp_path)
    assert _rows(found.scan().to_arrow()) == _source(pg)
    assert [s.summary.operation.value for s in found.snapshots()] == ["append", "append"]


def test_a_crash_before_the_commit_leaves_the_table_as_it_was(tmp_path: Path, pg: Pg) -> None:
    out = tmp_path / "out"
    config = write_config(tmp_path, [_export(_orders(pg, rows=300), out, partition_by="region")])
    assert rivet("run", "-c", str(config)).returncode == 0
    before = _table(tmp_path).current_snapshot()
    pg.execute("INSERT INTO orders VALUES (9999, 'eu', now(), 1)")
    crashed = rivet("run", "-c", str(config), env={"RIVET_TEST_PANIC_AT": "before_iceberg_commit"})
    assert crashed.returncode == -9  # SIGKILL at the point: the parts were in place
    table = _table(tmp_path)
    assert table.current_snapshot() == before and len(table.snapshots()) == 1
    assert table.scan().to_arrow().num_rows == 300
    result = rivet("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert _rows(_table(tmp_path).scan().to_arrow()) == _source(pg)


def test_two_runs_committing_at_once_both_land(tmp_path: Path, pg: Pg) -> None:
    config = write_config(
        tmp_path, [_export(_orders(pg, rows=300), tmp_path / "out", write_disposition="append")]
    )
    env = {**os.environ, "RIVET_TEST_SOURCE_URL": PG_URL}
    runs = [
        subprocess.Popen([sys.executable, "-m", "rivet", "run", "-c", str(config)], env=env,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    codes = [run.wait(timeout=120) for run in runs]
    errors = [run.stderr.read() if run.stderr else "" for run in runs]
    # Both land, or one fails having changed nothing: it met the other's publish lock, or
    # (started in the same second) the other's part names
    landed = codes.count(0)
    assert landed >= 1, errors
    for code, error in zip(codes, errors, strict=True):
        assert code == 0 or "lock" in error or "started in the same second" in error, error
    table = _table(tmp_path)
    assert len(table.snapshots()) == landed
    ids = table.scan().to_arrow()["id"].to_pylist()
    assert sorted(ids) == sorted(list(range(1, 301)) * landed)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == sorted(
        os.path.basename(t.file.file_path) for t in table.scan().plan_files()
    )
    assert (tmp_path / "out" / "_SUCCESS").exists()  # the landed run's marker is kept
    assert rivet("validate", "-c", str(config)).returncode == 0


def test_types_through_an_iceberg_table(tmp_path: Path, matrix: str) -> None:  # noqa: F811
    out = tmp_path / "out"
    export = {"name": "matrix", "table": matrix, "format": "parquet", "table_format": "iceberg",
              "destination": {"type": "local", "path": str(out)}}  # fmt: skip
    config = write_config(tmp_path, [export])
    refused = rivet("run", "-c", str(config))
    assert refused.returncode != 0
    assert "column n50" in refused.stderr and "38 digits" in refused.stderr, refused.stderr
    assert not out.exists() or not list(out.rglob("*.parquet"))
    config = write_config(tmp_path, [{**export, "columns": {"n50": "text"}}])
    result = rivet("run", "-c", str(config), "--validate")
    assert result.returncode == 0, result.stderr
    table = _table(tmp_path, "matrix").scan().to_arrow()
    parts = pa.concat_tables([pq.read_table(p) for p in out.glob("*.parquet")])
    assert table.num_rows == 3
    for name in parts.schema.names:  # every column as the part file has it
        expected = repr(parts.sort_by("id")[name].to_pylist())  # repr: NaN equals NaN
        assert repr(table.sort_by("id")[name].to_pylist()) == expected, name
    row = {r["id"]: r for r in table.to_pylist()}[1]
    assert row["n38"] == Decimal("1234567890123456789012345678.1234567891")
    db = _duckdb()
    meta = _table(tmp_path, "matrix").metadata_location
    assert db.execute(f"SELECT count(*) FROM iceberg_scan('{meta}')").fetchone() == (3,)


@pytest.fixture
def catalog_db() -> Iterator[str]:
    name = f"rivet_ice_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_a_postgresql_catalog_and_s3(tmp_path: Path, pg: Pg, s3: S3, catalog_db: str) -> None:
    destination = {"type": "s3", "bucket": s3.bucket, "prefix": "lake/orders/",
                   "endpoint": s3.endpoint, "region": "us-east-1"}  # fmt: skip
    export = _export(_orders(pg, rows=500), destination, partition_by="region",
                     iceberg={"catalog_uri": catalog_db, "namespace": "sales"})  # fmt: skip
    config = write_config(tmp_path, [export])
    result = rivet("run", "-c", str(config), "--validate")
    assert result.returncode == 0, result.stderr
    catalog = SqlCatalog(
        "rivet", uri=catalog_db.replace("postgresql://", "postgresql+psycopg://"),
        **{"s3.endpoint": s3.endpoint, "s3.region": "us-east-1"},
    )  # fmt: skip
    table = catalog.load_table("sales.orders")
    assert table.location() == f"s3://{s3.bucket}/lake/orders"
    assert _rows(table.scan().to_arrow()) == _source(pg)
    db = _duckdb(duckdb_on_s3(s3))
    found = db.execute(
        f"SELECT count(*), sum(amount) FROM iceberg_scan('{table.metadata_location}')"
    ).fetchone()
    assert found == pg.conn.execute("SELECT count(*), sum(amount) FROM orders").fetchone()
    keys = s3.keys("lake/orders/")
    assert any(k.startswith("lake/orders/metadata/") for k in keys)
    assert not [k for k in keys if "_rivet_staging" in k]
    assert rivet("validate", "-c", str(config), "--full").returncode == 0


def test_bad_catalogs_and_conflicting_tables_are_refused_before_reading(
    tmp_path: Path, pg: Pg
) -> None:
    table = _orders(pg, rows=50)
    out = tmp_path / "out"

    def run(**extra: Any) -> str:
        result = rivet("run", "-c", str(write_config(tmp_path, [_export(table, out, **extra)])))
        assert result.returncode != 0
        assert not out.exists() or not list(out.rglob("*.parquet"))  # nothing published
        return result.stderr

    unreachable = run(iceberg={"catalog_uri": "postgresql://nobody@127.0.0.1:1/none"})
    assert "cannot open the catalog of Iceberg table rivet.orders" in unreachable
    assert "iceberg.catalog_uri" in unreachable
    # a table of that name with another column type
    catalog = SqlCatalog("rivet", uri=f"sqlite:///{tmp_path / '.rivet_iceberg.db'}")
    catalog.create_namespace("rivet")
    catalog.create_table("rivet.orders", schema=pa.schema([("id", pa.string())]),
                         location=str(out.resolve()))  # fmt: skip
    conflict = run()
    assert "do not fit Iceberg table rivet.orders" in conflict and "id" in conflict
    catalog.drop_table("rivet.orders")
    catalog.create_table("rivet.orders", schema=pa.schema([("id", pa.int32())]),
                         location=str(tmp_path / "elsewhere"))  # fmt: skip
    assert "lives at" in run()
    catalog.drop_table("rivet.orders")
    catalog.create_table("rivet.orders", schema=pa.schema([("id", pa.int32())]),
                         location=str(out.resolve()))  # fmt: skip
    assert "is partitioned by nothing, the export by region" in run(partition_by="region")
    csv = rivet("run", "-c", str(write_config(tmp_path, [_export(table, out, format="csv")])))
    assert "table_format: iceberg tables hold Parquet files; set format: parquet" in csv.stderr


def test_repair_refuses_to_move_parts_the_table_lists(tmp_path: Path, pg: Pg) -> None:
    out = tmp_path / "out"
    export = _export(_orders(pg, rows=400), out, mode="chunked", chunk_column="id",
                     chunk_size=100, chunk_checkpoint=True)  # fmt: skip
    config = write_config(tmp_path, [export])
    assert rivet("run", "-c", str(config)).returncode == 0
    damaged = sorted(out.glob("*_chunk1.parquet"))[0]
    damaged.write_bytes(b"not parquet")
    result = rivet("repair", "-c", str(config), "-e", "orders", "--execute")
    assert result.returncode == 1
    assert "repair does not commit to the table yet" in result.stderr, result.stderr
    assert damaged.read_bytes() == b"not parquet"  # nothing moved
    assert not (out / "_quarantine").exists()


def test_a_stop_during_the_commit_waits_for_it(tmp_path: Path, pg: Pg) -> None:
    """SIGTERM as the commit starts: publishing is one step, so the commit, manifests and
    _SUCCESS complete, then the run exits 143."""
    config = write_config(tmp_path, [_export(_orders(pg, rows=200), tmp_path / "out")])
    result = rivet("run", "-c", str(config),
                   env={"RIVET_TEST_SIGNAL_AT": "before_iceberg_commit:SIGTERM"})  # fmt: skip
    assert result.returncode == 143, result.stderr
    assert "once export 'orders' was published" in result.stderr
    assert _rows(_table(tmp_path).scan().to_arrow()) == _source(pg)
    assert (tmp_path / "out" / "_SUCCESS").exists()


def test_doctor_checks_the_table_without_writing(tmp_path: Path, pg: Pg) -> None:
    out = tmp_path / "out"
    config = write_config(tmp_path, [_export(_orders(pg, rows=50), out, partition_by="region")])
    fresh = rivet("doctor", "-c", str(config))
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "[OK]   export orders: partitioned by region" in fresh.stdout
    assert ".rivet_iceberg.db will be created on first run" in fresh.stdout
    assert not (tmp_path / ".rivet_iceberg.db").exists()
    assert rivet("run", "-c", str(config)).returncode == 0
    assert "table rivet.orders has 1 snapshot(s)" in rivet("doctor", "-c", str(config)).stdout
    for path in sorted(out.rglob("*"), reverse=True):  # the prefix is wiped by someone
        path.unlink() if path.is_file() else path.rmdir()
    gone = rivet("doctor", "-c", str(config))
    assert gone.returncode == 1
    assert "is in the catalog, but its metadata is gone" in gone.stdout
    run = rivet("run", "-c", str(config))
    assert run.returncode == 1 and "drop the table from the catalog" in run.stderr


def test_a_rest_catalog_with_a_token(tmp_path: Path, pg: Pg) -> None:
    out = tmp_path / "out"
    table = _orders(pg, rows=300)
    with rest_catalog(tmp_path, token="s3cret") as url:
        iceberg = {"catalog_uri": url, "token_env": "ICEBERG_TOKEN", "namespace": "lake"}
        config = write_config(tmp_path, [_export(table, out, partition_by="region",
                                                 iceberg=iceberg)])  # fmt: skip
        missing = rivet("run", "-c", str(config))
        assert missing.returncode == 1
        assert "the environment variable ICEBERG_TOKEN is not set" in missing.stderr
        wrong = rivet("run", "-c", str(config), env={"ICEBERG_TOKEN": "nope"})
        assert wrong.returncode == 1 and "cannot open the catalog" in wrong.stderr
        assert "nope" not in wrong.stderr
        for _ in range(2):  # a create, then an overwrite
            result = rivet("run", "-c", str(config), env={"ICEBERG_TOKEN": "s3cret"})
            assert result.returncode == 0, result.stderr
        catalog = RestCatalog("t", uri=url, token="s3cret")
        found = catalog.load_table("lake.orders")
        assert _rows(found.scan().to_arrow()) == _source(pg)
        assert [s.summary.operation.value for s in found.snapshots()] == [
            "append", "delete", "append"
        ]  # fmt: skip


def test_a_column_added_at_the_source_is_added_to_the_table(tmp_path: Path, pg: Pg) -> None:
    table = _orders(pg, rows=100)
    config = write_config(
        tmp_path, [_export(table, tmp_path / "out", write_disposition="append",
                           on_schema_drift="continue")]
    )  # fmt: skip
    assert rivet("run", "-c", str(config)).returncode == 0
    pg.execute("ALTER TABLE orders ADD COLUMN note text DEFAULT 'new'")
    result = rivet("run", "-c", str(config))
    assert result.returncode == 0, result.stderr
    found = _table(tmp_path)
    assert found.schema().column_names == ["id", "region", "created_at", "amount", "note"]
    notes = found.scan().to_arrow()["note"].to_pylist()
    assert sorted(notes, key=str) == sorted([None] * 100 + ["new"] * 100, key=str)
    # a type Iceberg cannot promote is refused before reading, the table unchanged
    pg.execute("ALTER TABLE orders ALTER COLUMN amount TYPE text")
    refused = rivet("run", "-c", str(config))
    assert refused.returncode == 1 and "do not fit Iceberg table rivet.orders" in refused.stderr
    assert len(_table(tmp_path).snapshots()) == 2


def test_validate_checks_the_table_against_the_manifests(tmp_path: Path, pg: Pg) -> None:
    out = tmp_path / "out"
    config = write_config(tmp_path, [_export(_orders(pg, rows=100), out)])
    assert rivet("run", "-c", str(config)).returncode == 0
    assert rivet("validate", "-c", str(config)).returncode == 0
    table = _table(tmp_path)
    foreign = out / "foreign.parquet"  # another writer adds a file to the table
    pq.write_table(table.scan().to_arrow().slice(0, 5), foreign)
    table.add_files([str(foreign)])
    found = rivet("validate", "-c", str(config))
    assert found.returncode == 1
    assert "table: foreign.parquet: in the table, but no manifest of this export lists it" in (
        found.stdout
    )
    SqlCatalog("rivet", uri=f"sqlite:///{tmp_path / '.rivet_iceberg.db'}").drop_table(
        "rivet.orders"
    )
    dropped = rivet("validate", "-c", str(config))
    assert dropped.returncode == 1 and "is not in the catalog" in dropped.stdout
