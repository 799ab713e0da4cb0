"""rivet-mcp as a subprocess, driven over stdio by the MCP SDK's own client, against the real
PostgreSQL, MariaDB and a pgbouncer fixture."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from mcp import Client, StdioServerParameters

from tests.live.conftest import MY_URL, PG_URL, My, Pg, rivet, write_config

TOOLS = {
    "pg_active_sessions", "pg_checkpoint_pressure", "pg_table_stats", "pg_locks",
    "pg_top_queries_by_io", "pg_replication_lag", "mysql_processlist", "mysql_key_metrics",
    "mysql_table_stats", "pgbouncer_pools", "pgbouncer_stats", "rivet_export_status",
}  # fmt: skip


def _session(pgbouncer_port: int | None = None, mysql: bool = True) -> StdioServerParameters:
    args = ["-m", "rivet.mcp_server", "--pg-url", PG_URL]
    if mysql:
        args += ["--mysql-url", MY_URL]
    # the client passes the server only the variables named here: coverage's, to measure it
    env = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE")}
    if pgbouncer_port is not None:
        env["PGBOUNCER_ADMIN_URL"] = f"postgresql://postgres@127.0.0.1:{pgbouncer_port}/pgbouncer"
    return StdioServerParameters(command=sys.executable, args=args, env=env)


def _calls(params: StdioServerParameters, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Open one client session and make the calls in order; returns each CallToolResult."""

    async def run() -> list[Any]:
        async with Client(params) as client:
            results: list[Any] = [await client.list_tools()]
            for name, arguments in calls:
                results.append(await client.call_tool(name, arguments))
            return results

    return asyncio.run(run())


def _json(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    payload = result.structured_content
    if payload is None:
        payload = json.loads(result.content[0].text)
    assert isinstance(payload["summary"], str) and payload["summary"]
    return dict(payload)


def _probes_running() -> bool:
    """Both servers show a `rivet-mcp-probe` statement running."""
    import pymysql

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        on_pg = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE '%rivet-mcp-probe%' AND pid <> pg_backend_pid()"
        ).fetchone()
    my = pymysql.connect(host="127.0.0.1", user="root", password="")
    try:
        with my.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM information_schema.processlist WHERE info LIKE "
                "'%rivet-mcp-probe%' AND info NOT LIKE '%processlist%'"
            )
            on_my = cur.fetchone()
    finally:
        my.close()
    return bool(on_pg and on_pg[0] and on_my and on_my[0])


def _while_running(
    start: Callable[[threading.Event], None], check: Callable[[], list[Any]]
) -> list[Any]:
    """Run `check` while `start` keeps its queries running (until it is told to stop)."""
    stop = threading.Event()
    worker = threading.Thread(target=start, args=(stop,))
    worker.start()
    deadline = time.monotonic() + 30
    while not _probes_running():  # observed, not slept on
        assert time.monotonic() < deadline, "the probe queries never showed up as running"
    try:
        return check()
    finally:
        stop.set()
        worker.join()


def test_every_tool_answers_and_a_long_query_shows_up(
    tmp_path: Path, pg: Pg, my: My, pgbouncer: int
) -> None:
    pg.execute("CREATE TABLE visible (id int)")
    pg.execute("INSERT INTO visible SELECT generate_series(1, 100)")
    pg.execute("ANALYZE visible")
    my.execute("CREATE TABLE visible_my (id INT PRIMARY KEY)")
    config = write_config(
        tmp_path,
        [{"name": "v", "table": f"{pg.schema}.visible", "format": "csv",
          "destination": {"type": "local", "path": str(tmp_path / "out")}}],
    )  # fmt: skip
    assert rivet("run", "-c", str(config)).returncode == 0

    # short sleeps back to back until the checks are done, however long the server takes to start
    def pg_sleeper(stop: threading.Event) -> None:
        with psycopg.connect(PG_URL, application_name="rivet-test-sleeper") as conn:
            while not stop.is_set():
                conn.execute("SELECT pg_sleep(0.5) /* rivet-mcp-probe */")

    def mysql_sleeper(stop: threading.Event) -> None:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root", password="")
        with conn.cursor() as cur:
            while not stop.is_set():
                cur.execute("SELECT SLEEP(0.5) /* rivet-mcp-probe */")
        conn.close()

    def both(stop: threading.Event) -> None:
        threads = [threading.Thread(target=f, args=(stop,)) for f in (pg_sleeper, mysql_sleeper)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    calls: list[tuple[str, dict[str, Any]]] = [
        ("pg_active_sessions", {}),
        ("mysql_processlist", {}),
        ("pg_checkpoint_pressure", {}),
        ("pg_table_stats", {"schema": pg.schema}),
        ("pg_locks", {}),
        ("pg_top_queries_by_io", {}),
        ("pg_replication_lag", {}),
        ("mysql_key_metrics", {}),
        ("mysql_table_stats", {"schema": my.database}),
        ("pgbouncer_pools", {}),
        ("pgbouncer_stats", {}),
        ("rivet_export_status", {"config_path": str(config)}),
    ]
    listed, *results = _while_running(both, lambda: _calls(_session(pgbouncer), calls))
    assert {t.name for t in listed.tools} == TOOLS
    assert all(t.description and t.input_schema for t in listed.tools)
    out = {name: _json(r) for (name, _), r in zip(calls, results, strict=True)}

    pg_queries = [r["query"] for r in out["pg_active_sessions"]["rows"]]
    assert any("rivet-mcp-probe" in q for q in pg_queries)
    my_queries = [r["query"] or "" for r in out["mysql_processlist"]["rows"]]
    assert any("rivet-mcp-probe" in q for q in my_queries)
    assert out["pg_checkpoint_pressure"]["pressure"] in ("normal", "high")
    assert [r["table"] for r in out["pg_table_stats"]["rows"]] == ["visible"]
    assert out["pg_table_stats"]["rows"][0]["live_rows"] == 100
    assert isinstance(out["pg_locks"]["rows"], list)
    top = out["pg_top_queries_by_io"]
    assert top["available"] is False and "pg_stat_statements" in top["summary"]
    assert out["pg_replication_lag"]["role"] == "primary"
    metrics = out["mysql_key_metrics"]["metrics"]
    assert metrics["Threads_running"] >= 1 and "Innodb_log_waits" in metrics
    assert [r["table"] for r in out["mysql_table_stats"]["rows"]] == ["visible_my"]
    pools = out["pgbouncer_pools"]["rows"]
    assert any(p["database"] == "pgbouncer" for p in pools)
    assert isinstance(out["pgbouncer_stats"]["rows"], list)
    status = out["rivet_export_status"]
    assert [(r["export_name"], r["status"], r["rows"]) for r in status["runs"]] == [
        ("v", "success", 100)
    ]


def test_unconfigured_tools_and_bad_urls_are_clear_errors_without_secrets() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rivet.mcp_server", "--pg-url", "postgresql://u:s3cret@127.0.0.1:1/x"],
    )
    _, mysql, pg = _calls(params, [("mysql_key_metrics", {}), ("pg_locks", {})])
    assert mysql.is_error and "--mysql-url" in mysql.content[0].text
    assert pg.is_error and "pg_locks failed" in pg.content[0].text
    assert "s3cret" not in pg.content[0].text


def test_no_database_at_all_exits_with_a_message() -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "rivet.mcp_server"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 2 and "--pg-url" in proc.stderr
