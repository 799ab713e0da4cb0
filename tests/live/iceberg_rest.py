"""A small Iceberg REST catalog for the tests: the REST protocol's routes that pyiceberg's
RestCatalog uses (config, namespaces, create with stage-create, load, commit), served over HTTP
on loopback and kept in a pyiceberg SQL catalog on SQLite. Requests must carry the bearer
token it was started with."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pyiceberg.catalog.rest import CommitTableRequest, CreateTableRequest, TableResponse
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
)
from pyiceberg.table.metadata import new_table_metadata

TABLE = re.compile(r"^/v1/namespaces/([^/]+)/tables/([^/]+)$")
NAMESPACE = re.compile(r"^/v1/namespaces/([^/]+)$")


class _Named:
    """What SqlCatalog.commit_table needs of the table it commits to: its name."""

    def __init__(self, identifier: tuple[str, ...]) -> None:
        self._identifier = identifier

    def name(self) -> tuple[str, ...]:
        return self._identifier


def _handler(catalog: SqlCatalog, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _reply(self, status: int, body: Any = None) -> None:
            data = (
                b""
                if body is None
                else (body if isinstance(body, bytes) else json.dumps(body).encode())
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, kind: str, message: str) -> None:
            self._reply(status, {"error": {"message": message, "type": kind, "code": status}})

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _allowed(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {token}":
                return True
            self._error(401, "NotAuthorizedException", "a bearer token is required")
            return False

        def _table(self, namespace: str, name: str) -> None:
            table = catalog.load_table((namespace, name))
            response = TableResponse(
                metadata_location=table.metadata_location, metadata=table.metadata
            )
            self._reply(200, response.model_dump_json(by_alias=True).encode())

        def do_GET(self) -> None:
            if not self._allowed():
                return
            path = self.path.split("?")[0]
            try:
                if path == "/v1/config":
                    return self._reply(200, {"defaults": {}, "overrides": {}})
                if found := TABLE.match(path):
                    return self._table(found[1], found[2])
                if found := NAMESPACE.match(path):
                    properties = catalog.load_namespace_properties(found[1])
                    return self._reply(200, {"namespace": [found[1]], "properties": properties})
            except NoSuchTableError as exc:
                return self._error(404, "NoSuchTableException", str(exc))
            except NoSuchNamespaceError as exc:
                return self._error(404, "NoSuchNamespaceException", str(exc))
            self._error(404, "NotFound", path)

        def do_HEAD(self) -> None:
            if not self._allowed():
                return
            path = self.path.split("?")[0]
            if (found := NAMESPACE.match(path)) and catalog.namespace_exists(found[1]):
                return self._reply(204)
            if (found := TABLE.match(path)) and catalog.table_exists((found[1], found[2])):
                return self._reply(204)
            self._reply(404)

        def do_POST(self) -> None:
            if not self._allowed():
                return
            path, body = self.path.split("?")[0], self._body()
            try:
                if path == "/v1/namespaces":
                    request = json.loads(body)
                    catalog.create_namespace(
                        tuple(request["namespace"]), request.get("properties") or {}
                    )
                    return self._reply(200, {"namespace": request["namespace"], "properties": {}})
                if (found := re.match(r"^/v1/namespaces/([^/]+)/tables$", path)) is not None:
                    return self._create(found[1], CreateTableRequest.model_validate_json(body))
                if found := TABLE.match(path):
                    commit = CommitTableRequest.model_validate_json(body)
                    response = catalog.commit_table(
                        _Named((found[1], found[2])),  # type: ignore[arg-type]
                        tuple(commit.requirements),
                        tuple(commit.updates),
                    )
                    return self._reply(200, response.model_dump_json(by_alias=True).encode())
            except NamespaceAlreadyExistsError as exc:
                return self._error(409, "AlreadyExistsException", str(exc))
            except CommitFailedException as exc:
                return self._error(409, "CommitFailedException", str(exc))
            except NoSuchTableError as exc:
                return self._error(404, "NoSuchTableException", str(exc))
            self._error(404, "NotFound", path)

        def _create(self, namespace: str, request: CreateTableRequest) -> None:
            if catalog.table_exists((namespace, request.name)):
                return self._error(409, "AlreadyExistsException", request.name)
            if not request.stage_create:
                catalog.create_table(
                    (namespace, request.name), request.table_schema, request.location,
                    request.partition_spec, properties=request.properties,
                )  # fmt: skip
                return self._table(namespace, request.name)
            metadata = new_table_metadata(
                request.table_schema, request.partition_spec, request.write_order,
                request.location or "", request.properties,
            )  # fmt: skip
            staged = TableResponse(metadata_location=None, metadata=metadata)
            self._reply(200, staged.model_dump_json(by_alias=True).encode())

    return Handler


@contextmanager
def rest_catalog(folder: Path, token: str) -> Iterator[str]:
    """Serve a REST catalog on loopback; yields its URL."""
    catalog = SqlCatalog("rest", uri=f"sqlite:///{folder / 'rest-catalog.db'}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(catalog, token))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
