"""PostgreSQL SQL text: quoting, the wrapped source, keyset pages (pure)."""

from __future__ import annotations

from collections.abc import Sequence

ALIAS = "_rivet"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A standard-conforming string literal (the read sets standard_conforming_strings)."""
    if "\x00" in value:
        raise ValueError("a NUL character cannot appear in a PostgreSQL literal")
    return "'" + value.replace("'", "''") + "'"


def from_clause(
    table: str | None, query: str | None, coalesce: tuple[str, str] | None = None
) -> str:
    """`table:` names are validated identifiers and used as written; queries are wrapped.

    Both get the alias `_rivet`, so key columns are referenced as `_rivet."k"`: an unqualified
    ORDER BY would bind to a same-named output column, which may be a cast of the key.
    """
    if coalesce is not None:  # the computed cursor, as a column of a derived table
        primary, fallback = (quote_ident(c) for c in coalesce)
        inner = table if table is not None else f"({(query or '').strip().rstrip(';')}) AS _src"
        return (
            f'(SELECT *, COALESCE({primary}, {fallback}) AS "_rivet_cursor" FROM {inner}) '
            f"AS {ALIAS}"
        )
    if table is not None:
        return f"{table} AS {ALIAS}"
    assert query is not None
    return f"({query.strip().rstrip(';')}) AS {ALIAS}"


def column_ref(name: str) -> str:
    return f"{ALIAS}.{quote_ident(name)}"


def select_all(select_list: Sequence[str], source: str) -> str:
    return f"SELECT {', '.join(select_list)} FROM {source}"


def keyset_page(
    select_list: Sequence[str],
    source: str,
    key_columns: Sequence[str],
    after: Sequence[str] | None,
    limit: int,
    where: str | None = None,
) -> str:
    """One bounded page: rows strictly after the last key seen, in key order.

    A row comparison `(a, b) > (x, y)` lets the planner walk the key's btree index for composite
    keys as well as single ones, so every page is an index range scan, never a full scan.
    """
    keys = ", ".join(column_ref(k) for k in key_columns)
    conditions = [where] if where else []
    if after is not None:
        conditions.append(f"({keys}) > ({', '.join(after)})")
    filter_sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{select_all(select_list, source)}{filter_sql} ORDER BY {keys} LIMIT {limit}"
