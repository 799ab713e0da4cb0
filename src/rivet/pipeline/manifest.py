"""The run receipt written beside the parts: the manifest and the `_SUCCESS` marker.

The same bytes go to `_manifests/<run_id>.json` (immutable: one per run) and to the latest-run
manifest (`_manifest.json`, or `manifest.json` in rivet-cli 0.7.7's layout); `_SUCCESS` holds the
manifest's hash. docs/commit-protocol.md lists the fields.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa
import xxhash

from rivet.core.partitions import PartitionSpec
from rivet.destinations.base import StagedPart
from rivet.formats.hive import file_schema, folder_values
from rivet.integrity.arrow_debug import debug_name
from rivet.integrity.checksums import type_family
from rivet.integrity.manifest import MANIFEST_VERSION
from rivet.report.model import ExportResult


def schema_fingerprint(schema: pa.Schema) -> str:
    """xxh3_64 of `name<TAB><arrow-rs Debug of the type>` lines, sorted by name: the value
    rivet-cli 0.7.7 writes for the same schema."""
    lines = "".join(
        f"{f.name}\t{debug_name(f.type)}\n" for f in sorted(schema, key=lambda f: f.name)
    )
    return f"xxh3:{xxhash.xxh3_64_hexdigest(lines.encode())}"


def manifest_bytes(
    result: ExportResult,
    schema: pa.Schema,
    table: str | None,
    parts: Sequence[StagedPart],
    destination_kind: str,
    replaces: Sequence[str] = (),
    retires: Sequence[str] = (),
    partitions: PartitionSpec | None = None,
    iceberg_table: str | None = None,
) -> bytes:
    """`schema` is the run's; with partitions the manifest lists the columns of the part files
    (a column partitioned by its value is only in the folder names)."""
    schema = file_schema(partitions, schema)
    schema_name, _, table_name = (table or "").rpartition(".")
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": result.run_id,
        "export_name": result.export_name,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "status": "success",
        "source": {
            "engine": result.source_engine,
            "schema": schema_name or None,
            "table": table_name or None,
        },
        "destination": {"kind": destination_kind, "uri": result.destination},
        "format": result.format,
        "compression": result.compression,
        "schema_fingerprint": schema_fingerprint(schema),
        "columns": [{"name": f.name, "type": type_family(f.type)} for f in schema],
        "row_count": sum(p.rows for p in parts),
        "part_count": len(parts),
        "parts": [
            {
                "part_id": i + 1,
                "path": p.final_name,
                "rows": p.rows,
                "size_bytes": p.size_bytes,
                "content_fingerprint": p.fingerprint,
                "column_checksums": dict(p.columns),
                "status": "committed",
                **({"partition": _folder(p)} if partitions is not None else {}),
            }
            for i, p in enumerate(parts)
        ],
    }
    if partitions is not None:
        manifest["partition_by"] = partitions.describe()
        manifest["partitions"] = _partitions(parts)
    if iceberg_table is not None:  # table_format: iceberg: the run is also a commit of it
        manifest["table_format"] = "iceberg"
        manifest["iceberg_table"] = iceberg_table
    if replaces:  # a repair: these parts of earlier runs were moved to _quarantine/
        manifest["replaces"] = list(replaces)
    if retires:  # write_disposition: replace: these earlier runs' parts are removed after it
        manifest["retires"] = list(retires)
    return (json.dumps(manifest, indent=2) + "\n").encode()


def success_marker(manifest: bytes) -> bytes:
    return f"xxh3:{xxhash.xxh3_64_hexdigest(manifest)}\n".encode()


def _folder(part: StagedPart) -> str:
    return part.final_name.rpartition("/")[0]


def _partitions(parts: Sequence[StagedPart]) -> list[dict[str, object]]:
    """Each partition folder with its values, rows and part ids."""
    rows: dict[str, int] = {}
    ids: dict[str, list[int]] = {}
    for part_id, part in enumerate(parts, start=1):
        folder = _folder(part)
        rows[folder] = rows.get(folder, 0) + part.rows
        ids.setdefault(folder, []).append(part_id)
    return [{"path": f, "values": folder_values(f), "rows": rows[f], "parts": ids[f]} for f in rows]
