"""A real Elasticsearch-API server for tests: noida-db (PyPI, pinned in requirements/dev.txt) on a free port.

noida-db emulates Elasticsearch 8.15 (the official client works with it unchanged; it has no ILM and no
percentiles aggregation). Its wheel carries the server binary; this runs that binary directly (not the `noida-db`
Python wrapper, which would leave the server as a grandchild that stopping by PID would miss), with only the
Elasticsearch service, on 127.0.0.1, with its data in a directory of the test's choosing: a restart on the same
directory and port finds its indices again.

    server = start_es_server(tmp_path / "es")        # waits until GET / answers
    server.url                                          # http://127.0.0.1:<port>
    server.stop(); server.start()                       # down, then back with the same data and port
    server.reset()                                      # delete every index and index template

The pytest fixtures `es_server` (one per session, reset before each test that uses `es`) and `es` are
registered from tests/conftest.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.support.server_process import ServerError, ServerProcess, for_session, wheel_binary


class EsServerError(ServerError):
    """The server refused a request (or did not start: ServerError)."""


def server_binary() -> Path:
    """The noida-db binary inside the installed wheel."""
    return wheel_binary("noida_db", "noida-db")


@dataclass
class EsServer(ServerProcess):
    """One noida-db Elasticsearch server process (stop/start keeps data and port)."""

    name: ClassVar[str] = "noida-db"

    def command(self) -> list[str]:
        """The server's command line."""
        return [
            str(server_binary()),
            "start",
            "--only",
            "elasticsearch",
            "--host",
            "127.0.0.1",
            "--elasticsearch-port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]

    def answers(self) -> bool:
        """GET / answers with Elasticsearch's banner."""
        try:
            return "version" in self.request("GET", "/")
        except (OSError, ValueError):
            return False

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON request with the standard library (independent of the client under test)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            raise EsServerError(f"{method} {path} -> {err.code}: {err.read()[:500]!r}") from None

    def reset(self) -> None:
        """Delete every index and every index template, so a test starts from an empty server."""
        for index in self.request("GET", "/_cat/indices?format=json"):
            self.request("DELETE", f"/{index['index']}")
        for template in self.request("GET", "/_index_template").get("index_templates", []):
            self.request("DELETE", f"/_index_template/{template['name']}")

    def emptied(self) -> EsServer:
        """This server, started again if a test stopped it, with every index and index template deleted."""
        if not self.answers():
            self.start()
        self.reset()
        return self


def start_es_server(data_dir: Path, port: int | None = None) -> EsServer:
    """A started server keeping its data in data_dir (a free port unless one is given)."""
    server = EsServer(data_dir) if port is None else EsServer(data_dir, port)
    return server.start()


@pytest.fixture(scope="session")
def es_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsServer]:
    """One noida-db Elasticsearch server for the whole session (stopped at the end)."""
    yield from for_session(EsServer(tmp_path_factory.mktemp("es-server") / "data"))


@pytest.fixture
def es(es_server: EsServer) -> EsServer:
    """The session's server, emptied for this test (every index and index template deleted)."""
    return es_server.emptied()
