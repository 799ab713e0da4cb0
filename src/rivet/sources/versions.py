"""Oldest servers rivet reads from, and the check that says so before anything is read."""

from __future__ import annotations

import re

from rivet.core.errors import SourceError

MINIMUM = {"PostgreSQL": (12, 0), "MySQL": (5, 7), "MariaDB": (10, 3)}


def parse_version(text: str) -> tuple[int, int]:
    """(major, minor) from `15.19 (Debian ...)`, `10.11.19-MariaDB-0+deb12u1`, `8.0.36`."""
    match = re.match(r"\s*(\d+)\.(\d+)", text)
    if match is None:
        raise ValueError(f"unrecognised server version '{text}'")
    return int(match.group(1)), int(match.group(2))


def require_supported(product: str, version_text: str, export: str) -> None:
    version = parse_version(version_text)
    minimum = MINIMUM[product]
    if version < minimum:
        raise SourceError(
            f"export '{export}': {product} {version[0]}.{version[1]} is too old for rivet "
            f"(needs {product} {minimum[0]}.{minimum[1]} or newer)",
            hint="read from a newer replica, or upgrade the server",
        )
