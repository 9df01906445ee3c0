"""The Lambda container image, built for real and driven like Lambda drives it.

The image is the session's `make image` build (tests/container/conftest.py: a real Docker engine, a debootstrap
Debian base since no registry is reachable). The container runs as Lambda runs it: read-only root, a tmpfs /tmp,
a memory limit, and the Lambda Runtime API (devtools/lambda_runtime_api.py) feeding it API Gateway proxy
events.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.lambda_runtime_api import RuntimeApi, api_gateway_event
from tests.container.conftest import docker

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="session")
def running(docker_env: dict[str, str], lambda_image: str) -> Iterator[tuple[RuntimeApi, str, float]]:
    """The container under a Runtime API, read-only root, tmpfs /tmp, 1 GiB like a Lambda memory setting."""
    api = RuntimeApi()
    started = time.monotonic()
    container = docker(
        "run", "-d", "--network=host", "--read-only", "--tmpfs", "/tmp", "--memory=1024m",
        "-e", f"AWS_LAMBDA_RUNTIME_API=127.0.0.1:{api.port}", lambda_image,
        env=docker_env,
    ).stdout.strip()  # fmt: skip
    kind, health = api.invoke("cold-health", api_gateway_event("GET", "/health"))
    cold_start = time.monotonic() - started
    assert kind == "response", health
    yield api, container, cold_start
    docker("rm", "-f", container, env=docker_env, check=False)
    api.close()


def call(
    api: RuntimeApi, name: str, method: str, path: str, body: Any = None, ctype: str | None = "application/json"
) -> tuple[int, Any]:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    kind, result = api.invoke(name, api_gateway_event(method, path, raw, ctype))
    assert kind == "response", result  # a handler error would be a 5xx-class bug
    return result["statusCode"], json.loads(result["body"])


def test_health_reports_the_bundle_version(running: tuple[RuntimeApi, str, float], smoke_bundle: Path) -> None:
    api, _, cold_start = running
    status, body = call(api, "health", "GET", "/health")
    assert status == 200
    assert body["model_version"] == json.loads((smoke_bundle / "manifest.json").read_text())["model_version"]
    print(f"cold start in the container (docker run → first /health answer): {cold_start:.2f} s")


def test_predicts_one_and_a_batch(running: tuple[RuntimeApi, str, float]) -> None:
    api, _, _ = running
    status, body = call(api, "one", "POST", "/predict", {"text": "The book was written by John."})
    assert status == 200
    assert body["predictions"][0]["label"] in ("acceptable", "unacceptable")
    status, body = call(api, "batch", "POST", "/predict", {"texts": ["She voted for herself.", "Him voted."]})
    assert status == 200
    assert len(body["predictions"]) == 2


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        ("{not json", "application/json", 400, "invalid_json"),
        ("text", "text/plain", 415, "unsupported_media_type"),
        ({"texts": ["x"] * 1000}, "application/json", 413, "too_many_items"),
        ({"text": ""}, "application/json", 422, "empty_text"),
    ],
)
def test_client_errors_are_4xx_json(
    running: tuple[RuntimeApi, str, float], body: Any, ctype: str, status: int, code: str
) -> None:
    api, _, _ = running
    got, payload = call(api, f"bad-{code}", "POST", "/predict", body, ctype)
    assert got == status
    assert payload["error"]["code"] == code


def test_prediction_log_lines_reach_stdout(running: tuple[RuntimeApi, str, float], docker_env: dict[str, str]) -> None:
    api, container, _ = running
    call(api, "logged", "POST", "/predict", {"text": "Logged sentence."})
    logs = docker("logs", container, env=docker_env).stdout.splitlines()
    lines = [json.loads(line) for line in logs if line.startswith("{")]
    assert any(line.get("type") == "prediction" for line in lines)


def test_image_carries_no_torch_and_no_credentials(docker_env: dict[str, str], lambda_image: str) -> None:
    probe = "import importlib.util as u; print([m for m in ('torch', 'transformers', 'lightning') if u.find_spec(m)])"
    found = docker("run", "--rm", "--entrypoint", "python3", lambda_image, "-c", probe, env=docker_env).stdout.strip()
    assert found == "[]"
    config = json.loads(docker("image", "inspect", lambda_image, env=docker_env).stdout)[0]["Config"]
    assert not [e for e in config["Env"] if e.startswith(("AWS_ACCESS_KEY", "AWS_SECRET", "AWS_SESSION_TOKEN"))]
    history = docker("history", "--no-trunc", lambda_image, env=docker_env).stdout
    assert "AWS_SECRET_ACCESS_KEY" not in history
    size_mb = json.loads(docker("image", "inspect", lambda_image, env=docker_env).stdout)[0]["Size"] / 1e6
    print(f"image size: {size_mb:.0f} MB (Debian test base included)")
