"""Pressure signals of each engine, for tuning.adaptive (read on a connection of their own).

PostgreSQL: `checkpoints_req` (checkpoints forced by WAL volume or requested, cumulative; read
from pg_stat_checkpointer.num_requested on PostgreSQL 17 and newer, pg_stat_bgwriter before) and the
replication lag in seconds (the largest replay lag of the replicas on a primary; the replay delay
on a replica). MySQL/MariaDB: `Innodb_log_waits` (writes that waited for the redo log buffer,
cumulative) and the replica's `Seconds_Behind_Master` when the server is a replica.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pymysql

from rivet.config.connection import pymysql_arguments

# PostgreSQL 17 moved the checkpoint counters from pg_stat_bgwriter to pg_stat_checkpointer.
_PG_CHECKPOINTS = {
    True: "SELECT num_requested FROM pg_catalog.pg_stat_checkpointer",
    False: "SELECT checkpoints_req FROM pg_catalog.pg_stat_bgwriter",
}
_PG_SQL = """
SELECT ({checkpoints}),
       CASE WHEN pg_catalog.pg_is_in_recovery()
            THEN extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp())
            ELSE (SELECT max(extract(epoch FROM replay_lag)) FROM pg_catalog.pg_stat_replication)
       END
"""


class PgLoad:
    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(
            url, autocommit=True, connect_timeout=10, application_name="rivet-pacing"
        )
        checkpointer = self._conn.info.server_version >= 170000
        self._sql = _PG_SQL.format(checkpoints=_PG_CHECKPOINTS[checkpointer])

    def sample(self) -> dict[str, float]:
        row = self._conn.execute(self._sql).fetchone()
        assert row is not None
        return {"checkpoints_req": float(row[0] or 0), "replication_lag_s": float(row[1] or 0)}

    def close(self) -> None:
        self._conn.close()


class MyLoad:
    def __init__(self, url: str) -> None:
        self._conn: Any = pymysql.connect(**pymysql_arguments(url), autocommit=True)

    def sample(self) -> dict[str, float]:
        with self._conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_log_waits'")
            waits = cur.fetchone()
            cur.execute("SHOW SLAVE STATUS")  # MariaDB and MySQL 5.7+ both accept it
            replica = cur.fetchone()
            columns = [d[0] for d in cur.description or ()]
        lag = (
            dict(zip(columns, replica, strict=True)).get("Seconds_Behind_Master") if replica else 0
        )
        return {
            "innodb_log_waits": float(waits[1] if waits else 0),
            "replication_lag_s": float(lag or 0),
        }

    def close(self) -> None:
        self._conn.close()
