"""Optional extras (issue 19, item 6): without boto3 or google-cloud-storage installed, an
export to S3 or GCS fails with an error that names the extra to install, at `rivet check` and
at `rivet run`, and nothing is written. (scripts/package_check.sh runs the wheel without extras.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live.conftest import PG_URL, Pg, write_config

# Runs the CLI with the extra's modules made unimportable, as in an install without the extra
_WITHOUT = (
    "import sys\n"
    "for name in sys.argv.pop(1).split(','):\n"
    "    sys.modules[name] = None\n"
    "from rivet.cli.app import main\n"
    "sys.argv[0] = 'rivet'\n"
    "main()\n"
)


@pytest.mark.parametrize(
    "destination,modules,extra",
    [
        ({"type": "s3", "bucket": "b", "prefix": "p", "region": "us-east-1"}, "boto3", "s3"),
        ({"type": "gcs", "bucket": "b", "prefix": "p"}, "google.cloud.storage,google.cloud", "gcs"),
    ],
)
@pytest.mark.parametrize("command", ["check", "run"])
def test_a_missing_extra_is_named(
    tmp_path: Path, pg: Pg, destination: dict[str, str], modules: str, extra: str, command: str
) -> None:
    pg.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g")
    config = write_config(
        tmp_path,
        [{"name": "t", "table": f"{pg.schema}.t", "format": "parquet", "destination": destination}],
    )
    env = {**os.environ, "RIVET_TEST_SOURCE_URL": PG_URL, "AWS_ACCESS_KEY_ID": "k",
           "AWS_SECRET_ACCESS_KEY": "s"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT, modules, command, "-c", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert f"destination type {extra} needs the optional dependencies" in done.stderr + done.stdout
    assert f"pip install 'rivet-extract[{extra}]'" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
