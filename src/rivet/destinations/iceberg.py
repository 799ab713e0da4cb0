"""Apache Iceberg tables (pyiceberg): a run's published parts registered as one commit, never
rewritten.

The table lives at the export's prefix (its metadata under `metadata/`); the catalog is a SQL
database (SQLite next to the config by default, or PostgreSQL) or a REST catalog (an http(s)
URL, with a bearer token). `prepare` runs before any row is
read: the catalog answers, and an existing table accepts the export's columns (new columns are
added at commit; a type that cannot be promoted is refused) and its partition spec. `commit`
runs once the parts are at their final names, under the destination's publish lock and before
the manifests: it creates the table on the first run, evolves the schema, and adds the files,
after removing every earlier file from the table for `replace` (an overwrite), in one
transaction: readers of the table see the whole run or none of it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import sqlalchemy.exc
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    NoSuchTableError,
    ValidationError,
)
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.table import Table, Transaction
from pyiceberg.transforms import DayTransform, MonthTransform, Transform, YearTransform

from rivet.core.errors import DestinationError
from rivet.core.faults import fault_point
from rivet.core.partitions import PartitionSpec
from rivet.core.redact import redact
from rivet.destinations.targets import IcebergTarget, LocalTarget, S3Target

_TRANSFORMS: dict[str, Transform[Any, Any]] = {
    "day": DayTransform(),
    "month": MonthTransform(),
    "year": YearTransform(),
}


class IcebergTable:
    def __init__(
        self, target: IcebergTarget, files: LocalTarget | S3Target, catalog_uri: str, export: str
    ) -> None:
        self._target, self._files, self._export = target, files, export
        self._uri = _sqlalchemy_url(catalog_uri)
        self._catalog: Catalog | None = None
        self.snapshot_id: int | None = None

    @property
    def location(self) -> str:
        if isinstance(self._files, LocalTarget):
            return str(self._files.path.resolve())
        return f"s3://{self._files.bucket}/{self._files.prefix}".rstrip("/")

    def file(self, name: str) -> str:
        """Where the table finds a published part."""
        return f"{self.location}/{name}"

    def prepare(self, schema: pa.Schema, partitions: PartitionSpec | None) -> str:
        """Before any row is read; says what the commit will do."""
        self._check_types(schema)
        with self._errors("open the catalog"):
            table = self._load()
        if table is None:
            return f"table {self._target.identifier} is created at the first commit"
        if table.location().rstrip("/") != self.location:
            raise DestinationError(
                f"export '{self._export}': Iceberg table {self._target.identifier} lives at "
                f"{table.location()}, not at the export's prefix {self.location}",
                hint="set iceberg.table to another name, or point the destination at the table",
            )
        wanted, found = _spec_fields(partitions), _table_spec(table)
        if wanted != found:
            raise DestinationError(
                f"export '{self._export}': Iceberg table {self._target.identifier} is "
                f"partitioned by {', '.join(found) or 'nothing'}, the export by "
                f"{', '.join(wanted) or 'nothing'}",
                hint="make partition_by match the table, or export to a new table",
            )
        transaction = table.transaction()  # checked the way the commit will, never committed
        self._evolve(transaction, schema)
        return f"table {self._target.identifier} has {len(table.snapshots())} snapshot(s)"

    def commit(
        self,
        names: Sequence[str],
        schema: pa.Schema,
        partitions: PartitionSpec | None,
        overwrite: bool,
        run_id: str,
    ) -> None:
        files = [self.file(n) for n in names]
        properties = {"rivet.run_id": run_id}
        fault_point("before_iceberg_commit")  # the parts are in place, the table has none
        with self._errors("commit the run"):
            table = self._load()
            if table is None:
                self._open_catalog().create_namespace_if_not_exists(self._target.namespace)
                with self._open_catalog().create_table_transaction(
                    self._target.identifier, schema=schema, location=self.location
                ) as created:
                    self._partition(created, partitions)
                    if files:
                        created.add_files(files, snapshot_properties=properties)
                table = self._open_catalog().load_table(self._target.identifier)
            else:
                transaction = table.transaction()
                self._evolve(transaction, schema)
                if overwrite and table.current_snapshot() is not None:
                    transaction.delete(AlwaysTrue(), snapshot_properties=properties)
                if files:
                    transaction.add_files(files, snapshot_properties=properties)
                transaction.commit_transaction()
                table = table.refresh()
            snapshot = table.current_snapshot()
            self.snapshot_id = snapshot.snapshot_id if snapshot is not None else None

    def files(self) -> dict[str, tuple[int, int]]:
        """The data files of the table's current snapshot: name under the prefix (or the full
        path, for a file elsewhere) -> (bytes, rows)."""
        with self._errors("read the current snapshot"):
            table = self._load()
            if table is None:
                raise DestinationError(
                    f"export '{self._export}': Iceberg table {self._target.identifier} is not "
                    "in the catalog",
                    hint="run the export: its first run creates the table",
                )
            found = {}
            for task in table.scan().plan_files():
                path = task.file.file_path
                name = path.removeprefix(self.location + "/")
                found[name] = (task.file.file_size_in_bytes, task.file.record_count)
            return found

    def _check_types(self, schema: pa.Schema) -> None:
        for field in schema:
            try:
                _unsupported(field.type)
                Catalog._convert_schema_if_needed(pa.schema([field]))
            except Exception as exc:  # pyiceberg's refusals share no base class
                override = _override(field.type)
                raise DestinationError(
                    f"export '{self._export}': column {field.name} ({field.type}) has no "
                    f"Iceberg type: {exc}",
                    hint=f"export it as {override}: `columns: {{{field.name}: {override}}}`",
                ) from None

    def _evolve(self, transaction: Transaction, schema: pa.Schema) -> None:
        try:
            with transaction.update_schema() as update:
                update.union_by_name(schema)
        except (ValueError, TypeError, ValidationError) as exc:
            raise DestinationError(
                f"export '{self._export}': the export's columns do not fit Iceberg table "
                f"{self._target.identifier}: {exc}",
                hint="only new columns and type promotions (int to long, float to double, wider "
                "decimals) are taken; export to a new table, or cast the column in a query",
            ) from None

    def _partition(self, transaction: Transaction, partitions: PartitionSpec | None) -> None:
        if partitions is None:
            return
        with transaction.update_spec() as spec:
            for key in partitions.keys:
                if key.granularity is None:
                    spec.add_identity(key.column)
                else:
                    spec.add_field(key.column, _TRANSFORMS[key.granularity], key.name)

    def _load(self) -> Table | None:
        try:
            return self._open_catalog().load_table(self._target.identifier)
        except (NoSuchTableError, NoSuchNamespaceError):
            return None

    def _open_catalog(self) -> Catalog:
        if self._catalog is None:
            files = _io_properties(self._files)
            if self._uri.startswith(("http://", "https://")):
                self._catalog = RestCatalog(
                    "rivet", **_rest_properties(self._target, self._uri), **files
                )
            else:
                self._catalog = _sql_catalog(self._uri, self.location, files)
        return self._catalog

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except DestinationError:
            raise
        except CommitFailedException as exc:
            raise DestinationError(
                f"export '{self._export}': cannot {what} of Iceberg table "
                f"{self._target.identifier}: another commit changed it first ({exc})",
                hint="run the export again: nothing of this run is in the table",
            ) from None
        except FileNotFoundError as exc:
            raise DestinationError(
                f"export '{self._export}': Iceberg table {self._target.identifier} is in the "
                f"catalog, but its metadata is gone from {self.location}: {exc}",
                hint="restore the prefix, or drop the table from the catalog "
                "(pyiceberg: catalog.drop_table) so that the next run creates it again",
            ) from None
        except Exception as exc:  # the catalog's database or the table's storage failed
            raise DestinationError(
                f"export '{self._export}': cannot {what} of Iceberg table "
                f"{self._target.identifier} (catalog {redact(self._uri)}): "
                f"{type(exc).__name__}: {redact(str(exc))}",
                hint="check iceberg.catalog_uri and that the catalog's database is reachable",
            ) from None


CATALOG_ATTEMPTS = 5


def _sql_catalog(uri: str, location: str, files: dict[str, str]) -> SqlCatalog:
    """A new catalog's tables are created when it is first opened; runs opening it at once
    race to create them (SQLAlchemy checks, then creates), and a loser's CREATE fails, or waits
    out SQLite's lock while the winner creates them on a loaded machine: opened again (a few
    times, backing off), it finds them made."""
    for attempt in range(1, CATALOG_ATTEMPTS):
        try:
            return SqlCatalog("rivet", uri=uri, warehouse=location, **files)
        except sqlalchemy.exc.OperationalError:
            time.sleep(0.05 * attempt)
    return SqlCatalog("rivet", uri=uri, warehouse=location, **files)  # its error goes on


def _unsupported(kind: pa.DataType) -> None:
    if pa.types.is_decimal(kind) and kind.precision > 38:
        raise ValueError("Iceberg decimals hold at most 38 digits")
    if kind in (pa.uint32(), pa.uint64()):  # pyiceberg would store them in a narrower int
        raise ValueError("Iceberg has no unsigned integers, and its signed ones of the same "
                         "width cannot hold the largest values")  # fmt: skip
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        _unsupported(kind.value_type)


def _override(kind: pa.DataType) -> str:
    """The `columns:` override that gives a type Iceberg holds exactly."""
    if kind == pa.uint32():
        return "bigint"
    if kind == pa.uint64():
        return "decimal(20,0)"
    return "text"


def _sqlalchemy_url(uri: str) -> str:
    """psycopg 3 (installed with rivet) drives PostgreSQL catalogs."""
    for plain in ("postgresql://", "postgres://"):
        if uri.startswith(plain):
            return "postgresql+psycopg://" + uri[len(plain) :]
    return uri


def _rest_properties(target: IcebergTarget, uri: str) -> dict[str, str]:
    properties = {"uri": uri}
    if target.token_env:
        token = os.environ.get(target.token_env)
        if not token:
            raise DestinationError(
                f"iceberg.token_env: the environment variable {target.token_env} is not set",
                hint=f"export {target.token_env}=<the catalog's bearer token>",
            )
        properties["token"] = token
    if target.warehouse:
        properties["warehouse"] = target.warehouse
    return properties


def _io_properties(files: LocalTarget | S3Target) -> dict[str, str]:
    if isinstance(files, LocalTarget):
        return {}
    properties = {
        "s3.endpoint": files.endpoint,
        "s3.region": files.region,
        "s3.access-key-id": os.environ.get(files.access_key_env or "", None),
        "s3.secret-access-key": os.environ.get(files.secret_key_env or "", None),
        "s3.session-token": os.environ.get(files.session_token_env or "", None),
    }
    return {k: v for k, v in properties.items() if v}


def _spec_fields(partitions: PartitionSpec | None) -> list[str]:
    if partitions is None:
        return []
    return [
        k.column if k.granularity is None else f"{k.granularity}({k.column}) as {k.name}"
        for k in partitions.keys
    ]


def _table_spec(table: Table) -> list[str]:
    schema = table.schema()
    found = []
    for field in table.spec().fields:
        column = schema.find_column_name(field.source_id) or str(field.source_id)
        transform = str(field.transform)
        found.append(
            column if transform == "identity" else f"{transform}({column}) as {field.name}"
        )
    return found
