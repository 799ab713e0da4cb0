"""Hive-style partitioning of an export's parts: which folders a row goes to (the policy only)."""

from __future__ import annotations

from dataclasses import dataclass

# At most this many partitions' parts are open at once (fewer when the process may open fewer
# files); a row of another partition closes the least recently written one's part first (its
# later rows go to a new part of that partition). Each open part costs a file descriptor and its
# writer's metadata, not buffered rows: those share one budget (pipeline/partitioned.py).
MAX_OPEN_PARTITIONS = 1024


@dataclass(frozen=True)
class PartitionKey:
    """One folder level: `column=<value>/`, or `<column>_<granularity>=<bucket>/`."""

    column: str
    granularity: str | None = None  # day | month | year (date and timestamp columns)

    @property
    def name(self) -> str:
        """The folder key, which readers derive as a column."""
        return self.column if self.granularity is None else f"{self.column}_{self.granularity}"

    @property
    def in_files(self) -> bool:
        """Is the column kept in the part files? A column's own value lives only in the folder
        name (as Hive, Spark and Delta write it: a reader derives it from the path), while a
        day, month or year is derived from a column that stays in the files."""
        return self.granularity is not None


@dataclass(frozen=True)
class PartitionSpec:
    keys: tuple[PartitionKey, ...]
    max_partitions: int  # distinct folders one sink (a run, or a chunk) may write
    max_open: int = MAX_OPEN_PARTITIONS
    # Iceberg tables need every column in the data files (their partition values are derived
    # from the files' columns): no column lives only in a folder name
    columns_in_files: bool = False

    @property
    def folder_only(self) -> list[str]:
        """Columns that are not written into the part files."""
        if self.columns_in_files:
            return []
        return [k.column for k in self.keys if not k.in_files]

    def describe(self) -> list[dict[str, str | None]]:
        return [
            {"key": k.name, "column": k.column, "granularity": k.granularity} for k in self.keys
        ]
