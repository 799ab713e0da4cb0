"""Slack notifications against a local HTTP server: what fires, and that failures never fail."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.live.conftest import Pg, rivet, write_config


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()


def _config(tmp_path: Path, pg: Pg, slack: dict[str, Any]) -> Path:
    out = str(tmp_path / "out")
    config = write_config(
        tmp_path,
        [
            {"name": "ok", "table": f"{pg.schema}.keyed", "format": "csv",
             "destination": {"type": "local", "path": out + "/ok"}},
            {"name": "slow", "table": f"{pg.schema}.keyless", "format": "csv",
             "destination": {"type": "local", "path": out + "/slow"}},
            {"name": "broken", "table": f"{pg.schema}.missing", "format": "csv",
             "destination": {"type": "local", "path": out + "/broken"}},
        ],
    )  # fmt: skip
    data = yaml.safe_load(config.read_text())
    data["notifications"] = {"slack": slack}
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.fixture
def tables(pg: Pg) -> Pg:
    pg.execute("CREATE TABLE keyed (id int PRIMARY KEY)")
    pg.execute("INSERT INTO keyed VALUES (1), (2)")
    pg.execute("CREATE TABLE keyless AS SELECT 1 AS id")
    return pg


def test_failure_and_degraded_fire_once_per_export(
    tmp_path: Path, tables: Pg, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    slack = {"webhook_url_env": "RIVET_TEST_HOOK", "on": ["failure", "degraded"]}
    result = rivet("run", "-c", str(_config(tmp_path, tables, slack)),
                   env={"RIVET_TEST_HOOK": url})  # fmt: skip
    assert result.returncode == 1  # `broken` failed
    titles = sorted(m["attachments"][0]["title"].split(" (")[1] for m in received)
    assert titles == ["degraded)", "failure)"]
    texts = {m["attachments"][0]["title"].split(": ")[1].split("_")[0]:
             m["attachments"][0]["text"] for m in received}  # fmt: skip
    assert "*broken* | status: `failed`" in texts["broken"] and "error:" in texts["broken"]
    assert "*slow* | status: `success`" in texts["slow"] and "no primary key" in texts["slow"]


def test_only_failure_by_default_and_an_unreachable_hook_only_warns(
    tmp_path: Path, tables: Pg
) -> None:
    slack = {"webhook_url": "http://127.0.0.1:1/hook"}  # nothing listens there
    result = rivet("run", "-c", str(_config(tmp_path, tables, slack)), "-e", "ok", "-e", "slow")
    assert result.returncode == 0, result.stderr  # no failure: nothing to send
    assert "not delivered" not in result.stderr
    failing = rivet("run", "-c", str(_config(tmp_path, tables, slack)), "-e", "broken")
    assert failing.returncode == 1  # the export's failure, not the notification's
    assert "notifications.slack: the message was not delivered" in failing.stderr


def test_schema_change_fires_with_the_changes(
    tmp_path: Path, tables: Pg, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    slack = {"webhook_url_env": "RIVET_TEST_HOOK", "on": ["schema_change"]}
    config = _config(tmp_path, tables, slack)
    rivet("run", "-c", str(config), "-e", "ok", env={"RIVET_TEST_HOOK": url})
    assert received == []  # the first run only records the schema
    tables.execute("ALTER TABLE keyed ADD COLUMN region text")
    second = rivet("run", "-c", str(config), "-e", "ok", env={"RIVET_TEST_HOOK": url})
    assert second.returncode == 0, second.stderr
    (message,) = received
    assert message["attachments"][0]["title"].endswith("(schema_change)")
    assert "schema: added: region (string)" in message["attachments"][0]["text"]
