"""Destinations: where finished parts, the manifest and `_SUCCESS` are published."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rivet.core.errors import MissingExtra
from rivet.destinations.base import Destination, StagedPart
from rivet.destinations.targets import (
    GcsTarget,
    IcebergTarget,
    LocalTarget,
    S3Target,
    StdoutTarget,
    Target,
)

if TYPE_CHECKING:
    from rivet.destinations.iceberg import IcebergTable

__all__ = ["Destination", "StagedPart", "open_destination", "open_iceberg"]

ICEBERG_CATALOG = ".rivet_iceberg.db"  # the default SQL catalog, next to the config


def open_iceberg(
    target: IcebergTarget, files: Target, export: str, config_dir: Path
) -> IcebergTable:
    try:
        from rivet.destinations.iceberg import IcebergTable
    except ImportError:
        raise MissingExtra(f"export '{export}': table_format iceberg", "iceberg") from None
    assert isinstance(files, LocalTarget | S3Target), "checked with the config"
    uri = target.catalog_uri or f"sqlite:///{(config_dir / ICEBERG_CATALOG).resolve()}"
    return IcebergTable(target, files, uri, export)


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
