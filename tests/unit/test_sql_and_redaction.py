"""SQL text building and secret redaction (pure)."""

from __future__ import annotations

import itertools

import pytest

from rivet.core.redact import redact, redact_url
from rivet.sources import pg_sql


def test_identifiers_and_literals_are_escaped() -> None:
    assert pg_sql.quote_ident('we"ird') == '"we""ird"'
    assert pg_sql.quote_literal("O'Brien\\") == "'O''Brien\\'"
    with pytest.raises(ValueError):
        pg_sql.quote_literal("nul\x00")


def test_keyset_pages_use_a_row_comparison_on_the_qualified_key() -> None:
    first = pg_sql.keyset_page(['_rivet."a" AS "a"'], "s.t AS _rivet", ["a", "b"], None, 100)
    assert (
        first
        == 'SELECT _rivet."a" AS "a" FROM s.t AS _rivet ORDER BY _rivet."a", _rivet."b" LIMIT 100'
    )
    later = pg_sql.keyset_page(["x"], "s.t AS _rivet", ["id"], ["42"], 10)
    assert (
        later
        == 'SELECT x FROM s.t AS _rivet WHERE (_rivet."id") > (42) ORDER BY _rivet."id" LIMIT 10'
    )


def test_queries_are_wrapped_and_lose_a_trailing_semicolon() -> None:
    assert pg_sql.from_clause(None, " SELECT 1; ") == "(SELECT 1) AS _rivet"
    assert pg_sql.from_clause("public.t", None) == "public.t AS _rivet"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:pw@host/db", "postgresql://REDACTED@host/db"),
        (
            "failed: mysql://root:s3cr3t@10.0.0.1:3306/x here",
            "failed: mysql://REDACTED@10.0.0.1:3306/x here",
        ),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        ("host=x password=abc user=y", "host=x password=REDACTED user=y"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_url_hides_any_userinfo() -> None:
    assert redact_url("postgresql://user@host/db") == "postgresql://REDACTED@host/db"


def test_key_ranges_cover_the_span_exactly_once() -> None:
    from rivet.sources.ranges import plan_ranges

    ranges = plan_ranges(1, 25_000, 25_000, 1_000)
    assert len(ranges) == 25 and ranges[0] == (0, 1000) and ranges[-1][1] == 25_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert plan_ranges(5, 5, 1, 1_000) == [(4, 5)]
    assert plan_ranges(-10, 10, 21, 7)[0][0] == -11


@pytest.mark.parametrize(
    ("product", "text", "ok"),
    [
        ("PostgreSQL", "15.19 (Debian 15.19-0+deb12u1)", True),
        ("PostgreSQL", "11.22", False),
        ("MariaDB", "10.11.19-MariaDB-0+deb12u1", True),
        ("MariaDB", "10.2.44-MariaDB", False),
        ("MySQL", "8.0.36", True),
        ("MySQL", "5.6.51-log", False),
    ],
)
def test_servers_that_are_too_old_are_refused(product: str, text: str, ok: bool) -> None:
    from rivet.core.errors import SourceError
    from rivet.sources.versions import require_supported

    if ok:
        require_supported(product, text, "orders")
    else:
        with pytest.raises(SourceError, match=f"export 'orders': {product} .* is too old"):
            require_supported(product, text, "orders")
