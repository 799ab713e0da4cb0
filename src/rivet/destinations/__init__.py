"""Destinations: where finished parts, the manifest and `_SUCCESS` are published."""

from __future__ import annotations

from rivet.destinations.base import Destination, StagedPart
from rivet.destinations.targets import GcsTarget, LocalTarget, StdoutTarget, Target

__all__ = ["Destination", "StagedPart", "open_destination"]


def open_destination(target: Target, export: str) -> Destination:
    if isinstance(target, LocalTarget):
        from rivet.destinations.local import LocalDestination

        return LocalDestination(target.path)
    if isinstance(target, StdoutTarget):
        from rivet.destinations.stdout import StdoutDestination

        return StdoutDestination()
    if isinstance(target, GcsTarget):
        from rivet.destinations.gcs import GcsDestination

        return GcsDestination(target, export)
    from rivet.destinations.s3 import S3Destination

    return S3Destination(target, export)
