"""Quality gates: evaluated before publishing; a failure publishes nothing and moves no cursor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.live.conftest import S3, S3_ENV, Pg, rivet, write_config


@pytest.fixture
def table(pg: Pg) -> Pg:
    pg.execute("CREATE TABLE q (id int PRIMARY KEY, email text, code int)")
    pg.execute(
        "INSERT INTO q SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'u' || g END, "
        "CASE WHEN g <= 2 THEN 7 WHEN g % 5 = 0 THEN NULL ELSE g END "
        "FROM generate_series(1, 100) g"
    )
    return pg


def _run(
    tmp_path: Path, pg: Pg, quality: dict[str, object], **extra: object
) -> tuple[int, str, Path]:
    out = tmp_path / "out"
    destination = extra.pop("destination", {"type": "local", "path": str(out)})
    config = write_config(
        tmp_path,
        [
            {
                "name": "q",
                "table": f"{pg.schema}.q",
                "format": "csv",
                "quality": quality,
                "destination": destination,
                **extra,
            }
        ],
    )
    result = rivet("run", "-c", str(config), "--json", env=S3_ENV)
    return result.returncode, result.stderr + result.stdout, out


def test_passing_gates_publish(tmp_path: Path, table: Pg) -> None:
    code, output, out = _run(
        tmp_path,
        table,
        {
            "row_count_min": 100,
            "row_count_max": 100,
            "null_ratio_max": {"email": 0.25},
            "unique_columns": ["email"],
        },
    )
    assert code == 0, output
    assert (out / "_SUCCESS").exists()


@pytest.mark.parametrize(
    ("quality", "message"),
    [
        ({"row_count_min": 101}, "100 rows, fewer than row_count_min 101"),
        ({"row_count_max": 99}, "more than row_count_max 99"),
        ({"null_ratio_max": {"email": 0.2}}, "column 'email': null ratio 0.2500 exceeds 0.2000"),
        ({"unique_columns": ["code"]}, "column 'code': 2 duplicate values out of 80"),
    ],
)
def test_failing_gates_publish_nothing(
    tmp_path: Path, table: Pg, quality: dict[str, object], message: str
) -> None:
    code, output, out = _run(tmp_path, table, quality)
    assert code == 1 and message in output and "nothing published" in output
    assert not out.exists() or list(out.iterdir()) == []


def test_failing_gate_uploads_nothing_and_keeps_the_cursor(
    tmp_path: Path, table: Pg, s3: S3
) -> None:
    destination = {
        "type": "s3",
        "bucket": s3.bucket,
        "prefix": "q/",
        "endpoint": s3.endpoint,
        "region": "us-east-1",
    }
    code, output, _ = _run(
        tmp_path,
        table,
        {"row_count_max": 10},
        destination=destination,
        mode="incremental",
        cursor_column="id",
    )
    assert code == 1 and "row_count_max" in output
    assert s3.keys() == []  # not even a part: parts wait for the gates
    state = rivet("state", "show", "-c", str(tmp_path / "rivet.yaml"), "--json")
    assert json.loads(state.stdout) == []


def test_unknown_quality_column_is_named(tmp_path: Path, table: Pg) -> None:
    code, output, _ = _run(tmp_path, table, {"unique_columns": ["nope"]})
    assert code == 1 and "quality: unknown column(s) ['nope']" in output
