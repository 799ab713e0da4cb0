"""Google Cloud Storage destination: resumable uploads that become visible only when complete.

Each finished part is uploaded as soon as it is named, under `_rivet_staging/<run_id>/`, through
a resumable upload in 8 MB chunks (memory bounded by one chunk); GCS creates the object only when
the last chunk is finalised, so a failed or killed upload leaves nothing. Publishing deletes the
old `_SUCCESS`, copies each part to its final name inside GCS and removes the staged one, then
writes the manifests and `_SUCCESS`: a reader listing the prefix sees a run's parts only once it
is published. Credentials: the named
service-account file, anonymous access, or Application Default Credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import google.api_core.exceptions as gexc
import google.auth.exceptions
import requests
from google.api_core.retry import Retry
from google.cloud import storage

from rivet.core.errors import DestinationError
from rivet.core.faults import fault_point
from rivet.destinations.base import (
    MANIFEST,
    PROBE,
    QUARANTINE,
    SUCCESS,
    ObjectStoreStaging,
    StagedPart,
    run_manifest,
    staged_key,
)
from rivet.destinations.lock import LOCK, Held, acquire
from rivet.destinations.targets import GcsTarget

CHUNK = 8 << 20  # resumable upload chunk (a multiple of 256 KiB)


def _retry() -> Retry:
    """5xx, 429 and timeouts are retried with backoff for up to RIVET_STORE_RETRY_DEADLINE_S."""
    deadline = float(os.environ.get("RIVET_STORE_RETRY_DEADLINE_S", "120"))
    return Retry(initial=0.5, maximum=10.0, multiplier=2.0, timeout=deadline)


class GcsDestination(ObjectStoreStaging):
    kind = "gcs"

    def __init__(self, target: GcsTarget, export: str) -> None:
        self._target = target
        self._export = export
        with self._errors("connect"):
            self._bucket = _client(target).bucket(target.bucket)
        self._cleared = False
        self._retry = _retry()

    @property
    def uri(self) -> str:
        return self._target.uri

    def deliver(self, part: StagedPart) -> None:
        staged = self._key(staged_key(self._run_id, part.final_name))
        blob = self._bucket.blob(staged, chunk_size=CHUNK)
        with self._errors(f"upload {blob.name}"):
            blob.upload_from_filename(str(part.path), retry=self._retry)
        part.path.unlink()

    def publish(
        self,
        parts: Sequence[StagedPart],
        manifest: bytes,
        success: bytes,
        run_id: str,
        latest: str = MANIFEST,
        placed: Callable[[], None] | None = None,
    ) -> None:
        lock = self._bucket.blob(self._key(LOCK))
        with self._errors("take the publish lock"):
            acquire(
                self._create_lock,
                self._read_lock,
                self._replace_lock,
                run_id,
                f"export '{self._export}': cannot publish at {self.uri}",
            )
        try:
            for part in parts:  # before anything changes: another run's part has this name
                self._check_free(part, run_id)
            self._clear_marker()
            for part in parts:
                self._place(part, run_id)
            if placed is not None:
                placed()
            for name in (run_manifest(run_id), latest):
                with self._errors(f"publish {name}"):
                    self._bucket.blob(self._key(name)).upload_from_string(
                        manifest, content_type="application/json", retry=self._retry
                    )
            fault_point("after_manifest")
            with self._errors("publish _SUCCESS"):
                self._bucket.blob(self._key(SUCCESS)).upload_from_string(success, retry=self._retry)
        finally:
            with suppress(gexc.GoogleAPIError):
                lock.delete()

    def objects(self) -> dict[str, int]:
        prefix = self._target.prefix
        with self._errors("list the prefix"):
            blobs = list(self._bucket.client.list_blobs(self._bucket, prefix=prefix))
        return {b.name[len(prefix) :]: int(b.size) for b in blobs if b.name != self._key(LOCK)}

    def read(self, name: str) -> bytes | None:
        try:
            with self._errors(f"read {name}"):
                data: bytes = self._bucket.blob(self._key(name)).download_as_bytes()
        except DestinationError:
            if self._bucket.get_blob(self._key(name)) is None:
                return None
            raise
        return data

    def fetch(self, name: str, into: Path) -> Path:
        path = into / Path(name).name
        with self._errors(f"download {name}"):
            self._bucket.blob(self._key(name)).download_to_filename(str(path))
        return path

    def remove(self, names: Sequence[str]) -> None:
        for name in names:
            with self._errors(f"remove {name}"), suppress(gexc.NotFound):
                self._bucket.blob(self._key(name)).delete(retry=self._retry)

    def quarantine(self, name: str, run_id: str) -> None:
        blob = self._bucket.blob(self._key(name))
        with self._errors(f"move {name} to {QUARANTINE}/"):
            self._bucket.copy_blob(blob, self._bucket, self._key(f"{QUARANTINE}/{run_id}/{name}"))
            blob.delete(retry=self._retry)

    def _create_lock(self, body: bytes) -> bool:
        try:
            self._bucket.blob(self._key(LOCK)).upload_from_string(body, if_generation_match=0)
        except gexc.PreconditionFailed:
            return False
        return True

    def _read_lock(self) -> Held | None:
        blob = self._bucket.get_blob(self._key(LOCK))
        if blob is None:
            return None
        try:
            data: bytes = blob.download_as_bytes(if_generation_match=blob.generation)
        except (gexc.NotFound, gexc.PreconditionFailed):
            return None  # released or replaced meanwhile: look again
        return Held(data, str(blob.generation))

    def _replace_lock(self, body: bytes, version: str) -> bool:
        """Overwrite the lock only if it is still the generation read."""
        try:
            self._bucket.blob(self._key(LOCK)).upload_from_string(
                body, if_generation_match=int(version)
            )
        except (gexc.PreconditionFailed, gexc.NotFound):
            return False
        return True

    def holds(self, part: StagedPart) -> bool:
        """Staged, or already at its final name (a publish that was interrupted)."""
        staged = self._key(staged_key(self._run_id, part.final_name))
        return any(self._size(n) == part.size_bytes for n in (staged, self._key(part.final_name)))

    def _size(self, name: str) -> int | None:
        blob = self._bucket.get_blob(name)
        return int(blob.size) if blob is not None else None

    def _place(self, part: StagedPart, run_id: str) -> None:
        """Copy a staged part to its final name (inside GCS), then drop the staged copy."""
        final, staged = self._key(part.final_name), self._key(staged_key(run_id, part.final_name))
        if self._size(final) == part.size_bytes and self._size(staged) is None:
            return  # an interrupted publish of this (resumed) run placed it
        with self._errors(f"publish {part.final_name}"):
            source = self._bucket.blob(staged)
            self._bucket.copy_blob(source, self._bucket, final, retry=self._retry)
            source.delete(retry=self._retry)
        fault_point("after_part_published")

    def taken(self, stem: str) -> bool:
        with self._errors("list the prefix"):
            blobs = self._bucket.client.list_blobs(
                self._bucket, prefix=self._key(stem), max_results=1
            )
            return any(True for _ in blobs)

    def probe(self) -> str:
        blob = self._bucket.blob(self._key(PROBE))
        with self._errors(f"write {PROBE}"):
            blob.upload_from_string(b"ok", retry=self._retry)
        with self._errors(f"remove {PROBE}"):
            blob.delete(retry=self._retry)
        return f"wrote and removed {blob.name}"

    def _clear_marker(self) -> None:
        if self._cleared:
            return
        with self._errors("remove the old _SUCCESS marker"):
            try:
                self._bucket.blob(self._key(SUCCESS)).delete(retry=self._retry)
            except gexc.NotFound:
                self._bucket.reload()  # the marker was absent: make sure the bucket is not
        self._cleared = True

    def _key(self, name: str) -> str:
        return f"{self._target.prefix}{name}"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        where = f"export '{self._export}': cannot {action} at {self.uri}"
        try:
            yield
        except gexc.NotFound as exc:
            raise DestinationError(
                f"{where}: {exc.message}", hint="create the bucket, or fix destination.bucket"
            ) from None
        except (gexc.Forbidden, gexc.Unauthorized) as exc:
            raise DestinationError(
                f"{where}: {exc.message}",
                hint="grant storage.objects.create/delete on the bucket to the credentials used",
            ) from None
        except gexc.GoogleAPIError as exc:
            raise DestinationError(f"{where}: {exc}") from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise DestinationError(
                f"{where}: {exc}",
                hint="set destination.credentials_file, GOOGLE_APPLICATION_CREDENTIALS, or "
                "allow_anonymous: true",
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise DestinationError(
                f"{where}: {type(exc).__name__}",
                hint="check destination.endpoint and the network path to the store",
            ) from None


def _client(target: GcsTarget) -> Any:
    options = {"api_endpoint": target.endpoint} if target.endpoint else None
    if target.credentials_file:
        return storage.Client.from_service_account_json(
            target.credentials_file, client_options=options
        )
    if target.allow_anonymous:
        return (
            storage.Client.create_anonymous_client()
            if not options
            else storage.Client(
                project="anonymous", credentials=_anonymous(), client_options=options
            )
        )
    return storage.Client(client_options=options)


def _anonymous() -> Any:
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()  # type: ignore[no-untyped-call]
