"""tuning.adaptive: slow the reads down while the source is under pressure.

Every SAMPLE_S a thread reads the source's pressure signals on a connection of its own (see
rivet.sources.load): a counter that grew since the last sample (checkpoints requested on
PostgreSQL, InnoDB log waits on MySQL) or a replication lag above LAG_S that is not falling is
pressure. Under pressure the pause between statements doubles (from 100 ms, up to MAX_PAUSE_MS);
without it, it halves back to nothing. The pause is on top of throttle_ms. The run's summary
says how long it paced and why; a sampler that fails ends the pacing, never the export, and is
a warning of the run.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from rivet.sources.base import LoadSampler, ReadStats, Source

log = logging.getLogger(__name__)
SAMPLE_S = 1.0
LAG_S = 5.0
FIRST_PAUSE_MS, MAX_PAUSE_MS = 100.0, 5_000.0
COUNTERS = ("checkpoints_req", "innodb_log_waits")


def next_pause(
    pause_ms: float, before: dict[str, float], now: dict[str, float]
) -> tuple[float, list[str]]:
    """The next pause and the reasons for it (none: the source is not under pressure)."""
    reasons = [
        f"{name} +{now[name] - before[name]:.0f}"
        for name in COUNTERS
        if name in now and now[name] > before.get(name, now[name])
    ]
    lag, lag_before = now.get("replication_lag_s", 0.0), before.get("replication_lag_s", 0.0)
    if lag > LAG_S and lag >= lag_before:
        reasons.append(f"replication lag {lag:.0f} s")
    if reasons:
        return min(MAX_PAUSE_MS, max(FIRST_PAUSE_MS, pause_ms * 2)), reasons
    halved = pause_ms / 2
    return (halved if halved >= 10 else 0.0), []


class Pacer:
    """Runs while an export reads; `stats.pause_ms` is what the readers wait on."""

    def __init__(self, source: Source, export: str, stats: ReadStats, enabled: bool) -> None:
        self._source, self._export, self._stats = source, export, stats
        self._enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.paced_s = 0.0
        self.max_pause_ms = 0.0
        self.reasons: list[str] = []
        self.failure: str | None = None  # why pacing stopped (or never started)

    def __enter__(self) -> Pacer:
        if self._enabled:
            try:
                sampler = self._source.load_sampler(self._export)
            except Exception as exc:
                self.failure = f"adaptive pacing is off: its load sampler failed to start: {exc}"
                log.warning("export %s: %s", self._export, self.failure)
                return self
            self._thread = threading.Thread(
                target=self._watch, args=(sampler,), name="rivet-pacing", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._stats.pause_ms = 0.0

    @property
    def summary(self) -> str | None:
        """The run warning: how long pacing slowed the reads and why, and whether it failed."""
        lines = []
        if self.reasons:
            lines.append(
                f"adaptive pacing slowed the reads for {self.paced_s:.0f} s (pauses up to "
                f"{self.max_pause_ms:.0f} ms between statements): {', '.join(self.reasons[:4])}"
            )
        if self.failure:
            lines.append(self.failure)
        return "; ".join(lines) or None

    def _watch(self, sampler: LoadSampler) -> None:
        try:
            before = sampler.sample()
            while not self._stop.wait(SAMPLE_S):
                now = sampler.sample()
                pause, reasons = next_pause(self._stats.pause_ms, before, now)
                before = now
                self._stats.pause_ms = pause
                if pause:
                    self.paced_s += SAMPLE_S
                    self.max_pause_ms = max(self.max_pause_ms, pause)
                for reason in reasons:
                    kind = reason.split(" ")[0]
                    if not any(r.startswith(kind) for r in self.reasons):
                        self.reasons.append(reason)
        except Exception as exc:
            self.failure = (
                f"adaptive pacing stopped after {self.paced_s:.0f} s paced: the load sampler "
                f"failed: {' '.join(str(exc).split())}"
            )
            log.warning("export %s: %s", self._export, self.failure)
            self._stats.pause_ms = 0.0
        finally:
            sampler.close()
