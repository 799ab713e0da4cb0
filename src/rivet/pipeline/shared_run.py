"""The runs a sealed plan's workers share (`rivet apply PLAN --worker`): joining one, and the
exports that are not chunked, each one unit of work in the pool.

A chunked export's workers share its chunks (pipeline.chunked). An export of another mode is
one unit: one worker claims it, exports it as `rivet run` would, and marks it done in the same
step that publishes it (a stop waits for both). A worker that finds a unit held by another
waits; one that finds it done moves on; one that finds it held by a dead worker takes it over.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from rivet.core.chunks import Chunk
from rivet.core.errors import PlanError, RivetError
from rivet.pipeline.options import WorkerRole
from rivet.planning.export_plan import ExportPlan
from rivet.report.model import ExportResult, ExportStatus
from rivet.state import StateStore
from rivet.state.chunk_runs import ChunkRun, SharedRun
from rivet.state.leases import RunProgress

WHOLE = "whole export"  # the plan_hash of a unit's run: one task, no range
UNIT_ATTEMPTS = 3  # a unit whose workers died this many times fails (as chunk_max_attempts)


def join(
    plan: ExportPlan,
    state: StateStore,
    result: ExportResult,
    role: WorkerRole,
    plan_hash: str,
    chunks: list[Chunk],
    max_attempts: int,
) -> ChunkRun:
    """The run of this plan's export that its workers share: started by the first to come.
    Refused while another plan's run (or a `rivet run`'s) of the export is unfinished."""
    shared = state.chunks.start_shared(
        plan.name, result.run_id, plan_hash, chunks, max_attempts,
        SharedRun(role.plan_id, socket.gethostname(), role.source_key, role.max_readers),
    )  # fmt: skip
    if shared.plan_id != role.plan_id:
        of = f"of plan {shared.plan_id}" if shared.plan_id else "of `rivet run`"
        raise PlanError(
            f"export '{plan.name}': chunk run {shared.run_id} ({of}, started "
            f"{shared.created_at}) did not finish, so the workers of plan {role.plan_id} "
            "cannot start one",
            hint="finish it (with its plan's workers, or `rivet run -c <config> -e "
            f"{plan.name} --resume`), or drop it with `rivet state reset-chunks -c <config> "
            f"-e {plan.name}`",
        )
    return shared


def settle(plan: ExportPlan, where: RunProgress, result: ExportResult) -> None:
    """Nothing left to claim: a failed chunk ends every worker; else another worker publishes
    (or published)."""
    if where.failed:
        index, error = where.failed[0]
        what = f"chunk {index}" if plan.chunks is not None else "its run (by another worker)"
        raise RivetError(
            f"export '{plan.name}': {what} failed: {error}",
            hint="fix the cause, then continue with `rivet apply PLAN --worker --resume` "
            "(the completed chunks are kept)",
        )
    done = where.status == "completed"
    result.status = ExportStatus.CONTRIBUTED if done else ExportStatus.WAITING


def export_unit(
    plan: ExportPlan,
    state: StateStore,
    result: ExportResult,
    role: WorkerRole,
    export: Callable[[Callable[[], None]], None],
    resume: bool = False,
) -> None:
    """Claim the export (one unit) and run `export(published)`, whose `published` is called in
    the step that publishes it; or say who holds it. `resume`: a unit that failed is tried
    again."""
    shared = join(plan, state, result, role, WHOLE, [Chunk(0, None, None, False)], UNIT_ATTEMPTS)
    if resume:
        state.chunks.reopen_failed(shared.run_id)
    mine = result.run_id  # the export's own run, if this worker runs it
    result.run_id = shared.run_id  # the shared run, until this worker claims the unit
    if shared.status == "completed":
        result.status = ExportStatus.CONTRIBUTED
        return
    ledger = role.ledger(state.chunks, UNIT_ATTEMPTS)
    task = ledger.claim(shared.run_id)
    if task is None:
        settle(plan, role.leases.progress(shared.run_id), result)
        return
    result.run_id = mine
    result.warnings += ledger.reclaimed
    if task.attempts > 1 and _published_before(plan, state):
        # its worker died after publishing, before recording it: the cursor says so
        ledger.complete(shared.run_id, 0, 0, [])
        state.chunks.finish(shared.run_id)
        result.status = ExportStatus.CONTRIBUTED
        result.warnings.append(
            f"export '{plan.name}' was published by a worker that stopped before recording it "
            "(its cursor is at the planned end): not exported again"
        )
        return

    def published() -> None:
        ledger.complete(shared.run_id, 0, result.rows, [])
        state.chunks.finish(shared.run_id)
        role.leases.notify(shared.run_id)

    try:
        export(published)
    except BaseException as exc:
        if result.status not in (ExportStatus.SUCCESS, ExportStatus.SKIPPED):
            stopped = isinstance(exc, KeyboardInterrupt)
            try:
                if stopped:  # another worker exports it
                    ledger.release(shared.run_id, 0, "its worker was stopped")
                else:
                    ledger.fail(shared.run_id, 0, str(exc), retry=False)
            except RivetError:  # the lease is gone too: the export's own error says why
                pass
        raise


def _published_before(plan: ExportPlan, state: StateStore) -> bool:
    if plan.cursor_until is None:
        return False
    cursor = state.cursor(plan.name)
    return cursor is not None and list(cursor.position or ()) == list(plan.cursor_until)
