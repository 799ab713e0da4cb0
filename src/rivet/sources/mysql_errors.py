"""MySQL / MariaDB driver errors (PyMySQL, ConnectorX) -> SourceError, keyed on the error number."""

from __future__ import annotations

import re
from typing import Any

from rivet.core.errors import SourceConnectionError, SourceError
from rivet.core.redact import redact

_HINTS = {
    1146: "check the table name (database-qualified?) and the database in the source URL",
    1054: "check the column names in the query, or the `columns:` overrides",
    1064: "fix the SQL syntax of the query (run it in the mysql client to see the full error)",
    1142: "grant SELECT on the table to the export user (GRANT SELECT ON db.t TO ...)",
    1143: "grant SELECT on the columns to the export user",
    1045: "check the user and password of the source URL",
    1698: "check the user and password of the source URL",
    1044: "grant the user access to the database, or fix the database name",
    1049: "check the database name in the source URL",
    1969: "the statement hit tuning.statement_timeout_s: raise it, or lower the page size",
    3024: "the statement hit tuning.statement_timeout_s: raise it, or lower the page size",
}
_CONNECTING = {1045, 1698, 1044, 1049, 1040, 2002, 2003, 2005}
_TRANSIENT = {1205, 1213, 1040, 1053, 2002, 2003, 2006, 2013}
# ConnectorX reports server errors only as text: "MySqlError { ERROR 1146 (42S02): message }".
_CX_ERROR = re.compile(r"ERROR (\d+) \(([0-9A-Z]{5})\): (.*?)(?: \}|$)", re.S)


# ConnectorX reports a refused or cut connection without an error number.
_TRANSPORT = re.compile(
    r"connection refused|connection reset|broken pipe|connectionclosed|connection closed"
    r"|lost connection|server has gone away|unexpected eof|os error (104|111|32)\b"
    r"|bytes remaining on stream|\bio ?error\b|server disconnected",
    re.I,
)


_TLS = re.compile(
    r"certificate verify failed|\[SSL|ssl connection error|ssl is required|doesn't support ssl"
    r"|does not support ssl|tls handshake",
    re.I,
)


def is_transient(errno: int | None, message: str = "") -> bool:
    """Classified by error number: a cut connection (2013/2006), a refused one, a deadlock or
    lock wait, too many connections are transient; a statement timeout (1969/3024), access,
    syntax and everything else are not. An error without a number is transient only when its
    text says the connection was lost or refused."""
    if _TLS.search(message):  # a certificate or a server without TLS: the same next time
        return False
    if errno is None:
        return bool(_TRANSPORT.search(message))
    return errno in _TRANSIENT


def source_error(
    exc: BaseException, export: str | None, *, connecting: bool = False
) -> SourceError:
    errno, sqlstate, message = _parts(exc)
    where = f"export '{export}': " if export else ""
    code = f" [MySQL error {errno}]" if errno else ""
    if connecting or errno in _CONNECTING:
        return SourceConnectionError(
            f"{where}cannot connect to the MySQL source: {message}{code}",
            hint=_HINTS.get(errno or 0)
            or "check the source URL, user and password, and that the server accepts "
            "connections from this host",
            sqlstate=sqlstate,
            transient=is_transient(errno, str(exc)),
        )
    return SourceError(
        f"{where}MySQL error: {message}{code}",
        hint=_HINTS.get(errno or 0),
        sqlstate=sqlstate,
        transient=is_transient(errno, str(exc)),
    )


def _parts(exc: BaseException) -> tuple[int | None, str | None, str]:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):  # PyMySQL: (errno, message)
        return args[0], None, redact(str(args[1]))
    text = str(exc)
    match = _CX_ERROR.search(text)
    if match:
        return int(match.group(1)), match.group(2), redact(match.group(3).strip())
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return None, None, redact(first)
