"""Progress of a running export: a live bar on a terminal, a log line every 10 s otherwise."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, Protocol, TextIO

from rivet.report import format as fmt


class ProgressView(Protocol):
    def start(self, export: str, estimated_rows: int | None) -> None: ...

    def advance(self, rows: int, bytes_read: int) -> None: ...

    def chunks(self, done: int, total: int) -> None:
        """Chunked runs: `done` of `total` chunks are complete (resumed ones included)."""
        ...

    def stop(self) -> None: ...


class NoProgress:
    """For callers that report on their own (the Python API with quiet=True)."""

    def start(self, export: str, estimated_rows: int | None) -> None:
        return None

    def advance(self, rows: int, bytes_read: int) -> None:
        return None

    def chunks(self, done: int, total: int) -> None:
        return None

    def stop(self) -> None:
        return None


def eta(rows: int, total: float | None, elapsed_s: float) -> str:
    """`ETA 1:05` from the rate so far, or nothing when there is no estimate to go by."""
    if not total or rows <= 0 or rows >= total:
        return ""
    left = int((total - rows) / (rows / max(elapsed_s, 1e-6)))
    return f"ETA {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}"


def progress_for(stream: TextIO = sys.stderr) -> ProgressView:
    return LiveBoard(stream).view() if stream.isatty() else LogProgress(stream)


class LiveBoard:
    """One live view on a terminal, with a line per running export (exports that run at the
    same time share it: a terminal holds one live display)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console  # imported only when a terminal is there to draw on
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f} rows"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[mb]}"),
            TextColumn("{task.fields[chunks]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=Console(file=stream),
            transient=True,
        )
        self._lock = threading.Lock()
        self._running = 0

    def view(self) -> TerminalProgress:
        return TerminalProgress(self)

    def opened(self) -> None:
        with self._lock:
            if self._running == 0:
                self.progress.start()
            self._running += 1

    def closed(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                self.progress.stop()


class TerminalProgress:
    """One export's line on a LiveBoard."""

    def __init__(self, board: LiveBoard) -> None:
        self._board = board
        self._task: Any = None
        self._started = 0.0
        self._bytes = 0
        self._rows = 0

    def start(self, export: str, estimated_rows: int | None) -> None:
        self._board.opened()
        self._started = time.monotonic()
        self._task = self._board.progress.add_task(
            export, total=estimated_rows or None, rate="", mb="", chunks="", eta=""
        )

    def advance(self, rows: int, bytes_read: int) -> None:
        assert self._task is not None
        progress = self._board.progress
        self._bytes += bytes_read
        self._rows += rows
        elapsed = max(time.monotonic() - self._started, 1e-6)
        total = progress.tasks[progress.task_ids.index(self._task)].total
        if total is not None and self._rows > total:  # the estimate was low
            progress.update(self._task, total=self._rows)
        progress.update(
            self._task,
            advance=rows,
            rate=f"{self._rows / elapsed:,.0f} rows/s",
            mb=fmt.size(self._bytes),
            eta=eta(self._rows, total, elapsed),
        )

    def chunks(self, done: int, total: int) -> None:
        if self._task is not None:
            self._board.progress.update(self._task, chunks=f"chunks {done}/{total}")

    def stop(self) -> None:
        if self._task is not None:
            self._board.progress.remove_task(self._task)
            self._task = None
            self._board.closed()


class LogProgress:
    def __init__(self, stream: TextIO, every_s: float = 10.0) -> None:
        self._stream = stream
        self._every = every_s
        self._export = ""
        self._rows = 0
        self._bytes = 0
        self._chunks = ""
        self._estimate: int | None = None
        self._started = self._last = 0.0

    def start(self, export: str, estimated_rows: int | None) -> None:
        self._export, self._rows, self._bytes = export, 0, 0
        self._estimate, self._chunks = estimated_rows, ""
        self._started = self._last = time.monotonic()
        estimate = f" (~{fmt.count(estimated_rows)} rows estimated)" if estimated_rows else ""
        print(f"{export}: reading{estimate}", file=self._stream, flush=True)

    def advance(self, rows: int, bytes_read: int) -> None:
        self._rows += rows
        self._bytes += bytes_read
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._print(now)

    def chunks(self, done: int, total: int) -> None:
        self._chunks = f", chunks {done}/{total}"

    def stop(self) -> None:
        pass

    def _print(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-6)
        left = eta(self._rows, self._estimate, elapsed)
        print(
            f"{self._export}: {fmt.count(self._rows)} rows, {fmt.size(self._bytes)} read, "
            f"{self._rows / elapsed:,.0f} rows/s{self._chunks}" + (f", {left}" if left else ""),
            file=self._stream,
            flush=True,
        )


EVENT_KEY = "rivet_event"


class EventProgress:
    """A child export process (--parallel-export-processes) reports its progress to the parent
    as JSON lines on stderr, at most every `every_s`, which the parent shows on its own view."""

    def __init__(self, stream: TextIO, every_s: float = 0.5) -> None:
        self._stream = stream
        self._every = every_s
        self._rows = self._bytes = 0
        self._last = 0.0

    def start(self, export: str, estimated_rows: int | None) -> None:
        self._emit({"kind": "start", "export": export, "estimate": estimated_rows})

    def advance(self, rows: int, bytes_read: int) -> None:
        self._rows += rows
        self._bytes += bytes_read
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._emit({"kind": "advance", "rows": self._rows, "bytes": self._bytes})

    def chunks(self, done: int, total: int) -> None:
        self._emit({"kind": "chunks", "done": done, "total": total})

    def stop(self) -> None:
        self._emit({"kind": "advance", "rows": self._rows, "bytes": self._bytes})

    def _emit(self, event: dict[str, object]) -> None:
        print(json.dumps({EVENT_KEY: event}), file=self._stream, flush=True)


def replay(line: str, view: ProgressView, state: dict[str, int]) -> bool:
    """Apply one line of a child's stderr to `view`; False when it is not a progress event."""
    if not line.startswith('{"' + EVENT_KEY):
        return False
    try:
        event = json.loads(line)[EVENT_KEY]
    except (ValueError, KeyError, TypeError):
        return False
    if event["kind"] == "start":
        view.start(event["export"], event["estimate"])
        state.update(rows=0, bytes=0)
    elif event["kind"] == "chunks":
        view.chunks(event["done"], event["total"])
    else:
        view.advance(event["rows"] - state["rows"], event["bytes"] - state["bytes"])
        state.update(rows=event["rows"], bytes=event["bytes"])
    return True
