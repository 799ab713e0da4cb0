"""`rivet doctor`: can this config run here? Source, each export's read, each destination."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from rivet.commands.run import open_source, query_text
from rivet.config import load_config
from rivet.core.errors import RivetError
from rivet.core.redact import redact
from rivet.destinations import ICEBERG_CATALOG, open_destination, open_iceberg
from rivet.formats.hive import check_columns, file_schema
from rivet.pipeline.meta import MetaColumns
from rivet.pipeline.request import read_request
from rivet.planning.export_plan import ExportPlan, resolve_export
from rivet.sources.base import Source
from rivet.state import open_state
from rivet.state.store import STATE_FILE


@dataclass
class Check:
    name: str
    status: str  # OK | WARN | FAIL
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return asdict(self)


def doctor(config_path: Path, params: Mapping[str, str] | None = None) -> list[Check]:
    try:
        config = load_config(config_path, params)
    except RivetError as exc:
        return [_failed("config", exc)]
    checks = [Check("config", "OK", f"parsed, {len(config.exports)} export(s)")]
    config_dir = config_path.resolve().parent
    now = datetime.now(UTC)
    plans: list[ExportPlan] = []
    for export in config.exports:
        try:
            text = query_text(export, config_dir, dict(params or {}))
            plans.append(resolve_export(export, config, text, now))
        except RivetError as exc:
            checks.append(_failed(f"export {export.name}", exc))
    try:
        source = open_source(config, config_dir)
        server, warnings = source.server_info("")
    except RivetError as exc:
        return [*checks, _failed("source", exc)]
    checks.append(Check("source", "OK", f"connected: {server}"))
    checks += [Check("source", "WARN", w) for w in warnings]
    try:
        for plan in plans:
            found, schema = _export_checks(plan, source)
            checks += found
            if schema is not None:
                checks += _layout_checks(plan, schema, config_dir)
    finally:
        source.close()
    seen: set[str] = set()
    for plan in plans:
        try:
            destination = open_destination(plan.destination, plan.name)
            if destination.uri in seen:
                continue
            seen.add(destination.uri)
            checks.append(Check(f"destination {destination.uri}", "OK", destination.probe()))
        except RivetError as exc:
            checks.append(_failed(f"destination of {plan.name}", exc))
    checks.append(_state_check(config_dir))
    return checks


def _state_check(config_dir: Path) -> Check:
    """The state store (cursors, chunk checkpoints, run history) opens, or can be created."""
    if not os.environ.get("RIVET_STATE_URL") and not (config_dir / STATE_FILE).exists():
        if os.access(config_dir, os.W_OK):
            return Check("state", "OK", f"{config_dir / STATE_FILE} will be created on first run")
        return Check(
            "state",
            "FAIL",
            f"{config_dir} is not writable: the state file cannot be created there",
            "make the directory writable, or set RIVET_STATE_URL=postgresql://...",
        )
    try:
        state = open_state(config_dir)
    except RivetError as exc:
        return _failed("state", exc)
    try:
        return Check("state", "OK", f"opened {state.where}")
    finally:
        state.close()


def _layout_checks(plan: ExportPlan, schema: pa.Schema, config_dir: Path) -> list[Check]:
    """partition_by against the columns; the Iceberg catalog answers and its table (if it
    exists) takes the export: what a run checks before reading, without writing."""
    schema = MetaColumns.of(plan, datetime.now(UTC)).schema(schema)
    checks = []
    try:
        check_columns(plan.partitions, schema, plan.name)
        if plan.partitions is not None:
            keys = ", ".join(k.name for k in plan.partitions.keys)
            checks.append(Check(f"export {plan.name}", "OK", f"partitioned by {keys}"))
        if plan.iceberg is not None:
            catalog = plan.iceberg.catalog_uri
            if catalog is None and not (config_dir / ICEBERG_CATALOG).exists():
                detail = f"{config_dir / ICEBERG_CATALOG} will be created on first run"
            else:
                table = open_iceberg(plan.iceberg, plan.destination, plan.name, config_dir)
                detail = table.prepare(file_schema(plan.partitions, schema), plan.partitions)
            checks.append(Check(f"iceberg {plan.iceberg.identifier}", "OK", detail))
    except RivetError as exc:
        checks.append(_failed(f"export {plan.name}", exc))
    return checks


def _export_checks(plan: ExportPlan, source: Source) -> tuple[list[Check], pa.Schema | None]:
    try:
        prepared = source.prepare(read_request(plan))
    except RivetError as exc:
        return [_failed(f"export {plan.name}", exc)], None
    detail = f"readable: {len(prepared.columns)} columns, strategy {prepared.strategy}"
    if prepared.row_estimate is not None:
        detail += f", ~{prepared.row_estimate:,} rows"
    checks = [Check(f"export {plan.name}", "OK", detail)]
    warnings = prepared.warnings_for(chunked=plan.chunks is not None)
    checks += [Check(f"export {plan.name}", "WARN", w) for w in warnings]
    return checks, prepared.schema


def _failed(name: str, exc: RivetError) -> Check:
    return Check(name, "FAIL", redact(exc.message), redact(exc.hint) if exc.hint else None)
