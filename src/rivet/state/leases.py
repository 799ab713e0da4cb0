"""Leases: how the workers of a sealed plan (`rivet apply PLAN --worker`) share its chunks.

Each worker holds one PostgreSQL session of its own (application_name rivet-worker) and, on it,
one session advisory lock whose key identifies the worker. Claiming a chunk writes that key into
the task (`lease_key`, with `lease_owner` host:pid and `leased_at`). A task is claimable when it
is `pending`, or `running` under a key whose lock nobody holds any more: its worker died (the
server ends a dead process's session at once, and a vanished host's within about a minute, by
the TCP keepalives this session sets). So leases end with their worker, without heartbeats, and
the state database sees a few statements per chunk, never per batch.

A worker whose session is lost (the state database restarted or became unreachable) loses its
leases: it stops, and the statements that record a chunk refuse to record one it no longer
holds. Session advisory locks need one server session per client session: behind a
transaction-mode pooler (pgbouncer pool_mode=transaction) they would be taken on one server
connection and checked on another, so such a state database is refused.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rivet.core.errors import LeaseLost
from rivet.core.redact import redact
from rivet.state.chunk_runs import TASK_COLUMNS, ChunkRuns, ChunkTask, task_from_row
from rivet.state.errors import StateError

CHANNEL = "rivet_workers"  # NOTIFY: a chunk handed back or failed, a run published
WORKER_LOCKS = 0x72697677  # "rivw": the first key of every worker's advisory lock
SOURCE_LOCKS = 0x72697673  # "rivs": serialises claims on one source (its readers' budget)
# a host that vanishes loses its session (and leases) after about idle + interval * count
KEEPALIVES = {"keepalives_idle": 20, "keepalives_interval": 5, "keepalives_count": 4}
SERVER_KEEPALIVES = (
    "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 4"
)
# the keys of the workers alive now: the advisory locks of this database's sessions
_LIVE = (
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
    f"AND classid = {WORKER_LOCKS} AND objsubid = 2 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@dataclass(frozen=True)
class Claim:
    task: ChunkTask
    reclaimed_from: str | None  # the dead worker that held it before, if any


@dataclass(frozen=True)
class RunProgress:
    """Where a shared run stands, as the workers see it."""

    pending: int
    running: int  # held by live workers
    orphaned: int  # `running` under a worker that is gone: claimable
    completed: int
    failed: list[tuple[int, str]]  # (chunk, error)
    status: str  # the run's: in_progress | completed
    publishing: bool  # a live worker is publishing it

    @property
    def all_completed(self) -> bool:
        return self.pending == self.running == self.orphaned == 0 and not self.failed


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Leases:
    """One worker's session: its lock, its claims, and the records only a lease holder writes."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.where = redact(url)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.statements = 0  # sent on this session: a few per chunk (logged at the end)
        try:
            self._db = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=10,
                prepare_threshold=None,
                application_name="rivet-worker",
                **KEEPALIVES,  # type: ignore[arg-type]
            )
        except psycopg.Error as exc:
            raise StateError(
                f"state store {self.where} cannot be opened: {redact(str(exc).strip())}",
                hint="check RIVET_STATE_URL: every worker needs the PostgreSQL state database",
            ) from None
        try:
            self._refuse_pooler()
            self._run(SERVER_KEEPALIVES)
            self._run(f"LISTEN {CHANNEL}")
            self.key = self._take_worker_lock()
        except BaseException:
            self._db.close()
            raise

    def _refuse_pooler(self) -> None:
        pid = self._run("SELECT pg_backend_pid()")[0][0]
        if pid != self._db.info.backend_pid:
            raise StateError(
                f"state store {self.where}: a transaction-mode connection pooler is in front of "
                "the state database (the server session changes between statements), and "
                "workers' leases are session locks",
                hint="point RIVET_STATE_URL at the server itself (or a session-mode pool)",
            )

    def _take_worker_lock(self) -> int:
        while True:
            key = secrets.randbelow(2**31 - 2) + 1
            if self._run("SELECT pg_try_advisory_lock(%s, %s)", (WORKER_LOCKS, key))[0][0]:
                return key

    def claim(
        self, run_id: str, source_key: str | None = None, max_readers: int | None = None
    ) -> Claim | None:
        """The next claimable chunk of the run, now leased to this worker; None when there is
        none, or when `max_readers` chunks of this source are being read by live workers."""
        with self._db.transaction():
            if max_readers is not None and source_key is not None:
                self._run("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                          (SOURCE_LOCKS, source_key))  # fmt: skip
                reading = self._run(
                    "SELECT count(*) FROM chunk_task t JOIN chunk_run r USING (run_id) "
                    "WHERE r.source_key = %s AND r.status = 'in_progress' "
                    f"AND t.status = 'running' AND t.lease_key IN ({_LIVE})",
                    (source_key,),
                )[0][0]
                if reading >= max_readers:
                    return None
            rows = self._run(
                f"WITH live AS ({_LIVE}), next AS (SELECT chunk_index AS idx, status AS was, "
                "lease_owner AS previous FROM chunk_task WHERE run_id = %(run)s AND "
                "(status = 'pending' OR (status = 'running' AND (lease_key IS NULL OR "
                "lease_key NOT IN (SELECT * FROM live)))) ORDER BY chunk_index LIMIT 1 "
                "FOR UPDATE SKIP LOCKED) "
                "UPDATE chunk_task t SET status = 'running', attempts = t.attempts + 1, "
                "lease_owner = %(owner)s, lease_key = %(key)s, leased_at = %(now)s, "
                "updated_at = %(now)s FROM next WHERE t.run_id = %(run)s "
                f"AND t.chunk_index = next.idx RETURNING {TASK_COLUMNS}, next.was, next.previous",
                {"run": run_id, "owner": self.owner, "key": self.key, "now": _now()},
            )
        if not rows:
            return None
        *columns, was, previous = rows[0]
        task = task_from_row(tuple(columns))
        return Claim(task, previous if was == "running" else None)

    def complete(self, run_id: str, index: int, rows: int, parts: list[dict[str, Any]]) -> None:
        self._held(
            "UPDATE chunk_task SET status = 'completed', rows_written = %s, parts_json = %s, "
            "last_error = NULL, updated_at = %s",
            (rows, json.dumps(parts), _now()),
            run_id,
            index,
        )

    def fail(self, run_id: str, index: int, error: str, *, retry: bool) -> None:
        self._held(
            "UPDATE chunk_task SET status = %s, last_error = %s, updated_at = %s",
            ("pending" if retry else "failed", error, _now()),
            run_id,
            index,
        )
        self.notify(run_id)

    def release(self, run_id: str, index: int, error: str) -> None:
        """A stopped worker's chunk goes back to the pool at once (not failed: another worker
        reads it)."""
        self._held(
            "UPDATE chunk_task SET status = 'pending', last_error = %s, updated_at = %s",
            (error, _now()),
            run_id,
            index,
        )
        self.notify(run_id)

    def notify(self, run_id: str) -> None:
        """Wake the workers waiting on runs: something they wait for happened in this one."""
        self._run("SELECT pg_notify(%s, %s)", (CHANNEL, run_id))

    def check(self) -> None:
        """Raise LeaseLost unless this worker's session, and so its leases, is still alive."""
        self._run("SELECT 1")

    def claim_publish(self, run_id: str) -> bool:
        """Become the run's publisher: every chunk is completed, and no live worker is
        publishing it (one that died while publishing is taken over)."""
        with self._db.transaction():
            changed = self._change(
                f"WITH live AS ({_LIVE}) UPDATE chunk_run SET publisher = %(owner)s, "
                "publisher_key = %(key)s, updated_at = %(now)s WHERE run_id = %(run)s "
                "AND status = 'in_progress' AND NOT EXISTS (SELECT 1 FROM chunk_task "
                "WHERE run_id = %(run)s AND status <> 'completed') AND (publisher_key IS NULL "
                "OR publisher_key = %(key)s OR publisher_key NOT IN (SELECT * FROM live))",
                {"run": run_id, "owner": self.owner, "key": self.key, "now": _now()},
            )
        return changed == 1

    def progress(self, run_id: str) -> RunProgress:
        rows = self._run(
            f"WITH live AS ({_LIVE}) SELECT t.status, t.lease_key IN (SELECT * FROM live), "
            "t.chunk_index, t.last_error, r.status, r.publisher_key IN (SELECT * FROM live) "
            "FROM chunk_run r LEFT JOIN chunk_task t USING (run_id) WHERE r.run_id = %s",
            (run_id,),
        )
        count = {"pending": 0, "running": 0, "orphaned": 0, "completed": 0}
        failed: list[tuple[int, str]] = []
        for status, alive, index, error, _, _ in rows:
            if status == "running":
                count["running" if alive else "orphaned"] += 1
            elif status == "failed":
                failed.append((index, error or ""))
            elif status in count:
                count[status] += 1
        run_status, publishing = (rows[0][4], bool(rows[0][5])) if rows else ("missing", False)
        return RunProgress(**count, failed=failed, status=run_status, publishing=publishing)

    def wait(self, seconds: float) -> None:
        """Until another worker notifies (a chunk handed back or failed, a run published), or
        `seconds` (a worker that died notifies nobody); the session is checked on the way."""
        import psycopg

        try:
            for _ in self._db.notifies(timeout=seconds, stop_after=1):
                pass
        except psycopg.OperationalError:
            pass  # reported by the check
        self.check()

    def close(self) -> None:
        self._db.close()

    # -- the session ------------------------------------------------------------------------

    def _held(self, assignment: str, values: Sequence[Any], run_id: str, index: int) -> None:
        """An update of a task this worker holds: refused (LeaseLost) when another worker took
        it over, because this worker's session was lost once."""
        changed = self._change(
            f"{assignment} WHERE run_id = %s AND chunk_index = %s AND lease_key = %s "
            "AND status = 'running'",
            (*values, run_id, index, self.key),
        )
        if changed != 1:
            raise LeaseLost(
                f"state store {self.where}: chunk {index} of run {run_id} is no longer leased "
                "to this worker (its session with the state database was lost, and another "
                "worker took the chunk over)",
                hint="nothing of this chunk is recorded from this worker; the other reads it",
            )

    def _run(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        cursor = self._execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    def _change(self, sql: str, params: Any = ()) -> int:
        count: int = self._execute(sql, params).rowcount
        return count

    def _execute(self, sql: str, params: Any) -> Any:
        import psycopg

        self.statements += 1
        try:
            return self._db.execute(sql, params or None)
        except psycopg.OperationalError as exc:
            raise LeaseLost(
                f"state store {self.where}: this worker's session was lost, and with it its "
                f"leases: {redact(' '.join(str(exc).split()))}",
                hint="the worker stops; its chunks are read again by the workers still running "
                "(or the next one started) once the state database is reachable",
            ) from None
        except psycopg.Error as exc:
            raise StateError(
                f"state store {self.where}: {redact(' '.join(str(exc).split()))}"
            ) from None


class LeasedChunks:
    """One shared run's ledger as a worker uses it: what pipeline.chunked asks of ChunkRuns
    (claim, complete, fail, release, tasks), with every claim and record under a lease."""

    def __init__(
        self,
        leases: Leases,
        runs: ChunkRuns,
        max_attempts: int,
        source_key: str | None = None,
        max_readers: int | None = None,
    ) -> None:
        self.leases, self._runs = leases, runs
        self._max_attempts = max_attempts
        self._source_key, self._max_readers = source_key, max_readers
        self.reclaimed: list[str] = []  # what this worker took over from dead ones

    def claim(self, run_id: str) -> ChunkTask | None:
        claim = self.leases.claim(run_id, self._source_key, self._max_readers)
        if claim is None:
            return None
        task = claim.task
        if claim.reclaimed_from is not None:
            note = (
                f"chunk {task.chunk.index}: its worker {claim.reclaimed_from} is gone; "
                f"read again by {self.leases.owner} (attempt {task.attempts})"
            )
            self.reclaimed.append(note)
            if task.attempts > self._max_attempts:
                error = (
                    f"its workers stopped or died during each of its {task.attempts - 1} "
                    f"attempts (chunk_max_attempts: {self._max_attempts})"
                )
                self.leases.fail(run_id, task.chunk.index, error, retry=False)
                raise StateError(
                    f"chunk {task.chunk.index} of run {run_id}: {error}",
                    hint="find what kills the workers on this chunk (memory, the pod's "
                    "limits), then continue with `rivet apply PLAN --worker --resume`",
                )
        return task

    def complete(self, run_id: str, index: int, rows: int, parts: list[dict[str, Any]]) -> None:
        self.leases.complete(run_id, index, rows, parts)

    def fail(self, run_id: str, index: int, error: str, *, retry: bool) -> None:
        self.leases.fail(run_id, index, error, retry=retry)

    def release(self, run_id: str, index: int, error: str) -> None:
        self.leases.release(run_id, index, error)

    def tasks(self, run_id: str) -> list[ChunkTask]:
        return self._runs.tasks(run_id)
