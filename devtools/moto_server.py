"""A real moto server (`python -m moto.server`, from moto[server]) on a free loopback port, for tests of AWS code.

moto answers the AWS APIs over HTTP like the real endpoints (S3, CloudWatch Logs, Lambda, IAM, STS, ...), with
state in memory. It accepts any credentials unless IAM authentication is switched on (`enforce_iam`). It does not
execute Lambda functions without Docker, and it does not evaluate CloudWatch Logs filter patterns.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.processes import free_port, stop

READY_TIMEOUT_S = 60.0
REGION = "us-east-1"


def dummy_aws_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) without AWS_* variables, plus dummy credentials; no profile or instance
    metadata is consulted (config and credentials files point into `home`, where none exist)."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="2",
    )
    return env


@dataclass
class MotoServer:
    """A running moto server and its endpoint URL."""

    process: subprocess.Popen[bytes]
    endpoint: str
    log: Path

    def post(self, path: str, body: bytes = b"") -> bytes:
        """POST to moto's own API (/moto-api/...)."""
        # Not form-encoded: moto reads the raw body (reset-auth's count), which Flask empties for form posts.
        headers = {"Content-Type": "application/octet-stream"}
        request = urllib.request.Request(self.endpoint + path, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return bytes(answer.read())

    def reset(self) -> None:
        """Forget every resource (moto-api/reset), so tests sharing the server start from nothing."""
        self.post("/moto-api/reset")

    @contextmanager
    def enforce_iam(self) -> Iterator[None]:
        """Check signatures and IAM policies of every request inside the block (off again afterwards)."""
        self.post("/moto-api/reset-auth", b"0")
        try:
            yield
        finally:
            self.post("/moto-api/reset-auth", b"inf")


@contextmanager
def moto_server(workdir: Path, env: Mapping[str, str]) -> Iterator[MotoServer]:
    """Start moto on a free port, wait until it answers, stop it by its PID on exit."""
    port = free_port()
    log_path = workdir / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
        )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"moto server exited early: {log_path.read_text()}")
                try:
                    with urllib.request.urlopen(endpoint + "/moto-api/", timeout=2):
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"moto server not ready on {endpoint} after {READY_TIMEOUT_S} s") from None
                    time.sleep(0.2)
            yield MotoServer(process, endpoint, log_path)
        finally:
            stop(process)
