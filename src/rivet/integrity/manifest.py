"""Reading a run manifest back: its parts, and whether it agrees with itself and its marker."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import xxhash

# rivet-cli 0.7.7's version: rivet's extra fields (columns, column_checksums, replaces) are
# additive, so 0.7.7's readers keep reading. Earlier versions of rivet wrote 2: read as well.
MANIFEST_VERSION = 1
_MARKER = re.compile(r"xxh3:[0-9a-f]{16}\s*")


@dataclass(frozen=True)
class ManifestPart:
    path: str
    rows: int
    size_bytes: int
    content_fingerprint: str
    column_checksums: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    run_id: str
    export_name: str
    format: str
    row_count: int
    part_count: int
    parts: tuple[ManifestPart, ...]
    columns: tuple[tuple[str, str], ...]
    replaces: tuple[str, ...]
    retires: tuple[str, ...] = ()  # write_disposition: replace: the earlier runs it retires

    def problems(self) -> list[str]:
        """Where the manifest contradicts itself (counts that do not add up, repeated parts)."""
        found = []
        if self.part_count != len(self.parts):
            found.append(f"part_count {self.part_count} but {len(self.parts)} parts listed")
        held = sum(p.rows for p in self.parts)
        if self.row_count != held:
            found.append(f"row_count {self.row_count:,} but the parts hold {held:,}")
        if len({p.path for p in self.parts}) != len(self.parts):
            found.append("a part is listed twice")
        return found


class ManifestError(ValueError):
    """Bytes that are not a manifest rivet can read."""


def parse_manifest(data: bytes) -> Manifest:
    try:
        raw: dict[str, Any] = json.loads(data)
        version = raw.get("manifest_version")
        if version not in (1, 2):
            raise ManifestError(f"manifest_version {version!r} is not one rivet reads")
        return Manifest(
            run_id=str(raw["run_id"]),
            export_name=str(raw["export_name"]),
            format=str(raw["format"]),
            row_count=int(raw["row_count"]),
            part_count=int(raw["part_count"]),
            parts=tuple(
                ManifestPart(
                    str(p["path"]),
                    int(p["rows"]),
                    int(p["size_bytes"]),
                    str(p["content_fingerprint"]),
                    dict(p.get("column_checksums") or {}),
                )
                for p in raw["parts"]
                if p.get("status", "committed") == "committed"
            ),
            columns=tuple((c["name"], c["type"]) for c in raw.get("columns", [])),
            replaces=tuple(raw.get("replaces", [])),
            retires=tuple(str(r) for r in raw.get("retires", [])),
        )
    except ManifestError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(f"not a rivet manifest: {type(exc).__name__}: {exc}") from None


def marker_matches(marker: bytes, manifest: bytes) -> bool:
    """Does a `_SUCCESS` body name exactly these manifest bytes?"""
    text = marker.decode("ascii", "replace")
    if not _MARKER.fullmatch(text):
        return False
    return text.strip() == f"xxh3:{xxhash.xxh3_64_hexdigest(manifest)}"
