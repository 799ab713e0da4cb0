"""Chunked mode: the export cut into chunks of its chunk column, read by `parallel` workers.

    layout (min/max or index walk) -> ledger (chunk_run + chunk_task) -> workers claim chunks:
    read chunk -> write its part(s) -> deliver -> mark completed -> ... -> every chunk completed
    -> publish (parts, manifest.json, _SUCCESS) -> chunk run completed

Each chunk writes its own part files (`<export>_<stamp>_chunk<i>[_part<j>].<ext>`, names fixed by
the run, so a chunk read again after a crash replaces rather than duplicates its part). With
`chunk_checkpoint: true` the ledger lives in the state store and its staging survives a crash, so
`rivet run --resume` reads only the chunks that were not completed; without it the ledger is in
memory and a failed run leaves nothing behind.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import xxhash

from rivet.core.chunks import ChunkSpec
from rivet.core.errors import PlanError, RivetError, SourceError
from rivet.core.faults import fault_point
from rivet.core.stop import shielded
from rivet.destinations import Destination, StagedPart
from rivet.formats.hive import check_columns
from rivet.pipeline.chunks_077 import adopt_077_parts, continues_077_plan
from rivet.pipeline.drift_gate import DriftWatch
from rivet.pipeline.memory_guard import MemoryGuard
from rivet.pipeline.meta import MetaColumns
from rivet.pipeline.naming import part_base_name
from rivet.pipeline.options import RunOptions
from rivet.pipeline.pacing import Pacer
from rivet.pipeline.partitioned import open_sink
from rivet.pipeline.parts import Sink, finish, write_batches
from rivet.pipeline.prefetch import read_ahead
from rivet.pipeline.publish import open_table, publish_run
from rivet.pipeline.reconcile import check_chunks, count_chunks
from rivet.pipeline.request import read_request
from rivet.pipeline.shared_run import join, settle
from rivet.planning.export_plan import ExportPlan
from rivet.quality.gates import QualityTracker
from rivet.report.model import ExportResult, ExportStatus
from rivet.report.progress import ProgressView
from rivet.sources.base import (
    ChunkLayout,
    ChunkRead,
    PreparedRead,
    ReadRequest,
    ReadStats,
    Source,
    retrying,
)
from rivet.state import StateStore
from rivet.state.chunk_runs import ChunkRuns, ChunkTask
from rivet.state.leases import LeasedChunks
from rivet.state.legacy import IMPORTED_PLAN
from rivet.state.store import memory_state

if TYPE_CHECKING:
    from rivet.destinations.iceberg import IcebergTable

log = logging.getLogger(__name__)


def export_chunked(
    plan: ExportPlan,
    source: Source,
    destination: Destination,
    progress: ProgressView,
    result: ExportResult,
    state: StateStore | None,
    options: RunOptions,
) -> None:
    spec = plan.chunks
    assert spec is not None
    request = read_request(plan)
    # The catalog reads are retried like pages: a connection cut now costs a reconnect only.
    prepared = retrying(request, lambda: source.prepare(request))
    layout = planned_layout(spec) or source.chunk_layout(request, prepared, spec)
    result.warnings.extend(prepared.warnings + layout.warnings + resolved_column(spec, layout))
    result.strategy = chunk_strategy(spec, layout)
    result.note("planned", strategy=result.strategy, tuning=result.tuning)
    drift = DriftWatch(plan, state, prepared.schema, result)
    drift.check_schema()  # before any chunk is read
    meta_schema = MetaColumns.of(plan, datetime.now(UTC)).schema(prepared.schema)
    check_columns(plan.partitions, meta_schema, plan.name)
    table = open_table(plan, meta_schema, options, result)
    tracker = (
        QualityTracker(plan.gates, plan.name, prepared.schema.names)
        if plan.gates is not None
        else None
    )
    if options.worker is not None:
        assert state is not None, "workers share the chunk ledger of the state store"
        _share_chunks(plan, source, destination, progress, result, state, options,
                      _Prepared(request, prepared, layout, drift, tracker, table))  # fmt: skip
        return
    ledger = state if spec.checkpoint else memory_state()
    assert ledger is not None, "checkpointed chunk runs need the state store"
    try:
        runs = ledger.chunks
        resumed = _open_run(plan, layout, runs, result, options.resume)
        staging = destination.staging_dir(result.run_id, reuse=resumed)
        done = False
        try:
            if resumed:
                result.warnings += adopt_077_parts(
                    runs, result.run_id, staging, destination, meta_schema, plan.output.kind
                )
                _forget_lost_parts(runs, result.run_id, staging, destination)
            run = _ChunkRun(
                plan,
                source,
                _Prepared(request, prepared, layout, drift, tracker, table),
                runs,
                result.run_id,
                staging,
                destination,
                progress,
                options,
            )
            try:
                run.execute()
            finally:
                result.warnings.extend(run.warnings + run.guard.warnings)
            run.publish(result, runs, resumed)
            done = True
        finally:
            if spec.checkpoint and not done:
                _drop_unfinished_chunks(runs, result.run_id, staging)
            destination.discard(result.run_id, keep=spec.checkpoint and not done)
    finally:
        if ledger is not state:
            ledger.close()


def _check_host(
    plan: ExportPlan, destination: Destination, started_on: str | None, shared_fs: bool
) -> None:
    """A worker on another host than the one that started the run must reach what that host
    keeps on its disk: a local staging folder, a SQLite Iceberg catalog."""
    here = socket.gethostname()
    if started_on == here or shared_fs:
        return
    if destination.kind == "local":
        kept = f"its parts are staged on the local disk of {started_on} ({plan.destination.uri})"
        fix = "write to S3 or GCS, or pass --shared-filesystem when destination.path is one "
    elif plan.iceberg is not None and (plan.iceberg.catalog_uri or "sqlite").startswith("sqlite"):
        kept = f"its Iceberg catalog is a SQLite file on {started_on}"
        fix = "set iceberg.catalog_uri to a PostgreSQL or REST catalog, or pass "
        fix += "--shared-filesystem when the catalog's folder is one "
    else:
        return
    raise PlanError(
        f"export '{plan.name}': {kept}, which this worker on {here} cannot reach",
        hint=fix + "filesystem every worker mounts (NFS, EFS, Filestore)",
    )


@dataclass(frozen=True)
class _Prepared:
    """What an export's chunks are read with: prepared once per run (per worker)."""

    request: ReadRequest
    read: PreparedRead
    layout: ChunkLayout
    drift: DriftWatch
    tracker: QualityTracker | None
    table: IcebergTable | None


