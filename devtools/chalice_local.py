"""A real `chalice local` (what `make serve` runs) on a bundle: free port, ready on /health, stopped by PID.

Used by the tests, `make bench-load` and `make api-smoke`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "chalice_app"
CHALICE = Path(sys.executable).parent / "chalice"
READY_TIMEOUT_S = 60.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout_path: Path

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = "application/json"
    ) -> tuple[int, Any]:
        """Status and decoded JSON body (urllib raises on 4xx/5xx: those answers are read from the error)."""
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def post(self, payload: Any, **kwargs: Any) -> tuple[int, Any]:
        return self.request("POST", "/predict", json.dumps(payload).encode(), **kwargs)

    def stdout_lines(self) -> list[dict[str, Any]]:
        """The JSON lines the server printed so far (other lines, like "Serving on ...", are skipped)."""
        lines = self.stdout_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def wait_until_ready(server: Server) -> None:
    """Poll /health until 200; fail with the server's output if it exits or the timeout passes."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last: Any = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = server.stdout_path.read_text()
            raise RuntimeError(f"chalice local exited with {server.process.returncode}: {output[-3000:]}")
        try:
            status, payload = server.request("GET", "/health")
            if status == 200:
                return
            last = (status, payload)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            last = err
        time.sleep(0.25)
    raise RuntimeError(f"chalice local not ready after {READY_TIMEOUT_S} s: {last}")


@contextmanager
def chalice_local(bundle: Path, stdout_path: Path) -> Iterator[Server]:
    """`chalice local` serving `bundle`, its stdout and stderr in `stdout_path`; ready on entry, stopped on exit."""
    port = free_port()
    env = {**os.environ, "MODEL_DIR": str(Path(bundle).resolve()), "PYTHONUNBUFFERED": "1"}
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    with stdout_path.open("wb") as stdout:
        process = subprocess.Popen(
            [str(CHALICE), "local", "--stage", "local", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
            cwd=APP_DIR,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", stdout_path)
    try:
        wait_until_ready(server)
        yield server
    finally:
        stop(process)
