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
# libpq reports a refused connection with the server's message but no SQLSTATE; these are the
# server's (English) texts of the ones that no retry can fix, and of the ones a retry can.
_CONNECT_FAILURES = (
    (re.compile(r'database ".*" does not exist'), "3D000"),
    (re.compile(r'role ".*" does not exist'), "28000"),
    (re.compile(r"password authentication failed"), "28P01"),
    (re.compile(r"no pg_hba\.conf entry"), "28000"),
    (re.compile(r"no password supplied|password is required"), "28000"),
    (re.compile(r"permission denied for database"), "42501"),
    (re.compile(r"server does not support SSL|SSL is not enabled on the server"), "08P01"),
    (re.compile(r"certificate verify failed|does not match host name|root certificate"), "08P01"),
    (re.compile(r"too many clients|remaining connection slots are reserved"), "53300"),
    (re.compile(r"the database system is (starting up|shutting down|in recovery)"), "57P03"),
)
# A connection that was cut, refused or timed out carries no SQLSTATE either: worth a retry.
_TRANSPORT = re.compile(
    r"server closed the connection|connection refused|could not (receive|send) data"
    r"|timeout expired|connection reset|broken pipe|ssl syscall|no connection to the server"
    r"|connection (is )?(closed|lost)|consuming input failed|terminating connection"
    r"|unexpected eof|server conn crashed|could not connect to server",
    re.I,
)
# A permanent TLS or address failure reported as a connection-class (08) SQLSTATE.
_PERMANENT = {"08P01"}


def is_transient(sqlstate: str | None, message: str = "") -> bool:
    """Classified by SQLSTATE: connection failures, resource limits, operator intervention and
    serialization failures are transient; timeouts (57014) and everything else are not. An
    error without a code is transient only when its text says the connection was lost."""
    if sqlstate is None:
        return bool(_TRANSPORT.search(message))
    if sqlstate == "57014" or sqlstate in _PERMANENT:
        return False
    return sqlstate.startswith(_TRANSIENT_CLASSES)


def _connect_sqlstate(text: str) -> str | None:
    for pattern, sqlstate in _CONNECT_FAILURES:
        if pattern.search(text):
            return sqlstate
    return None


def source_error(exc: Exception, export: str | None, *, connecting: bool = False) -> SourceError:
    """Translate a psycopg or ADBC exception. The message never carries a password."""
    sqlstate = getattr(exc, "sqlstate", None) or _connect_sqlstate(str(exc))
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
            transient=is_transient(sqlstate, str(exc)),
        )
    suffix = f" [SQLSTATE {sqlstate}]" if sqlstate else ""
    return SourceError(
        f"{where}PostgreSQL error: {message}{suffix}",
        hint=_HINTS.get(sqlstate or ""),
        sqlstate=sqlstate,
        transient=is_transient(sqlstate, str(exc)),
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
