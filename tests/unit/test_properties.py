"""Properties where inputs are unbounded (issue 19, item 2), checked with hypothesis: chunk and
key-range splitting (no gap, no overlap, NULL keys in their own chunk), the canonical row hash
(equal values, equal hashes across sibling types and through Parquet and CSV), and config scalars
through a YAML round trip. A shrunk counterexample is a bug report."""

from __future__ import annotations

import datetime
import decimal
import io
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from rivet.config import load_config
from rivet.core.chunks import Chunk, day_chunks, dense_chunks, integer_chunks, with_null_chunk
from rivet.integrity.row_hash import row_hashes
from rivet.sources.chunking import sub_ranges

EXAMPLES = settings(max_examples=200, deadline=None)


def _holds(chunk: Chunk, key: int | None, literal: Any = str) -> bool:
    """Does `chunk` select `key`, as its WHERE clause would (bounds are SQL literals)?"""
    if chunk.is_null or key is None:
        return chunk.is_null and key is None
    low = int(chunk.low) if chunk.low is not None else None
    high = int(chunk.high) if chunk.high is not None else None
    return (low is None or low <= key) and (high is None or key < high)


@EXAMPLES
@given(
    low=st.integers(-(2**62), 2**62),
    span=st.integers(0, 10**6),
    size=st.integers(1, 10**5),
    keys=st.lists(st.integers(0, 10**6)),
)
def test_integer_chunks_hold_every_key_of_the_span_exactly_once(
    low: int, span: int, size: int, keys: list[int]
) -> None:
    high = low + span
    chunks = with_null_chunk(integer_chunks(low, high, size))
    assert [c.index for c in chunks] == list(range(len(chunks)))
    ranged = chunks[:-1]
    assert ranged[0].low == str(low) and int(ranged[-1].high or 0) > high >= int(
        ranged[-1].low or 0
    )
    for before, after in itertools.pairwise(ranged):
        assert before.high == after.low  # no gap, no overlap
    for key in [low, high, *(low + k % (span + 1) for k in keys), None]:
        assert sum(_holds(c, key) for c in chunks) == 1, key


@EXAMPLES
@given(boundaries=st.sets(st.integers(-1000, 1000)), keys=st.lists(st.none() | st.integers()))
def test_dense_chunks_hold_every_value_and_null_exactly_once(
    boundaries: set[int], keys: list[int | None]
) -> None:
    chunks = with_null_chunk(dense_chunks([str(b) for b in sorted(boundaries)]))
    for key in [*keys, *boundaries, None]:
        assert sum(_holds(c, key) for c in chunks) == 1, key


@EXAMPLES
@given(
    first=st.dates(datetime.date(1900, 1, 1), datetime.date(2100, 1, 1)),
    span=st.integers(0, 3000),
    days=st.integers(1, 400),
)
def test_day_chunks_are_contiguous_windows_over_every_day(
    first: datetime.date, span: int, days: int
) -> None:
    last = first + datetime.timedelta(days=span)
    chunks = day_chunks(first, last, days)
    dates = [(datetime.date.fromisoformat(str(c.low).strip("'")),
              datetime.date.fromisoformat(str(c.high).strip("'"))) for c in chunks]  # fmt: skip
    assert dates[0][0] == first and dates[-1][0] <= last < dates[-1][1]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(dates))
    assert all(high - low == datetime.timedelta(days=days) for low, high in dates)


@EXAMPLES
@given(
    low=st.integers(-(10**6), 10**6),
    width=st.integers(1, 10**5),
    keys=st.lists(st.integers(0, 10**5), max_size=300),
    wanted=st.integers(1, 500),
)
def test_sub_ranges_read_every_row_of_a_chunk_once(
    low: int, width: int, keys: list[int], wanted: int
) -> None:
    """Repeated keys (a non-unique chunk column) are never split between sub-ranges."""
    high = low + width
    rows = sorted(low + k % width for k in keys)
    statements: list[tuple[int, int]] = []

    def fetch(a: int, b: int) -> pa.Table:
        statements.append((a, b))
        return pa.table({"k": [r for r in rows if a <= r < b]})

    read = sorted(k for page in sub_ranges(low, high, fetch, lambda: wanted, lambda _: wanted)
                  for k in page.column("k").to_pylist())  # fmt: skip
    assert read == rows
    assert statements[0][0] == low and statements[-1][1] == high
    assert all(a[1] == b[0] for a, b in itertools.pairwise(statements))


_VALUES = st.fixed_dictionaries(
    {
        "i": st.lists(st.none() | st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=20),
        "t": st.lists(st.none() | st.text(), min_size=1, max_size=20),
        "f": st.lists(st.none() | st.floats(allow_nan=False, width=32), min_size=1, max_size=20),
        "d": st.lists(
            st.none() | st.decimals(min_value=-(10**8), max_value=10**8, places=2),
            min_size=1,
            max_size=20,
        ),
        "ts": st.lists(
            st.none() | st.datetimes(datetime.datetime(1970, 1, 1), datetime.datetime(2200, 1, 1)),
            min_size=1,
            max_size=20,
        ),
    }
)


