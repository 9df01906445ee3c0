"""A Docker engine and a base image without any registry: what the container tests and `make bench-load` share.

No registry is reachable here, so dockerd is started by hand (Debian docker.io, no bridge, no iptables) when no
engine answers, and the base image is a Debian bookworm root filesystem from debootstrap, imported into the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
"""The host's CA bundle, copied into the base so pip in the image trusts the same proxy as the host."""

SLIM_GLOBS = (
    "var/cache/apt/archives/*.deb",
    "var/cache/apt/*.bin",
    "var/lib/apt/lists/*",
    "usr/share/doc/*/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
    "usr/share/groff/*",
    "usr/share/lintian/*",
)
"""What Debian's slim images (debian:bookworm-slim, under python:3.12-slim-bookworm) leave out of a minbase root:
downloaded packages, apt lists, documentation but the copyright files, man and info pages, translations."""


class DockerUnavailableError(RuntimeError):
    """No engine answers and none can be started here (or debootstrap is missing); the message says what to install."""


class DockerStartError(RuntimeError):
    """dockerd was started but did not come up; the message carries the end of its log."""


def engine_answers(env: dict[str, str]) -> bool:
    return (
        bool(shutil.which("docker"))
        and subprocess.run(["docker", "info"], env=env, capture_output=True).returncode == 0
    )


@contextmanager
def docker_engine(data_root: Path | None = None) -> Iterator[dict[str, str]]:
    """An environment whose DOCKER_HOST reaches an engine: the existing one, or a dockerd started here and stopped on
    exit. `data_root` keeps images between runs (default: a temporary directory, removed on exit)."""
    env = dict(os.environ)
    if engine_answers(env):
        yield env
        return
    if not shutil.which("dockerd") or os.geteuid() != 0:
        raise DockerUnavailableError(
            "no Docker engine reachable and dockerd cannot be started (needs docker.io and root; .ci/run installs it)"
        )
    state = Path(tempfile.mkdtemp(prefix="cola-dockerd-"))  # short: the socket path must fit 108 bytes
    socket = state / "docker.sock"
    log_path = state / "dockerd.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen(
            [
                "dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false",
                f"--host=unix://{socket}", f"--data-root={data_root or state / 'data'}",
                f"--exec-root={state / 'exec'}", f"--pidfile={state / 'docker.pid'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    env["DOCKER_HOST"] = f"unix://{socket}"
    try:
        deadline = time.monotonic() + 60
        while not engine_answers(env):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise DockerStartError(f"dockerd did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
        yield env
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        shutil.rmtree(state, ignore_errors=True)


def slim(rootfs: Path) -> None:
    """Remove SLIM_GLOBS from a debootstrap root filesystem (copyright files stay)."""
    for pattern in SLIM_GLOBS:
        for path in rootfs.glob(pattern):
            if path.name == "copyright":
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def debootstrap_base(env: dict[str, str], tag: str) -> str:
    """A Debian bookworm slim + python3 base image named `tag` (debootstrap, about 90 s once; kept by the engine):
    the offline stand-in for python:3.12-slim-bookworm, with Debian's Python 3.11."""
    if subprocess.run(["docker", "image", "inspect", tag], env=env, capture_output=True).returncode == 0:
        return tag
    if not shutil.which("debootstrap"):
        raise DockerUnavailableError("debootstrap is not installed (apt-get install debootstrap; .ci/run installs it)")
    with tempfile.TemporaryDirectory(prefix="cola-rootfs-") as rootfs:
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-pip,ca-certificates", "bookworm", rootfs],
            check=True,
            capture_output=True,
            timeout=900,
        )
        shutil.copy(CA_BUNDLE, Path(rootfs) / "etc/ssl/certs/ca-certificates.crt")
        slim(Path(rootfs))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", tag], stdin=tar.stdout, env=env, check=True, capture_output=True)
        tar.wait()
    return tag
