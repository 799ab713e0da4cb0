"""What a source is asked to read for a plan."""

from __future__ import annotations

from rivet.planning.export_plan import ExportPlan
from rivet.sources.base import COALESCED, Incremental, ReadRequest
from rivet.state import CursorState


def read_request(plan: ExportPlan, cursor: CursorState | None = None) -> ReadRequest:
    """What the source needs of a plan: the SQL source, overrides, tuning, cursor position."""
    incremental = None
    if plan.cursor_column is not None:
        coalesce = (
            (plan.cursor_column, plan.cursor_fallback) if plan.cursor_fallback is not None else None
        )
        incremental = Incremental(
            COALESCED if coalesce else plan.cursor_column,
            cursor.position if cursor else None,
            cursor.position_columns if cursor else (),
            until=plan.cursor_until,
            coalesce=coalesce,
            # the boundary value is read again (rivet.pipeline.boundary); cursor_lag reads
            # further back on its own, and a coalesced cursor keeps its strict position
            inclusive=plan.cursor_lag is None
            and coalesce is None
            and not (cursor is not None and cursor.imported),
        )
    elif plan.window is not None:  # the same ordered read, from a lower bound, with no state
        incremental = Incremental(plan.window.column, lower_bound=plan.window.bound)
    return ReadRequest(
        export=plan.name,
        table=plan.table,
        query=plan.query,
        column_overrides=plan.column_overrides,
        page_bytes=plan.tuning.page_bytes,
        max_page_rows=plan.tuning.batch_size if plan.tuning.batch_size_explicit else None,
        statement_timeout_s=plan.tuning.statement_timeout_s,
        lock_timeout_s=plan.tuning.lock_timeout_s,
        throttle_ms=plan.tuning.throttle_ms,
        read_connections=_read_connections(plan),
        max_retries=plan.tuning.max_retries,
        retry_backoff_ms=plan.tuning.retry_backoff_ms,
        incremental=incremental,
    )


def _read_connections(plan: ExportPlan) -> int:
    """The profile's reader connections, within source.max_connections (which also counts the
    catalog connection)."""
    if plan.max_connections is None:
        return plan.tuning.read_connections
    return max(1, min(plan.tuning.read_connections, plan.max_connections - 1))
