"""The local publish lock is an OS lock: two processes never both hold it, and a killed
holder releases it (issue 17, item 11: takeover of a stale lock was delete-then-create)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rivet.core.errors import DestinationError
from rivet.destinations.base import StagedPart
from rivet.destinations.local import LocalDestination

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rivet.destinations.lock import local_lock

    with local_lock(Path(sys.argv[1]), "holder_run", "test"):
        print("held", flush=True)
        sys.stdin.read()  # hold until told, or killed
    """
)


def _part(staging: Path) -> StagedPart:
    path = staging / "part-0.tmp"
    path.write_bytes(b"1\n")
    return StagedPart(path, "a.csv", 1, 2, "xxh3:0", {})


def test_a_second_process_is_refused_until_the_holder_is_killed(tmp_path: Path) -> None:
    root = tmp_path / "dest"
    destination = LocalDestination(root)
    staging = destination.staging_dir("run1")
    lock = root / ".rivet_staging" / "publish.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DestinationError, match=r"another run \(holder_run\) is publishing"):
            destination.publish([_part(staging)], b"{}", b"ok\n", "run1")
        assert not (root / "a.csv").exists() and not (root / "_SUCCESS").exists()
        holder.send_signal(signal.SIGKILL)  # killed while holding: the kernel releases it
        assert holder.wait(timeout=10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
    destination.publish([_part(staging)], b"{}", b"ok\n", "run1")
    assert (root / "_SUCCESS").exists() and (root / "a.csv").read_bytes() == b"1\n"
    assert not lock.exists()  # removed before it was released
    destination.discard("run1")
    assert sorted(p.name for p in root.iterdir()) == ["_SUCCESS", "_manifests", "a.csv",
                                                      "manifest.json"]  # fmt: skip
