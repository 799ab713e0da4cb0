"""Run one export end to end, in the documented commit order:

    prepare (describe, key, estimate) -> read pages -> write staged parts -> finish parts
    -> publish parts -> manifest.json -> _SUCCESS

Nothing reaches a final name before every part is complete; a failure discards the staging dir.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

import pyarrow as pa

from rivet.core.errors import DestinationError, RivetError
from rivet.core.faults import fault_point
from rivet.core.stop import Stopped, shielded
from rivet.destinations import Destination, StagedPart, open_destination
from rivet.formats.hive import check_columns
from rivet.pipeline.boundary import BoundaryRows
from rivet.pipeline.chunked import export_chunked
from rivet.pipeline.cursor_owner import check_owner, owner_of
from rivet.pipeline.drift_gate import DriftWatch
from rivet.pipeline.late_rows import LateRows, open_late_rows
from rivet.pipeline.memory_guard import MemoryGuard
from rivet.pipeline.meta import MetaColumns
from rivet.pipeline.naming import make_run_id, part_base_name, run_stamp
from rivet.pipeline.options import RunOptions
from rivet.pipeline.pacing import Pacer
from rivet.pipeline.partitioned import open_sink
from rivet.pipeline.parts import Sink, write_all
from rivet.pipeline.prefetch import read_ahead
from rivet.pipeline.publish import open_table, publish_run
from rivet.pipeline.reconcile import InReadCount, check_rows, count_read, later_count_note
from rivet.pipeline.request import read_request
from rivet.pipeline.run_record import record_run
from rivet.pipeline.shared_run import export_unit
from rivet.planning.export_plan import ExportPlan
from rivet.quality.gates import QualityTracker
from rivet.report.model import ExportResult, ExportStatus
from rivet.report.progress import ProgressView
from rivet.report.rss import PeakRss
from rivet.sources.base import PreparedRead, ReadRequest, ReadStats, Source, retrying
from rivet.state import StateStore
from rivet.state.errors import StateError

log = logging.getLogger(__name__)


def run_export(
    plan: ExportPlan,
    source: Source,
    progress: ProgressView,
    state: StateStore | None = None,
    options: RunOptions | None = None,
) -> ExportResult:
    options = options or RunOptions()
    started = datetime.now(UTC)
    clock = time.perf_counter()
    result = ExportResult(
        export_name=plan.name,
        run_id=make_run_id(plan.name, started),
        mode=plan.mode,
        source_engine=source.engine,
        destination=plan.destination.uri,
        format=plan.output.kind,
        compression=plan.output.compression,
        tuning=_tuning_label(plan),
        tuning_profile=plan.tuning.profile,
        started_at=started.isoformat(),
    )
    with PeakRss() as rss:
        try:
            destination = open_destination(plan.destination, plan.name)
            result.destination_kind = destination.kind
            # part names carry the run's second: the next free one if another run took it
            stamp = run_stamp(plan.name, started, destination.taken)
            result.run_id = make_run_id(plan.name, stamp)
            if plan.chunks is not None:
                export_chunked(plan, source, destination, progress, result, state, options)
            elif options.worker is not None:
                assert state is not None, "workers share the state store"
                export_unit(plan, state, result, options.worker, partial(
                    _export, plan, source, destination, progress, result, started, state, options
                ), options.resume)  # fmt: skip
            else:
                _export(plan, source, destination, progress, result, started, state, options)
        except KeyboardInterrupt as exc:  # SIGTERM or Ctrl-C (rivet.core.stop)
            stopped = exc if isinstance(exc, Stopped) else Stopped(signal.SIGINT)
            stopped.detail = _stopped_message(plan, result, stopped, options)
            if result.status != "success":  # a stop that came while publishing waited for it
                result.status, result.error = ExportStatus.INTERRUPTED, stopped.detail
            _finish(result, clock, rss.peak_mb, state)
            raise stopped from None
        except RivetError as exc:
            result.status = ExportStatus.FAILED
            result.error = str(exc).replace("-c <config>", f"-c {options.config_label}")
            if plan.chunks is not None and plan.chunks.checkpoint and not result.parts:
                result.error += (
                    "\n  The chunks finished so far are checkpointed: once the cause is fixed, "
                    f"continue with `rivet run -c {options.config_label} -e {plan.name} --resume`"
                )
            if isinstance(exc, StateError) and not result.parts:
                result.error = (
                    f"export '{plan.name}': the state store failed before anything was "
                    f"published; nothing was published and no cursor moved: {result.error}"
                )
        except OSError as exc:  # the part writers report a full disk or a lost mount as OSError
            error = DestinationError(
                f"export '{plan.name}': writing a part failed: {exc}",
                hint="check free space and permissions of destination.path",
            )
            result.status, result.error = ExportStatus.FAILED, str(error)
        except Exception as exc:  # a bug: report it on this export, keep the others running
            log.debug("export %s failed unexpectedly", plan.name, exc_info=True)
            result.status = ExportStatus.FAILED
            result.error = (
                f"export '{plan.name}': internal error {type(exc).__name__}: {exc} "
                "(rerun with RIVET_LOG=debug for the traceback, and please report it)"
            )
    _finish(result, clock, rss.peak_mb, state)
    return result


def _finish(result: ExportResult, clock: float, peak_mb: float, state: StateStore | None) -> None:
    result.finished_at = datetime.now(UTC).isoformat()
    result.duration_s = time.perf_counter() - clock
    result.peak_rss_mb = peak_mb
    result.note(result.status, rows=result.rows, files=result.files, error=result.error)
    # a worker that read a share of a run another worker publishes records nothing: the
    # publisher records the run
    if state is not None and result.status not in (ExportStatus.WAITING, ExportStatus.CONTRIBUTED):
        record_run(state, result)


def _stopped_message(
    plan: ExportPlan, result: ExportResult, stopped: Stopped, options: RunOptions
) -> str:
    """One line: what stopped the export, what is kept, and how to continue."""
    if result.status == "success":
        return (
            f"stopped by {stopped.signal_name} once export '{plan.name}' was published; "
            "the exports after it did not run"
        )
    head = f"export '{plan.name}': stopped by {stopped.signal_name}; nothing was published"
    if plan.cursor_column is not None:
        head += " and the cursor did not move"
    if options.worker is not None:
        return (
            f"{head} by this worker; what it was reading went back to the plan's workers (the "
            "ones still running, or the next started), and what it completed is kept"
        )
    if plan.chunks is not None and plan.chunks.checkpoint:
        return (
            f"{head}; the chunks finished so far are checkpointed: continue with "
            f"`rivet run -c {options.config_label} -e {plan.name} --resume`"
        )
    return head


def _export(
    plan: ExportPlan,
    source: Source,
    destination: Destination,
    progress: ProgressView,
    result: ExportResult,
    started: datetime,
    state: StateStore | None,
    options: RunOptions,
    published: Callable[[], None] = lambda: None,
) -> None:
    """`published` is called in the step that publishes (or skips) the run: a worker records
    its unit done there."""
    cursor = None
    if plan.cursor_column is not None:
        assert state is not None, "incremental exports need the state store"
        cursor = state.cursor(plan.name)
        if cursor is not None:
            adopted = check_owner(plan, cursor, options, state.where)
            if adopted:
                result.warnings.append(adopted)
    request = read_request(plan, cursor)
    # The catalog reads are retried like pages: a connection cut now costs a reconnect only.
    prepared = retrying(request, lambda: source.prepare(request))
    late = open_late_rows(plan.name, plan.cursor_lag, state)
    boundary = None  # (a strict first read, of an imported cursor, still records the boundary)
    if plan.cursor_column is not None and late is None and plan.cursor_fallback is None:
        assert state is not None
        inclusive = request.incremental is not None and request.incremental.inclusive
        boundary = BoundaryRows(state.windows.load(plan.name) if inclusive else None)
    if late is not None and cursor is not None and cursor.cursor_value is not None:
        assert plan.cursor_column is not None
        cursor_type = prepared.schema.field(plan.cursor_column).type
        request = late.widen(request, cursor_type, cursor.cursor_value)
    result.strategy = prepared.strategy
    result.warnings.extend(prepared.warnings_for(chunked=False))
    result.note("planned", strategy=prepared.strategy, tuning=result.tuning)
    drift = DriftWatch(plan, state, prepared.schema, result)
    drift.check_schema()  # before anything is written: `fail` leaves destination and cursor
    meta = MetaColumns.of(plan, started)
    schema = meta.schema(prepared.schema)
    check_columns(plan.partitions, schema, plan.name)
    table = open_table(plan, schema, options, result)
    staging = destination.staging_dir(result.run_id)
    try:
        tracker = None
        if plan.gates is not None:
            tracker = QualityTracker(plan.gates, plan.name, prepared.schema.names)
        sink = open_sink(
            plan,
            schema,
            staging,
            part_base_name(plan.name, result.run_id),
            # With quality gates, parts wait on local disk until the gates pass: an object store
            # must not receive a part of a run that will not be published.
            deliver=destination.deliver if tracker is None else lambda part: None,
            validate=options.validate,
        )
        rereads = late or boundary
        # --reconcile: the read and the count share the read's snapshot (see pipeline/reconcile)
        holder = source.shared_snapshot(request) if options.reconcile else nullcontext(None)
        counted = InReadCount()
        with holder as snapshot:
            request = replace(
                request, snapshot=snapshot, on_counted=counted if options.reconcile else None
            )
            parts, stats = _write_parts(
                plan, sink, source, request, prepared, progress, result, tracker, drift, meta,
                rereads,
            )  # fmt: skip
            if options.reconcile:
                fault_point("before_reconcile")
                counted_now = count_read(source, request, prepared, stats.position)
                source_rows = counted_now
                if counted.rows is not None:  # counted inside the read (MySQL)
                    source_rows = counted.rows
                    if note := later_count_note(source_rows, counted_now):
                        result.warnings.append(note)
        if tracker is not None:
            _check_gates(tracker, parts, destination, result)
        drift.check_shapes()
        if options.reconcile:
            reread = rereads.skipped if rereads is not None else 0
            result.reconcile = check_rows(plan.name, source_rows, sink.rows, reread)
            result.note("reconciled", source_rows=source_rows, exported_rows=sink.rows)
        fault_point("before_publish")
        if not parts and plan.skip_empty:
            published()
            result.status = ExportStatus.SKIPPED
            return
        with shielded():  # publish and cursor are one step: a stop request waits for both
            publish_run(plan, schema, destination, parts, result, table)
            if state is not None and plan.cursor_column is not None and stats.position is not None:
                # Only now: the rows up to this position are durably published.
                fault_point("before_cursor_commit")
                owner = owner_of(plan.table, options.config_label)
                try:
                    state.save_cursor(
                        plan.name, stats.position_columns, stats.position, result.run_id, owner
                    )
                except StateError as exc:
                    raise StateError(
                        f"export '{plan.name}': its {result.rows:,} rows are published at "
                        f"{plan.destination.uri} (manifest.json and _SUCCESS written), but the "
                        "cursor could not be stored, so the next run exports them again: "
                        f"{exc.message}",
                        hint="fix the state store; nothing needs undoing (a reader of the "
                        "manifest sees this run, the next run's manifest replaces it)",
                    ) from None
                result.cursor = stats.position[0]
                result.note("cursor_committed", value=result.cursor)
                window = rereads.window() if rereads is not None else None
                if window is not None:
                    state.windows.save(plan.name, result.run_id, window)
            drift.record()
            published()
            result.validated = "pass" if options.validate else None
            result.status = ExportStatus.SUCCESS
    finally:
        destination.discard(result.run_id)


def _check_gates(
    tracker: QualityTracker, parts: list[StagedPart], destination: Destination, result: ExportResult
) -> None:
    """Fail before anything is published or any cursor moves; then hand the parts over."""
    result.warnings.extend(tracker.warnings)
    problems = tracker.problems()
    result.quality = "FAIL" if problems else "pass"
    tracker.check(problems)
    for part in parts:
        destination.deliver(part)


def _write_parts(
    plan: ExportPlan,
    sink: Sink,
    source: Source,
    request: ReadRequest,
    prepared: PreparedRead,
    progress: ProgressView,
    result: ExportResult,
    tracker: QualityTracker | None,
    drift: DriftWatch,
    meta: MetaColumns,
    rereads: LateRows | BoundaryRows | None = None,
) -> tuple[list[StagedPart], ReadStats]:
    stats = ReadStats()
    progress.start(plan.name, prepared.row_estimate)

    def observe(batch: pa.RecordBatch) -> None:
        if tracker is not None:
            tracker.observe(batch)
        drift.observe(batch)
        progress.advance(batch.num_rows, batch.nbytes)

    guard = MemoryGuard(plan.name, plan.tuning, stats)
    batches = guard.watch(read_ahead(source.read(request, prepared, stats), plan))
    if isinstance(rereads, LateRows):
        assert plan.cursor_column is not None
        cursor_type = prepared.schema.field(plan.cursor_column).type
        batches = rereads.filter(batches, plan.cursor_column, cursor_type)
    elif rereads is not None:
        assert plan.cursor_column is not None
        batches = rereads.filter(batches, plan.cursor_column)
    if meta.active:
        batches = meta.apply(batches)
    pacer = Pacer(source, plan.name, stats, plan.tuning.adaptive)
    try:
        with pacer:
            parts = write_all(sink, batches, observe)
    finally:
        progress.stop()
        result.warnings.extend(guard.warnings)
        if pacer.summary:
            result.warnings.append(pacer.summary)
        result.statements = stats.statements
        result.longest_statement_s = stats.longest_statement_s
        result.rows = sink.rows
        result.warnings.extend(sink.notes())
        if rereads is not None and rereads.skipped:
            result.note("late_rows", reread_already_exported=rereads.skipped)
    return parts, stats


def _tuning_label(plan: ExportPlan) -> str:
    tuning = plan.tuning
    page = f"{tuning.page_bytes >> 20} MB pages"
    if tuning.batch_size_explicit:
        page += f" (<= {tuning.batch_size:,} rows)"
    return (
        f"{tuning.label}, {page}, statement_timeout={tuning.statement_timeout_s}s, "
        f"throttle={tuning.throttle_ms}ms"
    )