def _table(values: dict[str, list[Any]], wide: bool) -> pa.Table:
    """The same values as one engine or another may type them (PostgreSQL int4 / MySQL BIGINT,
    string / large_string, float / double, decimal128 / decimal256, ms / us timestamps)."""
    n = min(len(v) for v in values.values())
    return pa.table(
        {
            "i": pa.array(values["i"][:n], pa.int64() if wide else pa.int32()),
            "t": pa.array(values["t"][:n], pa.large_string() if wide else pa.string()),
            "f": pa.array(values["f"][:n], pa.float64() if wide else pa.float32()),
            "d": pa.array(
                [decimal.Decimal(v) if v is not None else None for v in values["d"][:n]],
                pa.decimal256(40, 2) if wide else pa.decimal128(12, 2),
            ),
            "ts": pa.array(
                [
                    v.replace(microsecond=v.microsecond // 1000 * 1000) if v else None
                    for v in values["ts"][:n]
                ],
                pa.timestamp("us") if wide else pa.timestamp("ms"),
            ),
        }
    )


def _hashes(table: pa.Table) -> list[int]:
    return [h for batch in table.to_batches() for h in row_hashes(batch).to_pylist()]


@EXAMPLES
@given(values=_VALUES)
def test_equal_values_hash_equal_across_types_and_through_parquet(values: dict[str, Any]) -> None:
    narrow, wide = _table(values, wide=False), _table(values, wide=True)
    assert _hashes(narrow) == _hashes(wide)
    buffer = io.BytesIO()
    pq.write_table(narrow, buffer, row_group_size=7)
    assert _hashes(pq.read_table(io.BytesIO(buffer.getvalue()))) == _hashes(narrow)


@settings(max_examples=100, deadline=None)
@given(values=_VALUES)
def test_equal_values_hash_equal_through_rivets_csv(
    tmp_path_factory: Any, values: dict[str, Any]
) -> None:
    """A CSV part, parsed back into the written types as `--validate` parses it, gives the same
    row hashes as the rows written (NULL and "" stay apart; quotes and line ends survive)."""
    import pyarrow.csv as pacsv

    from rivet.formats.base import open_writer

    table = _table(values, wide=False)
    path: Path = tmp_path_factory.mktemp("csv") / "part.csv"
    writer = open_writer("csv", path, table.schema, compression="none", compression_level=None,
                         row_group_rows=1000, row_group_bytes=None)  # fmt: skip
    for batch in table.to_batches():
        writer.write(batch)
    writer.close()
    back = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=table.schema, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )  # fmt: skip
    assert _hashes(back) == _hashes(table)


@EXAMPLES
@given(values=_VALUES)
def test_a_changed_value_changes_its_row_hash(values: dict[str, Any]) -> None:
    table = _table(values, wide=False)
    before = _hashes(table)
    texts = table.column("t").to_pylist()
    texts[0] = "changed" if texts[0] != "changed" else "Changed"
    after = _hashes(table.set_column(1, "t", pa.array(texts, pa.string())))
    assert after[0] != before[0] and after[1:] == before[1:]


# Text a user may put in a YAML scalar: any printable unicode, quotes, colons, hashes, braces.
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@settings(max_examples=100, deadline=None)
@given(
    query=_TEXT.filter(lambda s: s.strip() != "" and "${" not in s and "{" not in s),
    path=_TEXT.filter(lambda s: s.strip() != "" and "{" not in s and "$" not in s),
    batch=st.integers(1, 10**6),
    timeout=st.integers(1, 86_400),
)
def test_config_scalars_survive_a_yaml_round_trip(
    tmp_path_factory: Any, query: str, path: str, batch: int, timeout: int
) -> None:
    """What a YAML 1.2 writer writes, rivet reads back as the same values."""
    folder: Path = tmp_path_factory.mktemp("config")
    config = {
        "source": {"type": "postgres", "url_env": "DATABASE_URL"},
        "exports": [
            {
                "name": "e",
                "query": query,
                "format": "csv",
                "tuning": {"batch_size": batch, "statement_timeout_s": timeout},
                "destination": {"type": "local", "path": path},
            }
        ],
    }
    yaml = YAML()  # YAML 1.2, as rivet reads it
    with open(folder / "rivet.yaml", "w", encoding="utf-8") as handle:
        yaml.dump(config, handle)
    export = load_config(folder / "rivet.yaml").exports[0]
    assert export.query == query
    assert export.destination.path == path
    assert export.tuning is not None
    assert (export.tuning.batch_size, export.tuning.statement_timeout_s) == (batch, timeout)
