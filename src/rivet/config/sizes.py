"""Human sizes in config (`max_file_size: 256MB`): 1024-based, bare number = bytes."""

from __future__ import annotations

import re

_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SIZE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]?B?)\s*$", re.IGNORECASE)


def parse_size(value: str | int | float) -> int:
    """Bytes for '256MB', '1.5GB', '500KB', '10B' or 1048576. Raises ValueError when unreadable."""
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError(f"invalid max_file_size '{value}': must be positive")
        return int(value)
    match = _SIZE.match(value)
    if not match:
        raise ValueError(
            f"invalid max_file_size '{value}': expected a size such as '256MB', '1GB', '500KB'"
        )
    unit = match.group("unit").upper()
    if unit and not unit.endswith("B"):
        unit += "B"
    size = int(float(match.group("num")) * _UNITS[unit])
    if size <= 0:
        raise ValueError(f"invalid max_file_size '{value}': must be positive")
    return size