def _share_chunks(
    plan: ExportPlan,
    source: Source,
    destination: Destination,
    progress: ProgressView,
    result: ExportResult,
    state: StateStore,
    options: RunOptions,
    prepared: _Prepared,
) -> None:
    """A worker's part of the run the workers of a sealed plan share: join (or start) it, read
    the chunks it can claim, then publish the run if it completed the last one. Otherwise the
    result says CONTRIBUTED (another worker published) or WAITING (others still hold chunks)."""
    role, spec, layout = options.worker, plan.chunks, prepared.layout
    assert role is not None and spec is not None
    runs = state.chunks
    shared = join(plan, state, result, role, layout.fingerprint, layout.chunks, spec.max_attempts)
    result.run_id = shared.run_id
    if shared.status == "completed":
        result.status = ExportStatus.CONTRIBUTED
        return
    _check_host(plan, destination, shared.host, role.shared_filesystem)
    if options.resume:
        runs.reopen_failed(shared.run_id)
    staging = destination.staging_dir(result.run_id, reuse=True)
    ledger = role.ledger(runs, spec.max_attempts)
    published = False
    try:
        started = datetime.fromisoformat(shared.created_at)  # every worker stamps the same
        run = _ChunkRun(plan, source, prepared, ledger, result.run_id, staging, destination,
                        progress, options, started)  # fmt: skip
        try:
            run.execute()
        finally:
            result.warnings.extend(run.warnings + run.guard.warnings + ledger.reclaimed)
        result.rows = run.rows_written
        where = role.leases.progress(result.run_id)
        if where.failed or not where.all_completed or where.status == "completed":
            settle(plan, where, result)
        elif not role.leases.claim_publish(result.run_id):
            result.status = ExportStatus.WAITING
        else:
            run.publish(result, runs, resumed=True)
            published = True
            role.leases.notify(result.run_id)  # the workers waiting on it can end
    finally:
        destination.discard(result.run_id, keep=not published)


def _check_gates(tracker: QualityTracker, rows: int, resumed: bool, result: ExportResult) -> None:
    """The gates over every chunk: row counts from the ledger, the rest from what was read."""
    read = tracker.rows
    if resumed and read < rows and tracker.column_gates:
        tracker.warnings.append(
            f"quality: null ratios and uniqueness cover the {read:,} rows this resumed run read, "
            f"not the {rows - read:,} of chunks completed before"
        )
    problems = tracker.problems(row_count=rows)
    result.warnings.extend(tracker.warnings)
    result.quality = "FAIL" if problems else "pass"
    result.note("quality", result=result.quality, problems=problems)
    tracker.check(problems)


