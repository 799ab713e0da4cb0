"""Every error a caller of rivet's Python API can get, importable from here (the tree and what
each means: rivet.core.errors, docs/api.md). Each has `.message`, `.hint` and `.exit_code`."""

from __future__ import annotations

from rivet.core.errors import (
    ConfigError,
    DestinationError,
    ExportFailed,
    ExportNotFound,
    LeaseLost,
    MemoryExceeded,
    MissingExtra,
    PlanError,
    PlanRefused,
    QualityError,
    ReconcileError,
    RivetError,
    SchemaDriftError,
    SourceConnectionError,
    SourceError,
    StateError,
    StoreUnavailable,
    TypeMappingError,
    ValidationError,
    WriteError,
)
from rivet.core.stop import Stopped

__all__ = [
    "ConfigError",
    "DestinationError",
    "ExportFailed",
    "ExportNotFound",
    "LeaseLost",
    "MemoryExceeded",
    "MissingExtra",
    "PlanError",
    "PlanRefused",
    "QualityError",
    "ReconcileError",
    "RivetError",
    "SchemaDriftError",
    "SourceConnectionError",
    "SourceError",
    "StateError",
    "Stopped",
    "StoreUnavailable",
    "TypeMappingError",
    "ValidationError",
    "WriteError",
]
