"""`cursor_lag`: how far behind the stored cursor an incremental run starts reading again."""

from __future__ import annotations

import re
from datetime import timedelta

_LAG = re.compile(r"^\s*(?P<num>\d+)\s*(?P<unit>s|m|h|d)\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_lag(value: str | int) -> timedelta | int:
    """'90s', '15m', '2h', '1d' -> a timedelta (timestamp and date cursors); a positive integer
    -> that many units of an integer cursor."""
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"'{value}' must be positive")
        return value
    match = _LAG.match(value)
    if not match or int(match.group("num")) == 0:
        raise ValueError(
            f"'{value}' is not a lag: expected a positive duration such as '90s', '15m', '2h' or "
            "'1d' (or a positive integer for an integer cursor)"
        )
    return timedelta(**{_UNIT[match.group("unit")]: int(match.group("num"))})
