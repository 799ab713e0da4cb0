"""Incremental sequences, generated: random batches of inserts and updates between runs, many of
them at the newest cursor value (ties, and rows that commit after a run with exactly its last
value), for table and query exports. After every run, each committed row version has been
exported exactly once (docs/modes.md: the boundary value is read again and rows already exported
are dropped by identity)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import psycopg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rivet as api
from tests.live.conftest import PG_URL, write_config

# Between two runs: a batch of changes, each an offset from the newest cursor value so far
# (0 = exactly the newest value: a late row at the boundary; 1 or 2 = newer) and whether it
# inserts a row or updates an existing one (its cursor moves to that value, its text changes).
CHANGES = st.lists(st.tuples(st.sampled_from([0, 0, 1, 2]), st.sampled_from(["insert", "update"])),
                   max_size=6)  # fmt: skip
BATCHES = st.lists(CHANGES, min_size=1, max_size=5)


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    name = f"rivet_p_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


counter = itertools.count()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=BATCHES, shape=st.sampled_from(["table", "query"]))
def test_every_committed_row_version_is_exported_exactly_once(
    tmp_path_factory: pytest.TempPathFactory,
    schema: str,
    batches: list[list[tuple[int, str]]],
    shape: str,
) -> None:
    """A version is a row as a run can see it: (id, cursor, text). Each version committed
    before a run is in exactly one part after it; none is exported twice."""
    folder = tmp_path_factory.mktemp("prop")
    table = f"{schema}.ev{next(counter)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, c int NOT NULL, v text)")
        target = {"table": table} if shape == "table" else {"query": f"SELECT * FROM {table}"}
        config = write_config(
            folder,
            [{"name": "e", **target, "mode": "incremental", "cursor_column": "c",
              "format": "parquet", "destination": {"type": "local", "path": str(folder / "out")}}],
            source={"type": "postgres", "url": PG_URL},
        )  # fmt: skip
        ids = itertools.count(1000, -7)  # ids that do not follow the cursor's order
        texts = itertools.count()
        newest, rows, expected = 0, dict[int, tuple[int, str]](), set[tuple[int, int, str]]()
        for batch in batches:
            for offset, change in batch:
                value, text = newest + offset, f"v{next(texts)}"
                if change == "update" and rows:
                    row_id = sorted(rows)[value % len(rows)]
                    conn.execute(f"UPDATE {table} SET c = %s, v = %s WHERE id = %s",
                                 (value, text, row_id))  # fmt: skip
                else:
                    row_id = next(ids)
                    conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", (row_id, value, text))
                rows[row_id] = (value, text)
                newest = max(newest, value)
            expected |= {(i, c, v) for i, (c, v) in rows.items()}
            (result,) = api.run(config, quiet=True).results
            assert result.status == "success", result.error
            exported = sorted(
                (r["id"], r["c"], r["v"]) for p in (folder / "out").glob("e_*.parquet")
                for r in pq.read_table(p).to_pylist()
            )  # fmt: skip
            assert exported == sorted(expected), (batches, shape)
