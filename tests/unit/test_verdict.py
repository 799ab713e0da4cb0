"""`rivet check` verdicts from a plan, an estimate and a connection budget (pure)."""

from __future__ import annotations

from rivet.commands.verdict import Verdict, judge
from rivet.core.chunks import ChunkSpec
from rivet.sources.base import Explain

CHUNKS = ChunkSpec("id", "range", 100_000, None, None, None, 4, False, 3, True)


def _explain(scans: list[tuple[str, int]], in_use: int = 5) -> Explain:
    return Explain("SELECT ...", scans, not scans, [], 100, in_use)


def _judge(
    explain: Explain,
    rows: int | None,
    paged: bool,
    chunks: ChunkSpec | None = None,
    connections: int = 2,
) -> Verdict:
    return judge(explain, rows, paged, ["at"], chunks, [], connections, [])


def test_full_scans_of_large_tables_are_unsafe_when_paged_and_degraded_when_single() -> None:
    paged = _judge(_explain([("t", 2_000_000)]), 2_000_000, paged=True)
    assert paged.verdict == "unsafe" and "index at" in paged.reasons[0]
    single = _judge(_explain([("t", 2_000_000)]), 2_000_000, paged=False)
    assert single.verdict == "degraded"
    small = _judge(_explain([("t", 99_999)]), 99_999, paged=True)
    assert small.verdict == "safe"


def test_profile_parallel_and_chunk_size_follow_size_and_index() -> None:
    indexed = _judge(_explain([]), 3_000_000, paged=True, chunks=CHUNKS)
    assert (indexed.profile, indexed.parallel, indexed.chunk_size) == ("balanced", 4, 187_500)
    unindexed = _judge(_explain([("t", 6_000_000)]), 6_000_000, paged=False, chunks=CHUNKS)
    assert (unindexed.profile, unindexed.parallel) == ("safe", 1)
    assert _judge(_explain([]), 500_000, paged=True).profile == "fast"


def test_connections_beyond_the_free_budget_degrade_with_the_numbers() -> None:
    busy = _judge(_explain([], in_use=97), 1000, paged=True, connections=6, chunks=CHUNKS)
    assert busy.verdict == "degraded"
    assert busy.reasons == [
        "needs 6 connections at once; the server allows 100 and 97 are in use (3 free): "
        "lower parallel"
    ]
    assert busy.parallel == 1
