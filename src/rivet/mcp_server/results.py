"""Tool results: compact JSON a model can read, with a one-line summary first."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

Result = dict[str, Any]


def jsonable(value: Any) -> Any:
    """Dates as ISO text, decimals as numbers, bytes as text: what JSON can carry."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds(), 3)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def rows_result(rows: list[dict[str, Any]], summary: str) -> Result:
    return {"summary": summary, "count": len(rows), "rows": rows}
