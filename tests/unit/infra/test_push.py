"""`make push` logic that needs no registry: tags from git and the bundle, refusals with what to do next.

The pushes themselves (plain registry, login with a temporary Docker config, unreachable registry, image not built)
run for real in tests/container/test_push_registry.py; ECR's token and repository checks against a moto server in
tests/integration/test_push_ecr.py.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra.push import (
    Credentials,
    Docker,
    PushError,
    explain_push_failure,
    git_revision,
    image_tags,
    main,
    model_version_of,
    require_local_image,
)
from tests.support.manifests import write_minimal_bundle


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit of one tracked file."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "tracked.txt").write_text("one\n")
    git(root, "add", "tracked.txt")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    return root


def write_bundle(directory: Path) -> str:
    """A minimal bundle: one file and a manifest naming it; returns its model version."""
    return write_minimal_bundle(directory)


def test_clean_tree_is_tagged_with_the_head_commit(repo: Path) -> None:
    assert git_revision(repo) == git(repo, "rev-parse", "HEAD")


def test_changed_tracked_file_marks_the_revision_dirty(repo: Path) -> None:
    (repo / "tracked.txt").write_text("two\n")
    assert git_revision(repo) == git(repo, "rev-parse", "HEAD") + "-dirty"


def test_untracked_files_do_not_make_the_tree_dirty(repo: Path) -> None:
    (repo / "scratch.txt").write_text("not part of the build\n")
    assert not git_revision(repo).endswith("-dirty")


def test_outside_a_git_checkout_the_push_refuses(tmp_path: Path) -> None:
    with pytest.raises(PushError, match="git checkout"):
        git_revision(tmp_path)


def test_tags_are_the_revision_then_the_model_version() -> None:
    assert image_tags("0123abc", "m-123456789abc") == ["0123abc", "m-123456789abc"]


def test_model_version_comes_from_the_bundle_manifest(tmp_path: Path) -> None:
    version = write_bundle(tmp_path / "bundle")
    assert model_version_of(tmp_path / "bundle") == version


def test_missing_bundle_says_to_export(tmp_path: Path) -> None:
    with pytest.raises(PushError, match="make export"):
        model_version_of(tmp_path / "nothing-here")


def test_password_stays_out_of_repr() -> None:
    credentials = Credentials("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "AWS", "s3cr3t-token")
    assert "s3cr3t-token" not in repr(credentials)


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ('Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused', "unreachable"),
        ("unauthorized: authentication required", "refused"),
        ("tag invalid: The image tag 'abc' already exists in the 'cola' repository and cannot be overwritten "
         "because the repository is immutable.", "immutable"),
        ('Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', "insecure-registries"),
        ("something else entirely", "could not push to"),
    ],
)  # fmt: skip
def test_push_failures_are_explained(stderr: str, expected: str) -> None:
    message = explain_push_failure("127.0.0.1:5000", stderr)
    assert expected in message
    assert stderr in message  # docker's own words are kept


@pytest.fixture
def empty_registry() -> Iterator[str]:
    """A loopback HTTP server that answers 404 to everything: a registry without the commit's image.

    A stand-in for the registry's "not found" only (the real registry is exercised in tests/container).
    """

    class NotFound(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(404)
            self.end_headers()

        do_GET = do_HEAD  # noqa: N815 (the handler protocol names it)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_docker_cli_the_push_says_to_install_docker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], empty_registry: str
) -> None:
    write_bundle(tmp_path / "bundle")
    # Whether the tree is clean (registry asked first) or dirty (no lookup), the push then needs the docker CLI.
    code = main(["--bundle", str(tmp_path / "bundle"), "--registry", empty_registry, "--docker", "no-such-docker-cli"])
    assert code == 1
    assert "install Docker" in capsys.readouterr().err


def fake_docker(tmp_path: Path, platform: str) -> str:
    """A docker CLI whose `image inspect` reports an image built for `platform`."""
    script = tmp_path / "docker"
    script.write_text(f"#!/bin/sh\necho '{platform}'\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("platform", ["linux/arm64", "linux/arm"])
def test_an_image_built_for_another_platform_is_refused_before_the_push(tmp_path: Path, platform: str) -> None:
    """An arm64 build (a plain `docker build` on Apple Silicon) would be refused by Lambda for x86_64 functions."""
    docker = Docker(binary=fake_docker(tmp_path, platform))
    with pytest.raises(PushError, match=f"built for {platform}.*run on linux/amd64.*make image ARCH=amd64"):
        require_local_image(docker, "cola-acceptability:m-1")


def test_an_amd64_image_passes(tmp_path: Path) -> None:
    require_local_image(Docker(binary=fake_docker(tmp_path, "linux/amd64")), "cola-acceptability:m-1")


def test_arm64_functions_take_an_arm64_image_and_refuse_an_amd64_one(tmp_path: Path) -> None:
    require_local_image(Docker(binary=fake_docker(tmp_path, "linux/arm64")), "cola:m-1", "linux/arm64")
    with pytest.raises(PushError, match=r"built for linux/amd64.*make image ARCH=arm64"):
        require_local_image(Docker(binary=fake_docker(tmp_path, "linux/amd64")), "cola:m-1", "linux/arm64")
