"""Process-wide memory settings.

The drivers allocate their page buffers with the C allocator from several threads (ConnectorX
starts new worker threads for every statement). glibc gives each thread its own arena and keeps
freed pages in them, which inflated peak RSS by 100+ MB in the benchmark without any gain in
speed; two arenas measured the same wall time with ~30% less memory. Arrow's own buffers go to
the same (system) allocator rather than the mimalloc pool pyarrow defaults to: mimalloc keeps
freed pages for reuse, which cost 25 MB of peak RSS on the wide benchmark for no measurable speed.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

_M_ARENA_MAX = -8  # from glibc's malloc.h
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc malloc arenas, unless MALLOC_ARENA_MAX is set in the environment already."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        return


def use_system_allocator_for_arrow() -> None:
    """Arrow buffers from malloc, unless ARROW_DEFAULT_MEMORY_POOL chooses a pool already."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())


class FreeMemoryReleaser:
    """Hand freed heap memory back to the kernel (glibc `malloc_trim`); called after every batch
    (a call costs well under a millisecond here), it acts only while resident memory is above
    `above_bytes` (0: always), and at most once per `every_s` seconds, whichever thread calls:
    memory handed back is faulted in again by the next pages (see planning.tuning).

    glibc keeps memory freed by other threads' arenas (the drivers decode on their own threads)
    mapped: a loop of 4 MB ConnectorX pages alone grows to ~250 MB resident, and to ~100 MB
    when the free memory is released after each page. A no-op off glibc."""

    def __init__(self, above_bytes: int = 0, every_s: float = 0.0) -> None:
        self._above, self._every_s = above_bytes, every_s
        self._last = 0.0
        try:
            self._trim = ctypes.CDLL("libc.so.6").malloc_trim if sys.platform == "linux" else None
        except (OSError, AttributeError):
            self._trim = None

    def __call__(self) -> None:
        if self._trim is None:
            return
        if self._every_s and time.monotonic() - self._last < self._every_s:
            return
        if self._above and current_rss_bytes() <= self._above:
            return
        self._last = time.monotonic()
        self._trim(0)


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
