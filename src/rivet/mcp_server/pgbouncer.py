"""pgbouncer's admin console (SHOW POOLS / SHOW STATS): read-only commands by nature."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from rivet.mcp_server.results import Result, rows_result


class PgbouncerProbe:
    def __init__(self, url: str) -> None:
        self._url = url

    def _show(self, what: str) -> list[dict[str, Any]]:
        # The admin console speaks only the simple query protocol: no transaction, no params.
        with psycopg.connect(
            self._url, autocommit=True, connect_timeout=10, prepare_threshold=None
        ) as conn:
            cur = psycopg.ClientCursor(conn, row_factory=dict_row)
            cur.execute(f"SHOW {what}")
            return cur.fetchall()

    def pools(self) -> Result:
        rows = self._show("POOLS")
        waiting = sum(int(r.get("cl_waiting") or 0) for r in rows)
        return rows_result(rows, f"{len(rows)} pool(s), {waiting} client(s) waiting for a server")

    def stats(self) -> Result:
        rows = self._show("STATS")
        return rows_result(rows, f"traffic counters of {len(rows)} database(s)")
