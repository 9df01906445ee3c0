"""A real OpenSearch-API server for tests: osmem-server (PyPI, pinned in requirements/dev.txt) on a free port.

osmem-server emulates OpenSearch 3.x (opensearch-py works with it unchanged; it has no ISM plugin API). Its wheel
carries a static server binary; this runs the binary directly, as tests/support/es_server.py runs noida-db, so that
stopping it by PID stops the server. It keeps its data in memory: a restart starts empty. Where it is more lenient
than OpenSearch (it sends X-Elastic-Product: Elasticsearch; it checks no SigV4 signature), tests put
tests/support/es_fault_proxy.py with `opensearch=True` (and `sigv4=`) in front of it.

    server = start_os_server(tmp_path / "os")   # waits until GET / answers
    server.url; server.reset(); server.stop()

The pytest fixtures `os_server` (one per session) and `opensearch` (emptied for each test) come from tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

import pytest

from tests.support.es_server import EsServer, EsServerError


def osmem_binary() -> Path:
    """The osmem-server binary inside the installed wheel (made executable: wheels may drop the mode bit)."""
    path = Path(str(files("osmem_server").joinpath("bin", "osmem-server")))
    if not path.is_file():
        raise EsServerError(f"osmem-server binary not found at {path}: pip install -r requirements/dev.txt")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


@dataclass
class OsServer(EsServer):
    """One osmem-server (OpenSearch 3.x API) process; data lives in memory."""

    name: ClassVar[str] = "osmem-server"

    def command(self) -> list[str]:
        # --parent-pid: the server also exits if this test process dies without stopping it.
        return [
            str(osmem_binary()),
            "--addr",
            f"127.0.0.1:{self.port}",
            "--no-ja",
            "--no-stdin-watch",
            "--parent-pid",
            str(os.getpid()),
        ]


def start_os_server(data_dir: Path) -> OsServer:
    """A started server (data_dir holds only its log)."""
    server = OsServer(data_dir)
    server.start()
    return server


@pytest.fixture(scope="session")
def os_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OsServer]:
    """One osmem-server for the whole session (stopped at the end)."""
    server = start_os_server(tmp_path_factory.mktemp("os-server") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def opensearch(os_server: OsServer) -> OsServer:
    """The session's OpenSearch server, emptied for this test (every index and index template deleted)."""
    if not os_server.answers():
        os_server.start()
    os_server.reset()
    return os_server
