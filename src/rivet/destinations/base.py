"""The Destination port: where finished parts go, and how a run is published."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rivet.core.errors import DestinationError

MANIFEST = "manifest.json"  # the latest run's manifest in rivet-cli 0.7.7's layout
DATASET_MANIFEST = "_manifest.json"  # ... in the dataset layout: readers skip `_` names
SUCCESS = "_SUCCESS"
PROBE = ".rivet_doctor_probe"
MANIFESTS = "_manifests"  # one immutable manifest per run: _manifests/<run_id>.json
QUARANTINE = "_quarantine"  # parts replaced by `rivet repair`: _quarantine/<run_id>/<name>
# Object stores: a run's finished parts wait here until it is published (readers skip `_` names,
# and the `.staged` suffix keeps them out of `**/*.parquet` globs)
STAGED = "_rivet_staging"
ICEBERG_METADATA = "metadata/"  # table_format: iceberg: the table's metadata at the prefix


def staged_key(run_id: str, name: str) -> str:
    return f"{STAGED}/{run_id}/{name}.staged"


def name_taken(name: str) -> DestinationError:
    """Another run published a part of this name (two runs of an export started in the same
    second): this run publishes nothing rather than overwrite it."""
    return DestinationError(
        f"'{name}' was published by another run of this export that started in the same "
        "second; nothing of this run was published (rivet never overwrites a part)",
        hint="rerun it; runs of one export at the same moment take turns in a scheduler",
    )


def run_manifest(run_id: str) -> str:
    return f"{MANIFESTS}/{run_id}.json"


@dataclass(frozen=True)
class StagedPart:
    """A finished part file on local disk, with the name it will be published under."""

    path: Path
    final_name: str
    rows: int
    size_bytes: int
    fingerprint: str
    columns: Mapping[str, str] = field(default_factory=dict)  # column -> checksum


class Destination(Protocol):
    kind: str

    @property
    def uri(self) -> str: ...

    def staging_dir(self, run_id: str, reuse: bool = False) -> Path:
        """A fresh local directory for this run's part files (`reuse`: a resumed run's)."""

    def deliver(self, part: StagedPart) -> None:
        """A part is finished and named. Object stores upload it now (never leaving a partial
        object at its key); the local destination keeps it staged until `publish`."""

    def publish(
        self,
        parts: Sequence[StagedPart],
        manifest: bytes,
        success: bytes,
        run_id: str,
        latest: str = MANIFEST,
        placed: Callable[[], None] | None = None,
    ) -> None:
        """Make the run visible under the publish lock: parts not yet in place, then `placed`
        (an Iceberg commit of the parts), then the run's own `_manifests/<run_id>.json`, then
        `latest` (the latest run's manifest), then _SUCCESS."""

    def remove(self, names: Sequence[str]) -> None:
        """Delete these objects (those already gone are skipped)."""

    def objects(self) -> dict[str, int]:
        """Every object under the prefix (names relative to it) with its size in bytes."""

    def read(self, name: str) -> bytes | None:
        """A small object's bytes (a manifest, the marker), or None when it does not exist."""

    def fetch(self, name: str, into: Path) -> Path:
        """A local file with the object's bytes (the object itself when it is local)."""

    def quarantine(self, name: str, run_id: str) -> None:
        """Move a published part out of readers' way, to `_quarantine/<run_id>/<name>`."""

    def discard(self, run_id: str, keep: bool = False) -> None:
        """Remove the run's local staging (after success or failure); `keep`: a checkpointed run
        failed, and its completed parts must wait there for `--resume`."""

    def holds(self, part: StagedPart) -> bool:
        """Is a part of an unfinished run still complete where it was delivered (or staged)?"""

    def probe(self) -> str:
        """Write and remove a small probe object; return what was checked (raises on failure)."""

    def taken(self, stem: str) -> bool:
        """Is there an object whose name starts with `stem` (a run's part names)?"""


class TempStaging:
    """Local staging for destinations that are not a directory: a temp dir per run."""

    _staging: Path | None = None
    _run_id: str = ""

    def staging_dir(self, run_id: str, reuse: bool = False) -> Path:
        self._staging = Path(tempfile.mkdtemp(prefix=f"rivet-{run_id}-"))
        self._run_id = run_id
        return self._staging

    def discard(self, run_id: str, keep: bool = False) -> None:
        """Always removed: a part leaves this staging only once it is delivered."""
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)


class ObjectStoreStaging(TempStaging):
    """S3 and GCS: parts wait under `_rivet_staging/<run_id>/` in the store until published."""

    def objects(self) -> dict[str, int]:
        raise NotImplementedError

    def remove(self, names: Sequence[str]) -> None:
        raise NotImplementedError

    def _key(self, name: str) -> str:
        raise NotImplementedError

    def _size(self, key: str) -> int | None:
        raise NotImplementedError

    def _check_free(self, part: StagedPart, run_id: str) -> None:
        """A part still staged whose final name holds another object of another size: a run
        of this export that started in the same second published it (an interrupted publish
        of this run left a copy of the same size, which is placed again)."""
        final = self._size(self._key(part.final_name))
        staged = self._size(self._key(staged_key(run_id, part.final_name)))
        if final is not None and staged is not None and final != staged:
            raise name_taken(part.final_name)

    def discard(self, run_id: str, keep: bool = False) -> None:
        """The local staging always goes; the staged objects too, unless a checkpointed run
        keeps them for `--resume`."""
        super().discard(run_id, keep)
        if keep:
            return
        names = [n for n in self.objects() if n.startswith(f"{STAGED}/{run_id}/")]
        if names:
            self.remove(names)
