"""The pre-deploy image check against a real registry (Debian's docker-registry, tests/support/registry.py).

Images are uploaded over the Registry HTTP API V2 by hand (config blob, layer, manifest; an OCI index built here),
so what is checked is exactly what a registry serves: a linux/amd64 image is accepted and its model version read
from its label; an index (what buildx makes with attestations) and an arm64 image are refused with the rebuild
command; a reference whose digest the registry does not hold is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.image_check import MODEL_LABEL, ImageCheckError, check
from tests.conftest import ROOT
from tests.support.manifests import write_minimal_bundle
from tests.support.registry import OCI_INDEX, Registry, push_image, registry

pytestmark = [pytest.mark.integration]

REPOSITORY = "cola-acceptability"


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def reference(running: Registry, digest: str) -> str:
    return f"{running.address}/{REPOSITORY}@{digest}"


def test_a_linux_amd64_image_is_deployable_and_names_its_model(plain_registry: Registry) -> None:
    digest, _ = push_image(plain_registry, REPOSITORY, "good", labels={MODEL_LABEL: "m-0123456789ab"})
    facts = check(reference(plain_registry, digest), "amd64")
    assert (facts.os, facts.architecture) == ("linux", "amd64")
    assert facts.labels[MODEL_LABEL] == "m-0123456789ab"


def test_an_image_index_is_refused_with_the_rebuild_command(plain_registry: Registry) -> None:
    _, amd64 = push_image(plain_registry, REPOSITORY, "idx-amd64", labels={MODEL_LABEL: "m-1"})
    _, arm64 = push_image(plain_registry, REPOSITORY, "idx-arm64", architecture="arm64", labels={MODEL_LABEL: "m-1"})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [amd64, arm64]}
    digest = plain_registry.put_manifest(REPOSITORY, "multi", index, OCI_INDEX)
    with pytest.raises(ImageCheckError, match=r"is an image index .*linux/amd64, linux/arm64.*make image ARCH=amd64"):
        check(reference(plain_registry, digest), "amd64")


def test_an_arm64_image_is_refused_for_x86_64_functions_and_accepted_for_arm64(plain_registry: Registry) -> None:
    digest, _ = push_image(plain_registry, REPOSITORY, "arm", architecture="arm64", labels={MODEL_LABEL: "m-2"})
    with pytest.raises(ImageCheckError, match=r"built for linux/arm64.*linux/amd64 \(Lambda x86_64\).*ARCH=arm64"):
        check(reference(plain_registry, digest), "amd64")
    assert check(reference(plain_registry, digest), "arm64").architecture == "arm64"


def test_an_image_for_another_bundle_is_refused(plain_registry: Registry, tmp_path: Path) -> None:
    version = write_minimal_bundle(tmp_path / "bundle")
    other, _ = push_image(plain_registry, REPOSITORY, "other", labels={MODEL_LABEL: "m-other"})
    with pytest.raises(ImageCheckError, match=f"carries model m-other, BUNDLE .* is {version}"):
        check(reference(plain_registry, other), "amd64", tmp_path / "bundle")
    same, _ = push_image(plain_registry, REPOSITORY, "same", labels={MODEL_LABEL: version})
    assert check(reference(plain_registry, same), "amd64", tmp_path / "bundle").labels[MODEL_LABEL] == version


def test_a_digest_the_registry_lacks_and_a_tag_are_refused(plain_registry: Registry) -> None:
    with pytest.raises(ImageCheckError, match="does not exist: push the image first"):
        check(reference(plain_registry, "sha256:" + "1" * 64), "amd64")
    with pytest.raises(ImageCheckError, match="deploy by digest"):
        check(f"{plain_registry.address}/{REPOSITORY}:latest", "amd64")


def test_cli_prints_the_model_version_or_the_refusal(plain_registry: Registry) -> None:
    digest, _ = push_image(plain_registry, REPOSITORY, "cli", labels={MODEL_LABEL: "m-cli"})
    run = [sys.executable, "-m", "infra.image_check", reference(plain_registry, digest)]
    ok = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "m-cli"
    refused = subprocess.run([*run, "--arch", "arm64"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "image check: " in refused.stderr
    assert "make image ARCH=arm64" in refused.stderr
    assert json.dumps("m-cli") not in refused.stdout
