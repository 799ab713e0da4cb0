"""Timestamps as the state stores them: UTC text, or (MySQL positions written by earlier
versions) epoch microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(text: str) -> int:
    """Microseconds since the epoch of `2026-01-01 00:00:00.5Z`, `...T...+00:00`, a text
    without offset (UTC), or digits (already microseconds)."""
    if text.lstrip("-").isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)
