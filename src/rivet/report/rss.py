"""Peak resident memory of this process, sampled on a thread every 100 ms while a run is going."""

from __future__ import annotations

import threading
from types import TracebackType

from rivet.core.memory import current_rss_bytes


class PeakRss:
    def __init__(self, interval_s: float = 0.1) -> None:
        self.peak_bytes = current_rss_bytes()
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rivet-rss", daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, current_rss_bytes())

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / (1 << 20)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())
