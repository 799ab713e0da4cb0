"""The memory guard: what happens when a read uses more memory than the tuning allows.

- `max_batch_memory_mb`: a batch of more Arrow bytes than this is handled by
  `on_batch_memory_exceeded`: `warn` (once), `fail` (the export fails before the batch is
  written), or `auto_shrink` (the statements still to come are halved, down to 1/64).
- `memory_threshold_mb`: when the process's resident memory passes it, the statements still to
  come are halved (down to 1/64), with one warning; 0 turns it off.
Shrinking applies to keyset pages, cursor FETCHes and key-range pages (their LIMIT); a chunk's
single statement is sized by its chunk.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from rivet.core.errors import MemoryExceeded
from rivet.core.memory import FreeMemoryReleaser, current_rss_bytes
from rivet.planning.tuning import Tuning
from rivet.sources.base import ReadStats

MIN_SCALE = 1 / 64


class MemoryGuard:
    def __init__(self, export: str, tuning: Tuning, stats: ReadStats) -> None:
        self._export = export
        self._threshold = tuning.memory_threshold_mb << 20
        self._max_batch = (tuning.max_batch_memory_mb or 0) << 20
        self._policy = tuning.on_batch_memory_exceeded
        self._stats = stats
        self._release = FreeMemoryReleaser(
            tuning.release_memory_above_mb << 20, tuning.release_memory_every_s
        )
        self.warnings: list[str] = []

    def watch(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """The batches, each checked before it is handed on (and so before it is written); once
        one is written, the memory freed meanwhile goes back to the system (on `fast`, only
        while the process is above its resident bound)."""
        for batch in batches:
            self.check(batch)
            yield batch
            self._release()

    def check(self, batch: pa.RecordBatch) -> None:
        if self._max_batch and batch.nbytes > self._max_batch:
            self._batch_too_large(batch.nbytes)
        if self._threshold and current_rss_bytes() > self._threshold:
            self._shrink(
                f"resident memory passed tuning.memory_threshold_mb ({self._threshold >> 20} MB)"
            )

    def _batch_too_large(self, size: int) -> None:
        what = (
            f"a batch of {size / 2**20:.1f} MB is larger than tuning.max_batch_memory_mb "
            f"({self._max_batch >> 20} MB)"
        )
        if self._policy == "fail":
            raise MemoryExceeded(
                f"export '{self._export}': {what}",
                hint="lower tuning.batch_size_memory_mb, raise max_batch_memory_mb, or set "
                "on_batch_memory_exceeded: auto_shrink",
            )
        if self._policy == "auto_shrink":
            self._shrink(what)
        else:
            self._warn_once(what)

    def _shrink(self, why: str) -> None:
        if self._stats.page_scale <= MIN_SCALE:
            return
        self._stats.page_scale = max(MIN_SCALE, self._stats.page_scale / 2)
        self._warn_once(f"{why}: statements shrunk (now {self._stats.page_scale:.0%} of a page)")

    def _warn_once(self, text: str) -> None:
        kind = text.split(":")[0]
        if not any(w.startswith(kind) for w in self.warnings):
            self.warnings.append(text)
