"""Errors of the state store (defined with the others in rivet.core.errors)."""

from __future__ import annotations

from rivet.core.errors import StateError, StoreUnavailable

__all__ = ["StateError", "StoreUnavailable"]
