"""The Source port: what the pipeline asks of a database adapter."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import pyarrow as pa

from rivet.config.column_types import ColumnType
from rivet.core.chunks import Chunk, ChunkSpec
from rivet.core.errors import SourceError
from rivet.sources.catalog import TableInfo

log = logging.getLogger(__name__)
T = TypeVar("T")
# Rows of a statement sized from the catalog's row width; once a page has measured the width,
# a statement may be as small as one row (rows of megabytes).
MIN_PAGE_ROWS, MAX_PAGE_ROWS = 1_000, 5_000_000


COALESCED = "_rivet_cursor"  # the computed cursor of incremental_cursor_mode: coalesce


@dataclass(frozen=True)
class Incremental:
    """Read only rows after a stored position, in (cursor, primary key...) order."""

    cursor_column: str
    after: tuple[str, ...] | None = None  # text values of (cursor, key...) of the last row exported
    after_columns: tuple[str, ...] = ()  # the columns those values belong to
    # time_window: only rows whose cursor is >= this bound: ("timestamp", "2026-01-01 00:00:00")
    # (UTC) or ("unix", "1767225600")
    lower_bound: tuple[str, str] | None = None
    # `rivet apply`: only rows up to this (cursor, key...) position, the last row at planning
    # time; () when the plan found no row
    until: tuple[str, ...] | None = None
    # incremental_cursor_mode: coalesce: (primary, fallback); the cursor is then COALESCED
    coalesce: tuple[str, str] | None = None
    # `after` holds the cursor value alone and the read starts at it (`cursor >= value`): rows
    # that committed late with the boundary value are read too; the pipeline drops the ones
    # already exported (rivet.pipeline.boundary)
    inclusive: bool = False

    def start_sql(
        self, keys: Sequence[str], literals: Callable[[Sequence[str]], list[str]]
    ) -> str | None:
        """Where the read starts: after the stored position, or at its cursor value."""
        if not self.after:
            return None
        if self.inclusive:
            return f"{keys[0]} >= {literals(self.after[:1])[0]}"
        keys = keys[: len(self.after)]  # an imported 0.7.7 cursor: the value alone, strictly
        return f"({', '.join(keys)}) > ({', '.join(literals(self.after))})"

    def lower_bound_sql(self, column_sql: str) -> str | None:
        if self.lower_bound is None:
            return None
        kind, value = self.lower_bound
        return f"{column_sql} >= {int(value)}" if kind == "unix" else f"{column_sql} >= '{value}'"


@dataclass(frozen=True)
class ChunkRead:
    """Read only one chunk: the rows whose `column` falls in the chunk (no ORDER BY)."""

    column: str
    chunk: Chunk
    snapshot: str | None = None  # PostgreSQL: import this exported snapshot


@dataclass(frozen=True)
class ChunkLayout:
    """How a chunked export is cut: its resolved column, chunks (in order), and notes."""

    column: str
    chunks: list[Chunk]
    fingerprint: str  # a resumed run must find the same
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReadRequest:
    """Everything a source needs to read one export; built by the pipeline from the plan."""

    export: str
    table: str | None
    query: str | None
    column_overrides: dict[str, ColumnType]
    page_bytes: int  # Arrow bytes one statement may return
    max_page_rows: int | None  # explicit tuning.batch_size caps rows per statement
    statement_timeout_s: int
    lock_timeout_s: int
    throttle_ms: int
    read_connections: int = 1  # >1: parallel key ranges, one shared snapshot
    incremental: Incremental | None = None
    chunk: ChunkRead | None = None
    max_retries: int = 0  # transient errors: statements read again on a new connection
    retry_backoff_ms: int = 1000
    # PostgreSQL: every read transaction (and the reconcile count) imports this exported
    # snapshot, held open by Source.shared_snapshot, so the count sees exactly what was read
    snapshot: str | None = None
    # --reconcile where no snapshot outlives the read (a chunk's transaction; MySQL, whose every
    # statement is its own consistent read): the source calls this once the read is complete
    # with the rows it covers, counted inside the read's own snapshot(s) (see count_in_read).
    on_counted: Callable[[int], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ColumnReport:
    name: str
    source_type: str
    arrow_type: str
    fidelity: str
    note: str | None = None


@dataclass
class PreparedRead:
    """What the source learned before reading: schema, strategy, estimate, warnings."""

    schema: pa.Schema
    columns: Sequence[ColumnReport]
    strategy: str  # e.g. "keyset(id)" or "cursor"
    row_estimate: int | None
    warnings: list[str] = field(default_factory=list)
    # about the strategy of an unchunked read (e.g. one streamed statement): a chunked export
    # reads by chunks instead, so these do not apply to it
    unchunked_warnings: list[str] = field(default_factory=list)

    def warnings_for(self, chunked: bool) -> list[str]:
        return list(self.warnings) if chunked else [*self.warnings, *self.unchunked_warnings]


@dataclass(frozen=True)
class Explain:
    """The server's plan for a representative read statement (what `rivet check` judges)."""

    statement: str  # the statement explained (a first page, a first chunk, or the whole read)
    full_scans: list[tuple[str, int]]  # (table, estimated rows) read by a full/sequential scan
    uses_index: bool
    plan: list[str]  # the plan, one line per node, indented
    max_connections: int
    connections_in_use: int


