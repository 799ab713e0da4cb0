"""Errors of the state store."""

from __future__ import annotations

from rivet.core.errors import RivetError


class StateError(RivetError):
    """The state store cannot be opened, migrated or written, or refuses an operation."""


class StoreUnavailable(StateError):
    """The state store's database failed a statement (disk, permissions, a lost connection)."""
