"""`rivet check` on a terminal: rich tables carrying the same facts as the plain report."""

from __future__ import annotations

from rich.console import Console

from rivet.commands.check import ExportCheck, render, render_rich
from rivet.commands.verdict import Verdict
from rivet.formats.bigquery import TargetColumn
from rivet.sources.base import ColumnReport


def _check() -> ExportCheck:
    return ExportCheck(
        "orders",
        "keyset(id)",
        1234,
        [],
        [
            ColumnReport("id", "int4", "int32", "exact"),
            ColumnReport("span", "duration", "duration[us]", "lossy"),
        ],
        Verdict("unsafe", ["every page scans the whole of orders"], profile="balanced"),
        "SELECT ... LIMIT 10000",
        ["Seq Scan on orders (rows=1234)"],
        {"id": TargetColumn("INT64", "ok"), "span": TargetColumn("-", "fail", "no interval")},
    )


def test_terminal_and_plain_reports_carry_the_same_facts() -> None:
    console = Console(record=True, width=160, force_terminal=True)
    render_rich([_check()], console)
    shown = console.export_text()
    plain = render([_check()])
    for fact in ("keyset(id)", "~1,234", "UNSAFE", "every page scans the whole of orders",
                 "tuning.profile: balanced", "Seq Scan on orders", "int32", "INT64",
                 "- (fail: no interval)"):  # fmt: skip
        assert fact in shown and fact in plain, fact


def test_a_partition_failure_keeps_the_credentials_line() -> None:
    check = _check()
    check.credentials, check.layout_error = "AWS chain (env)", "partition_by 'nope': no such column"
    console = Console(record=True, width=160, force_terminal=True)
    render_rich([check], console)
    shown, plain = console.export_text(), render([check])
    for fact in ("AWS chain (env)", "partition_by 'nope': no such column"):
        assert fact in shown and fact in plain, fact
