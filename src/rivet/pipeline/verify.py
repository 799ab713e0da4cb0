"""`rivet validate`: check a destination prefix against the manifests published there.

Every run manifest in `_manifests/` (or the one `--run-id` names) is checked against the
objects at the prefix: each listed part must be present with its size and content hash (and,
with `full`, decode to its rows and column checksums); the latest-run manifest (`_manifest.json`,
or `manifest.json` in rivet-cli 0.7.7's layout) must be the latest run's, and `_SUCCESS` must
hold its hash. Objects no manifest lists are reported as extra. Parts a repair moved to
`_quarantine/` are expected to be gone, and so are the parts of runs that a replacing run retired
(`retires`): those still there are being removed, not extra.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rivet.core.errors import RivetError
from rivet.destinations import Destination
from rivet.destinations.base import (
    DATASET_MANIFEST,
    ICEBERG_METADATA,
    MANIFEST,
    MANIFESTS,
    PROBE,
    QUARANTINE,
    STAGED,
    SUCCESS,
    run_manifest,
)
from rivet.integrity.manifest import (
    Manifest,
    ManifestError,
    ManifestPart,
    marker_matches,
    parse_manifest,
)
from rivet.pipeline.parts import fingerprint
from rivet.pipeline.validate import differences, read_back

if TYPE_CHECKING:
    from rivet.destinations.iceberg import IcebergTable


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | truncated | altered | unreadable | extra | manifest | marker | table
    path: str
    detail: str


@dataclass
class Verification:
    export_name: str
    prefix: str
    status: str = "passed"  # passed | failed | no manifest
    runs: list[str] = field(default_factory=list)
    parts_verified: int = 0
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    hint: str | None = None  # what to do (no manifest where one was expected)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verify(
    export: str,
    destination: Destination,
    run_id: str | None = None,
    full: bool = False,
    iceberg: bool = False,
    table: IcebergTable | None = None,
) -> Verification:
    """`iceberg`: the prefix is also an Iceberg table's location (its `metadata/` is the
    table's, not extra); `table`: that table's current files are checked too, against the same
    listing and manifests."""
    result = Verification(export, destination.uri)
    objects = destination.objects()
    every = _manifests(destination, objects, run_id, result)
    retired = {r for m in every for r in m.retires}
    manifests = [m for m in every if m.export_name == export and m.run_id not in retired]
    if not manifests:
        result.status = "failed" if result.problems else "no manifest"
        return result
    # A prefix may be shared by several exports: their parts are listed, not extra.
    listed = {part.path for m in every for part in m.parts}
    replaced = {path for m in every for path in m.replaces}
    checked: set[str] = set()  # a repair manifest lists the parts it kept again: check once
    with tempfile.TemporaryDirectory(prefix="rivet-validate-") as scratch:
        for manifest in manifests:
            result.runs.append(manifest.run_id)
            for problem in manifest.problems():
                result.problems.append(Problem("manifest", run_manifest(manifest.run_id), problem))
            for part in manifest.parts:
                if part.path in replaced or part.path in checked:
                    continue
                checked.add(part.path)
                found = _check_part(destination, objects, manifest, part, Path(scratch), full)
                if found:
                    result.problems.append(found)
                else:
                    result.parts_verified += 1
                    result.rows += part.rows
    if table is not None:  # against every run's parts, even when validating one run
        runs = (
            every
            if run_id is None
            else _manifests(destination, objects, None, Verification(export, ""))
        )
        _check_table(result, table, objects, {part.path for m in runs for part in m.parts})
    if run_id is None:
        _check_latest(destination, objects, export, result)
        for name, size in sorted(objects.items()):
            if name not in listed and not _bookkeeping(name, iceberg):
                result.problems.append(
                    Problem("extra", name, f"{size:,} bytes that no manifest lists")
                )
    result.status = "failed" if result.problems else "passed"
    return result


def _manifests(
    destination: Destination, objects: dict[str, int], run_id: str | None, result: Verification
) -> list[Manifest]:
    if run_id is not None:
        names = [run_manifest(run_id)]
        if names[0] not in objects:
            result.problems.append(Problem("manifest", names[0], f"no manifest for run {run_id}"))
            return []
    else:
        names = sorted(n for n in objects if n.startswith(f"{MANIFESTS}/") and n.endswith(".json"))
        if not names and MANIFEST in objects:
            names = [MANIFEST]  # written before per-run manifests existed
    found = []
    for name in names:
        try:
            found.append(parse_manifest(destination.read(name) or b""))
        except ManifestError as exc:
            result.problems.append(Problem("manifest", name, str(exc)))
    return found


def _check_part(
    destination: Destination,
    objects: dict[str, int],
    manifest: Manifest,
    part: ManifestPart,
    scratch: Path,
    full: bool,
) -> Problem | None:
    size = objects.get(part.path)
    if size is None:
        return Problem("missing", part.path, f"listed by run {manifest.run_id}, not present")
    if size != part.size_bytes:
        return Problem("truncated", part.path, f"{size:,} bytes, manifest says {part.size_bytes:,}")
    local = destination.fetch(part.path, scratch)
    try:
        if fingerprint(local) != part.content_fingerprint:
            return Problem("altered", part.path, "content hash differs from the manifest")
        if full:
            try:
                rows, columns = read_back(local, manifest.format, _types(manifest))
            except Exception as exc:
                return Problem("unreadable", part.path, f"{type(exc).__name__}: {exc}")
            csv = manifest.format == "csv"
            found = differences(part.rows, part.column_checksums, rows, columns, partial=csv)
            if found:
                return Problem("altered", part.path, "; ".join(found))
    finally:
        if local.parent == scratch:
            local.unlink(missing_ok=True)
    return None


def _check_latest(
    destination: Destination,
    objects: dict[str, int],
    export: str,
    result: Verification,
) -> None:
    """The latest-run manifest (either layout's name) is the newest run's manifest, and
    _SUCCESS names it (when the newest run at the prefix is this export's)."""
    name = DATASET_MANIFEST if DATASET_MANIFEST in objects else MANIFEST
    latest = destination.read(name)
    if latest is None:
        result.problems.append(
            Problem("manifest", DATASET_MANIFEST, "absent: no latest-run manifest")
        )
        return
    try:
        pointer = parse_manifest(latest)
    except ManifestError as exc:
        result.problems.append(Problem("manifest", name, str(exc)))
        return
    if pointer.export_name != export:
        return
    own = run_manifest(pointer.run_id)
    if own in objects and destination.read(own) != latest:
        result.problems.append(Problem("manifest", name, f"differs from {own}"))
    marker = destination.read(SUCCESS)
    if marker is None:
        result.problems.append(
            Problem("marker", SUCCESS, "absent: a run started publishing and did not finish")
        )
    elif not marker_matches(marker, latest):
        result.problems.append(Problem("marker", SUCCESS, f"does not hold {name}'s hash"))


_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]")
_DECIMAL = re.compile(r"decimal128\((\d+), (-?\d+)\)")


def _types(manifest: Manifest) -> dict[str, pa.DataType] | None:
    """The written Arrow types, from the manifest's type names (a CSV part is parsed into
    them); a type it cannot name is read as text, and its checksum is not compared."""
    if not manifest.columns:
        return None
    return {name: _arrow_type(family) for name, family in manifest.columns}


def _arrow_type(family: str) -> pa.DataType:
    if match := _TIMESTAMP.fullmatch(family):
        return pa.timestamp(match.group(1), match.group(2))
    if match := _DECIMAL.fullmatch(family):
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    if family == "date32[day]":
        return pa.date32()
    try:
        return pa.type_for_alias(family)
    except ValueError:
        return pa.large_binary()  # not parsed back: compared by the content hash only


def _bookkeeping(name: str, iceberg: bool = False) -> bool:
    return (
        name in (MANIFEST, DATASET_MANIFEST, SUCCESS, PROBE)
        or name.startswith((f"{MANIFESTS}/", f"{QUARANTINE}/", f"{STAGED}/"))
        or (iceberg and name.startswith(ICEBERG_METADATA))
    )


def _check_table(
    result: Verification, table: IcebergTable, objects: dict[str, int], listed: set[str]
) -> None:
    """table_format: iceberg: every data file of the table's current snapshot is a part a
    manifest lists, in place with the size the table recorded."""
    try:
        files = table.files()
    except RivetError as exc:
        result.problems.append(Problem("table", table.location, exc.message))
        return
    for name, (size, _rows) in sorted(files.items()):
        if name not in objects:
            detail = "the table's current snapshot lists it, but it is gone"
        elif objects[name] != size:
            detail = f"{objects[name]:,} bytes, the table recorded {size:,}"
        elif name not in listed:
            detail = "in the table, but no manifest of this export lists it"
        else:
            continue
        result.problems.append(Problem("table", name, detail))
