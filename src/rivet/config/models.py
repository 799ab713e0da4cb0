"""The rivet.yaml grammar (rivet-cli 0.7.7 compatible), as strict pydantic models.

Structure and types only: rules that relate several keys live in `rules.py`, so that every
problem of a file is reported at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Profile = Literal["fast", "balanced", "safe"]


class TuningConfig(_Model):
    """Source safety knobs; any key set here overrides the profile's value."""

    profile: Profile | None = None
    batch_size: Annotated[int, Field(ge=1)] | None = None
    batch_size_memory_mb: Annotated[int, Field(ge=1)] | None = None
    throttle_ms: Annotated[int, Field(ge=0)] | None = None
    statement_timeout_s: Annotated[int, Field(ge=0)] | None = None
    max_retries: Annotated[int, Field(ge=0)] | None = None
    retry_backoff_ms: Annotated[int, Field(ge=0)] | None = None
    lock_timeout_s: Annotated[int, Field(ge=0)] | None = None
    memory_threshold_mb: Annotated[int, Field(ge=0)] | None = None
    max_batch_memory_mb: Annotated[int, Field(ge=1)] | None = None
    on_batch_memory_exceeded: Literal["warn", "fail", "auto_shrink"] | None = None
    adaptive: bool | None = None


class TlsConfig(_Model):
    mode: Literal["disable", "require", "verify-ca", "verify-full"] = "verify-full"
    ca_file: str | None = None
    accept_invalid_certs: bool = False
    accept_invalid_hostnames: bool = False


class SourceConfig(_Model):
    type: Literal["postgres", "mysql"]
    url: SecretStr | None = None
    url_env: str | None = None
    url_file: str | None = None
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    user: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    database: str | None = None
    environment: Literal["local", "replica", "production"] | None = None
    tuning: TuningConfig | None = None
    tls: TlsConfig | None = None
    # rivet extension: the most connections one export may hold on the source at once
    max_connections: Annotated[int, Field(ge=2)] | None = None


class LocalDestination(_Model):
    type: Literal["local"]
    path: str | None = None
    prefix: str | None = None


class S3Destination(_Model):
    type: Literal["s3"]
    bucket: str
    prefix: str | None = None
    region: str | None = None
    endpoint: str | None = None
    access_key_env: str | None = None
    secret_key_env: str | None = None
    session_token_env: str | None = None
    aws_profile: str | None = None
    allow_anonymous: bool = False


class GcsDestination(_Model):
    type: Literal["gcs"]
    bucket: str
    prefix: str | None = None
    credentials_file: str | None = None
    endpoint: str | None = None
    allow_anonymous: bool = False


class AzureDestination(_Model):
    type: Literal["azure"]
    bucket: str
    prefix: str | None = None
    account_name: str | None = None
    account_key_env: str | None = None
    sas_token_env: str | None = None
    endpoint: str | None = None
    allow_anonymous: bool = False


class StdoutDestination(_Model):
    type: Literal["stdout"]


Destination = Annotated[
    LocalDestination | S3Destination | GcsDestination | AzureDestination | StdoutDestination,
    Field(discriminator="type"),
]


class ParquetConfig(_Model):
    row_group_strategy: Literal["auto", "fixed_rows", "fixed_memory"] = "auto"
    row_group_rows: Annotated[int, Field(ge=1)] | None = None
    target_row_group_mb: Annotated[int, Field(ge=1)] = 128
    max_row_group_mb: Annotated[int, Field(ge=1)] | None = None


class MetaColumns(_Model):
    exported_at: bool = False
    row_hash: bool = False


class QualityConfig(_Model):
    row_count_min: Annotated[int, Field(ge=0)] | None = None
    row_count_max: Annotated[int, Field(ge=0)] | None = None
    null_ratio_max: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}
    unique_columns: list[str] = []
    unique_max_entries: Annotated[int, Field(ge=1)] | None = None


class PartitionKey(_Model):
    """One level of Hive-style folders: a column's value, or a date/timestamp column's day,
    month or year (folder key `<column>_<granularity>`)."""

    column: Annotated[str, Field(min_length=1)]
    granularity: Literal["day", "month", "year"] | None = None


