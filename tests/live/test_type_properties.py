"""Type conversions, generated (issue 19, item 2): random values of the supported types (NULLs,
extremes, sub-second times, any unicode) are written to a real table on each engine, exported,
and read back: Parquet gives back exactly the values written; CSV passes rivet's own read-back
check (`validate`: row count and column checksums). A shrunk counterexample is a bug report."""

from __future__ import annotations

import datetime
import decimal
import itertools
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rivet as api
from rivet.config.models import RivetConfig
from tests.live.conftest import PG_URL, My, Pg

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ROWS = st.integers(1, 8)
UTC = datetime.UTC


def _nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


_DECIMAL = st.decimals(min_value=-(10**13) + 1, max_value=10**13 - 1, places=6)
_MICROS = st.datetimes(datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59))

PG_COLUMNS: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "i2": ("int2", st.integers(-(2**15), 2**15 - 1)),
    "i4": ("int4", st.integers(-(2**31), 2**31 - 1)),
    "i8": ("int8", st.integers(-(2**63), 2**63 - 1)),
    "n": ("numeric(19,6)", _DECIMAL),
    "f": ("float8", st.floats(allow_nan=False)),
    "t": ("text", st.text(st.characters(exclude_characters="\x00", codec="utf-8"))),
    "b": ("bool", st.booleans()),
    "d": ("date", st.dates()),
    "ts": ("timestamp", _MICROS),
    "tz": ("timestamptz", _MICROS.map(lambda v: v.replace(tzinfo=UTC))),
    "by": ("bytea", st.binary()),
}
MY_COLUMNS: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "i1": ("TINYINT", st.integers(-128, 127)),
    "u2": ("SMALLINT UNSIGNED", st.integers(0, 2**16 - 1)),
    "i4": ("INT", st.integers(-(2**31), 2**31 - 1)),
    "u8": ("BIGINT UNSIGNED", st.integers(0, 2**64 - 1)),
    "n": ("DECIMAL(19,6)", _DECIMAL),
    "f": ("DOUBLE", st.floats(allow_nan=False, allow_infinity=False)),
    "t": ("TEXT", st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)))),
    "b": ("BOOL", st.booleans()),
    "d": ("DATE", st.dates(datetime.date(1000, 1, 1))),
    "ts": ("DATETIME(6)", st.datetimes(datetime.datetime(1000, 1, 1))),
    "tz": (
        "TIMESTAMP(6) NULL",
        st.datetimes(datetime.datetime(1970, 1, 2), datetime.datetime(2038, 1, 18)).map(
            lambda v: v.replace(tzinfo=UTC)
        ),
    ),
    "bl": ("BLOB", st.binary()),
}


def _rows(columns: dict[str, tuple[str, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    row = st.tuples(*(_nullable(strategy) for _, strategy in columns.values()))
    return st.lists(row, min_size=1, max_size=8)


def _same(written: Any, read: Any) -> bool:
    if isinstance(written, float) and math.isinf(written):
        return read == written
    if isinstance(written, decimal.Decimal):
        return read is not None and decimal.Decimal(read) == written
    return bool(read == written)


def _export(url: str, engine: str, table: str, folder: Path) -> tuple[list[dict[str, Any]], str]:
    config = RivetConfig.model_validate(
        {
            "source": {"type": engine, "url": url},
            "exports": [
                {"name": f"e_{kind}", "table": table, "format": kind,
                 "destination": {"type": "local", "path": str(folder / kind)}}
                for kind in ("parquet", "csv")
            ],
        }
    )  # fmt: skip
    result = api.run(config, quiet=True, validate=True)
    problems = [f"{r.export_name}: {r.error}" for r in result.results if r.status != "success"]
    (part,) = (folder / "parquet").glob("*.parquet")
    return pq.read_table(part).to_pylist(), "; ".join(problems)


def _check(
    columns: dict[str, tuple[str, st.SearchStrategy[Any]]],
    rows: list[tuple[Any, ...]],
    insert: Callable[[str, list[tuple[Any, ...]]], None],
    export: Callable[[Path], tuple[list[dict[str, Any]], str]],
) -> None:
    insert(", ".join(["id INT PRIMARY KEY", *(f"{n} {t}" for n, (t, _) in columns.items())]),
           [(i, *row) for i, row in enumerate(rows)])  # fmt: skip
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        read, problems = export(Path(folder))
    assert problems == ""
    assert len(read) == len(rows)
    for got in sorted(read, key=lambda r: r["id"]):
        written = rows[got["id"]]
        for name, value in zip(columns, written, strict=True):
            assert _same(value, got[name]), (name, value, got[name])


counter = itertools.count()


@SETTINGS
@given(rows=_rows(PG_COLUMNS))
def test_postgres_values_come_back_exactly(pg: Pg, rows: list[tuple[Any, ...]]) -> None:
    table = f"t{next(counter)}"

    def insert(ddl: str, values: list[tuple[Any, ...]]) -> None:
        pg.execute(f"CREATE TABLE {table} ({ddl})")
        marks = ", ".join(["%s"] * len(values[0]))
        with pg.conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} VALUES ({marks})", values)

    _check(PG_COLUMNS, rows, insert,
           lambda folder: _export(PG_URL, "postgres", f"{pg.schema}.{table}", folder))  # fmt: skip


@SETTINGS
@given(rows=_rows(MY_COLUMNS))
def test_mysql_values_come_back_exactly(my: My, rows: list[tuple[Any, ...]]) -> None:
    table = f"t{next(counter)}"

    def insert(ddl: str, values: list[tuple[Any, ...]]) -> None:
        my.execute(f"CREATE TABLE {table} ({ddl}) CHARACTER SET utf8mb4")
        marks = ", ".join(["%s"] * len(values[0]))
        with my.conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")  # TIMESTAMP values are given in UTC
            cur.executemany(f"INSERT INTO {table} VALUES ({marks})", values)

    _check(MY_COLUMNS, rows, insert,
           lambda folder: _export(my.url, "mysql", f"{my.database}.{table}", folder))  # fmt: skip


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_the_property_tests_cover_every_type_family(engine: str) -> None:
    """A new column here is a new family covered; this keeps the list from silently shrinking."""
    columns = PG_COLUMNS if engine == "postgres" else MY_COLUMNS
    assert len(columns) >= 11
