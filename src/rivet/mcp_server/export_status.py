"""rivet's own state, read-only: recent runs, unfinished chunk runs and cursors of a config."""

from __future__ import annotations

import os
from pathlib import Path

from rivet.config import load_config
from rivet.mcp_server.results import Result
from rivet.state import open_state
from rivet.state.store import STATE_FILE


def export_status(config_path: str, limit: int) -> Result:
    path = Path(config_path)
    config = load_config(path)
    folder = path.resolve().parent
    if not os.environ.get("RIVET_STATE_URL") and not (folder / STATE_FILE).exists():
        return {
            "summary": f"no rivet state next to {path} yet: nothing has run",
            "runs": [],
            "in_progress_chunk_runs": [],
            "cursors": [],
        }
    state = open_state(folder)
    try:
        runs = [r.to_json() for r in state.runs.recent(None, limit)]
        chunk_runs = []
        for export in config.exports:
            run = state.chunks.in_progress(export.name)
            if run is None:
                continue
            counts: dict[str, int] = {}
            tasks = state.chunks.tasks(run.run_id)
            for task in tasks:
                counts[task.status] = counts.get(task.status, 0) + 1
            chunk_runs.append(
                {
                    "export": export.name,
                    "run_id": run.run_id,
                    "started_at": run.created_at,
                    "chunks": counts,
                    # `rivet apply --worker`: the plan whose workers share it, and who holds what
                    "plan_id": run.plan_id,
                    "leases": [
                        {"chunk": t.chunk.index, "worker": t.lease, "since": t.leased_at}
                        for t in tasks
                        if t.status == "running" and t.lease
                    ],
                }
            )
        cursors = [
            {"export": c.export_name, "cursor": c.cursor_value, "updated_at": c.updated_at}
            for c in state.cursors()
        ]
    finally:
        state.close()
    failed = sum(1 for r in runs if r["status"] == "failed")
    return {
        "summary": f"{len(runs)} recent run(s), {failed} failed; "
        f"{len(chunk_runs)} unfinished chunk run(s); {len(cursors)} cursor(s)",
        "runs": runs,
        "in_progress_chunk_runs": chunk_runs,
        "cursors": cursors,
    }
