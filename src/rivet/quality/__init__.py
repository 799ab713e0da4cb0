"""Checks on what was read, before anything is published (pure: Arrow in, findings out)."""
