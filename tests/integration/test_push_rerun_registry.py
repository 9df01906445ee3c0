"""The rerun of a release against a real registry (Debian's docker-registry): the commit's image is already there
(uploaded over the Registry HTTP API V2 by hand, tests/support/registry.py), so `python -m infra.push` in a clean
clone prints that digest and pushes nothing. No Docker engine is involved: the push's CLI is deliberately missing,
so any attempt to push would fail. The Docker push itself runs in tests/container/test_push_registry.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.image_check import MODEL_LABEL
from tests.conftest import ROOT
from tests.support.manifests import write_minimal_bundle
from tests.support.registry import Registry, push_image, registry

pytestmark = [pytest.mark.integration]

REPOSITORY = "cola-acceptability"


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def push_from_clone(
    clone: Path, running: Registry, bundle: Path, digest_file: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "infra.push", "--bundle", str(bundle), "--repository", REPOSITORY,
            "--registry", running.address, "--docker", "no-such-docker-cli", "--digest-file", str(digest_file),
        ],
        cwd=clone, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(clone)}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_a_rerun_for_the_same_commit_reuses_the_registry_digest(plain_registry: Registry, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    version = write_minimal_bundle(tmp_path / "bundle")
    digest_file = tmp_path / "digest.txt"

    first = push_from_clone(clone, plain_registry, tmp_path / "bundle", digest_file)
    assert first.returncode == 1
    assert "install Docker" in first.stderr

    digest, _ = push_image(plain_registry, REPOSITORY, revision, labels={MODEL_LABEL: version})
    for _ in range(2):  # the rerun, and its rerun
        again = push_from_clone(clone, plain_registry, tmp_path / "bundle", digest_file)
        assert again.returncode == 0, again.stderr
        assert "not pushing it again" in again.stderr
        assert again.stdout.strip().splitlines()[-1] == f"{plain_registry.address}/{REPOSITORY}@{digest}"
        assert digest_file.read_text().strip() == f"{plain_registry.address}/{REPOSITORY}@{digest}"
    assert plain_registry.tags(REPOSITORY) == {revision}