@dataclass
class ReadStats:
    """Filled in while reading (by several reader threads at once); observed by the summary."""

    statements: int = 0
    longest_statement_s: float = 0.0
    # Keyset reads: names and text values of the key of the last row read (the next position).
    position_columns: tuple[str, ...] = ()
    position: tuple[str, ...] | None = None
    # The memory guard lowers this (1 -> 1/64) to shrink the statements still to come.
    page_scale: float = 1.0
    # tuning.adaptive: extra pause between statements while the source is under pressure
    pause_ms: float = 0.0
    # Arrow bytes per row, as the last page of this read measured it (None: no page yet)
    bytes_per_row: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_statement(self, seconds: float) -> None:
        with self._lock:
            self.statements += 1
            self.longest_statement_s = max(self.longest_statement_s, seconds)

    def measure(self, page: pa.Table) -> None:
        if page.num_rows:
            self.bytes_per_row = page.nbytes / page.num_rows


def rows_for(
    page_bytes: float, bytes_per_row: float, request: ReadRequest, floor: int = MIN_PAGE_ROWS
) -> int:
    """Rows of one statement: the byte budget over the row width, within the row bounds and
    any explicit tuning.batch_size."""
    rows = max(floor, min(MAX_PAGE_ROWS, int(page_bytes / max(bytes_per_row, 1.0))))
    return min(rows, request.max_page_rows) if request.max_page_rows else rows


PROBE_ROWS = 10  # the first statement of a paged read: no row's width is measured yet


def page_rows(request: ReadRequest, stats: ReadStats, page_bytes: int | None = None) -> int:
    """Rows of the next statement of a paged read: what the page budget holds at the row width
    the last page measured (shrunk by the memory guard's scale), or a probe of PROBE_ROWS rows
    before any page. The catalog's width cannot size a first statement: it counts
    TOAST-compressed (or InnoDB off-page) values at their stored size, and a table of 256 KB
    rows of compressible text looked 100x narrower than it reads."""
    if stats.bytes_per_row is None:
        rows = PROBE_ROWS
    else:
        budget = (page_bytes or request.page_bytes) * stats.page_scale
        rows = rows_for(budget, stats.bytes_per_row, request, floor=1)
    return min(rows, request.max_page_rows) if request.max_page_rows else rows


def next_page_rows(page: pa.Table, request: ReadRequest, stats: ReadStats) -> int:
    """Rows of the statement after `page`, from the bytes per row it measured."""
    stats.measure(page)
    return page_rows(request, stats)


def page_sizes(
    request: ReadRequest, stats: ReadStats
) -> tuple[Callable[[], int], Callable[[pa.Table], int]]:
    """(rows of the first statement, rows of the statement after a page): how a chunk's key
    sub-ranges are sized (`chunking.sub_ranges`)."""
    return (lambda: page_rows(request, stats)), (lambda page: next_page_rows(page, request, stats))


def scaled(rows: int, stats: ReadStats) -> int:
    """A fixed statement size (key ranges), shrunk by the memory guard's scale."""
    return max(min(MIN_PAGE_ROWS, rows), int(rows * stats.page_scale))


class RangeLimit:
    """Rows of the next statement of a key-range read: twice the rows a range is planned to
    hold (at least MIN_PAGE_ROWS), but no more than a quarter over what the page budget holds
    at the row width measured so far (a probe first, see `page_rows`). A range is planned to
    hold about one page, so its LIMIT only binds where the catalog's width was wrong
    (compressed values) or rows cluster; the quarter's margin keeps a range that is a little
    fuller than planned to one statement. `page_bytes`: the budget the ranges were planned
    with, when it is not the request's. With a new ReadStats, `rows()` is what a read sends
    first (what `rivet check` explains)."""

    def __init__(
        self,
        rows_per_range: int,
        request: ReadRequest,
        stats: ReadStats,
        page_bytes: int | None = None,
    ) -> None:
        self._cap = max(MIN_PAGE_ROWS, rows_per_range * 2)
        self._request, self._stats, self._page_bytes = request, stats, page_bytes

    def rows(self) -> int:
        fits = page_rows(self._request, self._stats, self._page_bytes)
        if self._stats.bytes_per_row is not None:
            fits += fits // 4
        return min(scaled(self._cap, self._stats), fits)

    def measured(self, page: pa.Table) -> None:
        self._stats.measure(page)


