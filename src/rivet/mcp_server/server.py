"""`rivet-mcp`: a read-only MCP server (stdio) answering "is this database healthy enough to
extract from now?".

Every tool runs a fixed query (no tool takes SQL) in a read-only transaction or session with a
5 s statement limit, on a connection opened for the call. Results are compact JSON with a
one-line `summary`; connection URLs and passwords never appear in them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from rivet.core.errors import RivetError
from rivet.core.redact import redact
from rivet.mcp_server.export_status import export_status
from rivet.mcp_server.mysql import MySQLProbe
from rivet.mcp_server.pgbouncer import PgbouncerProbe
from rivet.mcp_server.postgres import PostgresProbe
from rivet.mcp_server.results import Result, jsonable

Limit = Annotated[int, Field(ge=1, le=200, description="Maximum number of rows to return.")]
Schema = Annotated[str | None, Field(description="Only tables of this schema (database on MySQL).")]
INSTRUCTIONS = (
    "Read-only health checks for databases rivet extracts from. Before a large export, look at "
    "active sessions, locks, checkpoint pressure or replication lag (PostgreSQL), the process "
    "list and key metrics (MySQL), pooler saturation (pgbouncer); rivet_export_status shows "
    "what rivet itself has run."
)


def _call(what: str, probe: Callable[[], Result]) -> Result:
    """Run a probe; any failure becomes a short, redacted tool error."""
    try:
        return jsonable(probe())  # type: ignore[no-any-return]
    except RivetError as exc:
        raise ToolError(redact(str(exc))) from None
    except Exception as exc:
        raise ToolError(f"{what} failed: {redact(str(exc).strip())}") from None


def _not_configured(option: str, env: str) -> Callable[[], Result]:
    def refuse() -> Result:
        raise ToolError(f"not configured: start rivet-mcp with {option} (or set {env})")

    return refuse


def build_server(
    pg_url: str | None, mysql_url: str | None, pgbouncer_url: str | None
) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("rivet-mcp", instructions=INSTRUCTIONS)
    pg = PostgresProbe(pg_url) if pg_url else None
    my = MySQLProbe(mysql_url) if mysql_url else None
    bouncer = PgbouncerProbe(pgbouncer_url) if pgbouncer_url else None

    def on_pg(what: str, probe: Callable[[PostgresProbe], Result]) -> Result:
        if pg is None:
            return _call(what, _not_configured("--pg-url", "DATABASE_URL"))
        return _call(what, lambda: probe(pg))

    def on_mysql(what: str, probe: Callable[[MySQLProbe], Result]) -> Result:
        if my is None:
            return _call(what, _not_configured("--mysql-url", "RIVET_MCP_MYSQL_URL"))
        return _call(what, lambda: probe(my))

    def on_bouncer(what: str, probe: Callable[[PgbouncerProbe], Result]) -> Result:
        if bouncer is None:
            return _call(what, _not_configured("PGBOUNCER_ADMIN_URL", "PGBOUNCER_ADMIN_URL"))
        return _call(what, lambda: probe(bouncer))

    @server.tool()
    def pg_active_sessions(limit: Limit = 20) -> Result:
        """PostgreSQL sessions that are not idle: state, wait event, how long the query and the
        transaction have run, and the query's first 200 characters. Use it before an export to
        see whether the server is busy, and during one to spot long transactions or waits."""
        return on_pg("pg_active_sessions", lambda p: p.active_sessions(limit))

    @server.tool()
    def pg_checkpoint_pressure() -> Result:
        """PostgreSQL checkpointer and background writer counters, with the share of checkpoints
        forced by WAL volume. A high share means write pressure: prefer a gentler profile."""
        return on_pg("pg_checkpoint_pressure", lambda p: p.checkpoint_pressure())

    @server.tool()
    def pg_table_stats(schema: Schema = None, limit: Limit = 20) -> Result:
        """The largest PostgreSQL tables by rows: live and dead tuples, dead ratio, last
        vacuum/analyze, total size. Use it to size an export or spot bloat and stale stats."""
        return on_pg("pg_table_stats", lambda p: p.table_stats(schema, limit))

    @server.tool()
    def pg_locks(limit: Limit = 50) -> Result:
        """Relation locks in the current database, waiting ones first, with the holder's query.
        Use it when an export or a migration seems stuck."""
        return on_pg("pg_locks", lambda p: p.locks(limit))

    @server.tool()
    def pg_top_queries_by_io(limit: Limit = 10) -> Result:
        """The statements that read the most blocks (pg_stat_statements). Says so clearly when the
        extension is not installed."""
        return on_pg("pg_top_queries_by_io", lambda p: p.top_queries_by_io(limit))

    @server.tool()
    def pg_replication_lag() -> Result:
        """Replication lag: on a primary, each replica's replay lag in bytes and seconds; on a
        replica, how long ago the last transaction was replayed. Extract from a replica only
        when it is close to its primary."""
        return on_pg("pg_replication_lag", lambda p: p.replication_lag())

    @server.tool()
    def mysql_processlist(limit: Limit = 20) -> Result:
        """MySQL/MariaDB threads that are not sleeping: user, database, command, seconds running,
        state, query. Use it to see whether the server is busy or an export's query is stuck."""
        return on_mysql("mysql_processlist", lambda p: p.processlist(limit))

    @server.tool()
    def mysql_key_metrics() -> Result:
        """MySQL/MariaDB load indicators: Threads_running/connected against max_connections,
        Innodb_log_waits, row lock waits, buffer pool waits, slow queries. Rising log or lock
        waits mean an export should slow down."""
        return on_mysql("mysql_key_metrics", lambda p: p.key_metrics())

    @server.tool()
    def mysql_table_stats(schema: Schema = None, limit: Limit = 20) -> Result:
        """The largest MySQL/MariaDB tables (estimated rows, data, index and free bytes), to size
        an export."""
        return on_mysql("mysql_table_stats", lambda p: p.table_stats(schema, limit))

    @server.tool()
    def pgbouncer_pools() -> Result:
        """pgbouncer pools (SHOW POOLS): active, idle and waiting clients and servers per pool.
        Waiting clients mean the pool is saturated: lower an export's parallelism."""
        return on_bouncer("pgbouncer_pools", lambda p: p.pools())

    @server.tool()
    def pgbouncer_stats() -> Result:
        """pgbouncer traffic counters per database (SHOW STATS): transactions, queries, bytes,
        average wait."""
        return on_bouncer("pgbouncer_stats", lambda p: p.stats())

    @server.tool()
    def rivet_export_status(
        config_path: Annotated[str, Field(description="Path to the rivet.yaml to report on.")],
        limit: Limit = 20,
    ) -> Result:
        """What rivet has done for a config: recent runs (status, rows, duration, errors),
        unfinished chunk runs with their chunk counts, and incremental cursors."""
        return _call("rivet_export_status", lambda: export_status(config_path, limit))

    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="rivet-mcp",
        description="Read-only MCP server (stdio): database health checks for extraction.",
        epilog="Environment: DATABASE_URL (PostgreSQL, when --pg-url is not given), "
        "RIVET_MCP_MYSQL_URL, PGBOUNCER_ADMIN_URL (pgbouncer admin console), RIVET_STATE_URL.",
    )
    parser.add_argument("--pg-url", default=os.environ.get("DATABASE_URL"), help="PostgreSQL URL")
    parser.add_argument(
        "--mysql-url", default=os.environ.get("RIVET_MCP_MYSQL_URL"), help="MySQL/MariaDB URL"
    )
    args = parser.parse_args(argv)
    if not (args.pg_url or args.mysql_url or os.environ.get("PGBOUNCER_ADMIN_URL")):
        print(
            "rivet-mcp: no database to inspect: give --pg-url or --mysql-url (or set "
            "DATABASE_URL / RIVET_MCP_MYSQL_URL / PGBOUNCER_ADMIN_URL)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    build_server(args.pg_url, args.mysql_url, os.environ.get("PGBOUNCER_ADMIN_URL")).run("stdio")


if __name__ == "__main__":
    main()