def resolved_column(spec: ChunkSpec, layout: ChunkLayout) -> list[str]:
    """A chunk column rivet chose (the primary key): say which, and to write it down."""
    if spec.column is not None or spec.planned is not None:
        return []
    return [
        f"chunk_column is not set: chunked by the primary key '{layout.column}'; set "
        f"chunk_column: {layout.column} so that a change of the key cannot change the chunks"
    ]


def planned_layout(spec: ChunkSpec) -> ChunkLayout | None:
    """The chunks a sealed plan fixed (`rivet apply`): used as they are, never recomputed."""
    if spec.planned is None:
        return None
    column, chunks = spec.planned
    shape = "".join(f"{c.index}:{c.low}:{c.high}:{c.is_null};" for c in chunks)
    return ChunkLayout(column, list(chunks), xxhash.xxh3_64_hexdigest(f"{column};{shape}".encode()))


def chunk_strategy(spec: ChunkSpec, layout: ChunkLayout) -> str:
    how = {"range": "ranges", "days": f"{spec.days}-day windows", "dense": "dense"}[spec.by]
    snapshot = "one snapshot" if spec.shared_snapshot else "a snapshot per chunk"
    return (
        f"chunked({layout.column}: {len(layout.chunks)} {how}, parallel={spec.parallel}, "
        f"{snapshot}{', checkpointed' if spec.checkpoint else ''})"
    )


def _open_run(
    plan: ExportPlan, layout: ChunkLayout, runs: ChunkRuns, result: ExportResult, resume: bool
) -> bool:
    """Start a new chunk run, or (--resume) continue the unfinished one (rivet's, or one that
    rivet-cli 0.7.7 left and rivet imported). True when resuming."""
    export, spec = plan.name, plan.chunks
    assert spec is not None
    unfinished = runs.in_progress(export)
    if unfinished is not None and unfinished.plan_id is not None:
        raise PlanError(
            f"export '{export}': chunk run {unfinished.run_id} is shared by the workers of plan "
            f"{unfinished.plan_id} and did not finish, so this run cannot start or resume it",
            hint="finish it with that plan's workers (`rivet apply PLAN --worker`), or drop it "
            f"with `rivet state reset-chunks -c <config> -e {export}`",
        )
    if resume and spec.checkpoint:
        if unfinished is None:
            raise PlanError(
                f"export '{export}': --resume, but there is no unfinished chunk run to resume",
                hint="run it without --resume",
            )
        if unfinished.plan_hash != layout.fingerprint and not continues_077_plan(
            unfinished.plan_hash, plan, layout.column
        ):
            started = (
                "rivet-cli 0.7.7 planned run " + unfinished.run_id + " otherwise (rivet "
                "continues its runs of integer ranges cut by chunk_size or chunk_count, with the "
                "same query and chunk column)"
                if unfinished.plan_hash.startswith(IMPORTED_PLAN)
                else "the chunk plan changed since run " + unfinished.run_id + " started "
                "(query, chunk column or chunk sizing)"
            )
            raise PlanError(
                f"export '{export}': {started}, so its chunks cannot be resumed",
                hint=f"start over with `rivet state reset-chunks -c <config> -e {export}` "
                "and rerun without --resume",
            )
        runs.reopen(unfinished.run_id)
        result.run_id = unfinished.run_id
        return True
    if resume:
        result.warnings.append(
            "--resume has no effect: this export does not checkpoint chunks "
            "(chunk_checkpoint: true)"
        )
    if unfinished is not None:
        raise PlanError(
            f"export '{export}': chunk run {unfinished.run_id} (started "
            f"{unfinished.created_at}) did not finish",
            hint=f"continue it with `rivet run -c <config> -e {export} --resume`, or drop it "
            f"with `rivet state reset-chunks -c <config> -e {export}`",
        )
    runs.start(export, result.run_id, layout.fingerprint, layout.chunks, spec.max_attempts)
    return False


def _forget_lost_parts(
    runs: ChunkRuns, run_id: str, staging: Path, destination: Destination
) -> None:
    """A completed chunk whose part is no longer where the ledger says is read again."""
    for task in runs.tasks(run_id):
        if task.status == "completed" and not all(
            destination.holds(staged_part(staging, p)) for p in task.parts
        ):
            log.warning("chunk %d: its part is missing, reading it again", task.chunk.index)
            runs.reset_task(run_id, task.chunk.index)


