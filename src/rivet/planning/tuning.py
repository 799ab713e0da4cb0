"""Tuning profiles (reference section 4.1) and where each effective value came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from rivet.config.models import SourceConfig, TuningConfig

PROFILES: dict[str, dict[str, int | str | bool | None]] = {
    "fast": {
        "batch_size": 50_000,
        "throttle_ms": 0,
        "statement_timeout_s": 0,
        "max_retries": 1,
        "retry_backoff_ms": 1_000,
        "lock_timeout_s": 0,
        "memory_threshold_mb": 0,
    },
    "balanced": {
        "batch_size": 10_000,
        "throttle_ms": 50,
        "statement_timeout_s": 300,
        "max_retries": 3,
        "retry_backoff_ms": 2_000,
        "lock_timeout_s": 30,
        "memory_threshold_mb": 4_096,
    },
    "safe": {
        "batch_size": 2_000,
        "throttle_ms": 500,
        "statement_timeout_s": 120,
        "max_retries": 5,
        "retry_backoff_ms": 5_000,
        "lock_timeout_s": 10,
        "memory_threshold_mb": 2_048,
    },
}
# Bytes of Arrow data one read statement may return, per profile: this is what bounds both the
# statement's duration on the server and the client's memory (rows per page = bytes / row width).
# `fast` reads with two connections, each holding pages: 6 MB keeps its peak under 300 MB on
# every bench shape, at the speed of 8 MB (bench/README.md, "Memory bound").
PAGE_BYTES = {"fast": 6 << 20, "balanced": 16 << 20, "safe": 4 << 20}
# Connections one export reads with (parallel key ranges sharing one snapshot). Only `fast`, the
# profile for sources that can take the load, opens more than one.
READ_CONNECTIONS = {"fast": 2, "balanced": 1, "safe": 1}
# When the heap the drivers freed goes back to the system: after each batch, above this resident
# memory (0: always), at most once per this many seconds (0: every batch). Memory handed back is
# faulted in again by the next pages (~9% of the wall time of one export of the wide benchmark,
# 10-20% with 4 chunk workers trimming in turn), so `fast` keeps it while the process is small,
# and trims at most twice a second when it is not.
RELEASE_MEMORY = {"fast": (256, 0.5), "balanced": (0, 0.0), "safe": (0, 0.0)}
_ENVIRONMENT_PROFILE = {"local": "fast", "replica": "balanced", "production": "balanced"}
_COMMON_DEFAULTS: dict[str, int | str | bool | None] = {
    "batch_size_memory_mb": None,
    "max_batch_memory_mb": None,
    "on_batch_memory_exceeded": "warn",
    "adaptive": False,
}


@dataclass(frozen=True)
class Tuning:
    profile: str
    profile_origin: str
    batch_size: int
    batch_size_explicit: bool
    batch_size_memory_mb: int | None
    throttle_ms: int
    statement_timeout_s: int
    lock_timeout_s: int
    max_retries: int
    retry_backoff_ms: int
    memory_threshold_mb: int
    max_batch_memory_mb: int | None
    on_batch_memory_exceeded: str
    adaptive: bool
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"profile={self.profile} ({self.profile_origin})"

    @property
    def read_connections(self) -> int:
        return READ_CONNECTIONS[self.profile]

    @property
    def read_ahead(self) -> bool:
        """Read the next page while the last one is written: not on `safe`, where the pause
        between statements leaves nothing to overlap and the smaller footprint matters more."""
        return self.profile != "safe"

    @property
    def release_memory_above_mb(self) -> int:
        return RELEASE_MEMORY[self.profile][0]

    @property
    def release_memory_every_s(self) -> float:
        return RELEASE_MEMORY[self.profile][1]

    @property
    def page_bytes(self) -> int:
        if self.batch_size_memory_mb is not None:
            return self.batch_size_memory_mb << 20
        return PAGE_BYTES[self.profile]


def resolve_tuning(source: SourceConfig, export: TuningConfig | None) -> Tuning:
    """Profile defaults, overridden by source.tuning, overridden field by field by export tuning."""
    layers = [("source.tuning", source.tuning), ("exports[].tuning", export)]
    profile, origin = "balanced", "default"
    if source.environment:
        profile = _ENVIRONMENT_PROFILE[source.environment]
        origin = f"default for environment: {source.environment}"
    for where, layer in layers:
        if layer is not None and layer.profile is not None:
            profile, origin = layer.profile, where
    values: dict[str, int | str | bool | None] = {**_COMMON_DEFAULTS, **PROFILES[profile]}
    origins = {key: f"profile {profile}" for key in values}
    for where, layer in layers:
        if layer is None:
            continue
        for key, value in layer.model_dump(exclude_none=True, exclude={"profile"}).items():
            values[key], origins[key] = value, where
    return Tuning(
        profile=profile,
        profile_origin=origin,
        batch_size_explicit=not origins["batch_size"].startswith("profile"),
        origins=origins,
        **values,  # type: ignore[arg-type]
    )
