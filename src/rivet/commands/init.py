"""`rivet init`: a working rivet.yaml scaffolded from the catalog, with the reasons as comments;
`--discover`: the same knowledge as JSON (ranked cursor and chunk candidates, sizes)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rivet.commands.run import source_for_url
from rivet.core.errors import ConfigError
from rivet.core.redact import redact
from rivet.sources.catalog import TableInfo

LARGE_ROWS = 100_000  # below this a full export is a few seconds: no mode needs choosing
CHUNK_SIZE = 100_000
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UPDATED = ("updated", "modified", "changed", "last_update")


@dataclass(frozen=True)
class Candidate:
    column: str
    data_type: str
    score: int
    reasons: list[str]
    is_nullable: bool
    is_primary_key: bool
    indexed: bool


@dataclass
class Advice:
    table: TableInfo
    mode: str
    why: str
    cursor: str | None = None
    chunk_column: str | None = None
    parallel: int = 1
    cursor_candidates: list[Candidate] = field(default_factory=list)
    chunk_candidates: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceArg:
    """How the generated config reaches the database: never the URL itself (it may hold a
    password), but the environment variable or file that holds it."""

    url: str
    yaml_key: str  # url_env or url_file
    yaml_value: str


def source_arg(url: str | None, env: str | None, file: str | None) -> SourceArg:
    given = [flag for flag, value in (("--source", url), ("--source-env", env),
                                      ("--source-file", file)) if value]  # fmt: skip
    if len(given) != 1:
        raise ConfigError(["give exactly one of --source, --source-env or --source-file"])
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigError([f"--source-env '{env}' is not set in the environment"])
        return _checked(SourceArg(value, "url_env", env))
    if file:
        try:
            text = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"--source-file '{file}': {exc.strerror}"]) from None
        return _checked(SourceArg(text, "url_file", str(Path(file).resolve())))
    assert url is not None
    return _checked(SourceArg(url, "url_env", "DATABASE_URL"))


def _checked(arg: SourceArg) -> SourceArg:
    if not arg.url.startswith(("postgres://", "postgresql://", "mysql://")):
        raise ConfigError(
            [f"the source URL {redact(arg.url)} must start with postgresql:// or mysql://"]
        )
    return arg


def discover(arg: SourceArg, schema: str | None, table: str | None) -> tuple[str, list[Advice]]:
    """The engine, and the advice for each table or view found."""
    source = source_for_url(arg.url)
    try:
        tables = source.discover(schema, table)
    finally:
        source.close()
    if not tables:
        where = f"table '{table}'" if table else f"schema '{schema or 'default'}'"
        raise ConfigError([f"{where}: no table or view found in {redact(arg.url)}"])
    return source.engine, [advise(t) for t in tables]


def advise(table: TableInfo) -> Advice:
    """Choose the mode: chunked for large tables with an integer primary key, incremental for
    large tables with an indexed timestamp, full otherwise."""
    cursors = _cursor_candidates(table)
    chunks = _chunk_candidates(table)
    size = f"~{table.rows:,} rows, {table.total_bytes / 2**20:,.0f} MB"
    if table.is_view:
        advice = Advice(table, "full", "a view: no statistics or keys to page by, read whole")
    elif table.rows > LARGE_ROWS and chunks and chunks[0].is_primary_key:
        column = chunks[0].column
        parallel = 4 if table.rows >= 5_000_000 else 2 if table.rows >= 500_000 else 1
        advice = Advice(
            table,
            "chunked",
            f"{size}; integer primary key {column}: chunks of {CHUNK_SIZE:,} key values, "
            "checkpointed so a failed run resumes",
            chunk_column=column,
            parallel=parallel,
        )
    elif table.rows > LARGE_ROWS and cursors and cursors[0].indexed:
        column = cursors[0].column
        advice = Advice(
            table,
            "incremental",
            f"{size}, no integer primary key; {column} is an indexed timestamp: each run "
            f"exports the rows whose {column} moved past the last run",
            cursor=column,
        )
    else:
        why = f"{size}: small enough to export whole each run"
        if table.rows > LARGE_ROWS:
            why = f"{size}, but no integer primary key or indexed timestamp to split or follow"
        if table.rows == 0 and not table.is_view:
            why = "no row estimate (never analyzed?): ANALYZE it and rerun init for better advice"
        advice = Advice(table, "full", why)
    advice.cursor_candidates, advice.chunk_candidates = cursors, chunks
    if not table.primary_key and not table.is_view:
        advice.notes.append("no primary key: reads use one long statement (see rivet check)")
    return advice


def _cursor_candidates(table: TableInfo) -> list[Candidate]:
    found = []
    for c in table.columns:
        if c.family != "temporal":
            continue
        reasons, score = ["timestamp_type"], 1
        lowered = c.name.lower()
        if any(word in lowered for word in _UPDATED):
            reasons.append("name_suggests_updated")
            score += 3
        elif "created" in lowered or "inserted" in lowered:
            reasons.append("name_suggests_created")
            score += 2
        if c.name in table.indexed:
            reasons.append("indexed")
            score += 2
        if c.nullable:
            reasons.append("nullable")
            score -= 1
        found.append(_candidate(table, c.name, c.data_type, score, reasons, c.nullable))
    return sorted(found, key=lambda x: -x.score)


def _chunk_candidates(table: TableInfo) -> list[Candidate]:
    found = []
    for c in table.columns:
        if c.family != "integer" or c.name not in table.indexed:
            continue
        is_key = table.primary_key == [c.name]
        reasons = ["primary_key", "integer_monotonic"] if is_key else ["indexed"]
        score = 3 if is_key else 1
        found.append(_candidate(table, c.name, c.data_type, score, reasons, c.nullable))
    return sorted(found, key=lambda x: -x.score)


def _candidate(
    table: TableInfo, name: str, data_type: str, score: int, reasons: list[str], nullable: bool
) -> Candidate:
    return Candidate(
        name, data_type, score, reasons, nullable, name in table.primary_key, name in table.indexed
    )


def discover_json(advice: list[Advice]) -> list[dict[str, Any]]:
    return [
        {
            "schema": a.table.schema,
            "table": a.table.name,
            "is_view": a.table.is_view,
            "row_estimate": a.table.rows,
            "total_bytes": a.table.total_bytes,
            "suggested_mode": a.mode,
            "why": a.why,
            "cursor_candidates": [c.__dict__ for c in a.cursor_candidates],
            "chunk_candidates": [c.__dict__ for c in a.chunk_candidates],
            "notes": a.notes,
        }
        for a in advice
    ]


def render_yaml(arg: SourceArg, advice: list[Advice], engine: str) -> str:
    """The config, with a comment per export saying why; strings as JSON (valid YAML)."""
    q = json.dumps
    schema = advice[0].table.schema
    lines = [
        f"# Generated by `rivet init` on {datetime.now(UTC):%Y-%m-%d} from {redact(arg.url)}, "
        f"{'database' if engine == 'mysql' else 'schema'} {schema}.",
        "# Review it, then: rivet check -c <this file> && rivet run -c <this file>",
        "source:",
        f"  type: {engine}",
    ]
    comment = {
        "url_env": "  # the connection URL is read from this environment variable",
        "url_file": "  # the connection URL is read from this file",
    }[arg.yaml_key]
    lines.append(f"  {arg.yaml_key}: {q(arg.yaml_value)}{comment}")
    lines.append("exports:")
    for a in advice:
        t = a.table
        lines.append(f"  # {t.name}: {a.why}")
        lines += [f"  # note: {note}" for note in a.notes]
        lines.append(f"  - name: {q(t.name)}")
        if _PLAIN.match(t.schema) and _PLAIN.match(t.name):
            lines.append(f"    table: {t.schema}.{t.name}")
        else:
            lines.append(f"    query: {q(f'SELECT * FROM {_quoted(t, engine)}')}")
        if a.mode != "full":
            lines.append(f"    mode: {a.mode}")
        if a.cursor:
            lines.append(f"    cursor_column: {q(a.cursor)}")
        if a.chunk_column:
            lines += [
                f"    chunk_column: {q(a.chunk_column)}",
                f"    chunk_size: {CHUNK_SIZE}",
                "    chunk_checkpoint: true",
            ]
            if a.parallel > 1:
                lines.append(f"    parallel: {a.parallel}")
        lines += [
            "    format: parquet",
            "    destination: {type: local, path: " + q(f"./output/{t.name}") + "}",
        ]
    return "\n".join(lines) + "\n"


def _quoted(table: TableInfo, engine: str) -> str:
    if engine == "mysql":
        return ".".join("`" + n.replace("`", "``") + "`" for n in (table.schema, table.name))
    return ".".join('"' + n.replace('"', '""') + '"' for n in (table.schema, table.name))