def retrying(request: ReadRequest, attempt: Callable[[], T]) -> T:
    """Run one statement; a transient SourceError (cut connection, failover, serialization
    failure...) runs it again, up to tuning.max_retries times, after an exponential backoff
    with jitter. `attempt` reconnects when it has no connection. Permanent errors (and the
    last transient one) go on to the caller."""
    failures = 0
    while True:
        try:
            return attempt()
        except SourceError as exc:
            if not exc.transient or failures >= request.max_retries:
                raise
            failures += 1
            pause = min(30.0, request.retry_backoff_ms / 1000 * 2 ** (failures - 1))
            pause *= random.uniform(0.5, 1.5)
            log.warning(
                "%s; retry %d of %d in %.1f s", exc.message, failures, request.max_retries, pause
            )
            time.sleep(pause)


def throttle(request: ReadRequest, stats: ReadStats | None = None) -> None:
    """tuning.throttle_ms between statements, plus the adaptive pause while the source is under
    pressure (see rivet.pipeline.pacing)."""
    pause = request.throttle_ms + (stats.pause_ms if stats is not None else 0.0)
    if pause > 0:
        time.sleep(pause / 1000)


class LoadSampler(Protocol):
    """Reads the source's pressure signals: cumulative counters (checkpoints requested, log
    waits) and gauges (replication lag in seconds), by name."""

    def sample(self) -> dict[str, float]: ...

    def close(self) -> None: ...


class Source(Protocol):
    engine: str

    def prepare(self, request: ReadRequest) -> PreparedRead: ...

    def read(
        self, request: ReadRequest, prepared: PreparedRead, stats: ReadStats
    ) -> Iterator[pa.RecordBatch]: ...

    def chunk_layout(
        self, request: ReadRequest, prepared: PreparedRead, spec: ChunkSpec
    ) -> ChunkLayout:
        """Resolve the chunk column and cut its span into chunks (short catalog statements)."""
        ...

    def shared_snapshot(self, request: ReadRequest) -> AbstractContextManager[str | None]:
        """Hold one snapshot that chunk reads can import while the block runs (PostgreSQL);
        None where the engine has no such thing."""
        ...

    def discover(self, schema: str | None, table: str | None) -> list[TableInfo]:
        """The tables and views of a schema (default: the URL's database or `public`)."""
        ...

    def connection_budget(self, export: str) -> tuple[int, int]:
        """(max_connections of the server, connections in use now)."""
        ...

    def explain(self, request: ReadRequest, prepared: PreparedRead) -> Explain:
        """EXPLAIN the first statement the read would run (no rows are read), and the
        server's connection budget."""
        ...

    def count_rows(
        self, request: ReadRequest, prepared: PreparedRead, upto: Sequence[str] | None = None
    ) -> int:
        """COUNT(*) of the rows the read covers (a chunk; an incremental window up to `upto`,
        the position of the last row exported): what `--reconcile` compares with."""
        ...

    def load_sampler(self, export: str) -> LoadSampler:
        """What tuning.adaptive watches, on a connection of its own."""
        ...

    def last_position(self, request: ReadRequest, prepared: PreparedRead) -> tuple[str, ...] | None:
        """The (cursor, key...) position of the last row an incremental read would reach now
        (`rivet plan` fixes it as the read's upper bound); None when there is none."""
        ...

    def server_info(self, export: str) -> tuple[str, list[str]]:
        """Connect and describe the server ("PostgreSQL 15.19"), with warnings (poolers...)."""
        ...

    def close(self) -> None: ...


def check_position(request: ReadRequest, names: Sequence[str]) -> None:
    """A stored position is only meaningful for the same (cursor, key...) columns."""
    assert request.incremental is not None
    stored = tuple(request.incremental.after_columns)
    if not stored:  # a value without columns (imported from rivet-cli 0.7.7): the cursor's
        return
    if request.incremental.inclusive:  # only the cursor's value is used
        stored, names = stored[:1], tuple(names)[:1]
    if stored != tuple(names):
        raise SourceError(
            f"export '{request.export}': the stored cursor position is for columns {list(stored)}"
            f", but the export now orders by {list(names)} (cursor_column or key changed)",
            hint=f"run `rivet state reset -c <config> -e {request.export}` to start over",
        )
