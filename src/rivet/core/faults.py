"""Named points for the crash and stop tests.

`RIVET_TEST_PANIC_AT=<point>` kills the process with SIGKILL when execution reaches that point,
as a power cut or OOM kill would. `RIVET_TEST_SIGNAL_AT=<point>:<SIGNAL>` sends the process that
signal there (SIGTERM as Kubernetes would), once.
"""

from __future__ import annotations

import os
import signal

_sent: set[str] = set()


def fault_point(name: str) -> None:
    if os.environ.get("RIVET_TEST_PANIC_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    point, _, signame = os.environ.get("RIVET_TEST_SIGNAL_AT", "").partition(":")
    if point == name and name not in _sent:
        _sent.add(name)
        os.kill(os.getpid(), signal.Signals[signame or "SIGTERM"])
