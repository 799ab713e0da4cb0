"""The publish lock: only one run at a time writes a prefix's manifest.json and _SUCCESS.

The lock is an object created with a conditional create (S3 If-None-Match, GCS
if_generation_match=0, O_EXCL locally) and removed after `_SUCCESS`. A lock older than
STALE_AFTER (a run killed while publishing) is taken over; a fresh one fails the run with the
holder's run id. A resumed chunk run takes over the lock its own killed process left. Without
the lock, two concurrent runs could leave a `_SUCCESS` that matches the other run's manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from rivet.core.errors import DestinationError

LOCK = "_rivet_publish.lock"
STALE_AFTER = timedelta(minutes=15)


def lock_body(run_id: str) -> bytes:
    return json.dumps({"run_id": run_id, "at": datetime.now(UTC).isoformat()}).encode()


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
    holder, since = "?", None
    if held:
        try:
            found = json.loads(held)
            holder, since = found.get("run_id", "?"), datetime.fromisoformat(found["at"])
        except (ValueError, KeyError, TypeError):
            since = None
    # Our own run id: this (resumed) run was killed while publishing, and continues it now.
    if since is None or holder == run_id or datetime.now(UTC) - since > STALE_AFTER:
        remove()
        if create(body):
            return
    raise DestinationError(
        f"{where}: another run ({holder}) is publishing to this prefix; this run's parts are "
        "uploaded but it did not publish",
        hint=f"run exports of one prefix one at a time; a lock older than "
        f"{int(STALE_AFTER.total_seconds() // 60)} minutes is taken over ({LOCK})",
    )
