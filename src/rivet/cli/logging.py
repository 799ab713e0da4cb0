"""Logs go to stderr, warnings by default (RIVET_LOG=info|debug for more), always redacted."""

from __future__ import annotations

import logging
import os

from rivet.core.redact import redact


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging() -> None:
    level = os.environ.get("RIVET_LOG", "warning").upper()
    handler = logging.StreamHandler()
    handler.setFormatter(_Redacting("%(levelname)s %(message)s"))
    root = logging.getLogger("rivet")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level, logging.WARNING))
    root.propagate = False
