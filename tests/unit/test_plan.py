"""Plan resolution: tuning profiles, codecs, row groups, placeholders, sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rivet.config.models import RivetConfig
from rivet.config.sizes import parse_size
from rivet.planning.export_plan import resolve_export


def _config(export: dict[str, object], source: dict[str, object] | None = None) -> RivetConfig:
    return RivetConfig.model_validate(
        {
            "source": {"type": "postgres", "url": "postgresql://h/db", **(source or {})},
            "exports": [
                {
                    "name": "orders",
                    "table": "public.orders",
                    "format": "parquet",
                    "destination": {"type": "local", "path": "out/{export}/{date}"},
                    **export,
                }
            ],
        }
    )


def _plan(export: dict[str, object], source: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    config = _config(export, source)
    return resolve_export(config.exports[0], config, None, datetime(2026, 5, 13, tzinfo=UTC))


def test_placeholders_expand_in_the_destination_path() -> None:
    assert _plan({}).destination.path == Path("out/orders/2026-05-13")


@pytest.mark.parametrize(
    ("export", "codec", "level"),
    [
        ({}, "zstd", 3),
        ({"compression": "gzip"}, "gzip", 6),
        ({"compression": "snappy"}, "snappy", None),
        ({"compression_profile": "compact"}, "zstd", 9),
        ({"compression_profile": "fast"}, "snappy", None),
        ({"compression": "zstd", "compression_level": 7}, "zstd", 7),
        ({"format": "csv"}, "none", None),
    ],
)
def test_codec_and_level(export: dict[str, object], codec: str, level: int | None) -> None:
    output = _plan(export).output
    assert (output.compression, output.compression_level) == (codec, level)


def test_row_group_policies() -> None:
    assert _plan({}).output.row_group.max_rows == 1_048_576
    assert _plan({}).output.row_group.max_bytes == 24 << 20
    fixed = _plan({"parquet": {"row_group_strategy": "fixed_rows", "row_group_rows": 5000}})
    assert (fixed.output.row_group.max_rows, fixed.output.row_group.max_bytes) == (5000, None)
    auto = _plan({"parquet": {"target_row_group_mb": 32, "max_row_group_mb": 16}})
    assert auto.output.row_group.max_bytes == 16 << 20


def test_tuning_profile_resolution_and_origins() -> None:
    default = _plan({}).tuning
    assert (default.profile, default.profile_origin, default.batch_size) == (
        "balanced",
        "default",
        10_000,
    )
    local = _plan({}, {"environment": "local"}).tuning
    assert (local.profile, local.throttle_ms) == ("fast", 0)
    assert local.profile_origin == "default for environment: local"
    layered = _plan(
        {"tuning": {"throttle_ms": 7}}, {"tuning": {"profile": "safe", "throttle_ms": 9}}
    ).tuning
    assert (layered.profile, layered.throttle_ms, layered.statement_timeout_s) == ("safe", 7, 120)
    assert layered.origins["throttle_ms"] == "exports[].tuning"
    assert not layered.batch_size_explicit and layered.page_bytes == 4 << 20
    assert local.read_connections == 2 and default.read_connections == 1
    explicit = _plan({"tuning": {"batch_size": 500, "batch_size_memory_mb": None}}).tuning
    assert explicit.batch_size_explicit and explicit.batch_size == 500


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("256MB", 256 << 20),
        ("1GB", 1 << 30),
        ("500KB", 512_000),
        ("10B", 10),
        ("1.5KB", 1536),
        (4096, 4096),
        ("2 mb", 2 << 20),
    ],
)
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "12XB", "-1MB", 0])
def test_bad_sizes(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
