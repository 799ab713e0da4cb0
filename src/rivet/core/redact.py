"""Secret redaction: credentials never reach a message, a log line or a file."""

from __future__ import annotations

import re

# scheme://user:password@host  ->  scheme://REDACTED@host ; scheme://user@host is kept.
_URL_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^/@\s:]*):(?P<pw>[^/@\s]*)@"
)
_KV_PASSWORD = re.compile(r"(?i)(password\s*=\s*)('[^']*'|\"[^\"]*\"|\S+)")


def redact(text: str) -> str:
    """Remove passwords from URLs and libpq-style `password=...` pairs in free text."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}REDACTED@", text)
    return _KV_PASSWORD.sub(lambda m: f"{m.group(1)}REDACTED", text)


def redact_url(url: str) -> str:
    """Show a connection URL without its userinfo: postgresql://REDACTED@host/db."""
    return re.sub(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@]*@", r"\g<scheme>REDACTED@", url)
