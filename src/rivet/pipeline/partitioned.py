"""Parts in Hive-style partition folders, with memory and open files bounded.

Each folder (`region=eu/`) has its own PartSink, so `max_file_size` and part naming hold per
folder (`region=eu/<export>_<ts>.parquet`, or `_part<i>` when it has several). Two bounds keep a
run with many partitions within the memory of one without:
- rows buffered for row groups, summed over every open part, stay under the row-group budget:
  past it, the parts holding the most are written out as row groups (smaller groups, same files);
- at most `max_open` parts are open at once: a row of another folder first closes the least
  recently written part, and that folder's later rows go to its next part.
Rows that arrive clustered by the partition column (a chunked read by date, a sorted query)
give one part per folder; rows spread over more folders than `max_open` give more parts.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from rivet.core.errors import PlanError
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
        self._sinks: dict[str, PartSink] = {}
        self._open: OrderedDict[str, PartSink] = OrderedDict()  # least recently written first
        self.rows = 0
        self.blank_keys: set[str] = set()  # keys that met '' (written as NULL's folder)

    def write(self, batch: pa.RecordBatch) -> None:
        for piece in split(batch, self._spec, self.blank_keys):
            sink = self._sink(piece.folder)
            sink.write(piece.batch)
            self.rows += piece.batch.num_rows
        self._bound_buffers()

    def _sink(self, folder: str) -> PartSink:
        sink = self._sinks.get(folder)
        if sink is None:
            if len(self._sinks) >= self._spec.max_partitions:
                raise PlanError(
                    f"export '{self._export}': partition_by gives more than "
                    f"{self._spec.max_partitions:,} partition folders in one run (the next is "
                    f"'{folder}'); nothing was published",
                    hint="partition by a coarser granularity or a column with fewer values, or "
                    "raise max_partitions",
                )
            sink = self._sinks[folder] = self._new_sink(folder)
        if folder in self._open:
            self._open.move_to_end(folder)
        else:
            if len(self._open) >= self._max_open:
                _, oldest = self._open.popitem(last=False)
                oldest.close_part()
            self._open[folder] = sink
        return sink

    def _new_sink(self, folder: str) -> PartSink:
        staging = self._staging / f"p{len(self._sinks):05d}"  # folder texts are not file names
        staging.mkdir(parents=True, exist_ok=True)
        return PartSink(
            self._output, self._schema, staging, f"{folder}/{self._base_name}",
            self._max_file_size, self._deliver, self._check,
        )  # fmt: skip

    def _bound_buffers(self) -> None:
        buffered = sum(s.pending_bytes() for s in self._open.values())
        if buffered <= self._budget:
            return
        for sink in sorted(self._open.values(), key=lambda s: s.pending_bytes(), reverse=True):
            buffered -= sink.pending_bytes()
            sink.flush()
            if buffered <= self._budget // 2:
                return

    def finish(self) -> list[StagedPart]:
        parts: list[StagedPart] = []
        for sink in self._sinks.values():
            parts.extend(sink.finish())
        self._open.clear()
        return parts

    def abort(self) -> None:
        for sink in self._sinks.values():
            with contextlib.suppress(Exception):
                sink.abort()
        self._open.clear()


def partition_notes(sink: object) -> list[str]:
    """What a run should say about its partition values (nothing for an unpartitioned sink)."""
    if not isinstance(sink, PartitionedSink):
        return []
    return [
        f"partition_by '{key}': empty strings share NULL's folder {HIVE_DEFAULT} (as Hive "
        "writes them), so readers of the folders see them as NULL"
        for key in sorted(sink.blank_keys)
    ]


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
    written = file_schema(spec, schema) if spec is not None else schema
    check = (
        (lambda part: validate_part(part, plan.output.kind, plan.name, written))
        if validate
        else None
    )
    if spec is None:
        return PartSink(plan.output, schema, staging, base_name, plan.max_file_size, deliver, check)
    return PartitionedSink(
        plan.name, spec, plan.output, schema, staging, base_name, plan.max_file_size,
        deliver, check, max_open=spec.max_open // max(1, workers),
    )  # fmt: skip
