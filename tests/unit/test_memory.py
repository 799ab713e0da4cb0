"""Freed heap goes back to the system per batch, except on `fast` while the process is small."""

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


def test_profiles_choose_the_bound() -> None:
    def bound(profile: str) -> int:
        source = SourceConfig.model_validate(
            {"type": "postgres", "url": "postgresql://h/db", "tuning": {"profile": profile}}
        )
        return resolve_tuning(source, None).release_memory_above_mb

    assert (bound("fast"), bound("balanced"), bound("safe")) == (256, 0, 0)
