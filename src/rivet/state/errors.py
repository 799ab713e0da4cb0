"""Errors of the state store."""

from __future__ import annotations

from rivet.core.errors import RivetError


class StateError(RivetError):
    """The state store cannot be opened, migrated or written, or refuses an operation."""
