"""Named crash points for the crash-recovery tests: `RIVET_TEST_PANIC_AT=<point>` kills the
process with SIGKILL when execution reaches that point, as a power cut or OOM kill would."""

from __future__ import annotations

import os
import signal


def fault_point(name: str) -> None:
    if os.environ.get("RIVET_TEST_PANIC_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
