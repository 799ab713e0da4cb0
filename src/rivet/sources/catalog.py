"""What `rivet init` learns about a schema: tables and views, their columns, keys and indexes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    data_type: str  # as the server names it: int4, timestamp with time zone, varchar(20) ...
    family: str  # integer | temporal | other
    nullable: bool


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    is_view: bool
    rows: int  # the catalog's estimate (0 when the table has no statistics)
    total_bytes: int
    columns: list[ColumnInfo]
    primary_key: list[str]
    indexed: set[str] = field(default_factory=set)  # columns that lead an index
