"""The Python API: rivet.run and rivet.check, in process, from a file or a model."""

from __future__ import annotations

from pathlib import Path

import pytest

import rivet
from rivet.config import RivetConfig
from rivet.core.errors import ConfigError, ExportNotFound
from tests.live.conftest import PG_URL, Pg, write_config


def _export(pg: Pg, out: Path) -> dict[str, object]:
    return {"name": "t", "table": f"{pg.schema}.t", "format": "parquet",
            "destination": {"type": "local", "path": str(out)}}  # fmt: skip


def test_run_and_check_from_a_file_and_from_a_model(
    tmp_path: Path, pg: Pg, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    pg.execute("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 500) g")
    pg.execute("ALTER TABLE t ADD PRIMARY KEY (id)")
    monkeypatch.setenv("RIVET_TEST_SOURCE_URL", PG_URL)
    config = write_config(tmp_path, [_export(pg, tmp_path / "a")])

    result = rivet.run(config, quiet=True)
    assert not result.failed
    (export,) = result.results
    assert (export.export_name, export.status, export.rows, export.files) == (
        "t",
        "success",
        500,
        1,
    )
    assert (tmp_path / "a" / "_SUCCESS").exists()
    assert capfd.readouterr().err == ""  # quiet: no progress, no summary

    monkeypatch.chdir(tmp_path)
    model = RivetConfig.model_validate(
        {"source": {"type": "postgres", "url_env": "RIVET_TEST_SOURCE_URL"},
         "exports": [_export(pg, tmp_path / "b")]}
    )  # fmt: skip
    assert rivet.run(model, exports=["t"], quiet=True).results[0].rows == 500
    (checked,) = rivet.check(model)
    assert checked.verdict.verdict == "safe" and checked.strategy.startswith("key")


def test_bad_input_raises_typed_errors(tmp_path: Path, pg: Pg) -> None:
    config = write_config(tmp_path, [_export(pg, tmp_path / "a")])
    with pytest.raises(ExportNotFound):
        rivet.run(config, exports=["nope"], quiet=True)
    broken = RivetConfig.model_validate(
        {"source": {"type": "postgres", "url": PG_URL},
         "exports": [{**_export(pg, tmp_path / "a"), "mode": "incremental"}]}
    )  # fmt: skip
    with pytest.raises(ConfigError, match="cursor_column"):
        rivet.run(broken, quiet=True)


def test_export_processes_need_a_config_file(tmp_path: Path, pg: Pg) -> None:
    """A child process reads the config file: a model built in Python has none to give it."""
    from rivet.core.errors import PlanError

    model = RivetConfig.model_validate(
        {"source": {"type": "postgres", "url": PG_URL}, "parallel_export_processes": True,
         "exports": [_export(pg, tmp_path / "a"), {**_export(pg, tmp_path / "b"), "name": "b"}]}
    )  # fmt: skip
    with pytest.raises(PlanError, match="parallel export processes need a config file"):
        rivet.run(model, quiet=True)
    assert not (tmp_path / "a").exists()
