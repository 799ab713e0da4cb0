"""S3 (and S3-compatible) destination: streamed multipart uploads that never leave a partial object.

Each finished part is uploaded as soon as it is named, under `_rivet_staging/<run_id>/` (single
PUT below 8 MB, multipart above, 8 MB chunks read from the local file, so memory is bounded by
one chunk); a failure aborts the multipart upload, so no object ever appears unless the whole
part arrived. Publishing deletes the old `_SUCCESS`, copies each part to its final key (a copy
inside S3: no data passes through rivet) and removes the staged one, then writes the manifests
and `_SUCCESS`: a reader listing the prefix sees a run's parts only once it is published.
Transient store errors (5xx, throttling, timeouts) are retried by botocore's standard retry
mode; permanent ones fail fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

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
from rivet.destinations.credentials import named_keys
from rivet.destinations.lock import LOCK, Held, acquire
from rivet.destinations.targets import S3Target

CHUNK = 8 << 20  # multipart chunk: S3's minimum is 5 MiB
_HINTS = {
    "NoSuchBucket": "create the bucket, or fix destination.bucket",
    "AccessDenied": "grant s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on the prefix",
    "InvalidAccessKeyId": "check the access key (destination.access_key_env or the AWS chain)",
    "SignatureDoesNotMatch": "check the secret key (destination.secret_key_env)",
    "ExpiredToken": "refresh the session token (destination.session_token_env)",
}


class S3Destination(ObjectStoreStaging):
    kind = "s3"

    def __init__(self, target: S3Target, export: str) -> None:
        self._target = target
        self._export = export
        self._client = _client(target, export)
        self._cleared = False

    @property
    def uri(self) -> str:
        return self._target.uri

    def deliver(self, part: StagedPart) -> None:
        self._upload(part.path, self._key(staged_key(self._run_id, part.final_name)))
        part.path.unlink()

    def holds(self, part: StagedPart) -> bool:
        """Staged, or already at its final key (a publish that was interrupted)."""
        staged = self._key(staged_key(self._run_id, part.final_name))
        return any(
            self._size(key) == part.size_bytes for key in (staged, self._key(part.final_name))
        )

    def _size(self, key: str) -> int | None:
        try:
            head = self._client.head_object(Bucket=self._target.bucket, Key=key)
        except botocore.exceptions.ClientError:
            return None
        return int(head["ContentLength"])

    def _place(self, part: StagedPart, run_id: str) -> None:
        """Copy a staged part to its final key (server side), then drop the staged copy."""
        bucket, final = self._target.bucket, self._key(part.final_name)
        staged = self._key(staged_key(run_id, part.final_name))
        if self._size(final) == part.size_bytes and self._size(staged) is None:
            return  # an interrupted publish of this (resumed) run placed it
        with self._errors(f"publish {part.final_name}"):
            self._client.copy({"Bucket": bucket, "Key": staged}, bucket, final)
            self._client.delete_object(Bucket=bucket, Key=staged)
        fault_point("after_part_published")

    def publish(
        self,
        parts: Sequence[StagedPart],
        manifest: bytes,
        success: bytes,
        run_id: str,
        latest: str = MANIFEST,
        placed: Callable[[], None] | None = None,
    ) -> None:
        bucket, lock = self._target.bucket, self._key(LOCK)
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
                    self._client.put_object(
                        Bucket=bucket,
                        Key=self._key(name),
                        Body=manifest,
                        ContentType="application/json",
                    )
            fault_point("after_manifest")
            with self._errors("publish _SUCCESS"):
                self._client.put_object(Bucket=bucket, Key=self._key(SUCCESS), Body=success)
        finally:
            with suppress(botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                self._client.delete_object(Bucket=bucket, Key=lock)

    def objects(self) -> dict[str, int]:
        found: dict[str, int] = {}
        prefix = self._target.prefix
        with self._errors("list the prefix"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._target.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix) :]
                    if name != LOCK:
                        found[name] = int(item["Size"])
        return found

    def read(self, name: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self._target.bucket, Key=self._key(name))
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            with self._errors(f"read {name}"):
                raise
        body: bytes = response["Body"].read()
        return body

    def fetch(self, name: str, into: Path) -> Path:
        path = into / Path(name).name
        with self._errors(f"download {name}"):
            self._client.download_file(self._target.bucket, self._key(name), str(path))
        return path

    def remove(self, names: Sequence[str]) -> None:
        keys = [{"Key": self._key(n)} for n in names]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes up to 1,000 keys
            with self._errors("remove objects"):
                self._client.delete_objects(
                    Bucket=self._target.bucket,
                    Delete={"Objects": keys[start : start + 1000], "Quiet": True},
                )

    def quarantine(self, name: str, run_id: str) -> None:
        bucket, key = self._target.bucket, self._key(name)
        with self._errors(f"move {name} to {QUARANTINE}/"):
            self._client.copy_object(
                Bucket=bucket,
                Key=self._key(f"{QUARANTINE}/{run_id}/{name}"),
                CopySource={"Bucket": bucket, "Key": key},
            )
            self._client.delete_object(Bucket=bucket, Key=key)

    def _create_lock(self, body: bytes) -> bool:
        try:
            self._client.put_object(
                Bucket=self._target.bucket, Key=self._key(LOCK), Body=body, IfNoneMatch="*"
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return False
            raise
        return True

    def _read_lock(self) -> Held | None:
        try:
            response = self._client.get_object(Bucket=self._target.bucket, Key=self._key(LOCK))
        except botocore.exceptions.ClientError:
            return None
        return Held(response["Body"].read(), str(response["ETag"]))

    def _replace_lock(self, body: bytes, version: str) -> bool:
        """Overwrite the lock only if it is still the object read (its ETag)."""
        try:
            self._client.put_object(
                Bucket=self._target.bucket, Key=self._key(LOCK), Body=body, IfMatch=version
            )
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in (
                "PreconditionFailed",
                "412",
                "NoSuchKey",
                "404",
                "ConditionalRequestConflict",
            ):
                return False
            raise
        return True

    def _clear_marker(self) -> None:
        """Under the publish lock, before the first part is placed: no old _SUCCESS may sit
        beside new parts."""
        if self._cleared:
            return
        with self._errors("remove the old _SUCCESS marker"):
            self._client.delete_object(Bucket=self._target.bucket, Key=self._key(SUCCESS))
        self._cleared = True

    def taken(self, stem: str) -> bool:
        with self._errors("list the prefix"):
            found = self._client.list_objects_v2(
                Bucket=self._target.bucket, Prefix=self._key(stem), MaxKeys=1
            )
        return bool(found.get("KeyCount"))

    def probe(self) -> str:
        with self._errors(f"write {PROBE}"):
            self._client.put_object(Bucket=self._target.bucket, Key=self._key(PROBE), Body=b"ok")
        with self._errors(f"remove {PROBE}"):
            self._client.delete_object(Bucket=self._target.bucket, Key=self._key(PROBE))
        return f"wrote and removed {self._key(PROBE)}"

    def _key(self, name: str) -> str:
        return f"{self._target.prefix}{name}"

    def _upload(self, path: Path, key: str) -> None:
        size = path.stat().st_size
        bucket = self._target.bucket
        if size <= CHUNK:
            with self._errors(f"upload {key}"), open(path, "rb") as body:
                self._client.put_object(Bucket=bucket, Key=key, Body=body)
            return
        with self._errors(f"start the upload of {key}"):
            upload_id = self._client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            with self._errors(f"upload {key}"):
                done = [
                    {
                        "PartNumber": number,
                        "ETag": self._client.upload_part(
                            Bucket=bucket,
                            Key=key,
                            UploadId=upload_id,
                            PartNumber=number,
                            Body=chunk,
                        )["ETag"],
                    }
                    for number, chunk in enumerate(_chunks(path), start=1)
                ]
                fault_point("before_multipart_complete")
                self._client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": done},
                )
        except BaseException:
            # Leave nothing behind: an aborted upload never becomes an object.
            with suppress(botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            raise

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            raise DestinationError(
                f"export '{self._export}': cannot {action} at {self.uri}: {code or exc}",
                hint=_HINTS.get(code, "check destination.bucket, prefix and credentials"),
            ) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise DestinationError(
                f"export '{self._export}': cannot {action} at {self.uri}: {exc}",
                hint="check destination.endpoint / region and the network path to the store",
            ) from None


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _client(target: S3Target, export: str) -> Any:
    """A client from the standard AWS chain, or the keys the config names, or anonymous."""
    credentials = named_keys(target, export) or {}
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        signature_version=UNSIGNED if target.allow_anonymous else None,
    )
    session = boto3.session.Session(profile_name=target.aws_profile)
    return session.client(
        "s3", region_name=target.region, endpoint_url=target.endpoint, config=config, **credentials
    )
