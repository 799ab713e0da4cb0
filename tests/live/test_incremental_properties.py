"""Incremental sequences, generated: random batches of rows between runs, many of them sharing
the newest cursor value (ties, and rows that commit after a run with exactly its last value),
for table and query exports. After every run, each committed row has been exported exactly once
(docs/modes.md: the boundary value is read again and rows already exported are dropped)."""

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

# Between two runs: a batch of rows, each with a cursor offset from the newest value so far:
# 0 = exactly the newest value (a late row at the boundary), 1 or 2 = newer.
BATCHES = st.lists(st.lists(st.sampled_from([0, 0, 1, 2]), min_size=0, max_size=6), min_size=1,
                   max_size=5)  # fmt: skip


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
def test_every_committed_row_is_exported_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, schema: str, batches: list[list[int]], shape: str
) -> None:
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
        newest, committed = 0, []
        for batch in batches:
            for offset in batch:
                row_id, value = next(ids), newest + offset
                conn.execute(f"INSERT INTO {table} VALUES (%s, %s, 'v')", (row_id, value))
                committed.append(row_id)
                newest = max(newest, value)
            (result,) = api.run(config, quiet=True).results
            assert result.status == "success", result.error
            exported = sorted(
                i for p in (folder / "out").glob("e_*.parquet")
                for i in pq.read_table(p)["id"].to_pylist()
            )  # fmt: skip
            assert exported == sorted(committed), (batches, shape)
