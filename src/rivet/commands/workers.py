"""`rivet apply PLAN... --worker`: one of any number of identical processes, on any hosts, that
share the work of sealed plans through the PostgreSQL state store.

A worker loads each plan (seal and age checked as for `rivet apply`), then goes round its
exports: in each it claims what it can (the chunks of a chunked export, or a whole export of
another mode), reads and records it, and publishes the export when it completed the last chunk.
When nothing is left to claim but other workers still hold chunks, it waits for a notification
from them (a chunk handed back or failed, an export published: LISTEN on the state database) or
`poll_s` seconds (a worker that dies notifies nobody), then looks at the state database (never
the source): a chunk whose worker died is claimable then, and taken over. It returns once every
export is published or failed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rivet.commands.plan import load_plan, planned_exports
from rivet.commands.run import Planned, run
from rivet.config.connection import resolve_source_url
from rivet.core.errors import PlanError, PlanRefused
from rivet.core.redact import redact
from rivet.pipeline.options import WorkerRole
from rivet.report.model import ExportResult, ExportStatus, RunAggregate
from rivet.report.summary import render_line
from rivet.state.leases import Leases

log = logging.getLogger(__name__)
POLL_S = 0.5


def work(
    paths: Sequence[Path],
    force: bool = False,
    quiet: bool = False,
    validate: bool = False,
    reconcile: bool = False,
    resume: bool = False,
    shared_filesystem: bool = False,
    poll_s: float = POLL_S,
) -> RunAggregate:
    url = os.environ.get("RIVET_STATE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise PlanError(
            "--worker: the workers of a plan share its work through the PostgreSQL state "
            "store, and RIVET_STATE_URL " + ("is not set" if not url else "is not a "
                                              "postgresql:// URL"),
            hint="set RIVET_STATE_URL=postgresql://... to the same database for every worker",
        )  # fmt: skip
    artifacts = [(path, load_plan(path, force)) for path in paths]
    _refuse_single_process_plans(artifacts)
    started = time.perf_counter()
    leases = Leases(url)
    try:
        jobs = [_Job(path, artifact, leases, shared_filesystem) for path, artifact in artifacts]
        log.info("worker %s: %d plan(s), %d export(s)", leases.owner, len(jobs),
                 sum(len(j.open) for j in jobs))  # fmt: skip
        while True:
            for job in jobs:
                if job.open and job.ready(quiet):
                    job.round(quiet, validate, reconcile, resume)
            if not any(job.open for job in jobs):
                break
            leases.wait(poll_s)
    finally:
        log.info("worker %s: %d statements on its state session", leases.owner,
                 leases.statements)  # fmt: skip
        leases.close()
    results = [r for job in jobs for r in job.results.values()]
    label = ", ".join(str(p) for p in paths)
    return RunAggregate(f"worker_{leases.owner}", label, "worker", results,
                        time.perf_counter() - started)  # fmt: skip


def _refuse_single_process_plans(artifacts: Sequence[tuple[Path, dict[str, Any]]]) -> None:
    seen: dict[str, Path] = {}
    for path, artifact in artifacts:
        if not artifact.get("workers"):
            raise PlanRefused(
                f"{path}: the plan was made for one process (its chunked exports may read one "
                "snapshot, which cannot span workers)",
                hint="make it for workers: rivet plan -c <config> --for-workers -o <file>",
            )
        if artifact["plan_id"] in seen:
            raise PlanRefused(f"{path}: the same plan as {seen[artifact['plan_id']]}")
        seen[artifact["plan_id"]] = path


class _Job:
    """One plan as this worker goes through it: the exports not yet ended, and the results of
    those that ended."""

    def __init__(
        self, path: Path, artifact: dict[str, Any], leases: Leases, shared_filesystem: bool
    ) -> None:
        self.path, self.artifact = path, artifact
        self.planned = planned_exports(artifact, path, workers=True)
        config = self.planned.config
        source_url = resolve_source_url(config.source, self.planned.config_dir)
        self.role = WorkerRole(
            leases,
            artifact["plan_id"],
            _source_key(source_url),
            max(1, config.source.max_connections // 2) if config.source.max_connections else None,
            shared_filesystem,
        )
        self.open = [plan.name for plan in self.planned.plans]
        self.waiting: dict[str, str] = {}  # export -> the shared run it waits on
        self.shares: dict[str, int] = {}  # export -> rows this worker read in earlier rounds
        self.notes: dict[str, list[str]] = {}  # ... and the warnings of those rounds
        self.results: dict[str, ExportResult] = {}

    def round(self, quiet: bool, validate: bool, reconcile: bool, resume: bool) -> None:
        """Each export still open once: claim and read what can be claimed, publish what is
        complete. An export ends when it is published (by this worker or another) or fails."""
        plans = [p for p in self.planned.plans if p.name in self.open]
        aggregate = run(
            Path(self.artifact["config_path"]),
            [p.name for p in plans],
            quiet=quiet,
            validate=validate,
            reconcile=reconcile,
            resume=resume,
            planned=Planned(self.planned.config, self.planned.config_dir, plans),
            worker=self.role,
        )
        for result in aggregate.results:
            share = self.shares.get(result.export_name, 0)
            result.warnings = self.notes.pop(result.export_name, []) + result.warnings
            if result.status == ExportStatus.WAITING:
                if result.export_name not in self.waiting and not quiet:
                    print(f"{result.export_name}: nothing left to claim; waiting for the other "
                          "workers (to take over a chunk whose worker stops, or to publish)",
                          file=sys.stderr, flush=True)  # fmt: skip
                self.waiting[result.export_name] = result.run_id
                self.shares[result.export_name] = share + result.rows
                self.notes[result.export_name] = result.warnings
                continue
            if result.status == ExportStatus.CONTRIBUTED:
                result.rows += share  # what this worker read of it, over every round
            self.open.remove(result.export_name)
            self.waiting.pop(result.export_name, None)
            self.results[result.export_name] = result

    def ready(self, quiet: bool) -> bool:
        """Is there something for this worker in the exports it waits on (a chunk to claim,
        one a dead worker held, a run to publish, or a failure)? Asked of the state database
        only, so that waiting costs the source nothing. An export another worker published
        ends here, without a round."""
        ready = not self.waiting and bool(self.open)
        for export, run_id in list(self.waiting.items()):
            where = self.role.leases.progress(run_id)
            if where.status == "completed":
                self._contributed(export, run_id, quiet)
                continue
            publishable = where.all_completed and not where.publishing
            if where.pending or where.orphaned or where.failed or publishable:
                ready = True
        return ready

    def _contributed(self, export: str, run_id: str, quiet: bool) -> None:
        plan = next(p for p in self.planned.plans if p.name == export)
        result = ExportResult(export, run_id, ExportStatus.CONTRIBUTED, mode=plan.mode,
                              destination=plan.destination.uri, rows=self.shares.get(export, 0),
                              finished_at=datetime.now(UTC).isoformat(),
                              warnings=self.notes.pop(export, []))  # fmt: skip
        self.open.remove(export)
        del self.waiting[export]
        self.results[export] = result
        if not quiet:
            print(render_line(result), file=sys.stderr, flush=True)


def _source_key(url: str) -> str:
    """The source a plan reads (server and database), the same for every worker and config
    that reads it: the budget of its readers is shared by them all."""
    return hashlib.sha256(redact(url).encode()).hexdigest()[:16]
