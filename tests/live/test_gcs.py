"""GCS destination against fake-gcs-server's real HTTP API: round trip, cut uploads, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import xxhash

from tests.live.conftest import Gcs, Pg, rivet, write_config
from tests.live.faultproxy import FaultProxy

ENV = {"RIVET_STORE_RETRY_DEADLINE_S": "3"}  # a cut connection must fail the test run quickly


def _config(tmp_path: Path, pg: Pg, gcs: Gcs, endpoint: str, **export: object) -> Path:
    destination = {"type": "gcs", "bucket": gcs.bucket, "prefix": "lake/{export}/",
                   "endpoint": endpoint, "allow_anonymous": True}  # fmt: skip
    return write_config(tmp_path, [{"name": "t", "table": f"{pg.schema}.big",
                                    "format": "parquet", "compression": "none",
                                    "destination": destination, **export}])  # fmt: skip


def _table(pg: Pg, rows: int) -> None:
    pg.execute(f"CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS pad "
               f"FROM generate_series(1, {rows}) g")  # fmt: skip
    pg.execute("ALTER TABLE big ADD PRIMARY KEY (id)")


def test_parts_manifest_and_success_land_in_the_bucket(tmp_path: Path, pg: Pg, gcs: Gcs) -> None:
    _table(pg, 200_000)  # ~14 MB uncompressed Parquet: a resumable upload in several chunks
    result = rivet("run", "-c", str(_config(tmp_path, pg, gcs, gcs.endpoint)), env=ENV)
    assert result.returncode == 0, result.stderr
    keys = gcs.keys("lake/t/")
    (part,) = [k for k in keys if k.endswith(".parquet")]
    manifest = gcs.read("lake/t/_manifest.json")
    own = f"lake/t/_manifests/{json.loads(manifest)['run_id']}.json"
    assert keys == sorted([part, "lake/t/_SUCCESS", "lake/t/_manifest.json", own])
    assert gcs.read(own) == manifest
    assert gcs.read("lake/t/_SUCCESS").decode() == f"xxh3:{xxhash.xxh3_64_hexdigest(manifest)}\n"
    assert json.loads(manifest)["destination"]["uri"] == f"gs://{gcs.bucket}/lake/t/"
    table = pq.read_table(io.BytesIO(gcs.read(part)))
    assert sorted(table.column("id").to_pylist()) == list(range(1, 200_001))


def test_a_cut_upload_leaves_no_object_and_a_rerun_completes(
    tmp_path: Path, pg: Pg, gcs: Gcs
) -> None:
    _table(pg, 200_000)
    with FaultProxy(gcs.port, cut_upload_after_bytes=5_000_000) as proxy:
        config = _config(tmp_path, pg, gcs, f"http://127.0.0.1:{proxy.port}")
        result = rivet("run", "-c", str(config), env=ENV)
    assert result.returncode == 1
    assert "export 't': cannot upload" in result.stderr
    assert gcs.keys("lake/t/") == []
    rerun = rivet("run", "-c", str(_config(tmp_path, pg, gcs, gcs.endpoint)), env=ENV)
    assert rerun.returncode == 0, rerun.stderr
    assert len(gcs.keys("lake/t/")) == 4  # part, _manifest.json, its run copy, _SUCCESS


def test_missing_bucket_and_missing_credentials_file(tmp_path: Path, pg: Pg, gcs: Gcs) -> None:
    _table(pg, 10)
    config = _config(tmp_path, pg, gcs, gcs.endpoint)
    config.write_text(config.read_text().replace(gcs.bucket, "no-such-bucket-rivet"))
    result = rivet("run", "-c", str(config), env=ENV)
    assert result.returncode == 1
    assert "export 't'" in result.stderr and "create the bucket" in result.stderr
    config.write_text(
        config.read_text().replace(
            "allow_anonymous: true", "credentials_file: /nonexistent/key.json"
        )
    )
    result = rivet("run", "-c", str(config), env=ENV)
    assert result.returncode == 1
    assert "credentials_file: '/nonexistent/key.json' does not exist" in result.stderr


def test_chunked_export_round_trips_and_a_missing_chunk_part_is_read_again(
    tmp_path: Path, pg: Pg, gcs: Gcs
) -> None:
    _table(pg, 30_000)
    config = _config(
        tmp_path, pg, gcs, gcs.endpoint, mode="chunked", chunk_size=10_000, chunk_checkpoint=True
    )
    killed = rivet("run", "-c", str(config), env={**ENV, "RIVET_TEST_PANIC_AT": "before_publish"})
    assert killed.returncode == -9
    staged = gcs.keys("lake/t/")
    # every chunk uploaded, under the run's staging (readers skip it), nothing published
    assert len(staged) == 3 and all(k.startswith("lake/t/_rivet_staging/") for k in staged)
    gcs.client.bucket(gcs.bucket).blob(staged[1]).delete()  # lost behind rivet's back
    resumed = rivet("run", "-c", str(config), "--resume", env=ENV)
    assert resumed.returncode == 0, resumed.stderr
    assert "reading it again" in resumed.stderr
    chunk_parts = [f"lake/t/{k.rsplit('/', 1)[1].removesuffix('.staged')}" for k in staged]
    keys = gcs.keys("lake/t/")
    own = f"lake/t/_manifests/{json.loads(gcs.read('lake/t/_manifest.json'))['run_id']}.json"
    assert keys == sorted([*chunk_parts, "lake/t/_SUCCESS", "lake/t/_manifest.json", own])
    ids: list[int] = []
    for part in chunk_parts:
        ids += pq.read_table(io.BytesIO(gcs.read(part))).column("id").to_pylist()
    assert sorted(ids) == list(range(1, 30_001))


def test_two_runs_that_find_one_stale_lock_never_both_take_it(gcs: Gcs) -> None:
    """The takeover replaces exactly the generation judged stale (issue 17, item 11)."""
    from datetime import UTC, datetime, timedelta

    import pytest

    from rivet.core.errors import DestinationError
    from rivet.destinations import open_destination
    from rivet.destinations.gcs import GcsDestination
    from rivet.destinations.lock import LOCK, acquire, lock_body
    from rivet.destinations.targets import GcsTarget

    target = GcsTarget(gcs.bucket, "race/", endpoint=gcs.endpoint, allow_anonymous=True)
    first, second = (open_destination(target, "t") for _ in range(2))
    assert isinstance(first, GcsDestination) and isinstance(second, GcsDestination)
    stale = {"run_id": "dead_run", "at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    gcs.client.bucket(gcs.bucket).blob(f"race/{LOCK}").upload_from_string(json.dumps(stale))
    seen_by_first, seen_by_second = first._read_lock(), second._read_lock()
    assert seen_by_first is not None and seen_by_second is not None
    assert seen_by_first.version == seen_by_second.version
    assert first._replace_lock(lock_body("run_1"), seen_by_first.version)
    assert not second._replace_lock(lock_body("run_2"), seen_by_second.version)
    assert json.loads(gcs.read(f"race/{LOCK}"))["run_id"] == "run_1"
    with pytest.raises(DestinationError, match=r"another run \(run_1\) is publishing"):
        acquire(second._create_lock, second._read_lock, second._replace_lock, "run_2", "t")
