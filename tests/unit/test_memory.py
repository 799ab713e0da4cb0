"""Freed heap goes back to the system per batch, except on `fast`: only while the process is
large, and at most twice a second."""

from __future__ import annotations

from rivet.config.models import SourceConfig
from rivet.core.memory import FreeMemoryReleaser, current_rss_bytes
from rivet.planning.tuning import resolve_tuning


def _calls(releaser: FreeMemoryReleaser) -> list[int]:
    calls: list[int] = []
    releaser._trim = calls.append  # count the calls instead of trimming
    releaser()
    return calls


def test_release_only_above_the_resident_bound() -> None:
    resident = current_rss_bytes()
    assert resident > 0
    assert _calls(FreeMemoryReleaser()) == [0]
    assert _calls(FreeMemoryReleaser(above_bytes=resident // 2)) == [0]
    assert _calls(FreeMemoryReleaser(above_bytes=resident * 4)) == []


def test_release_at_most_once_per_interval_whoever_calls() -> None:
    releaser = FreeMemoryReleaser(every_s=60)
    calls: list[int] = []
    releaser._trim = calls.append
    for _ in range(5):
        releaser()
    assert calls == [0]


def test_profiles_choose_the_bound() -> None:
    def bound(profile: str) -> tuple[int, float]:
        source = SourceConfig.model_validate(
            {"type": "postgres", "url": "postgresql://h/db", "tuning": {"profile": profile}}
        )
        tuning = resolve_tuning(source, None)
        return tuning.release_memory_above_mb, tuning.release_memory_every_s

    assert (bound("fast"), bound("balanced"), bound("safe")) == ((256, 0.5), (0, 0), (0, 0))
