"""The databases the benchmark runs against: tables, tools and statement samplers per engine."""

from __future__ import annotations

import glob
import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import psycopg

SCHEMA = "rivet_bench"
S3_BUCKET = "rivet-bench"
ROWS = {"narrow": 5_000_000, "wide": 1_000_000}
ROOT = Path(__file__).resolve().parent.parent
Tool = Callable[[str, str, Path, Path, str], list[str]]

PG_CREATE = {
    "narrow": f"""
        CREATE TABLE {SCHEMA}.narrow AS
        SELECT g::int8 AS id, (g % 100000)::int4 AS i, (g * 7)::int8 AS b, g * 0.5::float8 AS f,
               timestamp '2020-01-01' + g * interval '1 second' AS ts
        FROM generate_series(1, {ROWS["narrow"]}) g;
        ALTER TABLE {SCHEMA}.narrow ADD PRIMARY KEY (id);""",
    "wide": f"""
        CREATE TABLE {SCHEMA}.wide AS
        SELECT g::int8 AS id,
               md5(g::text)::uuid AS u,
               CASE WHEN g % 10 = 0 THEN NULL ELSE 'name-' || md5(g::text) END::varchar(64) AS vc,
               repeat(md5(g::text), 16 + g % 16) AS body,
               CASE WHEN g % 10 = 1 THEN NULL ELSE jsonb_build_object('k', g, 'tags',
                    jsonb_build_array('a', md5(g::text)), 'nested', jsonb_build_object('x', g % 7))
               END AS doc,
               (g * 1.2345)::numeric(18,4) AS n1,
               CASE WHEN g % 10 = 2 THEN NULL ELSE (g * 12345.6789012345)::numeric(38,10) END AS n2,
               g % 2 = 0 AS flag,
               date '2000-01-01' + (g % 9000) AS d,
               timestamp '2020-01-01' + g * interval '1 second' AS ts,
               CASE WHEN g % 10 = 3 THEN NULL ELSE timestamptz '2020-01-01 00:00:00+00'
                    + g * interval '1 minute' END AS tstz,
               ARRAY[g % 10, g % 100, g % 1000]::int4[] AS arr,
               decode(md5(g::text), 'hex') AS bin,
               (g % 1000)::int4 AS i4,
               (g * 31)::int8 AS i8,
               g / 3.0::float8 AS f8,
               (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + g % 4] AS status,
               CASE WHEN g % 10 = 4 THEN NULL ELSE 'C' || (g % 99999)::text
                    END::varchar(16) AS code,
               (g % 30000)::int2 AS small,
               CASE WHEN g % 10 = 5 THEN NULL ELSE 'note ' || g END AS note
        FROM generate_series(1, {ROWS["wide"]}) g;
        ALTER TABLE {SCHEMA}.wide ADD PRIMARY KEY (id);""",
}

MYSQL_CREATE = {
    "narrow": f"""
        CREATE TABLE {SCHEMA}.narrow (id BIGINT PRIMARY KEY, i INT, b BIGINT, f DOUBLE,
                                      ts DATETIME(6)) ENGINE=InnoDB;
        INSERT INTO {SCHEMA}.narrow
        SELECT seq, seq % 100000, seq * 7, seq * 0.5,
               TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq SECOND
        FROM seq_1_to_{ROWS["narrow"]}""",
    "wide": f"""
        CREATE TABLE {SCHEMA}.wide (
          id BIGINT PRIMARY KEY, u CHAR(36), vc VARCHAR(64), body TEXT, doc JSON,
          n1 DECIMAL(18,4), n2 DECIMAL(38,10), flag TINYINT(1), d DATE, ts DATETIME(6),
          tstz TIMESTAMP(6) NULL, arr VARCHAR(64), bin VARBINARY(16), i4 INT, i8 BIGINT,
          f8 DOUBLE, status ENUM('new','paid','shipped','returned'), code VARCHAR(16),
          small SMALLINT, note TEXT) ENGINE=InnoDB CHARSET utf8mb4;
        INSERT INTO {SCHEMA}.wide
        SELECT seq, UUID(), IF(seq % 10 = 0, NULL, CONCAT('name-', MD5(seq))),
               REPEAT(MD5(seq), 16 + seq % 16),
               IF(seq % 10 = 1, NULL, JSON_OBJECT('k', seq, 'tags', JSON_ARRAY('a', MD5(seq)))),
               seq * 1.2345, IF(seq % 10 = 2, NULL, seq * 12345.6789012345), seq % 2,
               DATE '2000-01-01' + INTERVAL (seq % 9000) DAY,
               TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq SECOND,
               IF(seq % 10 = 3, NULL, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq MINUTE),
               CONCAT('[', seq % 10, ',', seq % 100, ']'), UNHEX(MD5(seq)), seq % 1000,
               seq * 31, seq / 3, 1 + seq % 4, IF(seq % 10 = 4, NULL, CONCAT('C', seq % 99999)),
               seq % 30000, IF(seq % 10 = 5, NULL, CONCAT('note ', seq))
        FROM seq_1_to_{ROWS["wide"]}""",
}


