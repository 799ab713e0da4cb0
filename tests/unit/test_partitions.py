"""Hive partition folders (pure) and the partitioned sink's bounds: every row lands in exactly
one folder that names its values; readers decode the escaping; open parts and buffered bytes
stay bounded with many partitions."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rivet.core.errors import PlanError
from rivet.core.partitions import PartitionKey, PartitionSpec
from rivet.formats.hive import HIVE_DEFAULT, escape, folder_values, split
from rivet.pipeline.partitioned import PartitionedSink
from rivet.planning.export_plan import OutputFormat, RowGroupPolicy

_TEXT = st.none() | st.text(max_size=6) | st.sampled_from(["a/b", "x=y", "%41", "..", "é", "a b"])
_DAY = st.none() | st.datetimes(datetime.datetime(1900, 1, 1), datetime.datetime(2200, 1, 1))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(_TEXT, st.none() | st.integers(-5, 5), _DAY), max_size=60))
def test_every_row_lands_once_in_the_folder_of_its_values(
    rows: list[tuple[str | None, int | None, datetime.datetime | None]],
) -> None:
    batch = pa.record_batch(
        {"id": pa.array(range(len(rows)), pa.int64()),
         "tag": pa.array([r[0] for r in rows], pa.string()),
         "n": pa.array([r[1] for r in rows], pa.int64()),
         "at": pa.array([r[2] for r in rows], pa.timestamp("us"))}
    )  # fmt: skip
    spec = PartitionSpec((PartitionKey("tag"), PartitionKey("n"), PartitionKey("at", "month")), 10)
    blanks: set[str] = set()
    pieces = split(batch, spec, blanks)
    seen: list[int] = []
    for piece in pieces:
        assert piece.batch.schema.names == ["id", "at"]  # tag and n live in the folder name
        assert folder_values(piece.folder) == piece.values
        for row_id in piece.batch["id"].to_pylist():
            tag, n, at = rows[row_id]
            assert piece.values == {
                "tag": tag or None,  # '' shares NULL's folder, as in Hive
                "n": None if n is None else str(n),
                "at_month": None if at is None else f"{at.year:04d}-{at.month:02d}",
            }
        seen += piece.batch["id"].to_pylist()
    assert sorted(seen) == list(range(len(rows)))
    assert len({p.folder for p in pieces}) == len(pieces)
    assert ("tag" in blanks) == any(r[0] == "" for r in rows)


def test_escaped_values_come_back_through_pyarrow(tmp_path: Path) -> None:
    values = ["a/b", "50%", "k=v", "x:y?", "tab\there", "#[]^*'\"\\{", "plain é"]
    for i, value in enumerate(values):
        folder = tmp_path / f"tag={escape(value)}"
        folder.mkdir()
        pq.write_table(pa.table({"id": [i]}), folder / "p.parquet")
    (tmp_path / f"tag={HIVE_DEFAULT}").mkdir()
    pq.write_table(pa.table({"id": [len(values)]}), tmp_path / f"tag={HIVE_DEFAULT}" / "p.parquet")
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    found = dict(zip(table["id"].to_pylist(), table["tag"].to_pylist(), strict=True))
    assert found == {**dict(enumerate(values)), len(values): None}


def _output(budget: int) -> OutputFormat:
    return OutputFormat("parquet", "zstd", 3, RowGroupPolicy(1_000_000, budget))


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_many_partitions_keep_open_parts_and_buffers_bounded(tmp_path: Path) -> None:
    """300 partitions in every batch, at most 16 parts open and 256 KB buffered: every row is
    written once, and a folder whose part was closed continues in its next part."""
    spec = PartitionSpec((PartitionKey("k"),), max_partitions=300, max_open=16)
    schema = pa.schema([("id", pa.int64()), ("k", pa.int64()), ("text", pa.string())])
    budget = 256 << 10
    sink = PartitionedSink(
        "t", spec, _output(budget), schema, tmp_path, "t_20240101_000000", None,
        deliver=lambda part: None, check=None, max_open=16,
    )  # fmt: skip
    before, most_fds, most_buffered = _open_fds(), 0, 0
    for start in range(0, 20_000, 5_000):
        ids = pa.array(range(start, start + 5_000), pa.int64())
        batch = pa.record_batch(
            {"id": ids, "k": pa.array([i % 300 for i in range(start, start + 5_000)]),
             "text": pa.array([f"row {i} " * 5 for i in range(start, start + 5_000)])}
        )  # fmt: skip
        sink.write(batch)
        most_fds = max(most_fds, _open_fds() - before)
        most_buffered = max(most_buffered, sum(s.pending_bytes() for s in sink._open.values()))
    parts = sink.finish()
    assert most_fds <= 16
    assert most_buffered <= budget
    ids: list[int] = []
    for part in parts:
        folder = part.final_name.rpartition("/")[0]
        table = pq.read_table(part.path)
        assert table.num_rows == part.rows
        assert {i % 300 for i in table["id"].to_pylist()} == {int(folder.split("=")[1])}
        ids += table["id"].to_pylist()
    assert sorted(ids) == list(range(20_000))
    assert len({p.final_name for p in parts}) == len(parts)
    assert any(p.final_name.endswith("_part1.parquet") for p in parts)  # reopened after closing


def test_more_folders_than_allowed_is_an_error_naming_the_bound(tmp_path: Path) -> None:
    spec = PartitionSpec((PartitionKey("k"),), max_partitions=3)
    schema = pa.schema([("k", pa.int64())])
    sink = PartitionedSink(
        "t", spec, _output(1 << 20), schema, tmp_path, "t_x", None, lambda part: None, None, 8
    )
    with pytest.raises(PlanError, match="more than 3 partition folders in one run"):
        sink.write(pa.record_batch({"k": pa.array([1, 2, 3, 4], pa.int64())}))
    sink.abort()
