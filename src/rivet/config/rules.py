"""Rules that relate several keys (reference section 2.9). Each returns every problem it finds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from rivet.config.column_types import parse_column_type
from rivet.config.connection import example_url
from rivet.config.lag import parse_lag
from rivet.config.models import (
    ExportConfig,
    GcsDestination,
    RivetConfig,
    S3Destination,
    SourceConfig,
    StdoutDestination,
    TuningConfig,
)
from rivet.config.sizes import parse_size
from rivet.core.partitions import PartitionKey

TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def check(config: RivetConfig, config_dir: Path) -> list[str]:
    problems = list(_source_problems(config.source))
    if not config.exports:
        problems.append("exports: at least one export must be defined (got empty list)")
    seen: set[str] = set()
    for index, export in enumerate(config.exports):
        where = f"exports[{index}] ({export.name})"
        if export.name in seen:
            problems.append(
                f"{where}.name: duplicate export name '{export.name}' "
                "(each export must have a unique name; state is keyed by name)"
            )
        seen.add(export.name)
        problems.extend(f"{where}.{p}" for p in _export_problems(export, config, config_dir))
    return problems


def _source_problems(source: SourceConfig) -> Iterator[str]:
    url_keys = [k for k in ("url", "url_env", "url_file") if getattr(source, k) is not None]
    structured = [
        k
        for k in ("host", "user", "database", "password", "password_env")
        if getattr(source, k) is not None
    ]
    if len(url_keys) > 1:
        yield (
            f"source: specify exactly one of 'url', 'url_env', or 'url_file' "
            f"(got {len(url_keys)} set)."
        )
    if url_keys and structured:
        yield (
            "source: pick either URL-based config (url / url_env / url_file) OR structured "
            "fields (host / user / database / password), not both."
        )
    if not url_keys:
        if not structured:
            yield (
                "source: no connection method: set one of\n"
                "      url_env: DATABASE_URL      (recommended: the URL stays out of the file)\n"
                f"      url: {example_url(source.type)}\n"
                "      url_file: /run/secrets/db_url\n"
                "      host / user / database [/ password_env]"
            )
        else:
            for key in ("host", "user", "database"):
                if getattr(source, key) is None:
                    yield f"source.{key}: required when using structured connection fields"
    if source.password is not None and source.password_env is not None:
        yield "source: set only one of 'password' and 'password_env'"
    if source.tuning is not None:
        yield from (f"source.tuning: {p}" for p in _tuning_problems(source.tuning))


def _tuning_problems(tuning: TuningConfig) -> Iterator[str]:
    if tuning.batch_size is not None and tuning.batch_size_memory_mb is not None:
        yield "batch_size and batch_size_memory_mb are mutually exclusive"


def _export_problems(export: ExportConfig, config: RivetConfig, config_dir: Path) -> Iterator[str]:
    yield from _query_problems(export, config_dir)
    yield from _mode_problems(export)
    yield from _output_problems(export, config)
    if export.tuning is not None:
        yield from (f"tuning: {p}" for p in _tuning_problems(export.tuning))
        source_tuning = config.source.tuning or TuningConfig()
        merged_rows = export.tuning.batch_size or source_tuning.batch_size
        merged_mb = export.tuning.batch_size_memory_mb or source_tuning.batch_size_memory_mb
        if (
            (export.tuning.batch_size or export.tuning.batch_size_memory_mb)
            and merged_rows
            and merged_mb
        ):
            yield (
                "tuning: batch_size and batch_size_memory_mb are mutually exclusive "
                "(one is set on the source, the other on the export)"
            )
    for column, type_text in export.columns.items():
        try:
            parse_column_type(type_text)
        except ValueError as exc:
            yield f"columns.{column}: column override: {exc}"


def _query_problems(export: ExportConfig, config_dir: Path) -> Iterator[str]:
    given = [k for k in ("query", "query_file", "table") if getattr(export, k) is not None]
    if len(given) != 1:
        yield "must specify exactly one of 'query', 'query_file', or 'table'"
    if export.table is not None and not TABLE_NAME.match(export.table):
        yield (
            f"table: '{export.table}' is not a plain identifier (name or schema.name); "
            "use 'query:' for anything else"
        )
    if export.query_file is not None:
        path = Path(export.query_file)
        if path.is_absolute():
            yield "query_file: query_file must be a relative path (relative to the config file)"
        elif ".." in path.parts:
            yield "query_file: query_file path must not contain '..'"
        elif not (config_dir / path).is_file():
            yield f"query_file: '{export.query_file}' not found next to the config file"


def _mode_problems(export: ExportConfig) -> Iterator[str]:
    if export.mode == "incremental" and export.cursor_column is None:
        yield "cursor_column: required for mode: incremental"
    if export.cursor_lag is not None:
        if export.mode != "incremental":
            yield "cursor_lag: only allowed with mode: incremental"
        if export.incremental_cursor_mode == "coalesce":
            yield "cursor_lag: not available with incremental_cursor_mode: coalesce"
        try:
            parse_lag(export.cursor_lag)
        except ValueError as exc:
            yield f"cursor_lag: {exc}"
    if export.incremental_cursor_mode == "coalesce" and export.cursor_fallback_column is None:
        yield "cursor_fallback_column: required with incremental_cursor_mode: coalesce"
    if export.cursor_fallback_column is not None and export.incremental_cursor_mode != "coalesce":
        yield "cursor_fallback_column: only allowed with incremental_cursor_mode: coalesce"
    if export.mode == "chunked" and export.chunk_column is None and export.table is None:
        yield "chunk_column: required for mode: chunked (or use 'table:' to auto-resolve the PK)"
    if export.chunk_count is not None and (export.chunk_dense or export.chunk_by_days):
        yield "chunk_count: cannot be combined with chunk_dense or chunk_by_days"
    if export.chunk_dense and export.mode != "chunked":
        yield "chunk_dense: only allowed with mode: chunked"
    if export.chunk_by_days is not None and export.mode != "chunked":
        yield "chunk_by_days: only allowed with mode: chunked"
    if export.chunk_by_days is not None and export.chunk_dense:
        yield "chunk_by_days: cannot be combined with chunk_dense"
    if export.chunk_snapshot != "shared" and export.mode != "chunked":
        yield "chunk_snapshot: only allowed with mode: chunked"
    if export.chunk_size_memory_mb is not None and export.table is None:
        yield "chunk_size_memory_mb: only allowed with 'table:' (it reads the table's statistics)"
    if export.write_disposition == "replace" and export.mode == "incremental":
        yield (
            "write_disposition: replace cannot be used with mode: incremental (each run exports "
            "only the new rows: replacing would leave only the last run's); use append"
        )
    if export.write_disposition == "replace" and export.destination.type == "stdout":
        yield "write_disposition: replace needs a destination with files (not stdout)"
    if export.mode == "time_window":
        if export.time_column is None:
            yield "time_column: required for mode: time_window"
        if export.days_window is None:
            yield "days_window: required for mode: time_window"


def _output_problems(export: ExportConfig, config: RivetConfig) -> Iterator[str]:
    if export.max_file_size is not None:
        try:
            parse_size(export.max_file_size)
        except ValueError as exc:
            yield f"max_file_size: {exc}"
    level = export.compression_level
    if level is not None:
        if export.compression == "zstd" and not 1 <= level <= 22:
            yield f"compression_level: zstd level must be 1..22 (got {level})"
        elif export.compression == "gzip" and not 0 <= level <= 10:
            yield f"compression_level: gzip level must be 0..10 (got {level})"
        elif export.compression not in ("zstd", "gzip"):
            yield (
                f"compression_level: only zstd and gzip take a level (compression is "
                f"{export.compression})"
            )
    yield from _partition_problems(export)
    yield from _iceberg_problems(export, config)
    dest = export.destination
    if isinstance(dest, StdoutDestination):
        if export.max_file_size is not None:
            yield "destination: stdout cannot be split; remove max_file_size [stdout-no-split]"
        if export.mode == "chunked":
            yield "destination: stdout cannot take a chunked export [stdout-no-chunked]"
    if isinstance(dest, S3Destination) and (dest.access_key_env is None) != (
        dest.secret_key_env is None
    ):
        yield "destination: set both access_key_env and secret_key_env, or neither"
    if isinstance(dest, GcsDestination):
        if dest.allow_anonymous and dest.credentials_file:
            yield "destination: allow_anonymous cannot be combined with credentials_file"
        if dest.credentials_file and not Path(dest.credentials_file).is_file():
            yield f"destination.credentials_file: '{dest.credentials_file}' does not exist"


def _partition_problems(export: ExportConfig) -> Iterator[str]:
    keys = partition_keys(export)
    if not keys:
        if export.partition_by is not None:
            yield "partition_by: name at least one column (or remove the key)"
        return
    if export.destination.type == "stdout":
        yield "partition_by: stdout cannot take partition folders; write to a folder or bucket"
    seen: set[str] = set()
    for key in keys:
        if key.name in seen:
            yield f"partition_by: '{key.name}' is named twice"
        seen.add(key.name)


def _iceberg_problems(export: ExportConfig, config: RivetConfig) -> Iterator[str]:
    if export.table_format != "iceberg":
        if export.iceberg is not None:
            yield "iceberg: only used with table_format: iceberg"
        return
    if export.format != "parquet":
        yield "table_format: iceberg tables hold Parquet files; set format: parquet"
    if export.destination.type not in ("local", "s3"):
        yield (
            f"table_format: iceberg is available on local and s3 destinations (not "
            f"{export.destination.type})"
        )
    if (export.layout or config.layout) == "rivet-cli-0.7.7":
        yield "table_format: iceberg needs the dataset layout (layout: rivet-cli-0.7.7 is set)"
    given = export.iceberg
    rest = given is not None and (given.catalog_uri or "").startswith(("http://", "https://"))
    if given is not None and not rest and (given.token_env or given.warehouse):
        yield "iceberg: token_env and warehouse are for a REST catalog (an http(s):// catalog_uri)"


def partition_keys(export: ExportConfig) -> list[PartitionKey]:
    """`partition_by` as a list of keys (a bare column name is a key without granularity)."""
    given = export.partition_by
    if given is None:
        return []
    items = given if isinstance(given, list) else [given]
    return [
        PartitionKey(k) if isinstance(k, str) else PartitionKey(k.column, k.granularity)
        for k in items
    ]
