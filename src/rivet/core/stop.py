"""Stopping on request: SIGTERM (Kubernetes, systemd, `timeout`) is treated like Ctrl-C.

The CLI installs `on_stop_signals`: either signal raises `Stopped` in the main thread, so the
export that is running stops reading, discards its staging (a checkpointed chunk run keeps its
finished chunks), records the run as interrupted, and the process exits 128 + the signal's
number (130 for SIGINT, 143 for SIGTERM). Only the first signal raises: a second one (Ctrl-C
pressed twice, a SIGTERM forwarded to a child that the terminal already interrupted) must not
break the clean-up the first one started. SIGKILL remains the way to stop at once; what it
leaves is what docs/semantics.md describes for a crash.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Stopped(KeyboardInterrupt):
    """The process was asked to stop by a signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.detail: str | None = None  # what the interrupted export says (kept, how to resume)
        super().__init__(f"stopped by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_stopping = threading.Event()
_shield = {"depth": 0, "pending": 0}


def _raise(signum: int, frame: FrameType | None) -> None:
    if _stopping.is_set():
        return
    _stopping.set()
    if _shield["depth"]:
        _shield["pending"] = signum  # raised when the shielded step is over
        return
    raise Stopped(signum)


@contextmanager
def shielded() -> Iterator[None]:
    """A step that must not be cut in two by a stop request (publish, then move the cursor):
    a signal that arrives meanwhile is raised when the step is over."""
    _shield["depth"] += 1
    try:
        yield
    finally:
        _shield["depth"] -= 1
    if not _shield["depth"] and _shield["pending"]:
        signum, _shield["pending"] = _shield["pending"], 0
        raise Stopped(signum)


def on_stop_signals() -> None:
    """Raise Stopped in the main thread on SIGTERM and SIGINT (no-op off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise)


def stop_reason(exc: BaseException) -> tuple[str, int]:
    """('SIGTERM', 143) for a Stopped, ('SIGINT', 130) for a plain KeyboardInterrupt."""
    if isinstance(exc, Stopped):
        return exc.signal_name, exc.exit_code
    return "SIGINT", 130
