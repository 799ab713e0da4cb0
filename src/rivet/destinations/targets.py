"""Where an export's files go, resolved from the config (placeholders expanded). Plain values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalTarget:
    path: Path

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str  # placeholders expanded; "" or ends with "/" unless the user wrote otherwise
    region: str | None = None
    endpoint: str | None = None
    access_key_env: str | None = None
    secret_key_env: str | None = None
    session_token_env: str | None = None
    aws_profile: str | None = None
    allow_anonymous: bool = False

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class GcsTarget:
    bucket: str
    prefix: str
    credentials_file: str | None = None
    endpoint: str | None = None
    allow_anonymous: bool = False

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class StdoutTarget:
    uri = "stdout:"


Target = LocalTarget | S3Target | GcsTarget | StdoutTarget


@dataclass(frozen=True)
class IcebergTarget:
    """The Iceberg table an export's runs are committed to, located at the export's prefix."""

    catalog_uri: str | None  # None: .rivet_iceberg.db next to the config
    namespace: str
    table: str
    token_env: str | None = None  # a REST catalog's bearer token, from this variable
    warehouse: str | None = None  # a REST catalog's warehouse

    @property
    def identifier(self) -> str:
        return f"{self.namespace}.{self.table}"
