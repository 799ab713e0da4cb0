"""`rivet plan` and `rivet apply`: a sealed, reviewable artifact, then exactly that run.

`rivet plan` resolves every selected export against the source (strategy, first statement,
chunk ranges, cursor position, row estimate, warnings) and writes one JSON artifact holding
them together with the config they came from (secrets masked: a plan never holds a password or
a URL, only the names of the variables or files that hold them) and a seal: SHA-256 over the
canonical JSON of everything else (HMAC-SHA-256 with the key in RIVET_PLAN_KEY when it is set,
so that only holders of the key can make a plan `apply` accepts).

`rivet apply PLAN` refuses an artifact whose seal does not match (it was edited), one older
than 24 hours (unless --force), and one whose incremental cursor has moved since planning
(another run exported past it); otherwise it runs the plan's exports from the embedded config,
with the chunk ranges the plan fixed. The YAML file is not read again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rivet.commands.run import Planned, open_source, query_text, run, select_exports
from rivet.config import load_config
from rivet.config.models import RivetConfig
from rivet.core.chunks import Chunk
from rivet.core.errors import PlanError, PlanRefused
from rivet.pipeline.chunked import chunk_strategy
from rivet.pipeline.request import read_request
from rivet.planning.export_plan import ExportPlan, resolve_export
from rivet.report.model import RunAggregate
from rivet.sources.base import ChunkRead, Source, retrying
from rivet.state import open_state

PLAN_FORMAT = 1
STALE_AFTER = timedelta(hours=24)


def make_plan(
    config_path: Path,
    exports: Sequence[str] = (),
    params: Mapping[str, str] | None = None,
    for_workers: bool = False,
) -> dict[str, Any]:
    """`for_workers`: a plan that `rivet apply --worker` processes on any hosts share, whose
    chunked exports read a snapshot per chunk (one snapshot cannot span hosts)."""
    params = dict(params or {})
    config = load_config(config_path, params)
    _refuse_secrets(config)
    if for_workers:
        config = per_chunk_snapshots(config, exports)
    config_dir = config_path.resolve().parent
    now = datetime.now(UTC)
    selected = select_exports(config, exports)
    queries = {e.name: query_text(e, config_dir, params) for e in selected}
    plans = [resolve_export(e, config, queries[e.name], now) for e in selected]
    state = open_state(config_dir)
    source = open_source(config, config_dir)
    try:
        entries = [_entry(plan, source, state.cursor(plan.name)) for plan in plans]
    finally:
        source.close()
        state.close()
    body: dict[str, Any] = {
        "plan_format": PLAN_FORMAT,
        "rivet_version": version("rivet-extract"),
        "plan_id": secrets.token_hex(16),
        "created_at": now.isoformat(),
        "expires_at": (now + STALE_AFTER).isoformat(),
        "config_path": str(config_path.resolve()),
        "config_dir": str(config_dir),
        "config": config.model_dump(mode="json", exclude_none=True),
        "queries": {name: text for name, text in queries.items() if text is not None},
        "exports": entries,
        "workers": for_workers,
    }
    body["config_fingerprint"] = _digest(body["config"])
    return {**body, "seal": seal(body)}


def per_chunk_snapshots(config: RivetConfig, exports: Sequence[str]) -> RivetConfig:
    """The config with every selected chunked export reading a snapshot per chunk; refused for
    one whose config asks for one shared snapshot."""
    changed = []
    for export in config.exports:
        if export.mode != "chunked" or (exports and export.name not in exports):
            changed.append(export)
            continue
        if "chunk_snapshot" in export.model_fields_set and export.chunk_snapshot == "shared":
            raise PlanError(
                f"exports ({export.name}).chunk_snapshot: shared: workers on several hosts "
                "cannot read one snapshot, so a plan for workers reads a snapshot per chunk",
                hint="remove chunk_snapshot (or set it to per_chunk) for --for-workers, or plan "
                "this export without it (one process, one snapshot)",
            )
        changed.append(export.model_copy(update={"chunk_snapshot": "per_chunk"}))
    return config.model_copy(update={"exports": changed})


def _refuse_secrets(config: RivetConfig) -> None:
    source = config.source
    if source.url is not None or source.password is not None:
        key = "url" if source.url is not None else "password"
        raise PlanError(
            f"source.{key} is written in the config: a plan never stores credentials, so "
            "`rivet apply` could not connect",
            hint=f"use source.{key}_env (or url_file) so that apply reads it where it runs",
        )


def _entry(plan: ExportPlan, source: Source, cursor: Any) -> dict[str, Any]:
    request = read_request(plan, cursor)
    prepared = retrying(request, lambda: source.prepare(request))
    entry: dict[str, Any] = {
        "name": plan.name,
        "mode": plan.mode,
        "strategy": prepared.strategy,
        "row_estimate": prepared.row_estimate,
        "destination": plan.destination.uri,
        "tuning": {
            "profile": plan.tuning.label,
            "page_bytes": plan.tuning.page_bytes,
            "statement_timeout_s": plan.tuning.statement_timeout_s,
            "throttle_ms": plan.tuning.throttle_ms,
            "max_retries": plan.tuning.max_retries,
        },
        "warnings": prepared.warnings_for(chunked=plan.chunks is not None),
        "cursor": None,
        "chunks": None,
    }
    if plan.cursor_column is not None:
        entry["cursor"] = (
            {"columns": list(cursor.position_columns), "values": list(cursor.position or ())}
            if cursor is not None
            else {"columns": [], "values": []}
        )
        # the read's upper bound: the last row now, so apply reads exactly the planned range
        entry["cursor"]["until"] = list(source.last_position(request, prepared) or ())
    if plan.window is not None:
        entry["window_from"] = plan.window.since.isoformat()
    if plan.chunks is not None:
        layout = source.chunk_layout(request, prepared, plan.chunks)
        entry["strategy"] = chunk_strategy(plan.chunks, layout)
        entry["warnings"] += layout.warnings
        entry["chunks"] = {
            "column": layout.column,
            "ranges": [[c.index, c.low, c.high, c.is_null] for c in layout.chunks],
        }
        if layout.chunks:
            request = replace(request, chunk=ChunkRead(layout.column, layout.chunks[0]))
    entry["statement"] = source.explain(request, prepared).statement
    return entry


def seal(body: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of the canonical JSON (or `hmac-sha256:<hex>` with RIVET_PLAN_KEY)."""
    data = _canonical(body)
    key = os.environ.get("RIVET_PLAN_KEY")
    if key:
        return "hmac-sha256:" + hmac.new(key.encode(), data, hashlib.sha256).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(_canonical(value)).hexdigest()


