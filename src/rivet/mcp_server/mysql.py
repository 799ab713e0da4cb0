"""MySQL / MariaDB health probes: fixed queries in a read-only session with a statement time
limit, on a connection opened for the call and closed after it."""

from __future__ import annotations

from typing import Any

import pymysql
import pymysql.cursors

from rivet.config.connection import pymysql_arguments
from rivet.mcp_server.results import Result, rows_result

TIMEOUT_S = 5
KEY_STATUS = (
    "Threads_running",
    "Threads_connected",
    "Innodb_log_waits",
    "Innodb_row_lock_waits",
    "Innodb_row_lock_current_waits",
    "Innodb_row_lock_time_avg",
    "Innodb_buffer_pool_wait_free",
    "Innodb_buffer_pool_pages_dirty",
    "Slow_queries",
    "Aborted_connects",
    "Uptime",
)
_PROCESSLIST = """
SELECT ID AS id, USER AS user, DB AS db, COMMAND AS command, TIME AS running_s, STATE AS state,
       LEFT(REGEXP_REPLACE(INFO, '[[:space:]]+', ' '), 200) AS query
FROM information_schema.PROCESSLIST
WHERE COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') AND ID <> CONNECTION_ID()
ORDER BY TIME DESC
LIMIT %s
"""
_TABLES = """
SELECT TABLE_SCHEMA AS `schema`, TABLE_NAME AS `table`, ENGINE AS engine,
       TABLE_ROWS AS estimated_rows, DATA_LENGTH AS data_bytes, INDEX_LENGTH AS index_bytes,
       DATA_FREE AS free_bytes, UPDATE_TIME AS updated_at
FROM information_schema.TABLES
WHERE TABLE_TYPE = 'BASE TABLE'
  AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
  AND (%s IS NULL OR TABLE_SCHEMA = %s)
ORDER BY DATA_LENGTH + INDEX_LENGTH DESC
LIMIT %s
"""


class MySQLProbe:
    def __init__(self, url: str) -> None:
        self._url = url

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        conn = pymysql.connect(
            **pymysql_arguments(self._url), cursorclass=pymysql.cursors.DictCursor
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION() AS v")
                version = cur.fetchone() or {}
                mariadb = "mariadb" in str(version.get("v")).lower()
                limit = (
                    f"SET SESSION max_statement_time = {TIMEOUT_S}"
                    if mariadb
                    else f"SET SESSION max_execution_time = {TIMEOUT_S * 1000}"
                )
                cur.execute(limit)
                cur.execute("START TRANSACTION READ ONLY")
                cur.execute(sql, params)
                rows: list[dict[str, Any]] = list(cur.fetchall())
                cur.execute("ROLLBACK")
                return rows
        finally:
            conn.close()  # the session, and every variable set on it, ends here

    def processlist(self, limit: int) -> Result:
        rows = self._query(_PROCESSLIST, (limit,))
        longest = max((r["running_s"] or 0 for r in rows), default=0)
        return rows_result(rows, f"{len(rows)} active thread(s), longest {longest}s")

    def key_metrics(self) -> Result:
        placeholders = ", ".join(["%s"] * len(KEY_STATUS))
        rows = self._query(
            f"SHOW GLOBAL STATUS WHERE Variable_name IN ({placeholders})", KEY_STATUS
        )
        by_upper = {r["Variable_name"].upper(): r["Value"] for r in rows}
        metrics = {name: _number(by_upper.get(name.upper())) for name in KEY_STATUS}
        limit = self._query("SELECT @@GLOBAL.max_connections AS m")[0]["m"]
        metrics["max_connections"] = int(limit)
        return {
            "summary": f"{metrics['Threads_running']} running / {metrics['Threads_connected']} "
            f"connected of {limit}; Innodb_log_waits {metrics['Innodb_log_waits']}, row lock "
            f"waits now {metrics['Innodb_row_lock_current_waits']}",
            "metrics": metrics,
        }

    def table_stats(self, schema: str | None, limit: int) -> Result:
        rows = self._query(_TABLES, (schema, schema, limit))
        return rows_result(rows, f"{len(rows)} table(s), largest first (estimates)")


def _number(text: Any) -> int | float | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)