def _drop_unfinished_chunks(runs: ChunkRuns, run_id: str, staging: Path) -> None:
    """A stopped or failed checkpointed run keeps only its completed chunks' files: a chunk
    that was being read or finished when the run ended is read again by --resume."""
    try:
        unfinished = [t for t in runs.tasks(run_id) if t.status != "completed"]
    except RivetError:  # the state store is gone: --resume reads what the ledger says
        return
    for task in unfinished:
        shutil.rmtree(chunk_folder(staging, task), ignore_errors=True)


def chunk_folder(staging: Path, task: ChunkTask) -> Path:
    """Where a chunk's parts are staged."""
    return staging / f"chunk-{task.chunk.index:05d}"


def _completed_parts(runs: ChunkRuns, run_id: str, staging: Path) -> tuple[list[StagedPart], int]:
    tasks = runs.tasks(run_id)
    unfinished = [t.chunk.index for t in tasks if t.status != "completed"]
    if unfinished:
        raise RivetError(f"chunks {unfinished} did not complete")
    parts = [staged_part(staging, p) for task in tasks for p in task.parts]
    return parts, sum(task.rows or 0 for task in tasks)


def part_record(part: StagedPart, staging: Path) -> dict[str, Any]:
    """A chunk's part as the ledger keeps it (staged path relative to the run's staging)."""
    return {
        "name": part.final_name,
        "staged": str(part.path.relative_to(staging)),
        "rows": part.rows,
        "bytes": part.size_bytes,
        "fingerprint": part.fingerprint,
        "columns": dict(part.columns),
    }


def staged_part(staging: Path, record: dict[str, Any]) -> StagedPart:
    return StagedPart(
        staging / record["staged"],
        record["name"],
        record["rows"],
        record["bytes"],
        record["fingerprint"],
        record.get("columns", {}),
    )