def load_plan(path: Path, force: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """The artifact, after its seal and age are checked."""
    try:
        artifact: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        stored = artifact.pop("seal")
        expires = datetime.fromisoformat(artifact["expires_at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PlanRefused(f"{path} is not a rivet plan: {type(exc).__name__}: {exc}") from None
    if artifact.get("plan_format") != PLAN_FORMAT:
        raise PlanRefused(f"{path}: plan_format {artifact.get('plan_format')!r} is not one this "
                          "rivet applies", hint="make a new plan with this version")  # fmt: skip
    if not hmac.compare_digest(str(stored), seal(artifact)):
        keyed = str(stored).startswith("hmac")
        raise PlanRefused(
            f"{path}: the seal does not match its content: the plan was changed after "
            "`rivet plan` wrote it" + (" (or RIVET_PLAN_KEY differs)" if keyed else ""),
            hint="make a new plan: rivet plan -c <config> -o <file>",
        )
    if (now or datetime.now(UTC)) > expires and not force:
        raise PlanRefused(
            f"{path}: the plan expired at {artifact['expires_at']} (plans are valid for 24 h)",
            hint="make a new plan, or pass --force to apply it anyway",
        )
    return artifact


def apply(
    path: Path,
    force: bool = False,
    quiet: bool = False,
    validate: bool = False,
    reconcile: bool = False,
) -> RunAggregate:
    artifact = load_plan(path, force)  # before anything else: a refused plan opens nothing
    planned = planned_exports(artifact, path)
    return run(
        Path(artifact["config_path"]),
        [p.name for p in planned.plans],
        quiet=quiet,
        validate=validate,
        reconcile=reconcile,
        planned=planned,
    )


def planned_exports(artifact: Mapping[str, Any], path: Path, workers: bool = False) -> Planned:
    """The plan's exports, from its embedded config, with the cursor range and chunk ranges it
    fixed; refused when a cursor moved since planning (unless, for `workers`, the plan's
    workers started the export: one of them moved it)."""
    config = RivetConfig.model_validate(artifact["config"])
    config_dir = Path(artifact["config_dir"])
    planned_at = datetime.fromisoformat(artifact["created_at"])
    by_name = {e.name: e for e in config.exports}
    plans = []
    state = open_state(config_dir)
    try:
        for entry in artifact["exports"]:
            export = by_name[entry["name"]]
            plan = resolve_export(export, config, artifact["queries"].get(export.name), planned_at)
            if not (workers and state.chunks.of_plan(plan.name, artifact["plan_id"])):
                _check_cursor(entry, state.cursor(plan.name), path)
            if entry["cursor"] is not None:
                plan = replace(plan, cursor_until=tuple(entry["cursor"]["until"]))
            if entry["chunks"] is not None and plan.chunks is not None:
                chunks = tuple(Chunk(*r) for r in entry["chunks"]["ranges"])
                fixed = replace(plan.chunks, planned=(entry["chunks"]["column"], chunks))
                plan = replace(plan, chunks=fixed)
            plans.append(plan)
    finally:
        state.close()
    return Planned(config, config_dir, plans)


def _check_cursor(entry: Mapping[str, Any], current: Any, path: Path) -> None:
    planned = entry.get("cursor")
    if planned is None:
        return
    now = list(current.position or ()) if current is not None else []
    if now != planned["values"]:
        raise PlanRefused(
            f"{path}: export '{entry['name']}': its cursor moved since the plan was made "
            f"(planned after {planned['values'] or 'the beginning'}, now {now or 'none'}): "
            "another run exported past it",
            hint="make a new plan",
        )


def render_plan(artifact: Mapping[str, Any]) -> str:
    lines = [
        f"plan {artifact['plan_id']}{'  for workers' if artifact.get('workers') else ''}  "
        f"(created {artifact['created_at'][:19]}, expires "
        f"{artifact['expires_at'][:19]})",
        f"config: {artifact['config_path']}  {artifact['config_fingerprint'][:19]}",
        f"seal:   {artifact['seal'][:23]}...",
    ]
    for e in artifact["exports"]:
        lines += [
            f"── {e['name']} ──",
            f"  mode:        {e['mode']}",
            f"  strategy:    {e['strategy']}",
            f"  estimate:    {e['row_estimate'] if e['row_estimate'] is not None else '?'} rows",
            f"  destination: {e['destination']}",
            f"  statement:   {' '.join(str(e['statement']).split())[:160]}",
        ]
        if e["cursor"] is not None:
            lines.append(f"  cursor:      after {e['cursor']['values'] or 'the beginning'}, "
                         f"up to {e['cursor']['until'] or 'nothing (no rows)'}")  # fmt: skip
        if e["chunks"] is not None:
            ranges = e["chunks"]["ranges"]
            lines.append(f"  chunks:      {len(ranges)} on {e['chunks']['column']}")
        if artifact.get("workers") and e["chunks"] is not None:
            lines.append("  workers:     chunks shared by `rivet apply --worker` processes, "
                         "each chunk in its own snapshot")  # fmt: skip
        lines += [f"  warning:     {w}" for w in e["warnings"]]
    return "\n".join(lines)
