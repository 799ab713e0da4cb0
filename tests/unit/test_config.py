"""Config loading: every problem at once, with YAML paths, did-you-mean, and no secret echoed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rivet.cli.app import cli
from rivet.config import load_config
from rivet.config.models import RivetConfig
from rivet.core.errors import ConfigError

VALID = """
source:
  type: postgres
  url_env: DATABASE_URL
exports:
  - name: orders
    table: public.orders
    format: parquet
    destination: {type: local, path: "./out/{export}"}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rivet.yaml"
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str, params: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), params)
    return info.value.problems


def test_valid_config_loads_with_reference_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID))
    export = config.exports[0]
    assert (export.mode, export.compression, export.skip_empty) == ("full", "zstd", False)
    assert export.on_schema_drift == "warn" and export.chunk_size == 100_000


def test_every_structural_problem_is_reported_at_once_with_paths(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        VALID.replace("format: parquet", "format: parquett\n    compresion: zstd").replace(
            'path: "./out/{export}"', "pth: out"
        ),
    )
    assert "exports[0] (orders).format: Input should be 'parquet' or 'csv' (line 8)" in problems
    assert (
        "exports[0] (orders).compresion: unknown key. Did you mean 'compression'? (line 9)"
        in problems
    )
    assert (
        "exports[0] (orders).destination.pth: unknown key. Did you mean 'path'? (line 10)"
        in problems
    )


def test_a_missing_key_names_the_line_of_its_mapping(tmp_path: Path) -> None:
    problems = _problems(tmp_path, VALID.replace("    format: parquet\n", ""))
    assert "exports[0] (orders).format: required key is missing (line 6)" in problems


def test_rivet_cli_0_7_7_slack_block_loads_as_yaml_1_2(tmp_path: Path) -> None:
    """`on` is a string in YAML 1.2 (the reference's reading), a boolean in YAML 1.1."""
    text = VALID + (
        "notifications:\n  slack:\n    webhook_url: https://hooks.example/x\n"
        "    on: [failure, schema_change]\n"
    )
    config = load_config(_write(tmp_path, text))
    assert config.notifications is not None and config.notifications.slack is not None
    assert config.notifications.slack.on == ["failure", "schema_change"]


@pytest.mark.parametrize(
    "scalar,expected",
    [
        ("on", "on"), ("off", "off"), ("yes", "yes"), ("no", "no"), ("y", "y"), ("n", "n"),
        ("On", "On"), ("NO", "NO"), ("1:30", "1:30"), ("0755", 755), ("0o17", 15),
        ("0x1f", 31), ("2026-01-01", "2026-01-01"), ("2026-01-01 10:00:00", "2026-01-01 10:00:00"),
        ("true", True), ("false", False), ("~", None), ("null", None), ("1e3", 1000.0),
        ("'on'", "on"), ("12", 12), ("-3", -3), ("1.5", 1.5),
    ],
)  # fmt: skip
def test_yaml_1_2_scalars_in_keys_and_values(tmp_path: Path, scalar: str, expected: object) -> None:
    from rivet.config.load import _parse_yaml

    path = _write(tmp_path, f"value: {scalar}\nkeys:\n  {scalar}: x\nlist: [{scalar}]\n")
    document, lines = _parse_yaml(path)
    assert document["value"] == expected and type(document["value"]) is type(expected)
    assert document["list"] == [expected]
    if expected is not None:  # a null key is a YAML oddity, not a config
        assert list(document["keys"]) == [expected]
    assert lines[("keys",)] == 2 and lines[("list", 0)] == 4


def test_duplicate_keys_are_an_error_with_their_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, VALID + "source:\n  type: mysql\n")
    assert problems[0].startswith("invalid YAML at line 10"), problems
    assert "duplicate key" in problems[0]


def test_semantic_rules_are_all_reported(tmp_path: Path) -> None:
    text = (
        VALID
        + """
  - name: orders
    query: SELECT 1
    table: public.x
    mode: incremental
    format: csv
    max_file_size: lots
    destination: {type: stdout}
"""
    )
    problems = "\n".join(_problems(tmp_path, text))
    assert "duplicate export name 'orders'" in problems
    assert "must specify exactly one of 'query', 'query_file', or 'table'" in problems
    assert "cursor_column: required for mode: incremental" in problems
    assert "invalid max_file_size 'lots'" in problems
    assert "stdout cannot be split" in problems


def test_unset_variable_is_named_and_params_win_over_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = VALID.replace("public.orders", "${SCHEMA}.orders")
    problems = _problems(tmp_path, text)
    assert problems[0].startswith("exports[0].table: environment variable 'SCHEMA' referenced")
    monkeypatch.setenv("SCHEMA", "from_env")
    assert load_config(_write(tmp_path, text)).exports[0].table == "from_env.orders"
    assert load_config(_write(tmp_path, text), {"SCHEMA": "p"}).exports[0].table == "p.orders"


def test_substitution_never_injects_yaml_structure(tmp_path: Path) -> None:
    text = VALID.replace("table: public.orders", "query: SELECT '${T}'")
    config = load_config(_write(tmp_path, text), {"T": "x\nformat: csv"})
    assert config.exports[0].format == "parquet"  # the value stayed one string
    assert config.exports[0].query == "SELECT 'x\nformat: csv'"


def test_misplaced_tuning_keys_get_the_reference_message(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, VALID.replace("url_env: DATABASE_URL", "url_env: DATABASE_URL\n  batch_size: 5")
    )
    assert problems == [
        "source: field(s) batch_size belong under 'source.tuning:' "
        "(write `tuning: {batch_size: ...}` inside source)"
    ]


