"""Run a sealed plan's workers on a Dask cluster (the `dask` extra: `pip install
'rivet-extract[dask]'`).

    from distributed import Client
    from rivet.launchers.dask import run_workers

    with Client("tcp://scheduler:8786") as client:
        summaries = run_workers(client, ["plan.json"], workers=8)

Each task is one worker, run in the Dask worker's own process (not a subprocess of it): when
that process dies, so does the rivet worker, its lease ends with it, and the chunk it held is
taken over by the other workers, or by the task Dask runs again on another worker (`retries`).
Every task needs RIVET_STATE_URL and the source's credentials in its environment (`env`, or
the Dask workers' own environment).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rivet.commands.workers import work
from rivet.core.errors import ExportFailed


def submit_workers(
    client: Any,
    plans: Sequence[str | Path],
    workers: int,
    env: Mapping[str, str] | None = None,
    retries: int = 3,
) -> list[Any]:
    """Submit `workers` tasks, each `rivet apply PLAN... --worker`; returns their futures.
    A task whose Dask worker died is run again up to `retries` times."""
    batch = secrets.token_hex(4)
    paths, environment = [str(p) for p in plans], dict(env or {})
    return [
        client.submit(
            _worker, paths, environment, pure=False, retries=retries, key=f"rivet-{batch}-{i}"
        )
        for i in range(workers)
    ]


def run_workers(
    client: Any,
    plans: Sequence[str | Path],
    workers: int,
    env: Mapping[str, str] | None = None,
    retries: int = 3,
) -> list[dict[str, Any]]:
    """Run the plans' workers to the end; each worker's run summary (as `--json` prints it).
    Raises the first worker's failure (an export that failed, a refused plan)."""
    summaries: list[dict[str, Any]] = client.gather(
        submit_workers(client, plans, workers, env, retries)
    )
    return summaries


def _worker(plans: list[str], env: dict[str, str]) -> dict[str, Any]:
    os.environ.update(env)
    aggregate = work([Path(p) for p in plans])
    if aggregate.failed:
        names = ", ".join(r.export_name for r in aggregate.failed)
        raise ExportFailed(f"export(s) failed: {names}: {aggregate.failed[0].error}")
    return aggregate.to_json()
