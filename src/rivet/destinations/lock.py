"""The publish lock: only one run at a time writes a prefix's manifest.json and _SUCCESS.

The lock is an object created with a conditional create (S3 If-None-Match, GCS
if_generation_match=0, O_EXCL locally) and removed after `_SUCCESS`. It is taken over when it is
older than STALE_AFTER, when its holder process on this host no longer exists (a run killed
while publishing), or when it is this run's own (a resumed chunk run whose first process was
killed); any other fails the run with the holder's run id. Without the lock, two concurrent runs
could leave a `_SUCCESS` that matches the other run's manifest.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rivet.core.errors import DestinationError

LOCK = "_rivet_publish.lock"
STALE_AFTER = timedelta(minutes=15)


def lock_body(run_id: str) -> bytes:
    return json.dumps(
        {
            "run_id": run_id,
            "at": datetime.now(UTC).isoformat(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
    ).encode()


def _holder_is_gone(found: dict[str, object]) -> bool:
    """The lock was taken on this host by a process that no longer exists (killed)."""
    pid = found.get("pid")
    if found.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def acquire(
    create: Callable[[bytes], bool],
    read: Callable[[], bytes | None],
    remove: Callable[[], None],
    run_id: str,
    where: str,
) -> None:
    """`create` returns False when the lock exists; then a stale lock is replaced once."""
    body = lock_body(run_id)
    if create(body):
        return
    held = read()
    holder, since, gone = "?", None, False
    if held:
        try:
            found = json.loads(held)
            holder, since = found.get("run_id", "?"), datetime.fromisoformat(found["at"])
            gone = _holder_is_gone(found)
        except (ValueError, KeyError, TypeError):
            since = None
    # Our own run id: this (resumed) run was killed while publishing, and continues it now.
    if since is None or gone or holder == run_id or datetime.now(UTC) - since > STALE_AFTER:
        remove()
        if create(body):
            return
    raise DestinationError(
        f"{where}: another run ({holder}) is publishing to this prefix; this run's parts are "
        "uploaded but it did not publish",
        hint=f"run exports of one prefix one at a time; a lock older than "
        f"{int(STALE_AFTER.total_seconds() // 60)} minutes is taken over ({LOCK})",
    )