@dataclass(frozen=True)
class Seen:
    """What the server saw of a tool's run: its longest statement, and its oldest transaction
    (how long a snapshot was held open, which holds back vacuum / purge on the source)."""

    statement_s: float
    transaction_s: float | None  # None: the engine does not say reliably


class Sampler(Protocol):
    def start(self) -> None: ...

    def stop(self) -> Seen: ...


class _Poller:
    """The longest statement and transaction of the other clients, polled every 50 ms."""

    def __init__(self, poll: Callable[[], Seen], close: Callable[[], None]) -> None:
        self._poll, self._close = poll, close
        self._stop = threading.Event()
        self._seen = Seen(0.0, 0.0)
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> Seen:
        self._stop.set()
        self._thread.join()
        self._close()
        return self._seen

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            now = self._poll()
            transaction = None
            if now.transaction_s is not None:
                transaction = max(self._seen.transaction_s or 0.0, now.transaction_s)
            self._seen = Seen(max(self._seen.statement_s, now.statement_s), transaction)


def pg_sampler(url: str) -> Sampler:
    conn = psycopg.connect(url, autocommit=True)
    sql = ("SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)) "
           "FILTER (WHERE state = 'active'), 0), "
           "coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0) "
           "FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
           "AND backend_type = 'client backend'")  # fmt: skip

    def poll() -> Seen:
        row = conn.execute(sql).fetchone()
        return Seen(float(row[0]), float(row[1])) if row else Seen(0.0, 0.0)

    return _Poller(poll, conn.close)


def mysql_sampler(url: str) -> Sampler:
    """Statements only: MariaDB's INNODB_TRX gave `trx_started` values older than the process
    being measured (a 6.9 s transaction in a 2.9 s run), so transaction age is not reported."""
    conn = _mysql(url)
    sql = ("SELECT COALESCE(MAX(TIME_MS), 0) / 1000 FROM information_schema.PROCESSLIST "
           "WHERE COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID()")  # fmt: skip

    def poll() -> Seen:
        with conn.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
        return Seen(float(row[0]) if row else 0.0, None)

    return _Poller(poll, conn.close)


def pg_prepare(url: str, tables: list[str]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        for table in tables:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                  (f"{SCHEMA}.{table}",)).fetchone()  # fmt: skip
            if exists and exists[0]:
                count = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}").fetchone()
                if count and count[0] == ROWS[table]:
                    continue
            print(f"creating {SCHEMA}.{table} ({ROWS[table]:,} rows)...", flush=True)
            conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
            conn.execute(PG_CREATE[table])
            conn.execute(f"VACUUM ANALYZE {SCHEMA}.{table}")


def mysql_prepare(url: str, tables: list[str]) -> None:
    conn = _mysql(url, database=False)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
        cur.execute(f"USE {SCHEMA}")  # the seq_1_to_N sequence tables need a current database
        for table in tables:
            cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                        "AND TABLE_NAME = %s", (SCHEMA, table))  # fmt: skip
            if cur.fetchone()[0]:
                cur.execute(f"SELECT COUNT(*) FROM {SCHEMA}.{table}")
                if cur.fetchone()[0] == ROWS[table]:
                    continue
            print(f"creating {SCHEMA}.{table} in MariaDB ({ROWS[table]:,} rows)...", flush=True)
            cur.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
            for statement in MYSQL_CREATE[table].split(";"):
                cur.execute(statement)
            cur.execute(f"ANALYZE TABLE {SCHEMA}.{table}")
    conn.close()


