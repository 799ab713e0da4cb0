"""S3 destination against moto's real HTTP server: round trip, cut uploads, bad input."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
import xxhash

from tests.live.conftest import S3, S3_ENV, Pg, rivet, write_config
from tests.live.faultproxy import FaultProxy


def _config(tmp_path: Path, pg: Pg, s3: S3, endpoint: str, **export: object) -> Path:
    destination = {
        "type": "s3",
        "bucket": s3.bucket,
        "prefix": "orders/{export}/",
        "endpoint": endpoint,
        "region": "us-east-1",
    }
    return write_config(
        tmp_path,
        [
            {
                "name": "t",
                "table": f"{pg.schema}.big",
                "format": "csv",
                "destination": destination,
                **export,
            }
        ],
    )


def _table(pg: Pg, rows: int) -> None:
    pg.execute(
        f"CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 3) AS pad "
        f"FROM generate_series(1, {rows}) g"
    )
    pg.execute("ALTER TABLE big ADD PRIMARY KEY (id)")


def test_parts_manifest_and_success_land_in_the_bucket(tmp_path: Path, pg: Pg, s3: S3) -> None:
    _table(pg, 120_000)  # ~12 MB of CSV: the first part goes up as a multipart upload
    config = _config(tmp_path, pg, s3, s3.endpoint, max_file_size="10MB")
    result = rivet("run", "-c", str(config), env=S3_ENV)
    assert result.returncode == 0, result.stderr
    keys = s3.keys("orders/t/")
    parts = [k for k in keys if k.endswith(".csv")]
    assert len(parts) == 2 and all("_part" in k for k in parts)
    manifest = s3.client.get_object(Bucket=s3.bucket, Key="orders/t/_manifest.json")["Body"].read()
    own = f"orders/t/_manifests/{json.loads(manifest)['run_id']}.json"
    assert keys == sorted([*parts, "orders/t/_SUCCESS", "orders/t/_manifest.json", own])
    success = s3.client.get_object(Bucket=s3.bucket, Key="orders/t/_SUCCESS")["Body"].read()
    assert success.decode() == f"xxh3:{xxhash.xxh3_64_hexdigest(manifest)}\n"
    listed = json.loads(manifest)
    assert listed["row_count"] == 120_000 and listed["destination"]["kind"] == "s3"
    ids = []
    for part in parts:
        body = s3.client.get_object(Bucket=s3.bucket, Key=part)["Body"].read()
        ids += pacsv.read_csv(io.BytesIO(body)).column("id").to_pylist()
    assert sorted(ids) == list(range(1, 120_001))
    assert not s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads")


def test_a_cut_upload_leaves_no_object_and_a_rerun_completes(
    tmp_path: Path, pg: Pg, s3: S3
) -> None:
    _table(pg, 120_000)
    with FaultProxy(s3.port, cut_upload_after_bytes=6_000_000) as proxy:
        config = _config(tmp_path, pg, s3, f"http://127.0.0.1:{proxy.port}")
        result = rivet("run", "-c", str(config), env=S3_ENV)
    assert result.returncode == 1
    assert "export 't': cannot upload" in result.stderr
    assert s3.keys("orders/t/") == []  # no partial part, no manifest, no _SUCCESS
    assert not s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads")
    rerun = rivet("run", "-c", str(_config(tmp_path, pg, s3, s3.endpoint)), env=S3_ENV)
    assert rerun.returncode == 0, rerun.stderr
    assert len(s3.keys("orders/t/")) == 4  # part, _manifest.json, its run copy, _SUCCESS


def test_missing_bucket_and_refused_endpoint_are_clear_errors(
    tmp_path: Path, pg: Pg, s3: S3
) -> None:
    _table(pg, 10)
    config = _config(tmp_path, pg, s3, s3.endpoint)
    config.write_text(config.read_text().replace(s3.bucket, "no-such-bucket-rivet"))
    result = rivet("run", "-c", str(config), env=S3_ENV)
    assert result.returncode == 1
    assert "export 't'" in result.stderr and "NoSuchBucket" in result.stderr
    assert "create the bucket" in result.stderr
    refused = _config(tmp_path, pg, s3, "http://127.0.0.1:1")
    result = rivet("run", "-c", str(refused), env=S3_ENV)
    assert result.returncode == 1
    assert "export 't'" in result.stderr and "destination.endpoint" in result.stderr


def test_publish_lock_keeps_concurrent_runs_apart_and_stale_locks_are_taken_over(
    tmp_path: Path, pg: Pg, s3: S3
) -> None:
    _table(pg, 100)
    config = _config(tmp_path, pg, s3, s3.endpoint)
    lock = "orders/t/_rivet_publish.lock"
    fresh = json.dumps({"run_id": "other_run", "at": datetime.now(UTC).isoformat()})
    s3.client.put_object(Bucket=s3.bucket, Key=lock, Body=fresh.encode())
    blocked = rivet("run", "-c", str(config), env=S3_ENV)
    assert blocked.returncode == 1
    assert "another run (other_run) is publishing" in blocked.stderr
    assert "orders/t/_SUCCESS" not in s3.keys("orders/t/")
    stale = json.dumps(
        {"run_id": "dead_run", "at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    )
    s3.client.put_object(Bucket=s3.bucket, Key=lock, Body=stale.encode())
    taken = rivet("run", "-c", str(config), env=S3_ENV)
    assert taken.returncode == 0, taken.stderr
    keys = s3.keys("orders/t/")
    assert "orders/t/_SUCCESS" in keys and lock not in keys


def test_check_fails_when_the_destination_has_no_credentials(
    tmp_path: Path, pg: Pg, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18, item 3: with AWS_ACCESS_KEY_ID unset, `rivet check` passed and the run failed."""
    _table(pg, 10)
    config = _config(tmp_path, pg, s3, s3.endpoint)
    ok = rivet("check", "-c", str(config))
    assert ok.returncode == 0, ok.stderr
    assert "credentials: AWS chain (env)" in ok.stdout
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    nowhere = str(tmp_path / "no-aws-files")  # no shared credentials or config file either
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", nowhere)
    monkeypatch.setenv("AWS_CONFIG_FILE", nowhere)
    refused = rivet("check", "-c", str(config))
    assert refused.returncode == 1
    assert "no AWS credentials found" in refused.stdout
    assert "no credentials for the destination of: t" in refused.stderr


