"""Local directory destination with an atomic, no-overwrite commit protocol.

Parts are written under `<dir>/.rivet_staging/<run_id>/` (hidden: Spark, DuckDB and friends skip
dot-directories). Publishing, in this order:
  1. remove `_SUCCESS`, so an interrupted publish can never sit beside an old success marker;
  2. fsync each part, then hard-link it to its final name (fails rather than overwrite) and
     unlink the staged name; fsync the directory;
  3. write the run's `_manifests/<run_id>.json`, then `manifest.json` (each to a temp name,
     fsync, rename); then `_SUCCESS` the same way.
A failed run publishes nothing and removes its staging directory; a killed one leaves only the
hidden staging directory, never a partial file under a final name.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from rivet.core.errors import DestinationError
from rivet.core.faults import fault_point
from rivet.destinations.base import (
    MANIFEST,
    MANIFESTS,
    PROBE,
    QUARANTINE,
    SUCCESS,
    StagedPart,
    name_taken,
    run_manifest,
)
from rivet.destinations.lock import LOCAL_LOCK, LOCK, local_lock

STAGING_DIR = ".rivet_staging"


class LocalDestination:
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def uri(self) -> str:
        return self.root.resolve().as_uri()

    def staging_dir(self, run_id: str, reuse: bool = False) -> Path:
        path = self.root / STAGING_DIR / run_id
        with _translated(f"cannot create the output directory '{self.root}'"):
            path.mkdir(parents=True, exist_ok=reuse)
        return path

    def deliver(self, part: StagedPart) -> None:
        """Parts stay staged until every one is complete: they are published together. The
        staged file is made durable now, so a checkpoint that names it can be trusted."""
        with _translated(f"cannot write to '{self.root}'"):
            _fsync_file(part.path)

    def holds(self, part: StagedPart) -> bool:
        """Staged, or already published under its final name by an interrupted publish."""
        for path in (part.path, self.root / part.final_name):
            if path.is_file() and path.stat().st_size == part.size_bytes:
                return True
        return False

    def publish(
        self,
        parts: Sequence[StagedPart],
        manifest: bytes,
        success: bytes,
        run_id: str,
        latest: str = MANIFEST,
        placed: Callable[[], None] | None = None,
    ) -> None:
        where = f"cannot publish to '{self.root}'"
        with _translated(where):
            (self.root / STAGING_DIR).mkdir(parents=True, exist_ok=True)
        with _translated(where), local_lock(self.root / STAGING_DIR / LOCAL_LOCK, run_id, where):
            for part in parts:  # before anything changes: another run's part has this name
                if part.path.exists() and (self.root / part.final_name).exists():
                    raise name_taken(part.final_name)
            _remove_if_present(self.root / SUCCESS)
            folders = {self.root}
            for part in parts:
                if not part.path.exists() and self.holds(part):
                    continue  # an interrupted publish of this (resumed) run placed it
                final = self.root / part.final_name
                if final.parent not in folders:  # a partition folder
                    _make_folders(self.root, final.parent)
                    folders.add(final.parent)
                os.link(part.path, final)
                part.path.unlink()
                fault_point("after_part_published")
            for folder in folders:
                _fsync_dir(folder)
            if placed is not None:
                placed()
            (self.root / MANIFESTS).mkdir(exist_ok=True)
            self._write_atomically(run_manifest(run_id), manifest)
            self._write_atomically(latest, manifest)
            fault_point("after_manifest")
            self._write_atomically(SUCCESS, success)

    def remove(self, names: Sequence[str]) -> None:
        with _translated(f"cannot remove files from '{self.root}'"):
            for name in names:
                _remove_if_present(self.root / name)
            for name in names:  # partition folders left empty go too
                _remove_empty_folders(self.root, (self.root / name).parent)
            _fsync_dir(self.root)

    def discard(self, run_id: str, keep: bool = False) -> None:
        """Remove a run's staging directory (after publishing, or after a failure)."""
        if keep:
            return
        shutil.rmtree(self.root / STAGING_DIR / run_id, ignore_errors=True)
        with contextlib.suppress(OSError):  # other runs are staging, or it is already gone
            (self.root / STAGING_DIR).rmdir()

    def objects(self) -> dict[str, int]:
        found: dict[str, int] = {}
        if not self.root.is_dir():
            return found
        for path in self.root.rglob("*"):
            name = path.relative_to(self.root).as_posix()
            hidden = name.startswith((".", LOCK)) or "/." in name  # staging, temp names
            if path.is_file() and not hidden:
                found[name] = path.stat().st_size
        return found

    def read(self, name: str) -> bytes | None:
        return _read(self.root / name)

    def fetch(self, name: str, into: Path) -> Path:
        return self.root / name

    def quarantine(self, name: str, run_id: str) -> None:
        target = self.root / QUARANTINE / run_id / name
        with _translated(f"cannot move '{name}' to {QUARANTINE}/"):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.root / name, target)
            _fsync_dir(self.root)

    def taken(self, stem: str) -> bool:
        return self.root.is_dir() and any(self.root.glob(f"{glob.escape(stem)}*"))

    def probe(self) -> str:
        """Write and remove a file where the parts will go; folders it had to create for that
        are removed again, so a check leaves nothing behind."""
        missing = [p for p in (self.root, *self.root.parents) if not p.exists()]
        with _translated(f"cannot write to '{self.root}'"):
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                self._write_atomically(PROBE, b"ok")
                (self.root / PROBE).unlink()
            finally:
                for folder in missing:  # deepest first
                    with contextlib.suppress(OSError):
                        folder.rmdir()
        created = f" (and {len(missing)} folder(s) it created)" if missing else ""
        return f"wrote and removed {PROBE} in {self.root}{created}"

    def _write_atomically(self, name: str, data: bytes) -> None:
        final = self.root / name
        temp = final.parent / f".{final.name}.rivet-tmp"
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
        _fsync_dir(final.parent)


class _translated:
    """Turn OSError into a DestinationError that names the path and the cause."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, FileExistsError):
            raise DestinationError(
                f"{self.what}: '{exc.filename}' already exists; rivet never overwrites a part",
                hint="another run wrote the same name in the same millisecond; rerun",
            ) from None
        if isinstance(exc, OSError):
            hint = (
                "free disk space, or point destination.path elsewhere"
                if exc.errno == errno.ENOSPC
                else "check the path and its permissions"
            )
            raise DestinationError(f"{self.what}: {exc.strerror or exc}", hint=hint) from None


def _create_exclusive(path: Path, body: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    return True


def _make_folders(root: Path, folder: Path) -> None:
    """Create `folder` under `root`, each new level made durable in its parent."""
    missing = [p for p in (folder, *folder.parents) if p != root and root in p.parents]
    for path in reversed([p for p in missing if not p.exists()]):
        path.mkdir(exist_ok=True)
        _fsync_dir(path.parent)


def _remove_empty_folders(root: Path, folder: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            return
        folder = folder.parent


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _remove_if_present(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _fsync_dir(path.parent)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
