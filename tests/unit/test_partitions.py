"""Hive partition folders (pure) and the partitioned sink's bounds: every row lands in exactly
one folder that names its values; readers decode the escaping; open parts and buffered bytes
stay bounded with many partitions."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rivet.core.errors import PlanError
from rivet.core.partitions import PartitionKey, PartitionSpec
from rivet.destinations.base import StagedPart
from rivet.formats.hive import HIVE_DEFAULT, escape, folder_values, split
from rivet.pipeline.partitioned import PartitionedSink
from rivet.planning.export_plan import OutputFormat, RowGroupPolicy

_TEXT = st.none() | st.text(max_size=6) | st.sampled_from(["a/b", "x=y", "%41", "..", "é", "a b"])
_DAY = st.none() | st.datetimes(datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59))


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


def _sink(tmp_path: Path, budget: int, max_open: int) -> PartitionedSink:
    spec = PartitionSpec((PartitionKey("k"),), max_partitions=1000, max_open=max_open)
    schema = pa.schema([("id", pa.int64()), ("k", pa.int64()), ("text", pa.string())])
    return PartitionedSink(
        "t", spec, _output(budget), schema, tmp_path, "t_20240101_000000", None,
        deliver=lambda part: None, check=None, max_open=max_open,
    )  # fmt: skip


def _rows(start: int, count: int, key: Callable[[int], int]) -> pa.RecordBatch:
    ids = range(start, start + count)
    return pa.record_batch(
        {"id": pa.array(ids, pa.int64()), "k": pa.array([key(i) for i in ids], pa.int64()),
         "text": pa.array([f"row {i} " * 5 for i in ids])}
    )  # fmt: skip


def _check_parts(parts: list[StagedPart], rows: int, key: Callable[[int], int]) -> None:
    ids: list[int] = []
    for part in parts:
        table = pq.read_table(part.path)
        assert table.num_rows == part.rows
        folder = part.final_name.rpartition("/")[0]
        assert {key(i) for i in table["id"].to_pylist()} == {int(folder.split("=")[1])}
        ids += table["id"].to_pylist()
    assert sorted(ids) == list(range(rows))
    assert len({p.final_name for p in parts}) == len(parts)


def test_rows_spread_over_many_folders_give_one_part_each(tmp_path: Path) -> None:
    """300 folders in every batch, a 256 KB budget: the buffers are spilled (never more than
    the budget held), no part stays open while rows arrive, and each folder gets one part."""
    sink = _sink(tmp_path, budget=256 << 10, max_open=16)
    before, most_fds, most_buffered = _open_fds(), 0, 0
    for start in range(0, 20_000, 5_000):
        sink.write(_rows(start, 5_000, lambda i: i % 300))
        most_fds = max(most_fds, _open_fds() - before)
        most_buffered = max(most_buffered, sum(sink._buffered.values()))
    assert list(tmp_path.glob("spill-*.arrow"))  # the spread rows went to spill files
    parts = sink.finish()
    assert most_fds == 0 and most_buffered <= 256 << 10
    assert len(parts) == 300
    assert not list(tmp_path.glob("spill-*.arrow"))
    _check_parts(parts, 20_000, lambda i: i % 300)


def test_clustered_rows_are_written_as_they_come_within_the_open_parts(tmp_path: Path) -> None:
    """Folders that each fill the budget go straight to their parts; past 4 open parts the
    least recently written closes, and its folder's later rows go to its next part."""
    sink = _sink(tmp_path, budget=64 << 10, max_open=4)
    before, most_fds = _open_fds(), 0
    for turn in range(2):
        for folder in range(10):
            start = (turn * 10 + folder) * 2_000
            sink.write(_rows(start, 2_000, lambda i: (i // 2_000) % 10))
            most_fds = max(most_fds, _open_fds() - before)
    parts = sink.finish()
    assert most_fds <= 4
    assert not list(tmp_path.glob("spill-*.arrow"))
    assert any(p.final_name.endswith("_part1.parquet") for p in parts)  # reopened after closing
    _check_parts(parts, 40_000, lambda i: (i // 2_000) % 10)


def test_more_folders_than_allowed_is_an_error_naming_the_bound(tmp_path: Path) -> None:
    spec = PartitionSpec((PartitionKey("k"),), max_partitions=3)
    schema = pa.schema([("k", pa.int64())])
    sink = PartitionedSink(
        "t", spec, _output(1 << 20), schema, tmp_path, "t_x", None, lambda part: None, None, 8
    )
    with pytest.raises(PlanError, match="more than 3 partition folders in one run"):
        sink.write(pa.record_batch({"k": pa.array([1, 2, 3, 4], pa.int64())}))
    sink.abort()
