"""Parts in Hive-style partition folders, with memory and open files bounded.

Each folder (`region=eu/`) has its own PartSink, so `max_file_size` and part naming hold per
folder (`region=eu/<export>_<ts>.parquet`, or `_part<i>` when it has several). Rows are routed
to their folder batch by batch and buffered per folder; all buffers share one budget (the
row-group budget):
- a folder whose buffer reaches the budget on its own (rows clustered by the partition column:
  a chunked read by date, a sorted query) is written to its part as one row group;
- when the buffers together pass the budget, those of a fair size (1/16 of it) are written as
  row groups too, and the small ones (rows spread over many folders) are spilled to a local
  Arrow IPC file in the staging folder, a record batch per folder (no encoding, no compression);
- at the end each folder's part is written from its spilled batches and its buffer, gathered
  into row groups of the budget: a folder gets one part with full row groups however its rows
  arrived, and finishing holds one folder's row group at a time.
At most `max_open` parts are open at once while rows arrive (a folder beyond it first closes the
least recently written part; its later rows go to its next part).
"""

from __future__ import annotations

import contextlib
import itertools
import resource
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from rivet.core.errors import PlanError
from rivet.core.memory import FreeMemoryReleaser
from rivet.core.partitions import PartitionSpec
from rivet.destinations.base import StagedPart
from rivet.formats.hive import HIVE_DEFAULT, file_schema, split
from rivet.pipeline.parts import PartSink
from rivet.pipeline.validate import validate_part
from rivet.planning.export_plan import ExportPlan, OutputFormat

_DEFAULT_BUDGET = 24 << 20


