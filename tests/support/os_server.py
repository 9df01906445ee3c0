"""A real OpenSearch-API server for tests: osmem-server (PyPI, pinned in requirements/dev.txt) on a free port.

osmem-server emulates OpenSearch 3.x (opensearch-py works with it unchanged; it has no ISM plugin API). Its wheel
carries a static server binary, run directly by tests/support/server_process.py as noida-db is, so that stopping
it by PID stops the server. It keeps its data in memory: a restart starts empty. Where it is more lenient
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
from pathlib import Path
from typing import ClassVar

import pytest

from tests.support.es_server import EsServer
from tests.support.server_process import for_session, wheel_binary


def osmem_binary() -> Path:
    """The osmem-server binary inside the installed wheel."""
    return wheel_binary("osmem_server", "bin", "osmem-server")


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
    return OsServer(data_dir).start()


@pytest.fixture(scope="session")
def os_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OsServer]:
    """One osmem-server for the whole session (stopped at the end)."""
    yield from for_session(OsServer(tmp_path_factory.mktemp("os-server") / "data"))


@pytest.fixture
def opensearch(os_server: OsServer) -> OsServer:
    """The session's OpenSearch server, emptied for this test (every index and index template deleted)."""
    os_server.emptied()
    return os_server
