"""Many stateless workers execute one sealed plan (`rivet apply PLAN --worker`, issue 21): real
worker processes, one PostgreSQL state database, one S3 (moto) prefix; workers killed with
SIGKILL, stopped with SIGTERM, and cut from the state database."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rivet.commands.plan import seal
from rivet.mcp_server.export_status import export_status
from tests.live.conftest import PG_URL, S3, S3_ENV, My, Pg, parquet_ids, rivet, write_config
from tests.live.faultproxy import FaultProxy

ROWS = 60_000
CHUNK = 5_000  # 12 chunks


def _table(pg: Pg, rows: int = ROWS) -> None:
    pg.execute(f"CREATE TABLE t AS SELECT g::bigint AS id, md5(g::text) AS h, "
               f"(g * 0.5)::float8 AS x "
               f"FROM generate_series(1, {rows}) g")  # fmt: skip
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")


PG_PORT = urlsplit(PG_URL).port or 5432  # the machine's server, or PostgreSQL 18 embedded


def _state_url(pg: Pg, port: int = PG_PORT) -> str:
    """The test's own schema of the test server holds the state tables (`port`: through a
    proxy in front of it)."""
    url = PG_URL.replace(f":{PG_PORT}/", f":{port}/")
    return url + f"?options=-csearch_path%3D{pg.schema}"


def _export(pg: Pg, destination: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "t", "table": f"{pg.schema}.t", "mode": "chunked", "chunk_column": "id",
            "chunk_size": CHUNK, "format": "parquet",
            # small, paced pages: a chunk takes long enough for a worker to die inside it
            "tuning": {"batch_size": 1000, "throttle_ms": 20},
            "destination": destination, **extra}  # fmt: skip


def _s3_destination(s3: S3) -> dict[str, Any]:
    return {"type": "s3", "bucket": s3.bucket, "prefix": "w/{export}/", "endpoint": s3.endpoint,
            "region": "us-east-1"}  # fmt: skip


def _plan(config: Path, *extra: str) -> Path:
    plan = config.parent / f"plan-{time.monotonic_ns()}.json"
    made = rivet("plan", "-c", str(config), "--for-workers", "-o", str(plan), *extra)
    assert made.returncode == 0, made.stderr
    return plan


def _worker(
    plan: Path, state_url: str, env: dict[str, str] | None = None, *extra: str
) -> subprocess.Popen[str]:
    full = {**os.environ, **S3_ENV, "RIVET_TEST_SOURCE_URL": PG_URL,
            "RIVET_STATE_URL": state_url, **(env or {})}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "rivet", "apply", str(plan), "--worker", "--json", *extra],
        env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=plan.parent,
    )  # fmt: skip


def _ended(worker: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = worker.communicate(timeout=240)
    return worker.returncode, out, err


def _state(pg: Pg, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(_state_url(pg), autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _s3_table(s3: S3, prefix: str) -> pa.Table:
    manifest = json.loads(s3.client.get_object(Bucket=s3.bucket, Key=f"{prefix}_manifest.json")
                          ["Body"].read())  # fmt: skip
    tables = []
    for part in manifest["parts"]:
        body = s3.client.get_object(Bucket=s3.bucket, Key=prefix + part["path"])["Body"].read()
        tables.append(pq.read_table(pa.BufferReader(body)))
    return pa.concat_tables(tables).sort_by("id")


def _source(pg: Pg) -> pa.Table:
    rows = pg.conn.execute("SELECT id, h, x FROM t ORDER BY id").fetchall()
    return pa.table({"id": [r[0] for r in rows], "h": [r[1] for r in rows],
                     "x": [r[2] for r in rows]})  # fmt: skip


def test_workers_share_a_plan_a_killed_one_is_taken_over_and_one_publishes(
    tmp_path: Path, pg: Pg, s3: S3
) -> None:
    _table(pg)
    config = write_config(tmp_path, [_export(pg, _s3_destination(s3))])
    plan = _plan(config)
    state = _state_url(pg)
    victim = _worker(plan, state, {"RIVET_TEST_PANIC_AT": "after_first_batch"})
    others = [_worker(plan, state) for _ in range(2)]
    code, _, err = _ended(victim)
    assert code == -signal.SIGKILL, err  # the fault happened: killed inside its first chunk
    replacement = _worker(plan, state)  # as a scheduler restarts a dead pod
    ended = [_ended(w) for w in [*others, replacement]]
    assert all(code == 0 for code, _, _ in ended), [e for _, _, e in ended]

    tasks = _state(pg, "SELECT chunk_index, status, attempts, lease_owner FROM chunk_task "
                       "ORDER BY chunk_index")  # fmt: skip
    assert len(tasks) == ROWS // CHUNK  # (a primary key has no NULL chunk)
    assert {status for _, status, _, _ in tasks} == {"completed"}
    retaken = [t for t in tasks if t[2] == 2]
    assert len(retaken) == 1, tasks  # the victim's chunk, read again by another worker
    assert retaken[0][3] != f"{os.uname().nodename}:{victim.pid}"
    assert all(t[2] == 1 for t in tasks if t not in retaken)  # the rest, once each

    # one publish: one run manifest, one success in the run log, every chunk's part once
    keys = s3.keys("w/t/")
    assert [k for k in keys if k.startswith("w/t/_manifests/")] != []
    assert len([k for k in keys if k.startswith("w/t/_manifests/")]) == 1
    assert not [k for k in keys if "_rivet_staging" in k]
    parts = [k for k in keys if k.endswith(".parquet")]
    assert len(parts) == len(tasks) == len({p.split("_chunk")[1] for p in parts})
    runs = _state(pg, "SELECT status, total_rows FROM export_metrics WHERE export_name = 't'")
    assert runs == [("success", ROWS)]
    published = [json.loads(out) for _, out, _ in ended]
    statuses = sorted(r["status"] for agg in published for r in agg["exports"])
    assert statuses == ["contributed", "contributed", "success"]
    # the worker that took the chunk over says so, whichever of them published
    notes = [w for agg in published for r in agg["exports"] for w in r["warnings"]]
    assert [n for n in notes if f"its worker {os.uname().nodename}:{victim.pid} is gone" in n]

    # rows and values equal the source; DuckDB-independent: the parts as pyarrow reads them
    exported = _s3_table(s3, "w/t/")
    assert exported.select(["id", "h", "x"]).equals(_source(pg))
    # and `rivet validate` (checksums of every part against the manifest) agrees
    validate = rivet("validate", "-c", str(config), "-e", "t",
                     env={**S3_ENV, "RIVET_STATE_URL": state})  # fmt: skip
    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_a_stopped_worker_hands_its_chunk_back(tmp_path: Path, pg: Pg, s3: S3) -> None:
    _table(pg, 20_000)
    config = write_config(tmp_path, [_export(pg, _s3_destination(s3))])
    plan = _plan(config)
    state = _state_url(pg)
    stopped = _worker(plan, state, {"RIVET_TEST_SIGNAL_AT": "after_first_batch:SIGTERM"})
    code, _, err = _ended(stopped)
    assert code == 143, err
    assert "went back to the plan's workers" in err, err
    # the chunk it was reading is pending again at once: no lease to wait out
    held = _state(pg, "SELECT status, attempts FROM chunk_task WHERE chunk_index = 0")
    assert held == [("pending", 1)], err
    assert _ended(_worker(plan, state))[0] == 0
    assert _s3_table(s3, "w/t/").num_rows == 20_000


def test_two_plans_are_one_pool_and_a_whole_export_is_one_unit(tmp_path: Path, pg: Pg) -> None:
    _table(pg, 30_000)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    local = {"type": "local", "path": str(tmp_path / "out" / "{export}")}
    config_one = write_config(one, [_export(pg, local)])
    whole = {"name": "w", "table": f"{pg.schema}.t", "format": "parquet", "destination": local}
    incremental = {**whole, "name": "inc", "mode": "incremental", "cursor_column": "id"}
    config_two = write_config(two, [whole, incremental])
    plans = [_plan(config_one), _plan(config_two)]
    state = _state_url(pg)
    workers = [subprocess.Popen(
        [sys.executable, "-m", "rivet", "apply", *map(str, plans), "--worker", "--json"],
        env={**os.environ, "RIVET_TEST_SOURCE_URL": PG_URL, "RIVET_STATE_URL": state},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    ) for _ in range(3)]  # fmt: skip
    ended = [_ended(w) for w in workers]
    assert all(code == 0 for code, _, _ in ended), [e for _, _, e in ended]
    for name in ("t", "w", "inc"):
        ids = pq.read_table(tmp_path / "out" / name, columns=["id"]).column("id").to_pylist()
        assert sorted(ids) == list(range(1, 30_001)), name
    # each export published once, by one worker; the others say they contributed
    runs = _state(pg, "SELECT export_name, count(*) FROM export_metrics "
                      "WHERE status = 'success' GROUP BY 1 ORDER BY 1")  # fmt: skip
    assert runs == [("inc", 1), ("t", 1), ("w", 1)]
    units = _state(pg, "SELECT r.export_name, t.status, t.attempts FROM chunk_task t "
                       "JOIN chunk_run r USING (run_id) WHERE r.plan_hash = 'whole export' "
                       "ORDER BY 1")  # fmt: skip
    assert units == [("inc", "completed", 1), ("w", "completed", 1)]
    cursor = _state(pg, "SELECT last_cursor_value FROM export_state WHERE export_name = 'inc'")
    assert cursor == [("30000",)]
    # a worker started after the end finds nothing to do, and says so without exporting again
    late = rivet("apply", *map(str, plans), "--worker",
                 env={"RIVET_STATE_URL": state})  # fmt: skip
    assert late.returncode == 0, late.stderr
    assert late.stderr.count("another worker published") == 3


def test_worker_refusals(tmp_path: Path, pg: Pg, pgbouncer: int) -> None:
    _table(pg, 1_000)
    local = {"type": "local", "path": str(tmp_path / "out")}
    config = write_config(tmp_path, [_export(pg, local)])
    single = tmp_path / "single.json"
    assert rivet("plan", "-c", str(config), "-o", str(single)).returncode == 0
    state = {"RIVET_STATE_URL": _state_url(pg)}

    no_state = rivet("apply", str(_plan(config)), "--worker")
    assert no_state.returncode != 0 and "RIVET_STATE_URL is not set" in no_state.stderr
    one_process = rivet("apply", str(single), "--worker", env=state)
    assert one_process.returncode != 0 and "--for-workers" in one_process.stderr

    (tmp_path / "explicit").mkdir()
    explicit = write_config(tmp_path / "explicit", [_export(pg, local, chunk_snapshot="shared")])
    shared = rivet("plan", "-c", str(explicit), "--for-workers")
    assert shared.returncode != 0
    assert "exports (t).chunk_snapshot: shared" in shared.stderr

    plan = _plan(config)
    changed = tmp_path / "changed.json"
    changed.write_text(plan.read_text().replace('"chunk_size": 5000', '"chunk_size": 50'))
    edited = rivet("apply", str(changed), "--worker", env=state)
    assert edited.returncode != 0 and "seal does not match" in edited.stderr

    # (pgbouncer passes no `options`: refused before any state table is read or made)
    pooled_url = f"postgresql://postgres@127.0.0.1:{pgbouncer}/test"  # the machine's server
    pooled = rivet("apply", str(plan), "--worker", env={"RIVET_STATE_URL": pooled_url})
    assert pooled.returncode != 0
    assert "transaction-mode connection pooler" in pooled.stderr
    assert not (tmp_path / "out").exists()  # nothing was read or written

    # workers of another plan of the same export, while this plan's run is unfinished
    first = _worker(plan, _state_url(pg), {"RIVET_TEST_PANIC_AT": "after_first_batch"})
    assert _ended(first)[0] == -signal.SIGKILL
    # `rivet state chunks` and rivet-mcp say who holds which chunk, since when
    holder = f"{socket.gethostname()}:{first.pid}"
    shown = rivet("state", "chunks", "-c", str(config), "-e", "t", env=state)
    assert shown.returncode == 0, shown.stderr
    assert f"worker {holder} since 20" in shown.stdout
    assert f"plan:      {json.loads(plan.read_text())['plan_id']}" in shown.stdout
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RIVET_STATE_URL", state["RIVET_STATE_URL"])
        status = export_status(str(config), 5)
    (unfinished,) = status["in_progress_chunk_runs"]
    assert [lease["worker"] for lease in unfinished["leases"]] == [holder]
    # nor can a checkpointed `rivet run` start or resume it in one process
    (tmp_path / "checkpointed").mkdir()
    checkpointed = write_config(tmp_path / "checkpointed",
                                [_export(pg, local, chunk_checkpoint=True)])  # fmt: skip
    for flags in ([], ["--resume"]):
        single_run = rivet("run", "-c", str(checkpointed), *flags, env=state)
        assert single_run.returncode == 1
        assert "shared by the workers of plan" in single_run.stderr, single_run.stderr
    other = rivet("apply", str(_plan(config)), "--worker", env=state)
    assert other.returncode != 0
    assert f"of plan {json.loads(plan.read_text())['plan_id']}" in other.stderr
    assert "rivet state reset-chunks" in other.stderr


def test_workers_cut_from_the_state_database_stop_and_publish_nothing_twice(
    tmp_path: Path, pg: Pg, s3: S3
) -> None:
    _table(pg)
    config = write_config(tmp_path, [_export(pg, _s3_destination(s3))])
    plan = _plan(config)
    with FaultProxy(PG_PORT) as proxy:
        cut = [_worker(plan, _state_url(pg, proxy.port)) for _ in range(2)]
        deadline = time.monotonic() + 60
        while not _state(pg, "SELECT 1 WHERE to_regclass('chunk_task') IS NOT NULL") or not _state(
            pg, "SELECT 1 FROM chunk_task WHERE status = 'completed'"
        ):
            assert time.monotonic() < deadline and all(w.poll() is None for w in cut)
            time.sleep(0.01)
        proxy.go_away()  # the state database goes away for both workers
        ended = [_ended(w) for w in cut]
    assert all(code not in (0, None) for code, _, _ in ended), ended
    for _, _, err in ended:
        assert "session was lost" in err or "state store" in err, err
        assert "Traceback" not in err
    assert not [k for k in s3.keys("w/t/") if not k.startswith("w/t/_rivet_staging/")]
    # the state database is back: a new worker takes over the dead leases and finishes
    code, _, err = _ended(_worker(plan, _state_url(pg)))
    assert code == 0, err
    assert _s3_table(s3, "w/t/").select(["id", "h", "x"]).equals(_source(pg))
    assert _state(pg, "SELECT count(*) FROM export_metrics WHERE status = 'success'") == [(1,)]


def test_a_chunk_that_kills_its_workers_fails_after_its_attempts_then_resumes(
    tmp_path: Path, pg: Pg
) -> None:
    """chunk_max_attempts holds across workers: a chunk whose workers die on it is not read
    for ever; `--worker --resume` tries it again once the cause is gone."""
    _table(pg, 20_000)
    local = {"type": "local", "path": str(tmp_path / "out")}
    config = write_config(tmp_path, [_export(pg, local, chunk_max_attempts=2)])
    plan = _plan(config)
    state = _state_url(pg)
    for _ in range(2):  # two workers die in chunk 0 (the second took it over from the first)
        dying = _worker(plan, state, {"RIVET_TEST_PANIC_AT": "after_first_batch"})
        assert _ended(dying)[0] == -signal.SIGKILL
    assert _state(pg, "SELECT status, attempts FROM chunk_task WHERE chunk_index = 0") == [
        ("running", 2)
    ]
    code, _, err = _ended(_worker(plan, state))
    assert code == 1, err
    assert "chunk 0" in err and "died during each of its 2 attempts" in err, err
    assert "--worker --resume" in err
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    code, _, err = _ended(_worker(plan, state, None, "--resume"))
    assert code == 0, err
    assert parquet_ids(tmp_path / "out") == list(range(1, 20_001))


def test_local_staging_is_refused_to_a_worker_on_another_host(tmp_path: Path, pg: Pg) -> None:
    _table(pg, 10_000)
    local = {"type": "local", "path": str(tmp_path / "out")}
    config = write_config(tmp_path, [_export(pg, local)])
    plan = _plan(config)
    state = _state_url(pg)
    first = _worker(plan, state, {"RIVET_TEST_PANIC_AT": "after_first_batch"})
    assert _ended(first)[0] == -signal.SIGKILL
    with psycopg.connect(state, autocommit=True) as conn:  # as if it ran on another machine
        conn.execute("UPDATE chunk_run SET host = 'node-a'")
    code, _, err = _ended(_worker(plan, state))
    assert code == 1
    assert "staged on the local disk of node-a" in err and "--shared-filesystem" in err, err
    code, _, err = _ended(_worker(plan, state, None, "--shared-filesystem"))
    assert code == 0, err
    assert parquet_ids(tmp_path / "out") == list(range(1, 10_001))


def test_an_expired_plan_is_refused_to_workers(tmp_path: Path, pg: Pg) -> None:
    _table(pg, 1_000)
    config = write_config(tmp_path, [_export(pg, {"type": "local", "path": str(tmp_path)})])
    plan = _plan(config)
    artifact = json.loads(plan.read_text())
    artifact.pop("seal")
    artifact["expires_at"] = "2020-01-01T00:00:00+00:00"  # resealed: only its age is wrong
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**artifact, "seal": seal(artifact)}))
    refused = rivet("apply", str(stale), "--worker", env={"RIVET_STATE_URL": _state_url(pg)})
    assert refused.returncode != 0 and "the plan expired" in refused.stderr


def test_max_connections_bounds_the_readers_of_all_workers(tmp_path: Path, pg: Pg) -> None:
    """source.max_connections: 3 -> one chunk read at a time (a worker holds two connections),
    however many workers run: their claims never overlap."""
    _table(pg, 20_000)
    local = {"type": "local", "path": str(tmp_path / "out")}
    source = {"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL", "max_connections": 3}
    config = write_config(tmp_path, [_export(pg, local)], source=source)
    plan = _plan(config)
    workers = [_worker(plan, _state_url(pg)) for _ in range(3)]
    ended = [_ended(w) for w in workers]
    assert [code for code, _, _ in ended] == [0, 0, 0]
    # the ones held back said so
    assert any("waiting for the other workers" in err for _, _, err in ended), ended
    spans = sorted(_state(pg, "SELECT leased_at, updated_at FROM chunk_task"))
    assert len(spans) == 4 and len({t for t, _ in spans}) == 4
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert overlaps == [], spans
    assert parquet_ids(tmp_path / "out") == list(range(1, 20_001))


def test_workers_commit_one_iceberg_snapshot(tmp_path: Path, pg: Pg) -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    _table(pg, 20_000)
    local = {"type": "local", "path": str(tmp_path / "lake" / "t")}
    config = write_config(tmp_path, [_export(pg, local, table_format="iceberg")])
    plan = _plan(config)
    workers = [_worker(plan, _state_url(pg)) for _ in range(3)]
    assert [_ended(w)[0] for w in workers] == [0, 0, 0]
    catalog = SqlCatalog("rivet", uri=f"sqlite:///{tmp_path / '.rivet_iceberg.db'}")
    table = catalog.load_table("rivet.t")
    assert len(table.snapshots()) == 1
    ids = table.scan().to_arrow().column("id").to_pylist()
    assert sorted(ids) == list(range(1, 20_001))


def test_a_failed_whole_export_stops_its_workers_until_resume(tmp_path: Path, pg: Pg) -> None:
    _table(pg, 2_000)
    pg.execute("CREATE VIEW v AS SELECT id, 1 / (id - 1500) AS boom FROM t")
    local = {"type": "local", "path": str(tmp_path / "out")}
    export = {"name": "v", "query": f"SELECT * FROM {pg.schema}.v", "format": "parquet",
              "destination": local}  # fmt: skip
    config = write_config(tmp_path, [export])
    plan = _plan(config)
    state = _state_url(pg)
    code, _, err = _ended(_worker(plan, state))
    assert code == 1 and "division by zero" in err, err
    code, _, err = _ended(_worker(plan, state))  # another worker: the unit failed, not retried
    assert code == 1, err
    assert "its run (by another worker) failed" in err and "--worker --resume" in err, err
    pg.execute("CREATE OR REPLACE VIEW v AS SELECT id, 1 / (id + 1) AS boom FROM t")
    code, _, err = _ended(_worker(plan, state, None, "--resume"))
    assert code == 0, err
    assert parquet_ids(tmp_path / "out") == list(range(1, 2_001))


def test_a_sqlite_iceberg_catalog_is_refused_to_a_worker_on_another_host(
    tmp_path: Path, pg: Pg, s3: S3
) -> None:
    _table(pg, 10_000)
    export = _export(pg, _s3_destination(s3), table_format="iceberg")
    config = write_config(tmp_path, [export])
    plan = _plan(config)
    state = _state_url(pg)
    first = _worker(plan, state, {"RIVET_TEST_PANIC_AT": "after_first_batch"})
    assert _ended(first)[0] == -signal.SIGKILL
    with psycopg.connect(state, autocommit=True) as conn:
        conn.execute("UPDATE chunk_run SET host = 'node-a'")
    code, _, err = _ended(_worker(plan, state))
    assert code == 1
    assert "its Iceberg catalog is a SQLite file on node-a" in err, err
    assert "iceberg.catalog_uri" in err


def test_workers_read_a_mariadb_source(tmp_path: Path, pg: Pg, my: My) -> None:
    """The same pool on the other engine: each chunk its own consistent read on MariaDB (the
    state database stays PostgreSQL)."""
    my.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, h CHAR(32), at DATETIME(6))")
    my.execute("INSERT INTO t SELECT seq, MD5(seq), TIMESTAMP '2026-01-01 00:00:00.123456' "
               "+ INTERVAL seq SECOND FROM seq_1_to_30000")  # fmt: skip
    local = {"type": "local", "path": str(tmp_path / "out")}
    export = {**_export(pg, local), "table": f"{my.database}.t"}
    source = {"type": "mysql", "url_env": "RIVET_TEST_SOURCE_URL"}
    config = write_config(tmp_path, [export], source=source)
    made = rivet("plan", "-c", str(config), "--for-workers", "-o", str(tmp_path / "p.json"),
                 url=my.url)  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = {"RIVET_TEST_SOURCE_URL": my.url}
    victim = _worker(tmp_path / "p.json", _state_url(pg),
                     {**env, "RIVET_TEST_PANIC_AT": "after_first_batch"})  # fmt: skip
    assert _ended(victim)[0] == -signal.SIGKILL
    others = [_worker(tmp_path / "p.json", _state_url(pg), env) for _ in range(2)]
    assert [_ended(w)[0] for w in others] == [0, 0]
    table = pq.read_table(tmp_path / "out").sort_by("id")
    assert table.column("id").to_pylist() == list(range(1, 30_001))
    assert table.column("at")[0].as_py().microsecond == 123456
    attempts = _state(pg, "SELECT attempts FROM chunk_task ORDER BY chunk_index")
    assert sorted(a for (a,) in attempts) == [1] * 5 + [2]
