"""A sealed plan's workers as Dask tasks (rivet.launchers.dask) on a LocalCluster of worker
processes; the Dask worker process that holds a chunk is killed with SIGKILL mid-chunk."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from rivet.launchers.dask import submit_workers
from tests.live.conftest import PG_URL, S3, S3_ENV, Pg, write_config
from tests.live.test_workers import (
    CHUNK,
    ROWS,
    _export,
    _plan,
    _s3_destination,
    _s3_table,
    _source,
    _state,
    _state_url,
    _table,
)


@pytest.fixture
def cluster() -> Iterator[Client]:
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:  # fmt: skip
        yield client


def test_dask_workers_survive_a_killed_worker_process(
    tmp_path: Path, pg: Pg, s3: S3, cluster: Client
) -> None:
    _table(pg)
    config = write_config(tmp_path, [_export(pg, _s3_destination(s3))])
    plan = _plan(config)
    env = {**S3_ENV, "RIVET_TEST_SOURCE_URL": PG_URL, "RIVET_STATE_URL": _state_url(pg)}
    dask_pids = set(cluster.run(os.getpid).values())
    futures = submit_workers(cluster, [plan], workers=3, env=env)

    # kill the Dask worker process that holds a chunk, while it reads it
    deadline, victim = time.monotonic() + 120, None
    while victim is None:
        assert time.monotonic() < deadline, "no worker ever held a chunk"
        if _state(pg, "SELECT 1 WHERE to_regclass('chunk_task') IS NOT NULL"):
            held = _state(pg, "SELECT lease_owner FROM chunk_task WHERE status = 'running'")
            pids = [int(owner.rsplit(":", 1)[1]) for (owner,) in held if owner]
            victim = next((pid for pid in pids if pid in dask_pids), None)
        time.sleep(0.01)
    os.kill(victim, signal.SIGKILL)

    summaries = cluster.gather(futures)
    statuses = sorted(e["status"] for s in summaries for e in s["exports"])
    assert statuses.count("success") == 1, statuses  # one publish
    tasks = _state(pg, "SELECT status, attempts, lease_owner FROM chunk_task")
    assert len(tasks) == ROWS // CHUNK and {t[0] for t in tasks} == {"completed"}
    retaken = [t for t in tasks if t[1] == 2]
    assert len(retaken) == 1 and not retaken[0][2].endswith(f":{victim}"), tasks
    assert _s3_table(s3, "w/t/").select(["id", "h", "x"]).equals(_source(pg))
    assert _state(pg, "SELECT count(*) FROM export_metrics WHERE status = 'success'") == [(1,)]
