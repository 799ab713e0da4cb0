"""The publish lock: only one run at a time writes a prefix's manifest.json and _SUCCESS.

Object stores: the lock is an object created with a conditional create (S3 If-None-Match, GCS
if_generation_match=0) and removed after `_SUCCESS`. It is taken over when it is older than
STALE_AFTER, when its holder process on this host no longer exists (a run killed while
publishing), or when it is this run's own (a resumed chunk run whose first process was killed);
any other fails the run with the holder's run id. A takeover replaces exactly the lock object
that was judged stale (S3 If-Match on its ETag, GCS if_generation_match on its generation), so
of two runs that find the same stale lock one takes it and the other is refused: never both.

Local disk: an OS lock (flock) on `.rivet_staging/publish.lock`, which the kernel releases when
its holder exits or is killed, so there is no stale lock to take over.

Without the lock, two concurrent runs could leave a `_SUCCESS` that matches the other run's
manifest.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rivet.core.errors import DestinationError

LOCK = "_rivet_publish.lock"
LOCAL_LOCK = "publish.lock"  # in the local destination's staging directory
STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Held:
    """The lock object as read: its body and the store's version of it (ETag, generation)."""

    body: bytes
    version: str


def lock_body(run_id: str) -> bytes:
    return json.dumps(
        {
            "run_id": run_id,
            "at": datetime.now(UTC).isoformat(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
    ).encode()


def acquire(
    create: Callable[[bytes], bool],
    read: Callable[[], Held | None],
    replace: Callable[[bytes, str], bool],
    run_id: str,
    where: str,
) -> None:
    """`create` is false when the lock exists, `replace` when the lock is no longer the version
    read. A stale lock is replaced, conditionally; a live one (or a lost race) refuses."""
    body = lock_body(run_id)
    holder = "?"
    for _ in range(3):
        if create(body):
            return
        held = read()
        if held is None:
            continue  # released meanwhile
        holder, stale = _judge(held.body, run_id)
        if not stale:
            break
        if replace(body, held.version):
            return
        # another run replaced it first (or it was released): look at it again
    raise DestinationError(
        f"{where}: another run ({holder}) is publishing to this prefix; this run's parts are "
        "uploaded but it did not publish",
        hint=f"run exports of one prefix one at a time; a lock older than "
        f"{int(STALE_AFTER.total_seconds() // 60)} minutes is taken over ({LOCK})",
    )


@contextlib.contextmanager
def local_lock(path: Path, run_id: str, where: str) -> Iterator[None]:
    """Hold the OS lock on `path` for the block; refuse at once if another process holds it.
    The file is removed before the lock is released; whoever locked a file that was removed
    meanwhile (its inode no longer at `path`) tries again on the new one."""
    for _ in range(5):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder, _ = _judge(_read(path), run_id)
                raise DestinationError(
                    f"{where}: another run ({holder}) is publishing to this directory; this "
                    "run did not publish",
                    hint="run exports of one directory one at a time (the lock is released "
                    "as soon as the other run ends, or is killed)",
                ) from None
            if not _same_file(fd, path):
                continue  # removed by the run that held it: lock the new one
            os.ftruncate(fd, 0)
            os.pwrite(fd, lock_body(run_id), 0)
            try:
                yield
            finally:
                path.unlink(missing_ok=True)
            return
        finally:
            os.close(fd)  # releases the lock
    raise DestinationError(f"{where}: could not take the publish lock {path}")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _judge(body: bytes, run_id: str) -> tuple[str, bool]:
    """(holder's run id, whether the lock may be taken over)."""
    try:
        found = json.loads(body)
        holder = str(found.get("run_id", "?"))
        since = datetime.fromisoformat(found["at"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return "?", True  # unreadable: no run can be waiting on it
    # Our own run id: this (resumed) run was killed while publishing, and continues it now.
    stale = holder == run_id or _holder_is_gone(found) or datetime.now(UTC) - since > STALE_AFTER
    return holder, stale


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
