"""The Lambda container image under load: built with `make image`, run as Lambda runs it, driven event by event.

A Docker engine is used when one answers `docker info`; otherwise `dockerd` is started for the run (root and
Debian's docker.io needed) with its images kept in artifacts/bench-load/docker-data, so later runs reuse the base
image and the build cache. No registry is reachable here, so the base is a Debian bookworm slim root filesystem
made with debootstrap (docs/design.md#debootstrap-base-image), not production's python:3.12-slim-bookworm: the
image size is this image's, not production's.

Each container runs read-only with a tmpfs /tmp and a 1 GiB memory limit, its runtime client (awslambdaric)
talking to the Lambda Runtime API of devtools/lambda_runtime_api.py. Lambda gives an instance one request
at a time, so invocations are sent one after another (concurrency 1); more load on Lambda means more instances.
Cold start: `docker run` → the first /predict answer (container start, interpreter, imports, bundle verification
and model load on the first request, one prediction).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chalice_app.chalicelib.contract.manifest import load_manifest
from devtools import docker_engine as engine
from devtools.lambda_runtime_api import RuntimeApi, api_gateway_event

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / "artifacts" / "bench-load"
BASE_IMAGE = "cola-bench-base:bookworm-slim"
IMAGE_NAME = "cola-acceptability-bench"
MEMORY = "1024m"


class ContainerError(RuntimeError):
    """The engine, the image or a container failed; the message says which and why."""


def docker(*args: str, env: dict[str, str], timeout: float = 900) -> str:
    """Run `docker ARGS`; its stdout, or ContainerError with its stderr."""
    done = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise ContainerError(f"docker {' '.join(args[:3])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


@contextmanager
def docker_engine() -> Iterator[dict[str, str]]:
    """An environment whose DOCKER_HOST reaches an engine (a dockerd started here keeps its images in STATE)."""
    data_root = STATE / "docker-data"
    data_root.mkdir(parents=True, exist_ok=True)
    try:
        with engine.docker_engine(data_root) as env:
            yield env
    except (engine.DockerUnavailableError, engine.DockerStartError) as err:
        raise ContainerError(str(err)) from err


def base_image(env: dict[str, str]) -> str:
    """The Debian bookworm + python3 base (debootstrap, about 90 s once; kept in the engine afterwards)."""
    print(f"base image {BASE_IMAGE} (built with debootstrap if the engine lacks it) ...", flush=True)
    try:
        return engine.debootstrap_base(env, BASE_IMAGE)
    except engine.DockerUnavailableError as err:
        raise ContainerError(str(err)) from err


def build_image(env: dict[str, str], bundle: Path) -> str:
    """`make image` of `bundle` on the base image; the tag (the bundle's model version)."""
    base = base_image(env)
    context = STATE / "image-context"
    done = subprocess.run(
        [
            "make", "--no-print-directory", "image", f"BUNDLE={bundle}", f"BASE_IMAGE={base}",
            f"IMAGE_NAME={IMAGE_NAME}", f"IMAGE_CONTEXT={context}", "DOCKER_BUILD_FLAGS=--network=host",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise ContainerError(f"make image failed:\n{(done.stdout + done.stderr)[-4000:]}")
    version = load_manifest(bundle)["model_version"]
    return f"{IMAGE_NAME}:{version}"


def image_size_bytes(env: dict[str, str], image: str) -> int:
    """`docker image inspect`'s Size of the image."""
    return int(json.loads(docker("image", "inspect", image, env=env))[0]["Size"])


@dataclass
class Container:
    """One running container and the Runtime API it polls."""

    env: dict[str, str]
    api: RuntimeApi
    container_id: str
    cold_start_s: float
    run_to_init_s: float | None = None
    """`docker run` → the runtime's first poll of the Runtime API (its init done)."""
    process_to_init_s: float | None = None
    """The container's process start (`docker inspect` State.StartedAt) → the first poll: Lambda's Init Duration."""

    def invoke(self, body: bytes) -> tuple[int, bytes]:
        """POST /predict as one API Gateway event: the handler's status and body (an `error` result raises)."""
        event = api_gateway_event("POST", "/predict", body.decode("utf-8"), "application/json")
        kind, result = self.api.invoke(f"bench-{uuid.uuid4().hex[:12]}", event)
        if kind != "response":
            raise ContainerError(f"the handler failed: {result}")
        return int(result["statusCode"]), str(result["body"]).encode("utf-8")

    def memory_usage(self) -> str:
        """`docker stats`' memory usage of the container right now (as '123MiB / 1GiB')."""
        return docker("stats", "--no-stream", "--format", "{{.MemUsage}}", self.container_id, env=self.env).strip()


@contextmanager
def started_container(
    env: dict[str, str],
    image: str,
    first_body: bytes,
    memory: str = MEMORY,
    cpus: float | None = None,
    environment: Mapping[str, str] | None = None,
    cgroup_parent: str | None = None,
) -> Iterator[Container]:
    """Start a container like Lambda would (memory limit `memory`, CPU quota `cpus` when given, extra environment
    variables, under `cgroup_parent` when given) and time it to its init and to its first answer to `first_body`."""
    api = RuntimeApi()
    container_id = ""
    limits = [f"--memory={memory}", *([f"--cpus={cpus:.3f}"] if cpus is not None else [])]
    limits += [f"--cgroup-parent={cgroup_parent}"] if cgroup_parent else []
    variables = [arg for name, value in (environment or {}).items() for arg in ("-e", f"{name}={value}")]
    try:
        started_wall = time.time()
        started = time.perf_counter()
        container_id = docker(
            "run", "-d", "--network=host", "--read-only", "--tmpfs", "/tmp", *limits, *variables,
            "-e", f"AWS_LAMBDA_RUNTIME_API=127.0.0.1:{api.port}", image,
            env=env, timeout=120,
        ).strip()  # fmt: skip
        container = Container(env, api, container_id, 0.0)
        status, raw = container.invoke(first_body)
        container.cold_start_s = time.perf_counter() - started
        if status != 200:
            raise ContainerError(f"the first answer was {status}: {raw[:500]!r}")
        if api.first_poll_wall is not None:
            container.run_to_init_s = api.first_poll_wall - started_wall
            container.process_to_init_s = api.first_poll_wall - process_started_at(env, container_id)
        yield container
    finally:
        if container_id:
            subprocess.run(["docker", "rm", "-f", container_id], env=env, capture_output=True)
        api.close()


def process_started_at(env: dict[str, str], container_id: str) -> float:
    """The container's process start as a Unix time (`docker inspect` State.StartedAt, RFC 3339 with nanoseconds)."""
    raw = docker("inspect", "--format", "{{.State.StartedAt}}", container_id, env=env).strip()
    return parse_docker_time(raw)


def parse_docker_time(raw: str) -> float:
    """Unix time of Docker's RFC 3339 timestamp ('2026-12-04T18:50:01.123456789Z'; fractions cut to microseconds)."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", raw)
    if match is None:
        raise ContainerError(f"unexpected Docker timestamp {raw!r}")
    base, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(f"{base}.{(fraction or '0')[:6].ljust(6, '0')}{'+00:00' if zone == 'Z' else zone}")
    return stamp.timestamp()


def exec_python(env: dict[str, str], container_id: str, code: str) -> str:
    """Run `python3 -c code` inside the running container (its cgroup, its limits); its stdout."""
    return docker("exec", container_id, "python3", "-c", code, env=env, timeout=120)


def describe(env: dict[str, str], image: str) -> dict[str, Any]:
    """Image facts for the report."""
    return {"image": image, "base_image": BASE_IMAGE, "size_bytes": image_size_bytes(env, image), "memory": MEMORY}
