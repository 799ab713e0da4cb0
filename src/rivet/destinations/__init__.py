"""Destinations: where finished parts, the manifest and `_SUCCESS` are published."""
