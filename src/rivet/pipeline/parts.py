"""Stream batches into staged part files, rotating when a part reaches max_file_size."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import xxhash

from rivet.core.faults import fault_point
from rivet.destinations.base import StagedPart
from rivet.formats import PartWriter, open_writer
from rivet.integrity.checksums import TableChecksums
from rivet.planning.export_plan import OutputFormat

PROBE_ROWS = 100


class Sink(Protocol):
    """Where a run's batches go: PartSink, or PartitionedSink (one PartSink per folder)."""

    rows: int

    def write(self, batch: pa.RecordBatch) -> None: ...

    def finish(self) -> list[StagedPart]:
        """Close the open parts and hand over what is left; returns every part."""

    def abort(self) -> None: ...

    def notes(self) -> list[str]:
        """What the run should say about what was written (warnings)."""


class PartSink:
    """Writes parts `part-<i>.tmp` in the staging dir and hands each finished part to `deliver`
    as soon as its final name is known: a part is `<base>.<ext>` when it is the only one and
    `<base>_part<i>.<ext>` otherwise, so part 0 is handed over when part 1 starts (at most two
    parts are ever on local disk) and the last one by `finish()`."""

    def __init__(
        self,
        output: OutputFormat,
        schema: pa.Schema,
        staging: Path,
        base_name: str,
        max_file_size: int | None,
        deliver: Callable[[StagedPart], None] = lambda part: None,
        check: Callable[[StagedPart], None] | None = None,
    ) -> None:
        self._output = output
        self._schema = schema
        self._staging = staging
        self._base_name = base_name
        self._max_file_size = max_file_size
        self._row_group_bytes = output.row_group.bytes_for(max_file_size)
        self._deliver = deliver
        self._check = check  # runs on each finished part before it is handed over
        self._writer: PartWriter | None = None
        self._checksums = TableChecksums(schema)
        # closed, not yet named: (index, path, rows, column checksums)
        self._waiting: list[tuple[int, Path, int, dict[str, str]]] = []
        self._opened = 0
        self.parts: list[StagedPart] = []
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        while batch.num_rows:
            if self._writer is None:
                self._writer = self._open(self._opened)
                self._opened += 1
                if self._opened == 2:  # now we know there are several parts: name part 0
                    self._hand_over(many=True)
            fit = self._rows_that_fit(self._writer)
            head, batch = batch.slice(0, fit), batch.slice(fit)
            self._writer.write(head)
            self._checksums.update(head)
            self.rows += head.num_rows
            if (
                self._max_file_size is not None
                and self._writer.bytes_written() >= self._max_file_size
            ):
                self._close_current()

    def _rows_that_fit(self, writer: PartWriter) -> int:
        """Rows of the next batch likely to fit in the current part, from its bytes per row so far.

        Parquet estimates the rows it still buffers at the compression ratio of its flushed
        row groups (1:1 before the first), so a part closes near the size either way.
        """
        if self._max_file_size is None:
            return 1 << 62
        written = writer.bytes_written()  # what the part would be if closed now (an estimate)
        if writer.rows == 0 or written == 0:
            return PROBE_ROWS  # learn the bytes per row before committing a whole batch
        per_row = written / writer.rows
        return max(1, int((self._max_file_size - written) / per_row))

    def finish(self) -> list[StagedPart]:
        """Close the last part, hand over what is left; returns every part of the run."""
        self._close_current()
        self._hand_over(many=self._opened > 1)
        return self.parts

    def notes(self) -> list[str]:
        return []

    def flush(self) -> None:
        """End the open part's row group now (its buffered rows are encoded and written)."""
        if self._writer is not None:
            self._writer.flush()

    def close_part(self) -> None:
        """Close the open part; a later write opens the next one."""
        self._close_current()

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.abort()
            self._writer = None

    def _open(self, index: int) -> PartWriter:
        self._current_path = self._staging / f"part-{index}.tmp"
        self._checksums = TableChecksums(self._schema)
        return open_writer(
            self._output.kind,
            self._current_path,
            self._schema,
            compression=self._output.compression,
            compression_level=self._output.compression_level,
            row_group_rows=self._output.row_group.max_rows,
            row_group_bytes=self._row_group_bytes,
        )

    def _close_current(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._waiting.append(
            (self._opened - 1, self._current_path, self._writer.rows, self._checksums.digests())
        )
        self._writer = None
        if self._opened > 1:
            self._hand_over(many=True)

    def _hand_over(self, *, many: bool) -> None:
        for index, path, rows, columns in self._waiting:
            suffix = f"_part{index}" if many else ""
            name = f"{self._base_name}{suffix}.{self._output.extension}"
            part = StagedPart(path, name, rows, path.stat().st_size, fingerprint(path), columns)
            if self._check is not None:
                self._check(part)
            self.parts.append(part)
            self._deliver(part)
        self._waiting.clear()


def write_all(
    sink: Sink,
    batches: Iterable[pa.RecordBatch],
    observe: Callable[[pa.RecordBatch], None],
) -> list[StagedPart]:
    """Write every batch (calling `observe` after each) and finish the parts; on any error the
    open part is aborted and the error goes on."""
    write_batches(sink, batches, observe)
    return finish(sink)


def write_batches(
    sink: Sink,
    batches: Iterable[pa.RecordBatch],
    observe: Callable[[pa.RecordBatch], None],
) -> None:
    """Write every batch, calling `observe` after each; the parts stay open (see `finish`)."""
    try:
        for batch in batches:
            sink.write(batch)
            observe(batch)
            if sink.rows == batch.num_rows:
                fault_point("after_first_batch")
    except BaseException:
        sink.abort()
        raise


def finish(sink: Sink) -> list[StagedPart]:
    """Close the parts (the last row group is encoded now) and hand them over."""
    try:
        return sink.finish()
    except BaseException:
        sink.abort()
        raise


def fingerprint(path: Path) -> str:
    """`xxh3:<16 hex>` of a file's bytes, as the reference's manifest records it."""
    digest = xxhash.xxh3_64()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 << 20):
            digest.update(chunk)
    return f"xxh3:{digest.hexdigest()}"
