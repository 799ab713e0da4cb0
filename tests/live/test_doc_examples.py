"""Every rivet.yaml example in README.md and docs/ is run for real, as a reader would copy it
(issue 17, item 7): a documented config cannot rot. Export lists and whole configs run against
PostgreSQL with the tables they name; fragments (a `notifications:` block) are loaded into a
minimal config. Only the table schema is rewritten (`public.` -> the test's schema)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from rivet.config import load_config
from tests.live.conftest import PG_URL, Pg, rivet

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
ROWS = 30


def _examples() -> list[tuple[str, Any]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for index, match in enumerate(BLOCK.finditer(doc.read_text())):
            document = YAML(typ="safe", pure=True).load(match.group(1))  # YAML 1.2, as rivet
            if isinstance(document, dict) and "apiVersion" in document:
                continue  # a Kubernetes manifest, not a rivet.yaml
            found.append((f"{doc.name}#{index}", document))
    return found


EXAMPLES = _examples()


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 5, [name for name, _ in EXAMPLES]


def _as_config(document: Any) -> dict[str, Any]:
    base = {"source": {"type": "postgres", "url_env": "DATABASE_URL"}}
    if isinstance(document, list):
        return {**base, "exports": document}
    if "source" in document:
        return dict(document)
    return {**base, **document, "exports": [
        {"name": "orders", "table": "public.orders", "format": "csv",
         "destination": {"type": "local", "path": "./out/orders"}}]}  # fmt: skip


def _tables(pg: Pg, config: dict[str, Any]) -> list[str]:
    names = set()
    for export in config["exports"]:
        names.update(re.findall(r"public\.(\w+)", export.get("table", "")))
        names.update(re.findall(r"FROM (\w+)", export.get("query", "")))
    for name in sorted(names):
        pg.execute(
            f"CREATE TABLE {name} (id int PRIMARY KEY, email text, region text, "
            "created_at timestamptz, updated_at timestamptz, started_at timestamp)"
        )
        pg.execute(
            f"INSERT INTO {name} SELECT g, 'u' || g || '@example.com', 'eu', now(), now(), "
            f"now() AT TIME ZONE 'UTC' - interval '1 hour' FROM generate_series(1, {ROWS}) g"
        )
    return sorted(names)


@pytest.mark.parametrize("name,document", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_documented_config_runs(tmp_path: Path, pg: Pg, name: str, document: Any) -> None:
    config = _as_config(document)
    _tables(pg, config)
    text = yaml.safe_dump(config, sort_keys=False).replace("public.", f"{pg.schema}.")
    path = tmp_path / "rivet.yaml"
    path.write_text(text)
    url = PG_URL + f"?options=-csearch_path%3D{pg.schema}"
    env = {"DATABASE_URL": url, "SLACK_WEBHOOK": "http://127.0.0.1:9/unused"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        load_config(path, {"region": "eu"})  # the documented file is valid as written
    result = rivet("run", "-c", str(path), "-p", "region=eu", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summaries = json.loads(result.stdout)["exports"]
    assert [s["export_name"] for s in summaries] == [e["name"] for e in config["exports"]]
    for summary in summaries:
        assert summary["status"] == "success", summary
        assert summary["rows"] == ROWS, summary
