"""write_disposition: replace: once a run is published, the export's earlier runs are retired.

The new run's manifest names the runs it retires (`retires`), so from the moment it is published
those runs are over for `rivet validate` and for readers that follow the manifest. Then their
parts are removed (never one that a run still live lists), then their run manifests. A crash in
between leaves parts that the next replacing run removes, and that validate reports as retiring,
not as missing or extra. A reader that lists the prefix instead sees both runs' parts only for
the time these removals take (docs/commit-protocol.md).
"""

from __future__ import annotations

import logging

from rivet.destinations import Destination
from rivet.destinations.base import MANIFESTS, run_manifest
from rivet.integrity.manifest import Manifest, ManifestError, parse_manifest

log = logging.getLogger(__name__)


def run_manifests(destination: Destination) -> list[Manifest]:
    """Every readable run manifest at the prefix (any export)."""
    found = []
    for name in sorted(destination.objects()):
        if name.startswith(f"{MANIFESTS}/") and name.endswith(".json") and name.count("/") == 1:
            try:
                found.append(parse_manifest(destination.read(name) or b""))
            except ManifestError:
                continue  # validate reports it; a run that cannot be read is never retired
    return found


def earlier_runs(destination: Destination, export: str, run_id: str) -> list[str]:
    """The export's runs at the prefix other than `run_id`: the ones a replacing run retires."""
    return [m.run_id for m in run_manifests(destination)
            if m.export_name == export and m.run_id != run_id]  # fmt: skip


def retire(destination: Destination, retired: list[str]) -> int:
    """Remove the parts of the `retired` runs that no other run lists, then their manifests.
    Returns how many parts were removed."""
    manifests = run_manifests(destination)
    going = {m.run_id for m in manifests if m.run_id in set(retired)}
    kept = {p.path for m in manifests if m.run_id not in going for p in m.parts}
    parts = sorted({p.path for m in manifests if m.run_id in going for p in m.parts} - kept)
    if parts:
        destination.remove(parts)
    destination.remove([run_manifest(r) for r in sorted(going)])
    log.info("retired %d earlier run(s): %d part(s) removed", len(going), len(parts))
    return len(parts)
