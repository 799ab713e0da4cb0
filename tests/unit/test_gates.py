"""Quality gates merged from per-chunk trackers count each row once."""

from __future__ import annotations

import pyarrow as pa

from rivet.quality.gates import Gates, QualityTracker


def _batch(ids: list[int | None]) -> pa.RecordBatch:
    return pa.record_batch([pa.array(ids, pa.int64())], names=["id"])


def test_forks_merge_into_the_same_counts_as_one_tracker() -> None:
    gates = Gates(null_ratio_max={"id": 0.5}, unique_columns=("id",))
    whole = QualityTracker(gates, "e", ["id"])
    merged = QualityTracker(gates, "e", ["id"])
    chunks = [[1, 2, None], [3, 4, 2], [5, None, None]]
    for ids in chunks:
        whole.observe(_batch(ids))
        fork = merged.fork()
        fork.observe(_batch(ids))
        merged.merge(fork)
    abandoned = merged.fork()  # a failed attempt: observed, never merged
    abandoned.observe(_batch([1, 3, 5]))
    assert merged.rows == whole.rows == 9
    assert merged.problems() == whole.problems() == ["column 'id': 1 duplicate values out of 6"]


def test_a_fork_that_stopped_counting_stops_the_merge_too() -> None:
    gates = Gates(unique_columns=("id",), unique_max_entries=3)
    tracker = QualityTracker(gates, "e", ["id"])
    fork = tracker.fork()
    fork.observe(_batch([1, 2, 3, 4]))
    tracker.merge(fork)
    assert tracker.problems() == []
    assert tracker.warnings == [
        "uniqueness check of column 'id' stopped at 3 distinct values (quality.unique_max_entries)"
    ]
    other = tracker.fork()
    other.observe(_batch([1, 1]))
    tracker.merge(other)  # no longer counted: no duplicate reported, no second warning
    assert tracker.problems() == [] and len(tracker.warnings) == 1