class _ChunkRun:
    """The workers of one chunk run: each claims a chunk, reads and writes it, and records it.
    With `rivet apply --worker` this process is one reader among the plan's workers: it claims
    chunks under its lease (ledger: LeasedChunks) one at a time."""

    def __init__(
        self,
        plan: ExportPlan,
        source: Source,
        prepared: _Prepared,
        runs: ChunkRuns | LeasedChunks,
        run_id: str,
        staging: Path,
        destination: Destination,
        progress: ProgressView,
        options: RunOptions,
        started: datetime | None = None,  # the run's start (_rivet_exported_at): now if None
    ) -> None:
        assert plan.chunks is not None
        self.plan, self.spec = plan, plan.chunks
        self.source, self.request, self.prepared = source, prepared.request, prepared.read
        self.layout, self.runs, self.run_id = prepared.layout, runs, run_id
        self.staging, self.destination = staging, destination
        self.progress, self.options = progress, options
        self.validate, self.reconcile = options.validate, options.reconcile
        self.leased = isinstance(runs, LeasedChunks)
        # --reconcile: each chunk's count, taken inside the chunk's own read (its snapshot)
        self.counted: dict[int, int] = {}
        self._snapshot: str | None = None
        self.warnings: list[str] = []
        self.rows_written = 0  # by this process (a worker's share)
        self.base_name = part_base_name(plan.name, run_id)
        self.stats = ReadStats()
        self.guard = MemoryGuard(plan.name, plan.tuning, self.stats)
        self.pacer = Pacer(source, plan.name, self.stats, plan.tuning.adaptive)
        self._stop = threading.Event()
        self._stop_reason = "another chunk failed"
        self._errors: list[BaseException] = []
        self._progress_lock = threading.Lock()
        self.tracker, self.drift, self.table = prepared.tracker, prepared.drift, prepared.table
        self.meta = MetaColumns.of(plan, started or datetime.now(UTC))
        self.schema = self.meta.schema(prepared.read.schema)

    def publish(self, result: ExportResult, runs: ChunkRuns, resumed: bool) -> None:
        """Every chunk is completed: check the whole (gates, shapes, --reconcile), publish the
        parts, manifest and _SUCCESS, and close the chunk run, as one step a stop waits for."""
        result.statements = self.stats.statements
        result.longest_statement_s = self.stats.longest_statement_s
        parts, rows = _completed_parts(runs, result.run_id, self.staging)
        result.rows = rows
        if self.tracker is not None:
            _check_gates(self.tracker, rows, resumed, result)
        self.drift.check_shapes()
        if self.options.reconcile:
            fault_point("before_reconcile")
            tasks = runs.tasks(result.run_id)
            counts = count_chunks(self.source, self.request, self.prepared, self.layout.column,
                                  tasks, self.counted)  # fmt: skip
            result.reconcile = check_chunks(self.plan.name, counts)
            result.note("reconciled", chunks=len(counts), exported_rows=rows)
        fault_point("before_publish")
        with shielded():  # publish and close the chunk run as one step (a stop waits)
            if not parts and self.plan.skip_empty:
                result.status = ExportStatus.SKIPPED
            else:
                publish_run(self.plan, self.schema, self.destination, parts, result, self.table)
                self.drift.record()
                result.status = ExportStatus.SUCCESS
            runs.finish(result.run_id)
            result.validated = "pass" if self.options.validate else None

    def execute(self) -> None:
        tasks = self.runs.tasks(self.run_id)
        pending = sum(1 for t in tasks if t.status != "completed")
        self._chunks_done, self._chunks_total = len(tasks) - pending, len(tasks)
        self.progress.start(self.plan.name, self.prepared.row_estimate)
        self.progress.chunks(self._chunks_done, self._chunks_total)
        try:
            holder = (
                self.source.shared_snapshot(self.request)
                if self.spec.shared_snapshot
                else nullcontext(None)
            )
            with holder as snapshot:
                self._snapshot = snapshot
                workers = self._workers(pending, holding=snapshot is not None)
                ended = [threading.Event() for _ in range(workers)]
                threads = [
                    threading.Thread(target=self._work, args=(ended[i],), name=f"rivet-chunk-{i}",
                                     daemon=True)
                    for i in range(workers)
                ]  # fmt: skip
                with self.pacer:
                    for thread in threads:
                        thread.start()
                    try:
                        for thread in threads:
                            thread.join()
                    except KeyboardInterrupt:  # SIGTERM / Ctrl-C: workers stop at their next batch
                        self._stop_reason = "the run was stopped"
                        self._stop.set()
                        # not join(): after a signal interrupted a join, CPython 3.11 takes the
                        # thread for ended while it still runs (the bpo-45274 clean-up in
                        # Thread._wait_for_tstate_lock releases a lock the thread holds)
                        for end in ended:
                            end.wait()
                        raise
        finally:
            self.progress.stop()
        if self.pacer.summary:
            self.warnings.append(self.pacer.summary)
        if self._errors:
            raise self._errors[0]

    def _workers(self, pending: int, holding: bool) -> int:
        """`parallel`, within the connections the export may hold: the server's free ones (less
        3 left for others) and source.max_connections. Besides its readers the export holds the
        catalog connection and, `holding` a shared snapshot, its holder (both open now, so
        counted in use by the server)."""
        if self.leased:  # a worker reads one chunk at a time: start more workers for more
            return 1
        wanted = max(1, min(self.spec.parallel, pending))
        holder = int(holding)
        most, in_use = self.source.connection_budget(self.plan.name)
        allowed = most - in_use - 3
        why = f"the server allows {most} connections and {in_use} are in use"
        if self.plan.max_connections is not None:
            cap = self.plan.max_connections - 1 - holder
            if cap < allowed:
                allowed, why = cap, f"source.max_connections is {self.plan.max_connections}"
        workers = max(1, min(wanted, allowed))
        if workers < wanted:
            self.warnings.append(f"parallel {self.spec.parallel} lowered to {workers}: {why}")
        return workers

    def _work(self, ended: threading.Event) -> None:
        """Claim and read chunks until none is left. A chunk read to its end is finished (its
        last row group encoded, parts closed, checked and handed over, then checkpointed) on a
        thread of its own while this worker reads the next one: the source is never idle while
        a part is closed, and each worker has at most one chunk finishing. `ended` is set once
        this worker and its finishing thread are done."""
        finishing: threading.Thread | None = None
        try:
            while not self._stop.is_set():
                try:
                    task = self.runs.claim(self.run_id)
                except BaseException as exc:
                    self._give_up(exc)
                    return
                if task is None:
                    return
                try:
                    sink, tracker = self._read_chunk(task)
                except BaseException as exc:
                    retry = (
                        isinstance(exc, SourceError)
                        and exc.transient
                        and task.attempts < self.spec.max_attempts
                    )
                    # its part files are incomplete: none may stay behind (gone before the
                    # chunk is handed back, so that no other worker is writing them then)
                    shutil.rmtree(self._folder(task), ignore_errors=True)
                    try:
                        if self._stop.is_set():  # stopped, not failed: the chunk goes back
                            self.runs.release(self.run_id, task.chunk.index, str(exc))
                        else:
                            self.runs.fail(self.run_id, task.chunk.index, str(exc), retry=retry)
                    except BaseException as lost:  # the ledger is gone: the cause is reported
                        log.warning("chunk %d: %s", task.chunk.index, lost)
                    if retry and not self._stop.is_set():
                        log.warning("chunk %d failed, retrying: %s", task.chunk.index, exc)
                        time.sleep(self.plan.tuning.retry_backoff_ms / 1000 * task.attempts)
                        continue
                    self._give_up(exc)
                    return
                if finishing is not None:
                    finishing.join()
                finishing = threading.Thread(
                    target=self._finish_chunk,
                    args=(task, sink, tracker),
                    name=f"rivet-finish-{task.chunk.index}",
                    daemon=True,
                )
                finishing.start()
        finally:
            if finishing is not None:
                finishing.join()
            ended.set()

    def _finish_chunk(self, task: ChunkTask, sink: Sink, tracker: QualityTracker | None) -> None:
        try:
            parts = finish(sink)
            if tracker is not None:
                assert self.tracker is not None
                with self._progress_lock:
                    self.tracker.merge(tracker)
            for note in sink.notes():
                if note not in self.warnings:
                    self.warnings.append(note)
            records = [part_record(p, self.staging) for p in parts]
            self.runs.complete(self.run_id, task.chunk.index, sink.rows, records)
            with self._progress_lock:
                self.rows_written += sink.rows
                self._chunks_done += 1
                self.progress.chunks(self._chunks_done, self._chunks_total)
            fault_point("after_chunk_checkpoint")
        except BaseException as exc:  # a full disk, a failed check or upload: not read again
            shutil.rmtree(self._folder(task), ignore_errors=True)
            try:
                self.runs.fail(self.run_id, task.chunk.index, str(exc), retry=False)
            except BaseException as lost:  # the ledger is gone (a lost lease): reported below
                log.warning("chunk %d: %s", task.chunk.index, lost)
            finally:
                self._give_up(exc)

    def _folder(self, task: ChunkTask) -> Path:
        """A worker stages each attempt apart: a worker that lost its lease unseen (its state
        session cut) can never write into the files of the worker that took the chunk over."""
        folder = chunk_folder(self.staging, task)
        return folder.with_name(f"{folder.name}-{task.attempts}") if self.leased else folder

    def _deliver(self, part: StagedPart) -> None:
        if isinstance(self.runs, LeasedChunks):
            self.runs.leases.check()  # a part goes to the shared staging only under a lease
        self.destination.deliver(part)

    def _give_up(self, exc: BaseException) -> None:
        self._errors.append(exc)
        self._stop.set()

    def _read_chunk(self, task: ChunkTask) -> tuple[Sink, QualityTracker | None]:
        """Every batch of the chunk written; its parts are still open (see _finish_chunk)."""
        index = task.chunk.index
        folder = self._folder(task)
        shutil.rmtree(folder, ignore_errors=True)  # what an earlier attempt left
        folder.mkdir(parents=True)
        sink = open_sink(
            self.plan,
            self.schema,
            folder,
            f"{self.base_name}_chunk{index}",
            deliver=self._deliver,
            validate=self.validate,
            workers=1 if self.leased else self.spec.parallel,
        )
        chunk = ChunkRead(self.layout.column, task.chunk, self._snapshot)
        request = replace(self.request, chunk=chunk)
        if self.reconcile:
            request = replace(request, on_counted=partial(self.counted.__setitem__, index))
        # This attempt's rows count for the gates only once it completes: a chunk read again
        # after a failure would otherwise count its first rows twice (false duplicates).
        tracker = self.tracker.fork() if self.tracker is not None else None

        def observe(batch: pa.RecordBatch) -> None:
            if tracker is not None:
                tracker.observe(batch)
            self.drift.observe(batch)  # widest values only (thread safe): re-reads are harmless
            with self._progress_lock:
                self.progress.advance(batch.num_rows, batch.nbytes)
            if self._stop.is_set():
                raise RivetError(f"stopped: {self._stop_reason}")

        batches = self.guard.watch(
            read_ahead(self.source.read(request, self.prepared, self.stats), self.plan)
        )
        if self.meta.active:
            batches = self.meta.apply(batches)
        write_batches(sink, batches, observe)
        return sink, tracker
