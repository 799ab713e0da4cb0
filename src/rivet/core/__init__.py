"""Shared foundations: the error tree, redaction, value types. Imports nothing above it."""
