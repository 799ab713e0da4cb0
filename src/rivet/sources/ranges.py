"""Key ranges: cutting a key span into page-sized ranges, and reading them in parallel in order."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def plan_ranges(
    low: int, high: int, estimated_rows: int, rows_per_range: int
) -> list[tuple[int, int]]:
    """Cut the key span (low..high inclusive) into (after, upto] ranges of ~rows_per_range rows."""
    count = max(1, -(-estimated_rows // max(rows_per_range, 1)))
    width = max(1, -(-(high - low + 1) // count))
    bounds = [*list(range(low - 1, high, width)), high]
    return list(itertools.pairwise(bounds))


def in_range_order(
    workers: int, count: int, pages_of: Callable[[int, int], Iterator[T]]
) -> Iterator[T]:
    """Read ranges 0..count-1 with `workers` threads, range i on worker i % workers, and hand
    the pages on in range order. Each worker reads at most one page ahead (bounded memory);
    an error on any worker is raised here."""
    if workers == 1:
        for index in range(count):
            yield from pages_of(0, index)
        return
    stop = threading.Event()
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=1) for _ in range(workers)]

    def put(q: queue.Queue[Any], item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work(slot: int) -> None:
        try:
            for index in range(slot, count, workers):
                for page in pages_of(slot, index):
                    if not put(queues[slot], page):
                        return
                if not put(queues[slot], None):  # end of range
                    return
        except BaseException as exc:
            put(queues[slot], exc)

    threads = [
        threading.Thread(target=work, args=(s,), daemon=True, name=f"rivet-read-{s}")
        for s in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        for index in range(count):
            q = queues[index % workers]
            while (item := q.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()
