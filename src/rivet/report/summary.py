"""The per-export block and the multi-export aggregate printed on stderr after a run."""

from __future__ import annotations

from rivet.report import format as fmt
from rivet.report.model import ExportResult, RunAggregate

_MARK = {"success": "✓", "failed": "✗", "skipped": "•", "contributed": "✓"}


def render_export(result: ExportResult) -> str:
    rows: list[tuple[str, str]] = [
        ("run_id", result.run_id),
        ("status", _status(result)),
        ("strategy", result.strategy),
        ("tuning", result.tuning),
        ("rows", fmt.count(result.rows)),
        ("files", str(result.files)),
    ]
    if result.bytes:
        rows.append(("bytes", fmt.size(result.bytes)))
    rows.append(("duration", fmt.duration(result.duration_s)))
    rows.append(("peak RSS", f"{result.peak_rss_mb:.0f} MB (sampled during run)"))
    if result.statements:
        rows.append(
            (
                "statements",
                f"{result.statements}, longest {fmt.duration(result.longest_statement_s)}",
            )
        )
    if result.format == "parquet" and result.compression != "zstd":
        rows.append(("compression", result.compression))
    if result.destination:
        rows.append(("output", result.destination))
    if result.replaced is not None:
        rows.append(("replaced", result.replaced))
    if result.table is not None:
        rows.append(("table", result.table))
    if result.cursor is not None:
        rows.append(("cursor", result.cursor))
    if result.quality is not None:
        rows.append(("quality", result.quality))
    if result.validated is not None:
        rows.append(("validated", result.validated))
    if result.reconcile is not None:
        rows.append(("reconcile", result.reconcile))
    if result.schema == "CHANGED":
        rows.append(("schema", "CHANGED: " + "; ".join(result.schema_changes)))
    rows.extend(("warning", w) for w in result.warnings)
    if result.error:
        rows.append(("error", result.error))
    rows = [(label, value) for label, value in rows if value]
    width = max(len(label) for label, _ in rows) + 1
    header = f"── {result.export_name} ".ljust(60, "─")
    body = "\n".join(_row(label, value, width, "  ") for label, value in rows)
    return f"{header}\n{body}"


def _status(result: ExportResult) -> str:
    if result.status == "contributed":
        return "contributed (rows: this worker's share; another worker published the export)"
    return str(result.status)


def _row(label: str, value: str, width: int, indent: str) -> str:
    """`label: value`, whole: a value of several lines (an error and its hint) continues
    under itself, never cut."""
    first, *rest = value.strip().splitlines() or [""]
    lines = [f"{indent}{(label + ':').ljust(width)} {first}"]
    lines += [f"{indent}{' ' * (width + 1)} {line.strip()}" for line in rest]
    return "\n".join(lines)


def render_line(result: ExportResult) -> str:
    """One export of several: a line of figures, then its output, warnings and error."""
    mark = _MARK.get(result.status, "•")
    head = (
        f"{mark} {result.export_name:<22} {result.mode:<8} {fmt.count(result.rows)} rows  "
        f"{result.files} files  {fmt.size(result.bytes)}  {fmt.duration(result.duration_s)}  "
        f"RSS {result.peak_rss_mb:.0f} MB"
    )
    if result.status == "contributed":  # `rivet apply --worker`: its share, not the export
        head = (
            f"{mark} {result.export_name:<22} {result.mode:<8} {fmt.count(result.rows)} rows "
            "read by this worker; another worker published the export"
        )
    details = [("output", result.destination), *(("warning", w) for w in result.warnings)]
    details.append(("error", result.error or ""))
    return "\n".join([head] + [_row(k, v, 8, "    ") for k, v in details if v])


def render_aggregate(aggregate: RunAggregate) -> str:
    data = aggregate.to_json()
    counts = data["counts"]
    status = f"{counts['success']} success · {counts['failed']} failed"
    if counts["skipped"]:
        status += f" · {counts['skipped']} skipped"
    rate = data["total_rows"] / aggregate.duration_s if aggregate.duration_s else 0.0
    bar = "═" * 56
    lines = [
        bar,
        f"  Run summary ({len(aggregate.results)} exports)",
        bar,
        f"  id:          {aggregate.aggregate_id}",
        f"  status:      {status}",
        f"  rows:        {fmt.count(data['total_rows'])}",
        f"  files:       {data['total_files']}",
        f"  bytes:       {fmt.size(data['total_bytes'])}",
        f"  duration:    {fmt.duration(aggregate.duration_s)}",
        f"  throughput:  {rate:,.0f} rows/s",
        f"  mode:        {aggregate.mode}",
        f"  config:      {aggregate.config_path}",
    ]
    if aggregate.failed:
        lines.append("  failed exports:")
        lines.extend(
            f"    - {r.export_name}: {_one_line(r.error or '', 160)}" for r in aggregate.failed
        )
    return "\n".join(lines)


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