def _mysql(url: str, database: bool = True) -> Any:
    import pymysql

    parts = urlsplit(url)
    return pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                           user=parts.username or "root", password=parts.password or "",
                           database=SCHEMA if database else None, autocommit=True)  # fmt: skip


def copy_binary(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    sql = f"COPY (SELECT * FROM {SCHEMA}.{table}) TO STDOUT (FORMAT binary)"
    return ["sh", "-c", f"psql '{url}' -c \"{sql}\" > /dev/null"]


def mariadb_quick(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    parts = urlsplit(url)
    return ["sh", "-c", f"mariadb --no-defaults -h {parts.hostname} -P {parts.port or 3306} "
            f"-u {parts.username} --quick --batch -e 'SELECT * FROM {SCHEMA}.{table}' "
            "> /dev/null"]  # fmt: skip


def rivet(
    url: str, table: str, out: Path, work: Path, profile: str, mode: str = "", to: str = ""
) -> list[str]:
    engine = "mysql" if url.startswith("mysql") else "postgres"
    config = work / f"rivet_{table}.yaml"
    destination = to or f"{{type: local, path: '{out}'}}"
    config.write_text(
        f"source: {{type: {engine}, url: '{url}', tuning: {{profile: {profile}}}}}\n"
        f"exports:\n  - name: {table}\n    table: {SCHEMA}.{table}\n    format: parquet\n"
        f"    compression: zstd\n    destination: {destination}\n{mode}"
    )
    binary = os.environ.get("BENCH_RIVET", str(ROOT / ".venv" / "bin" / "rivet"))
    return [binary, "run", "-c", str(config)]


def rivet_balanced(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """rivet on the default profile, `balanced`, whatever --profile says: its pacing (50 ms
    between statements, one connection, 16 MB pages) beside `fast`."""
    return rivet(url, table, out, work, "balanced")


def rivet_base(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """The rivet named by BENCH_BASE_RIVET (an older install), to measure what a change costs."""
    command = rivet(url, table, out, work, profile)
    return [os.environ["BENCH_BASE_RIVET"], *command[1:]]


def rivet_checked(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """rivet with quality gates (row counts, NULL ratios of two columns, uniqueness of the key)
    and on_schema_drift: fail, on top of the checksums and shape tracking every run does."""
    columns = {"narrow": ("i", "ts"), "wide": ("vc", "note")}[table]
    mode = (
        "    on_schema_drift: fail\n"
        "    quality: {row_count_min: 1, row_count_max: 100000000, "
        f"null_ratio_max: {{{columns[0]}: 0.5, {columns[1]}: 0.5}}, unique_columns: [id]}}\n"
    )
    return rivet(url, table, out, work, profile, mode)


def rivet_row_hash(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """rivet with meta_columns: the run's timestamp and the canonical row hash."""
    mode = "    meta_columns: {exported_at: true, row_hash: true}\n"
    return rivet(url, table, out, work, profile, mode)


def rivet_s3(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """rivet to the S3 endpoint `bench.py --s3` starts (moto's server on loopback)."""
    endpoint = os.environ["BENCH_S3_ENDPOINT"]
    to = (f"{{type: s3, bucket: {S3_BUCKET}, prefix: '{table}/', endpoint: '{endpoint}', "
          "region: us-east-1}")  # fmt: skip
    return rivet(url, table, out, work, profile, to=to)


def rivet_hive(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """rivet writing Hive partition folders: wide by `i4` (1,000 values, spread over every
    batch: the worst case for open parts), narrow by the day of `ts` (58 days, in order)."""
    by = {"narrow": "{column: ts, granularity: day}", "wide": "i4"}[table]
    return rivet(url, table, out, work, profile, f"    partition_by: {by}\n")


def rivet_iceberg(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """rivet publishing the run as an Iceberg table commit (a SQLite catalog in `out`, so
    each run creates the table afresh)."""
    mode = (f"    table_format: iceberg\n"
            f"    iceberg: {{catalog_uri: 'sqlite:///{out}/.catalog.db'}}\n")  # fmt: skip
    return rivet(url, table, out, work, profile, mode)


def rivet_chunked(parallel: int, snapshot: str = "shared") -> Tool:
    """rivet in chunked mode: 10 chunks of the primary key, `parallel` workers, one snapshot
    for all chunks (`shared`) or a transaction per chunk (`per_chunk`)."""

    def tool(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
        size = 500_000 if table == "narrow" else 100_000
        mode = f"    mode: chunked\n    chunk_size: {size}\n    parallel: {parallel}\n"
        if snapshot != "shared":
            mode += f"    chunk_snapshot: {snapshot}\n"
        return rivet(url, table, out, work, profile, mode)

    return tool


def connectorx_once(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    """ConnectorX's one read, written with zstd level 3 like rivet and DuckDB (pyarrow's own
    default is level 1, less work)."""
    script = (
        "import connectorx as cx, pyarrow.parquet as pq; "
        f"t = cx.read_sql('{url}', 'SELECT * FROM {SCHEMA}.{table}', return_type='arrow'); "
        f"pq.write_table(t, '{out}/{table}.parquet', compression='zstd', compression_level=3)"
    )
    return [sys.executable, "-c", script]


def duckdb(url: str, table: str, out: Path, work: Path, profile: str) -> list[str]:
    if url.startswith("mysql"):
        import duckdb_extension_mysql_scanner as package

        name, kind, prefix = "mysql_scanner", "mysql", ""
        parts = urlsplit(url)
        attach = (f"host={parts.hostname} port={parts.port or 3306} user={parts.username} "
                  f"database={SCHEMA}")  # fmt: skip
    else:
        import duckdb_extension_postgres as package

        name, kind, prefix, attach = "postgres", "postgres", f"{SCHEMA}.", url
    found = glob.glob(f"{os.path.dirname(package.__file__)}/extensions/*/{name}.duckdb_extension")
    extension = work / f"{kind}_scanner.duckdb_extension"  # the name must match its entry point
    shutil.copy(found[0], extension)
    script = (
        "import duckdb; c = duckdb.connect(); "
        f"c.execute(\"LOAD '{extension}'\"); "
        f"c.execute(\"ATTACH '{attach}' AS src (TYPE {kind}, READ_ONLY)\"); "
        f"c.execute(\"COPY (SELECT * FROM src.{prefix}{table}) TO '{out}/{table}.parquet' "
        '(FORMAT parquet, COMPRESSION zstd)")'
    )
    return [sys.executable, "-c", script]


@dataclass(frozen=True)
class Engine:
    url: str
    prepare: Callable[[str, list[str]], None]
    tools: dict[str, Tool]
    sampler: Callable[[str], Sampler]


ENGINES = {
    "postgres": Engine(
        os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        pg_prepare,
        {"copy": copy_binary, "rivet": rivet, "balanced": rivet_balanced, "duckdb": duckdb,
         "chunked1": rivet_chunked(1), "chunked4": rivet_chunked(4),
         "perchunk4": rivet_chunked(4, "per_chunk"), "s3": rivet_s3,
         "base": rivet_base, "checked": rivet_checked, "rowhash": rivet_row_hash,
         "hive": rivet_hive, "iceberg": rivet_iceberg},
        pg_sampler,
    ),
    "mysql": Engine(
        os.environ.get("BENCH_MYSQL_URL", f"mysql://root@127.0.0.1:3306/{SCHEMA}"),
        mysql_prepare,
        {"quick": mariadb_quick, "rivet": rivet, "balanced": rivet_balanced,
         "connectorx": connectorx_once, "duckdb": duckdb,
         "chunked1": rivet_chunked(1), "chunked4": rivet_chunked(4)},
        mysql_sampler,
    ),
}  # fmt: skip
