"""`rivet init`'s choice of mode, cursor and chunk column from catalog facts (pure)."""

from __future__ import annotations

from rivet.commands.init import advise
from rivet.sources.catalog import ColumnInfo, TableInfo

ID = ColumnInfo("id", "int8", "integer", False)
UPDATED = ColumnInfo("updated_at", "timestamptz", "temporal", False)
CREATED = ColumnInfo("created_at", "timestamptz", "temporal", True)
CODE = ColumnInfo("code", "text", "other", False)


def _table(rows: int, columns: list[ColumnInfo], key: list[str], indexed: set[str]) -> TableInfo:
    return TableInfo("s", "t", False, rows, rows * 100, columns, key, indexed)


def test_large_integer_key_tables_are_chunked_with_parallel_by_size() -> None:
    advice = advise(_table(6_000_000, [ID, UPDATED], ["id"], {"id"}))
    assert (advice.mode, advice.chunk_column, advice.parallel) == ("chunked", "id", 4)
    assert advise(_table(600_000, [ID], ["id"], {"id"})).parallel == 2
    assert advise(_table(200_000, [ID], ["id"], {"id"})).parallel == 1


def test_large_tables_without_integer_key_follow_an_indexed_timestamp() -> None:
    table = _table(500_000, [CODE, CREATED, UPDATED], ["code"], {"code", "updated_at"})
    advice = advise(table)
    assert (advice.mode, advice.cursor) == ("incremental", "updated_at")
    assert advice.cursor_candidates[0].reasons == [
        "timestamp_type",
        "name_suggests_updated",
        "indexed",
    ]
    unindexed = advise(_table(500_000, [CODE, UPDATED], ["code"], {"code"}))
    assert unindexed.mode == "full" and "no integer primary key or indexed" in unindexed.why


def test_small_tables_and_views_are_full_and_missing_keys_are_noted() -> None:
    assert advise(_table(5_000, [ID], ["id"], {"id"})).mode == "full"
    view = TableInfo("s", "v", True, 0, 0, [ID], [], set())
    assert advise(view).mode == "full" and advise(view).notes == []
    keyless = advise(_table(10, [CODE], [], set()))
    assert keyless.notes and "no primary key" in keyless.notes[0]