def test_two_runs_that_find_one_stale_lock_never_both_take_it(s3: S3) -> None:
    """Issue 17, item 11: takeover was delete-then-create, so two runs could each delete the
    other's fresh lock and both publish. Now it replaces exactly the version judged stale."""
    from rivet.core.errors import DestinationError
    from rivet.destinations import open_destination
    from rivet.destinations.lock import LOCK, acquire, lock_body
    from rivet.destinations.s3 import S3Destination
    from rivet.destinations.targets import S3Target

    target = S3Target(s3.bucket, "race/", region="us-east-1", endpoint=s3.endpoint)
    first, second = (open_destination(target, "t") for _ in range(2))
    assert isinstance(first, S3Destination) and isinstance(second, S3Destination)
    stale = {"run_id": "dead_run", "at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    s3.client.put_object(Bucket=s3.bucket, Key=f"race/{LOCK}", Body=json.dumps(stale).encode())
    seen_by_first, seen_by_second = first._read_lock(), second._read_lock()
    assert seen_by_first is not None and seen_by_second is not None
    assert seen_by_first.version == seen_by_second.version  # both judge the same lock stale
    assert first._replace_lock(lock_body("run_1"), seen_by_first.version)
    assert not second._replace_lock(lock_body("run_2"), seen_by_second.version)  # refused
    held = s3.client.get_object(Bucket=s3.bucket, Key=f"race/{LOCK}")["Body"].read()
    assert json.loads(held)["run_id"] == "run_1"
    with pytest.raises(DestinationError, match=r"another run \(run_1\) is publishing"):
        acquire(second._create_lock, second._read_lock, second._replace_lock, "run_2", "t")


def test_incremental_runs_to_s3(tmp_path: Path, pg: Pg, s3: S3) -> None:
    _table(pg, 1000)
    config = _config(tmp_path, pg, s3, s3.endpoint, mode="incremental", cursor_column="id")
    assert rivet("run", "-c", str(config), env=S3_ENV).returncode == 0
    pg.execute("INSERT INTO big SELECT g, 'new' FROM generate_series(1001, 1010) g")
    assert rivet("run", "-c", str(config), env=S3_ENV).returncode == 0
    parts = [k for k in s3.keys("orders/t/") if k.endswith(".csv")]
    bodies = [s3.client.get_object(Bucket=s3.bucket, Key=k)["Body"].read() for k in parts]
    counts = sorted(pacsv.read_csv(io.BytesIO(b)).num_rows for b in bodies)
    assert counts == [10, 1000]


def test_a_killed_checkpointed_chunk_run_resumes_into_the_bucket(
    tmp_path: Path, pg: Pg, s3: S3
) -> None:
    _table(pg, 20_000)
    config = _config(
        tmp_path,
        pg,
        s3,
        s3.endpoint,
        mode="chunked",
        chunk_size=5000,
        parallel=2,
        chunk_checkpoint=True,
    )
    killed = rivet(
        "run", "-c", str(config), env={**S3_ENV, "RIVET_TEST_PANIC_AT": "after_chunk_checkpoint"}
    )
    assert killed.returncode == -9
    uploaded = s3.keys("orders/t/")
    assert uploaded and all("_chunk" in k for k in uploaded)  # completed chunks, nothing else
    resumed = rivet("run", "-c", str(config), "--resume", env=S3_ENV)
    assert resumed.returncode == 0, resumed.stderr
    keys = s3.keys("orders/t/")
    manifest = json.loads(
        s3.client.get_object(Bucket=s3.bucket, Key="orders/t/_manifest.json")["Body"].read()
    )
    parts = sorted(p["path"] for p in manifest["parts"])
    own = f"orders/t/_manifests/{manifest['run_id']}.json"
    assert keys == sorted(
        [*(f"orders/t/{p}" for p in parts), "orders/t/_SUCCESS", "orders/t/_manifest.json", own]
    )
    ids = []
    for part in parts:
        body = s3.client.get_object(Bucket=s3.bucket, Key=f"orders/t/{part}")["Body"].read()
        ids += pacsv.read_csv(io.BytesIO(body)).column("id").to_pylist()
    assert sorted(ids) == list(range(1, 20_001))


def test_bad_credentials_are_a_clear_error_and_publish_nothing(
    tmp_path: Path, pg: Pg, s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second moto server that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0)."""
    import sys

    from tests.live.conftest import free_port, serve

    _table(pg, 10)
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")
    port = free_port()
    server = serve(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        f"http://127.0.0.1:{port}/moto-api/",
        port,
    )
    next(server)
    try:
        config = _config(tmp_path, pg, s3, f"http://127.0.0.1:{port}")
        result = rivet("run", "-c", str(config), env=S3_ENV)
    finally:
        server.close()
    assert result.returncode == 1
    assert "export 't'" in result.stderr and "InvalidAccessKeyId" in result.stderr
    assert "check the access key" in result.stderr