def test_secrets_are_never_echoed(tmp_path: Path) -> None:
    text = VALID.replace(
        "url_env: DATABASE_URL",
        "url: postgresql://u:hunter2@h/db\n  password: hunter3\n  port: nope",
    )
    message = "\n".join(_problems(tmp_path, text))
    assert "hunter2" not in message and "hunter3" not in message
    assert "source.port" in message


def test_yaml_syntax_error_gives_a_position_without_the_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "source: {type: postgres, url: 'postgresql://u:pw@h/db'\n")
    assert problems[0].startswith("invalid YAML at line")
    assert "pw@" not in problems[0]


def test_missing_file_points_to_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rivet init"):
        load_config(tmp_path / "nope.yaml")


def test_bad_config_exits_1_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("format: parquet", "format: xml"))
    result = CliRunner().invoke(cli, ["run", "-c", str(path)], obj={})
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "format" in result.output


def test_json_errors_print_one_json_line(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("format: parquet", "format: xml"))
    result = CliRunner().invoke(cli, ["--json-errors", "run", "-c", str(path)], obj={})
    assert result.exit_code == 1
    assert "format" in json.loads(result.output.strip())["error"]


def test_schema_config_prints_the_models_json_schema() -> None:
    result = CliRunner().invoke(cli, ["schema", "config"], obj={})
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == RivetConfig.model_json_schema()
    assert "exports" in schema["properties"] and "source" in schema["required"]


def test_chunked_exports_plan_their_chunk_policy(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from rivet.planning.export_plan import resolve_export

    chunked = "format: parquet\n    mode: chunked\n    chunk_column: id\n    parallel: 3"
    config = load_config(_write(tmp_path, VALID.replace("format: parquet", chunked)))
    plan = resolve_export(config.exports[0], config, "SELECT 1 AS id", datetime.now(UTC))
    assert plan.chunks is not None
    assert (plan.chunks.column, plan.chunks.by, plan.chunks.size) == ("id", "range", 100_000)
    assert plan.chunks.parallel == 3 and plan.chunks.max_attempts == 4  # balanced: 3 retries + 1


@pytest.mark.parametrize(
    "key",
    [
        "reconcile_required: true",
        "source_group: primary",
    ],
)
def test_keys_that_would_do_nothing_yet_are_refused(tmp_path: Path, key: str) -> None:
    from datetime import UTC, datetime

    from rivet.core.errors import PlanError
    from rivet.planning.export_plan import resolve_export

    config = load_config(
        _write(tmp_path, VALID.replace("format: parquet", f"format: parquet\n    {key}"))
    )
    with pytest.raises(PlanError, match=f"{key.split(':')[0]} is not available"):
        resolve_export(config.exports[0], config, None, datetime.now(UTC))


def test_cursor_lag_is_checked(tmp_path: Path) -> None:
    from datetime import timedelta

    from rivet.config.lag import parse_lag

    assert parse_lag("15m") == timedelta(minutes=15) and parse_lag(500) == 500
    incremental = "format: parquet\n    mode: incremental\n    cursor_column: at"
    bad = VALID.replace("format: parquet", incremental + "\n    cursor_lag: soon")
    (problem,) = _problems(tmp_path, bad)
    assert "exports[0] (orders).cursor_lag: 'soon' is not a lag" in problem
    full = VALID.replace("format: parquet", "format: parquet\n    cursor_lag: 1h")
    assert any("only allowed with mode: incremental" in p for p in _problems(tmp_path, full))


def test_unset_variables_of_every_query_file_and_the_url_are_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rivet.commands.run import run

    monkeypatch.delenv("RIVET_UNSET_URL", raising=False)
    (tmp_path / "a.sql").write_text("SELECT ${RIVET_UNSET_A}")
    (tmp_path / "b.sql").write_text("SELECT ${RIVET_UNSET_B}")
    config = _write(
        tmp_path,
        """
source: {type: postgres, url_env: RIVET_UNSET_URL}
exports:
  - {name: a, query_file: a.sql, format: csv, destination: {type: local, path: o}}
  - {name: b, query_file: b.sql, format: csv, destination: {type: local, path: o}}
""",
    )
    with pytest.raises(ConfigError) as info:
        run(config, quiet=True)
    text = "\n".join(info.value.problems)
    assert "'RIVET_UNSET_A'" in text and "'RIVET_UNSET_B'" in text and "RIVET_UNSET_URL" in text


REFERENCE_CONFIGS = sorted((Path(__file__).parent / "reference_configs").glob("*.yaml"))


@pytest.mark.parametrize("path", REFERENCE_CONFIGS, ids=[p.stem for p in REFERENCE_CONFIGS])
def test_the_reference_example_configs_load_unchanged(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """reference.md 2.11: rivet-cli 0.7.7's own example configs, as written (B with its
    `{export}` quoted: unquoted inside `{ ... }` it is not YAML at all, for 0.7.7 either)."""
    for name in ("DATABASE_URL", "PG_URL", "MYSQL_PWD", "SLACK_WEBHOOK"):
        monkeypatch.setenv(name, "postgresql://u@db.internal/shop")
    config = load_config(path, {"region": "eu"})
    assert config.exports


def test_an_unquoted_placeholder_in_a_flow_mapping_says_to_quote_it(tmp_path: Path) -> None:
    text = VALID.replace('destination: {type: local, path: "./out/{export}"}',
                         "destination: {type: local, path: ./out/{export}}")  # fmt: skip
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith("invalid YAML at line") and 'path: "./out/{export}"' in problem
