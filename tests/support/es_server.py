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
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import pytest

from devtools.processes import free_port, stop

READY_TIMEOUT_S = 30.0


class EsServerError(RuntimeError):
    """The server did not start or answer; the message carries the end of its log."""


def server_binary() -> Path:
    """The noida-db binary inside the installed wheel (made executable: wheels may drop the mode bit)."""
    path = Path(str(files("noida_db").joinpath("noida-db")))
    if not path.is_file():
        raise EsServerError(f"noida-db binary not found at {path}: pip install -r requirements/dev.txt")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


@dataclass
class EsServer:
    """One noida-db Elasticsearch server process (stop/start keeps data and port)."""

    name: ClassVar[str] = "noida-db"

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, timeout: float = READY_TIMEOUT_S) -> EsServer:
        """Start the server and wait until it answers GET / (raises EsServerError with its log otherwise)."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EsServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise EsServerError(f"{self.name} did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

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

    def stop(self) -> None:
        """Stop the process by its PID (terminate, then kill)."""
        if self.process is not None:
            stop(self.process)
            self.process = None

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

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_es_server(data_dir: Path, port: int | None = None) -> EsServer:
    """A started server keeping its data in data_dir (a free port unless one is given)."""
    server = EsServer(data_dir) if port is None else EsServer(data_dir, port)
    return server.start()


@pytest.fixture(scope="session")
def es_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsServer]:
    """One noida-db Elasticsearch server for the whole session (stopped at the end)."""
    server = start_es_server(tmp_path_factory.mktemp("es-server") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def es(es_server: EsServer) -> EsServer:
    """The session's server, emptied for this test (every index and index template deleted)."""
    if not es_server.answers():  # a test that stopped it without starting it again
        es_server.start()
    es_server.reset()
    return es_server
