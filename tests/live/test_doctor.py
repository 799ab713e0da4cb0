"""`rivet doctor` against real servers and stores: what passes, what fails, nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

from tests.live.conftest import S3, S3_ENV, Pg, rivet, write_config


def test_doctor_checks_source_exports_and_destinations(tmp_path: Path, pg: Pg, s3: S3) -> None:
    pg.execute("CREATE TABLE good (id int PRIMARY KEY, v text)")
    out = tmp_path / "out" / "good"  # doctor leaves no folder behind, not even a parent
    config = write_config(tmp_path, [
        {"name": "good", "table": f"{pg.schema}.good", "format": "parquet",
         "destination": {"type": "local", "path": str(out)}},
        {"name": "missing", "table": f"{pg.schema}.nope", "format": "csv",
         "destination": {"type": "s3", "bucket": s3.bucket, "prefix": "p/",
                         "endpoint": s3.endpoint, "region": "us-east-1"}},
    ])  # fmt: skip
    result = rivet("doctor", "-c", str(config), "--json", env=S3_ENV)
    assert result.returncode == 1, result.stderr
    checks = {(c["name"], c["status"]) for c in json.loads(result.stdout)}
    assert ("source", "OK") in checks and ("export good", "OK") in checks
    assert ("export missing", "FAIL") in checks
    assert (f"destination {out.resolve().as_uri()}", "OK") in checks
    assert (f"destination s3://{s3.bucket}/p/", "OK") in checks
    assert not out.parent.exists() and s3.keys() == []  # probes and folders: removed


def test_doctor_reports_an_unreachable_source_and_passes_a_good_config(
    tmp_path: Path, pg: Pg
) -> None:
    pg.execute("CREATE TABLE good (id int PRIMARY KEY)")
    export = {"name": "good", "table": f"{pg.schema}.good", "format": "csv",
              "destination": {"type": "local", "path": str(tmp_path / "out")}}  # fmt: skip
    config = write_config(tmp_path, [export])
    ok = rivet("doctor", "-c", str(config))
    assert ok.returncode == 0 and "All checks passed." in ok.stdout
    down = rivet("doctor", "-c", str(config), url="postgresql://u:pw@127.0.0.1:1/db")
    assert down.returncode == 1
    assert "[FAIL] source: cannot connect to the PostgreSQL source" in down.stdout
    assert "pw@" not in down.stdout


def test_doctor_checks_the_state_store(tmp_path: Path, pg: Pg) -> None:
    pg.execute("CREATE TABLE good (id int PRIMARY KEY)")
    export = {"name": "good", "table": f"{pg.schema}.good", "format": "csv",
              "destination": {"type": "local", "path": str(tmp_path / "out")}}  # fmt: skip
    config = write_config(tmp_path, [export])

    def state_check(env: dict[str, str] | None = None) -> dict[str, str]:
        result = rivet("doctor", "-c", str(config), "--json", env=env)
        (check,) = [c for c in json.loads(result.stdout) if c["name"] == "state"]
        return dict(check)

    assert state_check()["detail"].endswith(".rivet_state.db will be created on first run")
    assert not (tmp_path / ".rivet_state.db").exists()  # doctor creates nothing
    assert rivet("run", "-c", str(config)).returncode == 0
    assert state_check()["detail"] == f"opened {tmp_path / '.rivet_state.db'}"
    down = state_check({"RIVET_STATE_URL": "postgresql://u:pw@127.0.0.1:1/state"})
    assert down["status"] == "FAIL" and "RIVET_STATE_URL" in (down["fix"] or "")
    assert "pw@" not in down["detail"]
