"""Resolve one export of the config into the frozen plan the pipeline executes.

The pipeline never reads config again: everything it needs (the SQL source, the output format and
its row-group policy, the destination path with placeholders expanded, the tuning) is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rivet.config.column_types import ColumnType, parse_column_type
from rivet.config.lag import parse_lag
from rivet.config.models import (
    AzureDestination,
    ExportConfig,
    GcsDestination,
    IcebergConfig,
    LocalDestination,
    ParquetConfig,
    RivetConfig,
    S3Destination,
    StdoutDestination,
)
from rivet.config.rules import partition_keys
from rivet.config.sizes import parse_size
from rivet.core.chunks import ChunkSpec
from rivet.core.errors import PlanError
from rivet.core.partitions import PartitionSpec
from rivet.destinations.targets import (
    GcsTarget,
    IcebergTarget,
    LocalTarget,
    S3Target,
    StdoutTarget,
    Target,
)
from rivet.planning.tuning import Tuning, resolve_tuning
from rivet.quality.gates import Gates

DEFAULT_ROW_GROUP_ROWS = 1_048_576
# Without a `parquet:` block a row group also closes at this many bytes of Arrow data, so that a
# wide table's row group cannot buffer gigabytes in memory; `safe`, which promises the smallest
# footprint, buffers less, and so does `fast`, whose two readers hold more pages (16 MB kept its
# peak under 300 MB on every bench shape at the same speed: bench/README.md, "Memory bound").
ROW_GROUP_BYTES = {"fast": 16 << 20, "balanced": 24 << 20, "safe": 8 << 20}
_PROFILE_CODEC = {
    "none": ("none", None),
    "fast": ("snappy", None),
    "balanced": ("zstd", 3),
    "compact": ("zstd", 9),
}
_DEFAULT_LEVEL = {"zstd": 3, "gzip": 6}
IMPLEMENTED_MODES = ("full", "incremental", "chunked", "time_window")


@dataclass(frozen=True)
class RowGroupPolicy:
    max_rows: int
    max_bytes: int | None

    def bytes_for(self, max_file_size: int | None) -> int | None:
        """Arrow bytes a part's row group holds at most. Parquet learns its compressed size only
        as row groups are flushed: with max_file_size, groups of a quarter of the part give the
        ratio early and make a part end within about one group of the size."""
        if max_file_size is None:
            return self.max_bytes
        return min(self.max_bytes or max_file_size, max(max_file_size // 4, 1))


@dataclass(frozen=True)
class OutputFormat:
    kind: str  # parquet | csv
    compression: str  # zstd | snappy | gzip | lz4 | none (parquet only)
    compression_level: int | None
    row_group: RowGroupPolicy

    @property
    def extension(self) -> str:
        return self.kind


@dataclass(frozen=True)
class TimeWindow:
    """Rows whose `column` is at or after `since` (UTC midnight, days_window days ago)."""

    column: str
    kind: str  # timestamp | unix
    since: datetime

    @property
    def bound(self) -> tuple[str, str]:
        if self.kind == "unix":
            return ("unix", str(int(self.since.timestamp())))
        return ("timestamp", self.since.strftime("%Y-%m-%d %H:%M:%S"))


@dataclass(frozen=True)
class ExportPlan:
    name: str
    table: str | None
    query: str | None
    mode: str
    output: OutputFormat
    max_file_size: int | None
    skip_empty: bool
    column_overrides: dict[str, ColumnType]
    destination: Target
    tuning: Tuning
    cursor_column: str | None = None  # incremental mode
    cursor_lag: timedelta | int | None = None  # incremental: re-read this far behind the cursor
    cursor_until: tuple[str, ...] | None = None  # `rivet apply`: the planned last row
    cursor_fallback: str | None = None  # incremental_cursor_mode: coalesce
    window: TimeWindow | None = None  # time_window mode
    gates: Gates | None = None  # quality:
    chunks: ChunkSpec | None = None  # chunked mode
    max_connections: int | None = None  # source.max_connections: a cap per export
    schema_drift: str = "warn"  # on_schema_drift: warn | continue | fail
    shape_drift_factor: float = 2.0  # shape_drift_warn_factor (0: off)
    meta_exported_at: bool = False  # meta_columns.exported_at
    meta_row_hash: bool = False  # meta_columns.row_hash
    layout: str = "dataset"  # dataset | rivet-cli-0.7.7 (where the latest manifest goes)
    replace: bool = False  # write_disposition: replace (earlier runs' parts retired)
    partitions: PartitionSpec | None = None  # partition_by: Hive-style folders
    iceberg: IcebergTarget | None = None  # table_format: iceberg


def resolve_export(
    export: ExportConfig, config: RivetConfig, query_text: str | None, now: datetime
) -> ExportPlan:
    """`query_text` is the query (or the query file's content, already substituted)."""
    _refuse_unimplemented(export)
    tuning = resolve_tuning(config.source, export.tuning)
    return ExportPlan(
        name=export.name,
        table=export.table,
        query=None if export.table is not None else query_text,
        mode=export.mode,
        output=_output_format(export, tuning.profile),
        max_file_size=parse_size(export.max_file_size)
        if export.max_file_size is not None
        else None,
        skip_empty=export.skip_empty,
        column_overrides={c: parse_column_type(t) for c, t in export.columns.items()},
        destination=_destination(export, now),
        tuning=tuning,
        cursor_column=export.cursor_column if export.mode == "incremental" else None,
        cursor_lag=parse_lag(export.cursor_lag) if export.cursor_lag is not None else None,
        cursor_fallback=export.cursor_fallback_column
        if export.incremental_cursor_mode == "coalesce"
        else None,
        window=_window(export, now),
        gates=_gates(export),
        chunks=_chunks(export, tuning),
        max_connections=config.source.max_connections,
        schema_drift=export.on_schema_drift,
        shape_drift_factor=export.shape_drift_warn_factor,
        meta_exported_at=export.meta_columns.exported_at,
        meta_row_hash=export.meta_columns.row_hash,
        layout=export.layout or config.layout,
        replace=_replaces(export, export.layout or config.layout),
        partitions=_partitions(export),
        iceberg=_iceberg(export),
    )


def _iceberg(export: ExportConfig) -> IcebergTarget | None:
    if export.table_format != "iceberg":
        return None
    given = export.iceberg or IcebergConfig()
    return IcebergTarget(
        given.catalog_uri, given.namespace, given.table or export.name, given.token_env,
        given.warehouse,
    )  # fmt: skip


def _partitions(export: ExportConfig) -> PartitionSpec | None:
    keys = tuple(partition_keys(export))
    if not keys:
        return None
    return PartitionSpec(
        keys, export.max_partitions, columns_in_files=export.table_format == "iceberg"
    )


def _replaces(export: ExportConfig, layout: str) -> bool:
    """write_disposition, or its default: full and chunked runs are whole snapshots (replace),
    incremental and time_window runs add rows (append); 0.7.7's layout never deleted a part."""
    if export.write_disposition is not None:
        return export.write_disposition == "replace"
    if layout == "rivet-cli-0.7.7" or export.destination.type == "stdout":
        return False
    return export.mode in ("full", "chunked")


def _chunks(export: ExportConfig, tuning: Tuning) -> ChunkSpec | None:
    if export.mode != "chunked":
        return None
    by = "days" if export.chunk_by_days else "dense" if export.chunk_dense else "range"
    return ChunkSpec(
        column=export.chunk_column,
        by=by,
        size=export.chunk_size,
        count=export.chunk_count,
        memory_mb=export.chunk_size_memory_mb,
        days=export.chunk_by_days,
        parallel=export.parallel,
        checkpoint=export.chunk_checkpoint,
        max_attempts=export.chunk_max_attempts or tuning.max_retries + 1,
        shared_snapshot=export.chunk_snapshot == "shared",
    )


def _gates(export: ExportConfig) -> Gates | None:
    quality = export.quality
    if quality is None:
        return None
    return Gates(
        quality.row_count_min,
        quality.row_count_max,
        dict(quality.null_ratio_max),
        tuple(quality.unique_columns),
        quality.unique_max_entries,
    )


def _window(export: ExportConfig, now: datetime) -> TimeWindow | None:
    if export.mode != "time_window":
        return None
    assert export.time_column is not None and export.days_window is not None
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return TimeWindow(
        export.time_column, export.time_column_type, midnight - timedelta(days=export.days_window)
    )


def _refuse_unimplemented(export: ExportConfig) -> None:
    """Say plainly what this version cannot do yet, rather than run something else."""
    where = f"export '{export.name}'"
    if export.mode not in IMPLEMENTED_MODES:
        raise PlanError(
            f"{where}: mode '{export.mode}' is not available in this version of rivet yet",
            hint="use mode: full, incremental or time_window for now",
        )
    if isinstance(export.destination, AzureDestination):
        raise PlanError(
            f"{where}: destination type '{export.destination.type}' is not available in this "
            "version of rivet yet",
            hint="use destination type local, s3, gcs or stdout for now",
        )
    unsupported = [
        key
        for key, on in (
            ("reconcile_required", export.reconcile_required),
            ("source_group", export.source_group is not None),
        )
        if on
    ]
    if unsupported:
        raise PlanError(
            f"{where}: {', '.join(unsupported)} is not available in this version of rivet yet",
            hint="remove the key(s); rivet refuses to ignore them silently",
        )


def _output_format(export: ExportConfig, profile: str) -> OutputFormat:
    codec: str = export.compression
    level = export.compression_level
    if export.compression_profile is not None:
        codec, level = _PROFILE_CODEC[export.compression_profile]
    if level is None:
        level = _DEFAULT_LEVEL.get(codec)
    if export.format == "csv":
        codec, level = "none", None
    return OutputFormat(export.format, codec, level, _row_group_policy(export.parquet, profile))


def _row_group_policy(parquet: ParquetConfig | None, profile: str) -> RowGroupPolicy:
    if parquet is None:
        return RowGroupPolicy(DEFAULT_ROW_GROUP_ROWS, ROW_GROUP_BYTES[profile])
    if parquet.row_group_strategy == "fixed_rows":
        return RowGroupPolicy(parquet.row_group_rows or DEFAULT_ROW_GROUP_ROWS, None)
    target = parquet.target_row_group_mb
    if parquet.max_row_group_mb is not None:
        target = min(target, parquet.max_row_group_mb)
    return RowGroupPolicy(10_000_000, target << 20)


def _destination(export: ExportConfig, now: datetime) -> Target:
    dest = export.destination

    def expand(text: str) -> str:
        return (
            text.replace("{date}", now.strftime("%Y-%m-%d"))
            .replace("{export}", export.name)
            .replace("{table}", export.name)
        )

    if isinstance(dest, StdoutDestination):
        return StdoutTarget()
    if isinstance(dest, GcsDestination):
        return GcsTarget(
            dest.bucket,
            expand(dest.prefix or ""),
            dest.credentials_file,
            dest.endpoint,
            dest.allow_anonymous,
        )
    if isinstance(dest, S3Destination):
        return S3Target(
            dest.bucket,
            expand(dest.prefix or ""),
            dest.region,
            dest.endpoint,
            dest.access_key_env,
            dest.secret_key_env,
            dest.session_token_env,
            dest.aws_profile,
            dest.allow_anonymous,
        )
    assert isinstance(dest, LocalDestination)
    return LocalTarget(Path(expand(dest.path or dest.prefix or ".")))
