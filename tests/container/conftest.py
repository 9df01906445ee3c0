"""Shared fixtures of the container tests: one Docker engine and one built Lambda image per session.

A real Docker engine (Debian's docker.io; started here with `dockerd` when none is reachable, as root) builds
docker/Dockerfile through `make image`. No registry is reachable, so the base is a Debian root filesystem made
with debootstrap and imported (docs/design.md#debootstrap-base-image); it carries this machine's CA bundle so pip
inside the build trusts what the host trusts. The build takes minutes, so every container test module uses the same
session image.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import docker_engine as engine
from tests.conftest import ROOT

BASE_IMAGE = "cola-test-base:bookworm-slim"
IMAGE_NAME = "cola-acceptability-test"


def docker(*args: str, env: dict[str, str], check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="session")
def docker_env() -> Iterator[dict[str, str]]:
    """Environment whose DOCKER_HOST reaches an engine: an existing one, or a dockerd started for the session."""
    try:
        with engine.docker_engine() as env:
            yield env
    except engine.DockerUnavailableError as err:
        pytest.skip(str(err))
    except engine.DockerStartError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def base_image(docker_env: dict[str, str]) -> str:
    """A Debian bookworm + python3 base image from debootstrap (no registry can be reached)."""
    try:
        return engine.debootstrap_base(docker_env, BASE_IMAGE)
    except engine.DockerUnavailableError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def lambda_image(
    docker_env: dict[str, str], base_image: str, smoke_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """`make image` on the smoke bundle; returns the image tag (the bundle's model version)."""
    context = tmp_path_factory.mktemp("image-context")
    done = subprocess.run(
        [
            "make", "--no-print-directory", "image", f"BUNDLE={smoke_bundle}", f"BASE_IMAGE={base_image}",
            f"IMAGE_NAME={IMAGE_NAME}", f"IMAGE_CONTEXT={context}", "DOCKER_BUILD_FLAGS=--network=host",
        ],
        cwd=ROOT, env=docker_env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    version = json.loads((smoke_bundle / "manifest.json").read_text())["model_version"]
    return f"{IMAGE_NAME}:{version}"
