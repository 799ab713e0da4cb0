"""Hive-style partition folders: which `key=value/` folder each row of a batch belongs in.

Values are written as Hive writes them: characters that cannot stand in a path segment are
escaped as `%XX` (readers decode them), and NULL (or the empty string, as in Hive) is
`__HIVE_DEFAULT_PARTITION__`. A column partitioned by its value is not kept in the part files
(readers derive it from the folder); a day, month or year comes from a column that stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rivet.core.errors import PlanError
from rivet.core.partitions import PartitionKey, PartitionSpec

HIVE_DEFAULT = "__HIVE_DEFAULT_PARTITION__"
_BUCKET_FORMAT = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
# Hive's FileUtils.escapePathName set: control characters and these
_ESCAPED = frozenset("\"#%'*/:=?\\{[]^\x7f") | frozenset(chr(c) for c in range(1, 32))


@dataclass(frozen=True)
class Piece:
    """The rows of one batch that go to one partition folder."""

    folder: str  # `region=eu/created_at_day=2024-01-05`
    values: dict[str, str | None]  # key -> value as text (None: the default partition)
    batch: pa.RecordBatch  # without the columns that live only in the folder name


def escape(text: str) -> str:
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPED else ch for ch in text)


def folder_values(folder: str) -> dict[str, str | None]:
    """`region=eu/day=2024-01-05` back to its values (None: the default partition)."""
    values: dict[str, str | None] = {}
    for segment in folder.split("/"):
        key, _, text = segment.partition("=")
        values[key] = None if text == HIVE_DEFAULT else unquote(text)
    return values


def check_columns(spec: PartitionSpec | None, schema: pa.Schema, export: str) -> None:
    """Before any row is read: every partition column exists and has a type its folder name
    can carry back to readers exactly (nothing to check without partition_by)."""
    for key in spec.keys if spec is not None else ():
        where = f"export '{export}': partition_by '{key.column}'"
        if key.column not in schema.names:
            raise PlanError(
                f"{where}: no such column (columns: {', '.join(schema.names)})",
                hint="name a column of the table or query in partition_by",
            )
        problem = _type_problem(key, schema.field(key.column).type)
        if problem:
            raise PlanError(f"{where}: {problem}", hint=_HINT)


_HINT = (
    "partition by an integer, text, boolean or date column, or give a date or timestamp column "
    "a granularity: {column: created_at, granularity: day|month|year}"
)


def _type_problem(key: PartitionKey, kind: pa.DataType) -> str | None:
    temporal = pa.types.is_date(kind) or pa.types.is_timestamp(kind)
    if key.granularity is not None:
        return None if temporal else f"granularity needs a date or timestamp column (it is {kind})"
    if pa.types.is_timestamp(kind):
        return "a timestamp column needs a granularity (one folder per value would be per instant)"
    fits = (
        pa.types.is_integer(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_date(kind)
    )
    return None if fits else f"its type {kind} does not survive a folder name exactly"


def file_schema(spec: PartitionSpec | None, schema: pa.Schema) -> pa.Schema:
    """The columns the part files hold (all of them without partition_by)."""
    if spec is None:
        return schema
    dropped = set(spec.folder_only)
    return pa.schema([f for f in schema if f.name not in dropped], metadata=schema.metadata)


def split(
    batch: pa.RecordBatch, spec: PartitionSpec, blanks: set[str] | None = None
) -> list[Piece]:
    """The batch's rows grouped by folder (rows keep their order within a folder). `blanks`
    collects the keys that met an empty string (it shares NULL's folder)."""
    if batch.num_rows == 0:
        return []
    codes: np.ndarray | None = None
    texts: list[list[str | None]] = []
    for key in spec.keys:
        values = batch.column(key.column)
        if key.granularity is not None:  # days first (cheap), their text only per distinct day
            values = values if pa.types.is_date32(values.type) else values.cast(pa.date32())
        encoded = pc.dictionary_encode(values, null_encoding="encode")
        indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        dictionary = encoded.dictionary
        if key.granularity is not None:
            dictionary = pc.strftime(dictionary, format=_BUCKET_FORMAT[key.granularity])
        distinct = dictionary.to_pylist()
        if blanks is not None and "" in distinct and not spec.columns_in_files:
            blanks.add(key.name)
        texts.append([_text(v, spec.columns_in_files) for v in distinct])
        codes = indices if codes is None else codes * len(texts[-1]) + indices
    assert codes is not None
    kept = batch.drop_columns(spec.folder_only) if spec.folder_only else batch
    unique, inverse = np.unique(codes, return_inverse=True)
    folders: dict[str, int] = {}  # '' and NULL share the default folder
    group_of: list[int] = []
    values_of: list[dict[str, str | None]] = []
    for code in unique.tolist():
        values = _decode(int(code), spec.keys, texts)
        folder = "/".join(f"{k}={_segment(v)}" for k, v in values.items())
        if folder not in folders:
            folders[folder] = len(folders)
            values_of.append(values)
        group_of.append(folders[folder])
    names = list(folders)
    if len(names) == 1:
        return [Piece(names[0], values_of[0], kept)]
    groups = np.asarray(group_of)[inverse]
    ordered = kept.take(pa.array(np.argsort(groups, kind="stable")))
    bounds = np.concatenate(([0], np.cumsum(np.bincount(groups, minlength=len(names)))))
    # slices of one sorted copy: the pieces of a batch share its buffers
    return [
        Piece(name, values_of[i], ordered.slice(int(bounds[i]), int(bounds[i + 1] - bounds[i])))
        for i, name in enumerate(names)
    ]


def _decode(
    code: int, keys: Sequence[PartitionKey], texts: list[list[str | None]]
) -> dict[str, str | None]:
    picked: list[str | None] = []
    for options in reversed(texts):
        code, index = divmod(code, len(options))
        picked.append(options[index])
    return {k.name: v for k, v in zip(keys, reversed(picked), strict=True)}


def _segment(text: str | None) -> str:
    return HIVE_DEFAULT if text is None else escape(text)


def _text(value: object, keep_blank: bool = False) -> str | None:
    """A value as its folder text (None: the default partition, as Hive puts NULL and ''). An
    Iceberg table reads the partition of a file from its rows, so there '' keeps a folder of
    its own (`key=`): a file must not hold both."""
    if value is None or (value == "" and not keep_blank):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
