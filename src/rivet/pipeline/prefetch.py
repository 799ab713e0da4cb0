"""Read ahead on a thread, so reading (decoding in C, GIL released) overlaps with writing."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

from rivet.planning.export_plan import ExportPlan

T = TypeVar("T")
_DONE = object()


class Prefetch(Generic[T]):
    """Iterate `source` on a worker thread through a queue of `depth` items.

    Errors raised by the source are re-raised in the consumer. Closing the consumer early (an
    error while writing) stops the worker and closes the source generator on its own thread.
    """

    def __init__(self, source: Iterator[T], depth: int = 1) -> None:
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rivet-reader", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as error:
            self._put(_Failure(error))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(source: Iterator[T], plan: ExportPlan) -> Iterator[T]:
    """The batches of a read, prefetched on a thread unless the plan's profile says not to."""
    return iter(Prefetch(source)) if plan.tuning.read_ahead else source
