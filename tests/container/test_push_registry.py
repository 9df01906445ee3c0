"""`make push` into a real registry: Debian's `docker-registry` (the CNCF distribution registry) on a free loopback
port, plain HTTP (Docker treats 127.0.0.0/8 as an insecure registry by default, so the engine needs no flag).

The image is the session's `make image` build (tests/container/conftest.py). What the registry serves is read back
over its HTTP API (manifest digest, tag list), so the test checks the registry's view, not docker's output alone.
A second registry requires a password (htpasswd, bcrypt from apache2-utils' `htpasswd`): it shows the login with a
throw-away Docker config, which ECR's token goes through in production (moto cannot play that part: its token is
accepted by no registry).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.processes import free_port
from infra.push import Credentials, Docker, PushError, logged_in, push_tags, registry_digest
from tests.conftest import ROOT
from tests.container.conftest import IMAGE_NAME
from tests.support.registry import Registry, registry

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPOSITORY = "cola-acceptability"
DIGEST_LINE = rf"^127\.0\.0\.1:\d+/{REPOSITORY}@sha256:[0-9a-f]{{64}}$"


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="module")
def locked_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    login = Credentials("", "AWS", "token-" + base64.b32encode(os.urandom(10)).decode())
    with registry(tmp_path_factory.mktemp("locked-registry"), login) as running:
        running.credentials = Credentials(running.address, login.username, login.password)
        yield running


def make_push(
    env: dict[str, str], bundle: Path, digest_file: Path, **variables: str
) -> subprocess.CompletedProcess[str]:
    """`make push` with the test image and bundle (STAMP= : no venv rebuild inside a test)."""
    settings = {
        "BUNDLE": str(bundle), "IMAGE_NAME": IMAGE_NAME, "REPOSITORY": REPOSITORY, "DIGEST_FILE": str(digest_file),
        "STAMP": "",
    }  # fmt: skip
    settings.update(variables)
    return subprocess.run(
        ["make", "--no-print-directory", "push", *(f"{k}={v}" for k, v in settings.items())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def expected_revision() -> str:
    """The commit of the checkout, `-dirty` when tracked files differ from it (what the push must tag)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def test_make_push_prints_the_digest_the_registry_serves_under_both_tags(
    docker_env: dict[str, str], lambda_image: str, smoke_bundle: Path, plain_registry: Registry, tmp_path: Path
) -> None:
    done = make_push(docker_env, smoke_bundle, tmp_path / "digest.txt", REGISTRY=plain_registry.address)
    assert done.returncode == 0, done.stdout + done.stderr
    reference = done.stdout.strip().splitlines()[-1]
    assert re.match(DIGEST_LINE, reference), reference
    assert reference.startswith(plain_registry.address)
    assert (tmp_path / "digest.txt").read_text().strip() == reference
    digest = reference.split("@", 1)[1]
    version = json.loads((smoke_bundle / "manifest.json").read_text())["model_version"]
    assert lambda_image.endswith(f":{version}")
    revision = expected_revision()
    assert {revision, version} <= plain_registry.tags(REPOSITORY)
    assert plain_registry.manifest_digest(REPOSITORY, version) == digest
    assert plain_registry.manifest_digest(REPOSITORY, revision) == digest
    assert plain_registry.manifest_digest(REPOSITORY, digest) == digest  # the printed reference resolves as it is
    # What a rerun looks up to reuse a commit's image instead of pushing it again:
    assert registry_digest(plain_registry.address, REPOSITORY, version) == digest
    assert registry_digest(plain_registry.address, REPOSITORY, "never-pushed") is None


def test_push_logs_in_with_a_throwaway_docker_config(
    docker_env: dict[str, str], lambda_image: str, locked_registry: Registry, tmp_path: Path
) -> None:
    assert locked_registry.credentials is not None
    home = tmp_path / "home"
    home.mkdir()
    env = {**docker_env, "HOME": str(home)}
    env.pop("DOCKER_CONFIG", None)
    with logged_in(Docker(env=env), locked_registry.credentials) as session:
        assert session.env is not None
        config_dir = Path(session.env["DOCKER_CONFIG"])
        assert config_dir.stat().st_mode & 0o077 == 0  # private to this user
        digest = push_tags(session, lambda_image, f"{locked_registry.address}/{REPOSITORY}", ["login-check"])
    assert not config_dir.exists()
    password = locked_registry.credentials.password
    leftovers = [p for p in home.rglob("*") if p.is_file() and password in p.read_text(errors="ignore")]
    assert leftovers == []
    assert locked_registry.manifest_digest(REPOSITORY, "login-check") == digest


def test_push_without_login_is_refused_with_a_reason(
    docker_env: dict[str, str], lambda_image: str, locked_registry: Registry
) -> None:
    with pytest.raises(PushError, match="refused"):
        push_tags(Docker(env=docker_env), lambda_image, f"{locked_registry.address}/{REPOSITORY}", ["no-login"])


def test_unreachable_registry_is_named(
    docker_env: dict[str, str], lambda_image: str, smoke_bundle: Path, tmp_path: Path
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    done = make_push(docker_env, smoke_bundle, tmp_path / "digest.txt", REGISTRY=nowhere)
    assert done.returncode != 0
    assert f"registry {nowhere} is unreachable" in done.stderr
    assert not (tmp_path / "digest.txt").exists()


def test_image_not_built_says_run_make_image(
    docker_env: dict[str, str], smoke_bundle: Path, plain_registry: Registry, tmp_path: Path
) -> None:
    done = make_push(
        docker_env, smoke_bundle, tmp_path / "digest.txt",
        REGISTRY=plain_registry.address, IMAGE_NAME="never-built", REPOSITORY="never-built",
    )  # fmt: skip
    assert done.returncode != 0
    assert "run `make image` first" in done.stderr