class PartitionedSink:
    def __init__(
        self,
        export: str,
        spec: PartitionSpec,
        output: OutputFormat,
        schema: pa.Schema,
        staging: Path,
        base_name: str,
        max_file_size: int | None,
        deliver: Callable[[StagedPart], None],
        check: Callable[[StagedPart], None] | None,
        max_open: int,
    ) -> None:
        self._export, self._spec = export, spec
        self._output, self._schema = output, file_schema(spec, schema)
        self._staging, self._base_name, self._max_file_size = staging, base_name, max_file_size
        self._deliver, self._check = deliver, check
        self._budget = output.row_group.max_bytes or _DEFAULT_BUDGET
        self._max_open = max(1, max_open)
        self._folders: dict[str, int] = {}  # every folder met, in order (its staging number)
        self._sinks: dict[str, PartSink] = {}  # made when rows are written (each holds ~50 KB)
        self._open: OrderedDict[str, PartSink] = OrderedDict()  # least recently written first
        self._buffers: dict[str, list[pa.RecordBatch]] = {}
        self._buffered: dict[str, int] = {}  # bytes per folder
        self._spills: list[Path] = []
        self._spilled: dict[str, list[tuple[int, int]]] = {}  # folder -> (spill, batch index)
        self.rows = 0
        self.blank_keys: set[str] = set()  # keys that met '' (written as NULL's folder)
        # the many small pieces fragment the heap: freed memory is handed back now and then
        self._release = FreeMemoryReleaser(every_s=0.25)

    def write(self, batch: pa.RecordBatch) -> None:
        per_row = batch.nbytes / max(1, batch.num_rows)  # a slice's own nbytes costs a walk
        for piece in split(batch, self._spec, self.blank_keys):
            folder = piece.folder
            self._meet(folder)
            self._buffers.setdefault(folder, []).append(piece.batch)
            size = int(piece.batch.num_rows * per_row)
            self._buffered[folder] = self._buffered.get(folder, 0) + size
            self.rows += piece.batch.num_rows
            if self._buffered[folder] >= self._budget:
                self._write_buffer(folder)
        if sum(self._buffered.values()) > self._budget:
            # buffers of a fair size become row groups now; the small ones are spilled
            for folder in [f for f, size in self._buffered.items() if size >= self._budget // 16]:
                self._write_buffer(folder)
            if self._buffers:
                self._spill()

    def _meet(self, folder: str) -> None:
        if folder not in self._folders:
            if len(self._folders) >= self._spec.max_partitions:
                raise PlanError(
                    f"export '{self._export}': partition_by gives more than "
                    f"{self._spec.max_partitions:,} partition folders in one run (the next is "
                    f"'{folder}'); nothing was published",
                    hint="partition by a coarser granularity or a column with fewer values, or "
                    "raise max_partitions",
                )
            self._folders[folder] = len(self._folders)

    def _sink(self, folder: str) -> PartSink:
        sink = self._sinks.get(folder)
        if sink is None:
            sink = self._sinks[folder] = self._new_sink(folder)
        return sink

    def _new_sink(self, folder: str) -> PartSink:
        staging = self._staging / f"p{self._folders[folder]:05d}"  # folder texts are no names
        staging.mkdir(parents=True, exist_ok=True)
        return PartSink(
            self._output, self._schema, staging, f"{folder}/{self._base_name}",
            self._max_file_size, self._deliver, self._check,
        )  # fmt: skip

    def _write_buffer(self, folder: str) -> None:
        """The folder's buffered rows into its part, as one row group."""
        batches = self._buffers.pop(folder, [])
        self._buffered.pop(folder, None)
        sink = self._sink(folder)
        if folder in self._open:
            self._open.move_to_end(folder)
        else:
            if len(self._open) >= self._max_open:
                _, oldest = self._open.popitem(last=False)
                oldest.close_part()
            self._open[folder] = sink
        sink.write(_concat(batches))
        sink.flush()

    def _spill(self) -> None:
        """Every buffer to one IPC file (a batch per folder), uncompressed and unencoded."""
        index = len(self._spills)
        path = self._staging / f"spill-{index:05d}.arrow"
        with ipc.new_file(str(path), self._schema) as writer:
            for position, (folder, batches) in enumerate(self._buffers.items()):
                writer.write_batch(_concat(batches))
                self._spilled.setdefault(folder, []).append((index, position))
        self._spills.append(path)
        self._buffers.clear()
        self._buffered.clear()
        self._release()

    def finish(self) -> list[StagedPart]:
        # read, not memory-mapped: mapped pages would count as the process's memory
        files = [pa.OSFile(str(p)) for p in self._spills]
        try:
            readers = [ipc.open_file(f) for f in files]
            parts: list[StagedPart] = []
            for folder in self._folders:
                sink = self._sink(folder)
                spilled = (readers[i].get_batch(at) for i, at in self._spilled.get(folder, []))
                rest = self._buffers.pop(folder, [])
                for rows in _gathered(itertools.chain(spilled, rest), self._budget):
                    sink.write(rows)
                parts.extend(sink.finish())  # one part open at a time
                self._open.pop(folder, None)
                del self._sinks[folder]
                self._release()
        finally:
            for file in files:
                file.close()
        self._drop_spills()
        return parts

    def notes(self) -> list[str]:
        return [
            f"partition_by '{key}': empty strings share NULL's folder {HIVE_DEFAULT} (as Hive "
            "writes them), so readers of the folders see them as NULL"
            for key in sorted(self.blank_keys)
        ]

    def abort(self) -> None:
        for sink in self._sinks.values():
            with contextlib.suppress(Exception):
                sink.abort()
        self._open.clear()
        self._buffers.clear()
        self._drop_spills()

    def _drop_spills(self) -> None:
        for path in self._spills:
            path.unlink(missing_ok=True)
        self._spills.clear()


def _gathered(batches: Iterable[pa.RecordBatch], budget: int) -> Iterator[pa.RecordBatch]:
    """Small batches joined into ones of about `budget` bytes (a part writes each at once)."""
    held: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        held.append(batch)
        size += batch.nbytes
        if size >= budget:
            yield _concat(held)
            held, size = [], 0
    if held:
        yield _concat(held)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    return table.to_batches()[0]


def open_sink(
    plan: ExportPlan,
    schema: pa.Schema,
    staging: Path,
    base_name: str,
    deliver: Callable[[StagedPart], None],
    validate: bool,
    workers: int = 1,
) -> PartSink | PartitionedSink:
    """The sink of a run (or chunk): plain parts, or parts in partition folders. `validate`:
    each finished part is read back and checked before it is handed over."""
    spec = plan.partitions
    written = file_schema(spec, schema)
    check = (
        (lambda part: validate_part(part, plan.output.kind, plan.name, written))
        if validate
        else None
    )
    if spec is None:
        return PartSink(plan.output, schema, staging, base_name, plan.max_file_size, deliver, check)
    return PartitionedSink(
        plan.name, spec, plan.output, schema, staging, base_name, plan.max_file_size,
        deliver, check, max_open=open_parts_allowed(spec.max_open, workers),
    )  # fmt: skip


def open_parts_allowed(wanted: int, workers: int) -> int:
    """Open parts per sink: `wanted`, within the files this process may open (the soft limit
    is raised to the hard one first, as Go's runtime does), shared by the chunk workers, with
    room left for connections and staging."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(16, min(wanted, (soft - 256) // max(1, workers)))
