"""`--parallel-export-processes`: each export in its own child process.

A child is `rivet run -c <config> -e <export> --child` with the run's flags: it reports its
progress as JSON lines on stderr (shown on the parent's live view, one line per export), writes
its result with --summary-output, and leaves the summary and notifications to the parent. A
child that dies (killed, out of memory) without writing its result is reported as a failed
export with its exit status and last stderr lines, never lost.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import fields
from pathlib import Path
from typing import Any

from rivet.core.stop import Stopped
from rivet.pipeline.options import RunOptions
from rivet.planning.export_plan import ExportPlan
from rivet.report.model import ExportResult, ExportStatus, PartRecord
from rivet.report.progress import LiveBoard, LogProgress, NoProgress, ProgressView, replay


def run_processes(
    config_path: Path,
    plans: Sequence[ExportPlan],
    workers: int,
    params: Mapping[str, str],
    options: RunOptions,
    quiet: bool,
    done: Callable[[ExportResult], None],
) -> list[ExportResult]:
    board = LiveBoard(sys.stderr) if not quiet and sys.stderr.isatty() else None
    children: list[subprocess.Popen[str]] = []

    def one(plan: ExportPlan) -> ExportResult:
        view: ProgressView = (
            NoProgress() if quiet else board.view() if board else LogProgress(sys.stderr)
        )
        return _child(config_path, plan.name, params, options, view, quiet, children)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rivet-child") as pool:
        futures = {pool.submit(one, plan): plan for plan in plans}
        try:
            for future in as_completed(futures):
                done(future.result())
        except KeyboardInterrupt as exc:  # stopped: each child stops (and cleans up) as well
            for future in futures:
                future.cancel()
            signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
            for child in list(children):
                if child.poll() is None:
                    child.send_signal(signum)
            raise
    return [future.result() for future in futures]


def _child(
    config_path: Path,
    export: str,
    params: Mapping[str, str],
    options: RunOptions,
    view: ProgressView,
    quiet: bool,
    children: list[subprocess.Popen[str]],
) -> ExportResult:
    with tempfile.TemporaryDirectory(prefix="rivet-child-") as scratch:
        summary = Path(scratch) / "summary.json"
        command = [sys.executable, "-m", "rivet", "run", "-c", str(config_path), "-e", export,
                   "--child", "--summary-output", str(summary)]  # fmt: skip
        for key, value in params.items():
            command += ["-p", f"{key}={value}"]
        for flag, on in (
            ("--validate", options.validate),
            ("--reconcile", options.reconcile),
            ("--resume", options.resume),
        ):
            command += [flag] if on else []
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        children.append(child)
        tail: deque[str] = deque(maxlen=10)
        counted: dict[str, int] = {}
        assert child.stderr is not None
        try:
            for line in child.stderr:
                if replay(line, view, counted):
                    continue
                tail.append(line.rstrip())
                if not quiet:
                    print(f"[{export}] {line.rstrip()}", file=sys.stderr, flush=True)
        finally:
            status = child.wait()
            if counted:
                view.stop()
        if summary.exists() and summary.stat().st_size:
            return _result(json.loads(summary.read_text())["exports"][0])
    return ExportResult(
        export_name=export,
        run_id="",
        status=ExportStatus.FAILED,
        error=f"export '{export}': its process {_how(status)} before reporting a result"
        + (f"; last output: {' | '.join(tail)}" if tail else ""),
    )


def _how(status: int) -> str:
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def _result(data: dict[str, Any]) -> ExportResult:
    """The child's result from its summary (the 0.7.7-named keys beside the fields dropped)."""
    parts = [PartRecord(**p) for p in data.pop("parts", [])]
    known = {f.name for f in fields(ExportResult)}
    return ExportResult(**{k: v for k, v in data.items() if k in known}, parts=parts)
