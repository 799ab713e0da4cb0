"""What bounds an export's memory: the statements in flight and the row groups being encoded.

A read never holds the table: each statement returns at most about one page of Arrow data
(`tuning.batch_size_memory_mb`, or the profile's page budget), and each part buffers at most one
row group before encoding it. So peak memory is the runtime plus a fixed number of pages and row
groups, whatever the table's size or row width:

- each read connection holds a statement being built (twice its page: the drivers build the
  Arrow arrays beside their network buffers) and one page handed on, waiting;
- read-ahead (every profile but `safe`) holds one page more, and the writer one it works on;
- each part buffers one row group and encodes it (twice the row group's bytes); a chunked export
  has a part open per worker and one finishing beside it. Partition folders share the row
  group budget (docs/layout.md, "Memory and open files").

A page is counted at 1.5x the budget: a key-range statement may exceed it by a quarter, and
conversions (decimal text, MySQL's text types) copy a column while the page is converted. The
runtime (interpreter, pyarrow, the driver, rivet) measured 121-158 MB with a ten-row export on
PostgreSQL and 135-177 MB on MariaDB (ConnectorX is the larger), the upper ends with bench's
20-column `wide` schema. bench/README.md ("Memory bound") compares the bound with the peaks
measured on every shape, profile and engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from rivet.planning.export_plan import ExportPlan

RUNTIME_MB = {"postgres": 160, "mysql": 190}
PAGE_FACTOR = 1.5
MB = 1 << 20


@dataclass(frozen=True)
class MemoryBound:
    peak_mb: int  # the bound, in MB
    runtime_mb: int
    connections: int  # read connections (or chunk workers)
    pages: int  # statements (pages) in memory at once
    page_mb: float  # Arrow data of one statement, at most (the page budget)
    parts: int  # parts open at once, each buffering a row group (0: CSV)
    row_group_mb: float

    def describe(self) -> str:
        text = (
            f"~{self.peak_mb} MB peak at most: {self.connections} read connection(s), "
            f"{self.pages} pages of <= {self.page_mb:g} MB in flight (tuning.batch_size_memory_mb)"
        )
        if self.parts:
            text += (
                f", {self.parts} part(s) each buffering a row group of {self.row_group_mb:g} MB "
                "(parquet.target_row_group_mb)"
            )
        return text + f", ~{self.runtime_mb} MB runtime"


def memory_bound(plan: ExportPlan, engine: str) -> MemoryBound:
    tuning = plan.tuning
    page_mb = tuning.page_bytes / MB
    row_group_bytes = plan.output.row_group.bytes_for(plan.max_file_size)
    if row_group_bytes is None:  # row_group_strategy: fixed_rows (bounded by rows only)
        row_group_bytes = 4 * tuning.page_bytes
    if plan.chunks is not None:
        connections = max(1, plan.chunks.parallel)
        pages, parts = connections * 3, connections * 2
    else:
        connections = tuning.read_connections
        pages, parts = connections * 3 + (2 if tuning.read_ahead else 1), 1
    if plan.output.kind != "parquet":
        parts = 0
    row_group_mb = row_group_bytes / MB
    runtime = RUNTIME_MB[engine]
    peak = runtime + pages * page_mb * PAGE_FACTOR + parts * 2 * row_group_mb
    return MemoryBound(
        peak_mb=round(peak),
        runtime_mb=runtime,
        connections=connections,
        pages=pages,
        page_mb=page_mb,
        parts=parts,
        row_group_mb=row_group_mb,
    )
