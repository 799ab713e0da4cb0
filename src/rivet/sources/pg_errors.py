"""PostgreSQL driver errors (psycopg and ADBC) -> rivet's SourceError, keyed on SQLSTATE only."""

from __future__ import annotations

import re

from rivet.core.errors import SourceConnectionError, SourceError
from rivet.core.redact import redact

_HINTS: dict[str, str] = {
    "42P01": "check the table name (schema-qualified?) and the search_path of the user",
    "42703": "check the column names in the query, or the `columns:` overrides",
    "42601": "fix the SQL syntax of the query (run it in psql to see the full error)",
    "42501": "grant SELECT on the table to the export user (GRANT SELECT ON ... TO ...)",
    "3D000": "check the database name in the source URL",
    "57014": "the statement hit tuning.statement_timeout_s: raise it, or lower the page size "
    "(tuning.batch_size_memory_mb)",
    "55P03": "a lock was not granted within tuning.lock_timeout_s; retry later or raise it",
}
_TRANSIENT_CLASSES = ("08", "53", "57P", "40")
_PRIMARY = re.compile(r"(?:ERROR|FATAL):\s+(.*?)(?:\n|$)")


def is_transient(sqlstate: str | None) -> bool:
    """A connection cut has no SQLSTATE: transient. Timeouts (57014) are not."""
    if sqlstate is None:
        return True
    if sqlstate == "57014":
        return False
    return sqlstate.startswith(_TRANSIENT_CLASSES)


def source_error(exc: Exception, export: str | None, *, connecting: bool = False) -> SourceError:
    """Translate a psycopg or ADBC exception. The message never carries a password."""
    sqlstate = getattr(exc, "sqlstate", None) or None
    message = _primary_message(exc)
    where = f"export '{export}': " if export else ""
    if connecting or (sqlstate or "").startswith("28") or sqlstate == "3D000":
        hint = _HINTS.get(sqlstate or "") or (
            "check the source URL, user and password, and that the server accepts connections "
            "from this host (pg_hba.conf)"
        )
        return SourceConnectionError(
            f"{where}cannot connect to the PostgreSQL source: {message}",
            hint=hint,
            sqlstate=sqlstate,
            transient=sqlstate is None or is_transient(sqlstate),
        )
    suffix = f" [SQLSTATE {sqlstate}]" if sqlstate else ""
    return SourceError(
        f"{where}PostgreSQL error: {message}{suffix}",
        hint=_HINTS.get(sqlstate or ""),
        sqlstate=sqlstate,
        transient=is_transient(sqlstate),
    )


def _primary_message(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(exc)
    match = _PRIMARY.search(text)
    if match and not primary:
        text = match.group(1)
    text = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    text = re.sub(r"^[A-Z_]+: \[libpq\] ", "", text)
    return redact(text)
