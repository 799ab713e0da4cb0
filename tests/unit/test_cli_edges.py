"""Command-line edges a scheduler hits: `--json-errors` after the subcommand, hints in the
engine's own URL scheme (issue 17, smaller items)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _rivet(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rivet", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=60)  # fmt: skip


def test_json_errors_is_accepted_after_the_subcommand(tmp_path: Path) -> None:
    result = _rivet("run", "-c", "missing.yaml", "--json-errors", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "file not found" in json.loads(result.stderr.strip())["error"]


def test_a_mysql_url_env_hint_shows_a_mysql_url(tmp_path: Path) -> None:
    (tmp_path / "rivet.yaml").write_text(
        "source: {type: mysql, url_env: RIVET_UNSET_FOR_TEST}\n"
        "exports:\n  - {name: a, table: t, format: csv, destination: {type: local, path: o}}\n"
    )
    result = _rivet("run", "-c", "rivet.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "export RIVET_UNSET_FOR_TEST=mysql://user@host:3306/db" in result.stderr
    assert "postgresql://" not in result.stderr


def test_tls_not_enforced_is_said_for_a_remote_source_only() -> None:
    from rivet.config.connection import tls_warning
    from rivet.config.models import SourceConfig

    plain = SourceConfig(type="postgres", url_env="X")
    assert tls_warning(plain, "postgresql://u@db.internal:5432/shop") is not None
    assert "source.tls.mode: verify-full" in str(tls_warning(plain, "postgresql://u@10.0.0.5/s"))
    assert tls_warning(plain, "postgresql://u@127.0.0.1:5432/shop") is None
    assert tls_warning(plain, "postgresql://u@db.internal/shop?sslmode=verify-full") is None
    mysql = SourceConfig(type="mysql", url_env="X")
    assert tls_warning(mysql, "mysql://u@db.internal/shop?ssl-mode=REQUIRED") is None
    secured = SourceConfig(type="postgres", url_env="X", tls={"mode": "require"})
    assert tls_warning(secured, "postgresql://u@db.internal/shop") is None
