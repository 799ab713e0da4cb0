"""Destinations: where finished parts, the manifest and `_SUCCESS` are published."""

from __future__ import annotations

from rivet.core.errors import MissingExtra
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
        try:
            from rivet.destinations.gcs import GcsDestination
        except ImportError:
            raise MissingExtra(f"export '{export}': destination type gcs", "gcs") from None
        return GcsDestination(target, export)
    try:
        from rivet.destinations.s3 import S3Destination
    except ImportError:
        raise MissingExtra(f"export '{export}': destination type s3", "s3") from None
    return S3Destination(target, export)
