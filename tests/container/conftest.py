"""Shared fixtures of the container tests: one Docker engine and one built Lambda image per session.

A real Docker engine (Debian's docker.io; started here with `dockerd` when none is reachable, as root) builds
docker/Dockerfile through `make image`. No registry is reachable, so the base is a Debian root filesystem made
with debootstrap and imported (design.md); it carries this machine's CA bundle so pip inside the build trusts what
the host trusts. The build takes minutes, so every container test module uses the same session image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

BASE_IMAGE = "cola-test-base:bookworm"
IMAGE_NAME = "cola-acceptability-test"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker(*args: str, env: dict[str, str], check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="session")
def docker_env() -> Iterator[dict[str, str]]:
    """Environment whose DOCKER_HOST reaches an engine: an existing one, or a dockerd started for the session."""
    env = dict(os.environ)
    if shutil.which("docker") and docker("info", env=env, check=False).returncode == 0:
        yield env
        return
    if not shutil.which("dockerd") or os.geteuid() != 0:
        pytest.skip(
            "no Docker engine reachable and dockerd cannot be started (needs docker.io and root; .ci/run installs it)"
        )
    state = Path(tempfile.mkdtemp(prefix="cola-dockerd-"))
    socket = state / "docker.sock"
    log = (state / "dockerd.log").open("w")
    daemon = subprocess.Popen(
        [
            "dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false",
            f"--host=unix://{socket}", f"--data-root={state / 'data'}", f"--exec-root={state / 'exec'}",
            f"--pidfile={state / 'docker.pid'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    env["DOCKER_HOST"] = f"unix://{socket}"
    deadline = time.monotonic() + 60
    while docker("info", env=env, check=False).returncode != 0:
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            pytest.fail(f"dockerd did not start: {(state / 'dockerd.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield env
    daemon.terminate()
    try:
        daemon.wait(timeout=30)
    except subprocess.TimeoutExpired:
        daemon.kill()
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def base_image(docker_env: dict[str, str]) -> str:
    """A Debian bookworm + python3 base image from debootstrap (no registry can be reached)."""
    if docker("image", "inspect", BASE_IMAGE, env=docker_env, check=False).returncode == 0:
        return BASE_IMAGE
    if not shutil.which("debootstrap"):
        pytest.fail("debootstrap is not installed (.ci/run installs it)")
    with tempfile.TemporaryDirectory(prefix="cola-rootfs-") as rootfs:
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-pip,ca-certificates", "bookworm", rootfs],
            check=True,
            capture_output=True,
            timeout=900,
        )
        shutil.copy(CA_BUNDLE, Path(rootfs) / "etc/ssl/certs/ca-certificates.crt")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "-", BASE_IMAGE], stdin=tar.stdout, env=docker_env, check=True, capture_output=True
        )
        tar.wait()
    return BASE_IMAGE


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