class IcebergConfig(_Model):
    """Where an export's Iceberg table is registered (docs/layout.md)."""

    # the catalog: a SQL catalog's SQLAlchemy URL (sqlite:///path.db, postgresql://...), or a
    # REST catalog's http(s):// URL; default: .rivet_iceberg.db next to the config
    catalog_uri: str | None = None
    token_env: str | None = None  # REST: the environment variable holding a bearer token
    warehouse: str | None = None  # REST: the warehouse to ask the catalog for
    namespace: Annotated[str, Field(min_length=1)] = "rivet"
    table: Annotated[str, Field(min_length=1)] | None = None  # default: the export's name


Mode = Literal["full", "incremental", "chunked", "time_window"]
Compression = Literal["zstd", "snappy", "gzip", "lz4", "none"]


class ExportConfig(_Model):
    name: Annotated[str, Field(min_length=1)]
    query: str | None = None
    query_file: str | None = None
    table: str | None = None
    mode: Mode = "full"
    cursor_column: str | None = None
    cursor_fallback_column: str | None = None
    incremental_cursor_mode: Literal["single_column", "coalesce"] = "single_column"
    # rivet extension: re-read this far behind the cursor ("15m", "2h", "1d"; an integer for an
    # integer cursor) and skip the rows already exported, so late commits are not lost
    cursor_lag: str | int | None = None
    chunk_column: str | None = None
    chunk_size: Annotated[int, Field(ge=1)] = 100_000
    chunk_size_memory_mb: Annotated[int, Field(ge=1)] | None = None
    chunk_count: Annotated[int, Field(ge=1)] | None = None
    chunk_by_days: Annotated[int, Field(ge=1)] | None = None
    chunk_dense: bool = False
    parallel: Annotated[int, Field(ge=1)] = 1
    chunk_checkpoint: bool = False
    chunk_max_attempts: Annotated[int, Field(ge=1)] | None = None
    # rivet extension: PostgreSQL parallel chunks share one snapshot, or read one each
    chunk_snapshot: Literal["shared", "per_chunk"] = "shared"
    time_column: str | None = None
    time_column_type: Literal["timestamp", "unix"] = "timestamp"
    days_window: Annotated[int, Field(ge=1)] | None = None
    format: Literal["parquet", "csv"]
    compression: Compression = "zstd"
    compression_level: int | None = None
    compression_profile: Literal["none", "fast", "balanced", "compact"] | None = None
    skip_empty: bool = False
    max_file_size: str | int | float | None = None
    # dataset: manifest as _manifest.json, so that readers of the folder see only the parts;
    # rivet-cli-0.7.7: manifest.json as 0.7.7 wrote it (and append, as 0.7.7 never deleted)
    layout: Literal["dataset", "rivet-cli-0.7.7"] | None = None
    # replace: a run retires the parts of the export's earlier runs once it is published;
    # append: parts of every run stay. Default: replace for full and chunked, else append.
    write_disposition: Literal["append", "replace"] | None = None
    # rivet extension: Hive-style `key=value/` folders from the rows' values (docs/layout.md)
    partition_by: str | PartitionKey | list[str | PartitionKey] | None = None
    # a run that meets more distinct partition folders than this fails (nothing published)
    max_partitions: Annotated[int, Field(ge=1)] = 10_000
    # rivet extension: each run also published as one commit of an Apache Iceberg table
    table_format: Literal["files", "iceberg"] = "files"
    iceberg: IcebergConfig | None = None
    destination: Destination
    meta_columns: MetaColumns = MetaColumns()
    quality: QualityConfig | None = None
    tuning: TuningConfig | None = None
    source_group: str | None = None
    reconcile_required: bool = False
    columns: dict[str, str] = {}
    on_schema_drift: Literal["warn", "continue", "fail"] = "warn"
    shape_drift_warn_factor: Annotated[float, Field(ge=0)] = 2.0
    parquet: ParquetConfig | None = None


class SlackConfig(_Model):
    webhook_url: SecretStr | None = None
    webhook_url_env: str | None = None
    on: list[Literal["failure", "schema_change", "degraded"]] = ["failure"]


class NotificationsConfig(_Model):
    slack: SlackConfig | None = None


class RivetConfig(_Model):
    """Root of rivet.yaml."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="Rivet config (rivet-cli 0.7.7 compatible)"
    )

    source: SourceConfig
    exports: list[ExportConfig]
    layout: Literal["dataset", "rivet-cli-0.7.7"] = "dataset"  # every export's, unless it sets one
    notifications: NotificationsConfig | None = None
    parallel_exports: bool = False
    parallel_export_processes: bool = False
