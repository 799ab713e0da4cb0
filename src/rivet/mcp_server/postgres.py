"""PostgreSQL health probes: fixed catalog queries, each in a READ ONLY transaction with a
statement timeout, on a connection opened for the call and closed after it."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from rivet.mcp_server.results import Result, rows_result

TIMEOUT = "5s"

_ACTIVE = """
SELECT pid, usename AS user, application_name, state, wait_event_type, wait_event,
       round(extract(epoch FROM now() - query_start)::numeric, 1) AS running_s,
       round(extract(epoch FROM now() - xact_start)::numeric, 1) AS transaction_s,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query
FROM pg_catalog.pg_stat_activity
WHERE state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
ORDER BY query_start NULLS LAST
LIMIT %s
"""
_TABLES = """
SELECT schemaname AS schema, relname AS table, n_live_tup AS live_rows, n_dead_tup AS dead_rows,
       round(n_dead_tup::numeric / greatest(n_live_tup + n_dead_tup, 1), 3) AS dead_ratio,
       greatest(last_vacuum, last_autovacuum) AS last_vacuum,
       greatest(last_analyze, last_autoanalyze) AS last_analyze,
       pg_catalog.pg_total_relation_size(relid) AS total_bytes
FROM pg_catalog.pg_stat_user_tables
WHERE %s::text IS NULL OR schemaname = %s::text
ORDER BY n_live_tup + n_dead_tup DESC
LIMIT %s
"""
_LOCKS = """
SELECT l.pid, l.relation::regclass::text AS relation, l.mode, l.granted,
       a.state, round(extract(epoch FROM now() - a.query_start)::numeric, 1) AS running_s,
       left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120) AS query
FROM pg_catalog.pg_locks l
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid() AND l.database = (
    SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
ORDER BY l.granted, a.query_start NULLS LAST
LIMIT %s
"""
_TOP_IO = """
SELECT queryid::text, calls, shared_blks_read, shared_blks_hit, temp_blks_read, temp_blks_written,
       round(total_exec_time::numeric, 1) AS total_exec_ms,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query
FROM pg_stat_statements
ORDER BY shared_blks_read + temp_blks_read + temp_blks_written DESC
LIMIT %s
"""
_CHECKPOINTS_OLD = """
SELECT checkpoints_timed AS timed, checkpoints_req AS requested,
       checkpoint_write_time AS write_ms, checkpoint_sync_time AS sync_ms,
       buffers_checkpoint, buffers_clean, maxwritten_clean, buffers_backend, buffers_alloc,
       stats_reset
FROM pg_catalog.pg_stat_bgwriter
"""
_CHECKPOINTS_17 = """
SELECT c.num_timed AS timed, c.num_requested AS requested, c.write_time AS write_ms,
       c.sync_time AS sync_ms, c.buffers_written AS buffers_checkpoint, b.buffers_clean,
       b.maxwritten_clean, b.buffers_alloc, c.stats_reset
FROM pg_catalog.pg_stat_checkpointer c, pg_catalog.pg_stat_bgwriter b
"""
_REPLICAS = """
SELECT application_name, client_addr::text, state, sync_state,
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn) AS replay_lag_bytes,
       extract(epoch FROM replay_lag) AS replay_lag_s
FROM pg_catalog.pg_stat_replication
"""
_REPLICA_SELF = """
SELECT extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp()) AS replay_delay_s,
       pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(),
                                  pg_catalog.pg_last_wal_replay_lsn()) AS unreplayed_bytes
"""


class PostgresProbe:
    def __init__(self, url: str) -> None:
        self._url = url

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with (
            psycopg.connect(
                self._url,
                connect_timeout=10,
                prepare_threshold=None,
                application_name="rivet-mcp",
                row_factory=dict_row,
            ) as conn,
            conn.transaction(),
        ):
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(f"SET LOCAL statement_timeout = '{TIMEOUT}'")
            return conn.execute(sql, params).fetchall()

    def active_sessions(self, limit: int) -> Result:
        rows = self._query(_ACTIVE, (limit,))
        waiting = sum(1 for r in rows if r["wait_event_type"] not in (None, "Activity"))
        longest = max((r["running_s"] or 0 for r in rows), default=0)
        return rows_result(
            rows, f"{len(rows)} non-idle session(s), {waiting} waiting, longest {longest}s"
        )

    def checkpoint_pressure(self) -> Result:
        version = int(self._query("SHOW server_version_num")[0]["server_version_num"])
        row = self._query(_CHECKPOINTS_17 if version >= 170000 else _CHECKPOINTS_OLD)[0]
        total = (row["timed"] or 0) + (row["requested"] or 0)
        share = (row["requested"] or 0) / total if total else 0.0
        verdict = "high" if share > 0.2 else "normal"
        return {
            "summary": f"{total} checkpoints since {row['stats_reset']}, {share:.0%} requested "
            f"(forced by WAL volume): pressure {verdict}",
            "requested_share": round(share, 3),
            "pressure": verdict,
            "counters": row,
        }

    def table_stats(self, schema: str | None, limit: int) -> Result:
        rows = self._query(_TABLES, (schema, schema, limit))
        bloated = [r["table"] for r in rows if r["dead_ratio"] and r["dead_ratio"] > 0.2]
        return rows_result(
            rows,
            f"{len(rows)} table(s)"
            + (f"; dead rows above 20% in {', '.join(bloated)}" if bloated else ""),
        )

    def locks(self, limit: int) -> Result:
        rows = self._query(_LOCKS, (limit,))
        waiting = [r for r in rows if not r["granted"]]
        return rows_result(rows, f"{len(rows)} relation lock(s), {len(waiting)} waiting")

    def top_queries_by_io(self, limit: int) -> Result:
        installed = self._query(
            "SELECT count(*) AS n FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements'"
        )[0]["n"]
        if not installed:
            return {
                "summary": "pg_stat_statements is not installed in this database",
                "available": False,
                "hint": "add pg_stat_statements to shared_preload_libraries, restart, then "
                "CREATE EXTENSION pg_stat_statements",
                "rows": [],
            }
        rows = self._query(_TOP_IO, (limit,))
        return {
            **rows_result(rows, f"top {len(rows)} statement(s) by blocks read"),
            "available": True,
        }

    def replication_lag(self) -> Result:
        if self._query("SELECT pg_catalog.pg_is_in_recovery() AS r")[0]["r"]:
            row = self._query(_REPLICA_SELF)[0]
            return {
                "summary": f"replica: last replayed transaction {row['replay_delay_s']}s ago, "
                f"{row['unreplayed_bytes']} bytes received but not replayed",
                "role": "replica",
                **row,
            }
        rows = self._query(_REPLICAS)
        worst = max((r["replay_lag_bytes"] or 0 for r in rows), default=0)
        return {
            **rows_result(rows, f"primary with {len(rows)} replica(s); worst lag {worst} bytes"),
            "role": "primary",
        }
