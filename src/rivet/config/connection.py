"""Resolve `source:` into a connection URL: url / url_env / url_file / structured fields + tls."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from rivet.config.models import SourceConfig, TlsConfig
from rivet.core.errors import ConfigError

_SCHEMES = {"postgres": ("postgres", "postgresql"), "mysql": ("mysql",)}
_DEFAULT_PORT = {"postgres": 5432, "mysql": 3306}


def resolve_source_url(source: SourceConfig, config_dir: Path) -> str:
    url = _raw_url(source, config_dir)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in _SCHEMES[source.type]:
        raise ConfigError(
            [
                f"source: a {source.type} source needs a {_SCHEMES[source.type][-1]}:// URL "
                f"(got '{scheme}://...')"
            ]
        )
    return _with_tls(url, source)


def example_url(engine: str) -> str:
    """A URL to show in a hint, in the engine's scheme."""
    return "mysql://user@host:3306/db" if engine == "mysql" else "postgresql://user@host:5432/db"


def _raw_url(source: SourceConfig, config_dir: Path) -> str:
    if source.url is not None:
        return source.url.get_secret_value().strip()
    if source.url_env is not None:
        value = os.environ.get(source.url_env)
        if not value:
            raise ConfigError(
                [
                    f"source.url_env: environment variable '{source.url_env}' is not set "
                    "(or empty). "
                    f"Export it, e.g. export {source.url_env}={example_url(source.type)}"
                ]
            )
        return value.strip()
    if source.url_file is not None:
        path = Path(source.url_file)
        path = path if path.is_absolute() else config_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"source.url_file: cannot read '{path}': {exc.strerror}"]) from None
    return _structured_url(source)


def _structured_url(source: SourceConfig) -> str:
    password = source.password.get_secret_value() if source.password else None
    if source.password_env is not None:
        password = os.environ.get(source.password_env)
        if password is None:
            raise ConfigError(
                [f"source.password_env: environment variable '{source.password_env}' is not set"]
            )
    userinfo = quote(source.user or "", safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    port = source.port or _DEFAULT_PORT[source.type]
    scheme = "postgresql" if source.type == "postgres" else "mysql"
    return f"{scheme}://{userinfo}@{source.host}:{port}/{quote(source.database or '', safe='')}"


_MYSQL_SSL_MODE = {"disable": "DISABLED", "require": "REQUIRED", "verify-ca": "VERIFY_CA",
                   "verify-full": "VERIFY_IDENTITY"}  # fmt: skip


def _with_tls(url: str, source: SourceConfig) -> str:
    """`tls:` as URL parameters: libpq's sslmode/sslrootcert, MySQL's ssl-mode/ssl-ca."""
    if source.tls is None:
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    mode = tls_mode(source.tls)
    if source.type == "postgres":
        query["sslmode"] = mode
        if source.tls.ca_file:
            query["sslrootcert"] = source.tls.ca_file
        elif mode == "verify-full":  # the system's trusted roots, as rivet-cli 0.7.7 verifies
            query.setdefault("sslrootcert", "system")
    else:
        query["ssl-mode"] = _MYSQL_SSL_MODE[mode]
        if source.tls.ca_file:
            query["ssl-ca"] = source.tls.ca_file
    return urlunsplit(parts._replace(query=urlencode(query)))


def tls_warning(source: SourceConfig, url: str) -> str | None:
    """'TLS is not enforced' for a remote source without a `tls:` block or a URL that asks for
    it (rivet-cli 0.7.7 warns the same, once per source); nothing for a loopback host."""
    if source.tls is not None and source.tls.mode != "disable":
        return None
    parts = urlsplit(url)
    params = {k.lower(): v.lower() for k, v in parse_qsl(parts.query)}
    required = {"require", "verify-ca", "verify-full", "required", "verify_ca", "verify_identity"}
    if params.get("sslmode") in required or params.get("ssl-mode") in required:
        return None
    host = parts.hostname or "localhost"
    if host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/"):
        return None
    return (
        f"TLS is not enforced for the source at {parts.hostname}: credentials and rows may cross "
        "the network in clear; set source.tls.mode: verify-full (or require)"
    )


def tls_mode(tls: TlsConfig) -> str:
    """The mode the connection really uses: `accept_invalid_certs` encrypts without checking
    the certificate (`require`), `accept_invalid_hostnames` checks the chain but not the name
    (`verify-ca`), as rivet-cli 0.7.7's flags of the same names do."""
    if tls.accept_invalid_certs and tls.mode in ("verify-ca", "verify-full"):
        return "require"
    if tls.accept_invalid_hostnames and tls.mode == "verify-full":
        return "verify-ca"
    return tls.mode


def pymysql_arguments(url: str) -> dict[str, Any]:
    """PyMySQL's connect() arguments for a mysql:// URL, TLS included (what ConnectorX reads
    from the same URL for the data connections)."""
    parts = urlsplit(url)
    return {
        **_tls_options(dict(parse_qsl(parts.query))),
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.lstrip("/")) or None,
        "connect_timeout": 10,
        "charset": "utf8mb4",
    }


def _tls_options(params: dict[str, str]) -> dict[str, Any]:
    """PyMySQL's TLS arguments for the URL's `ssl-mode` / `ssl-ca` (what ConnectorX reads too)."""
    mode = params.get("ssl-mode", "").upper()
    if mode in ("", "DISABLED", "PREFERRED"):
        # Exactly what ConnectorX does for the data: PyMySQL alone would negotiate TLS when the
        # server offers it, and a check that passes here must not fail on the data connection.
        return {"ssl_disabled": True}
    if mode == "REQUIRED":
        return {"ssl": {"check_hostname": False}, "ssl_verify_cert": False}
    return {
        "ssl_ca": params.get("ssl-ca"),
        "ssl_verify_cert": True,
        "ssl_verify_identity": mode == "VERIFY_IDENTITY",
    }
