"""The delivery targets' wiring, run through make: the image build's platform and attestation flags (against a
recording stand-in for the docker CLI), and `make deploy IMAGE=... TEMPLATE=...` deploying a given digest and
template without packaging or building anything (make -n: the commands it would run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.manifests import write_minimal_bundle

DIGEST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cola-acceptability@sha256:" + "a" * 64


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def fake_docker(tmp_path: Path, buildx: bool) -> tuple[Path, Path]:
    """A docker CLI that answers `info` (and `buildx version` when `buildx`) and records every call."""
    log = tmp_path / "docker-calls.txt"
    script = tmp_path / "docker"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        f'if [ "$1" = buildx ] && [ "$2" = version ]; then exit {0 if buildx else 1}; fi\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    return script, log


@pytest.mark.parametrize("buildx", [True, False], ids=["buildx", "legacy-builder"])
@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_the_image_is_built_for_one_platform_without_attestations(tmp_path: Path, buildx: bool, arch: str) -> None:
    write_minimal_bundle(
        tmp_path / "bundle",
        files={"tokenizer.json": b"{}", "model.onnx": b"onnx"},
    )
    docker, log = fake_docker(tmp_path, buildx)
    done = make(
        "image", f"BUNDLE={tmp_path / 'bundle'}", f"IMAGE_CONTEXT={tmp_path / 'context'}", f"DOCKER={docker}",
        *([f"ARCH={arch}"] if arch != "amd64" else []),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (build,) = [line for line in log.read_text().splitlines() if "-f docker/Dockerfile" in line]
    assert f"--platform linux/{arch} " in build
    if buildx:
        assert build.startswith("buildx build --load --provenance=false --sbom=false ")
    else:
        assert build.startswith("build --platform")  # the legacy builder makes no attestations (and has no flag)


def test_deploy_of_a_given_digest_and_template_builds_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".deploy-installed").touch()  # the slim deploy environment is there
    done = make("-n", "deploy", "STAGE=prod", f"IMAGE={DIGEST}", "TEMPLATE=artifacts/release/prod/template.json",
                f"VENV={venv}", "STAMP=")  # fmt: skip
    assert done.returncode == 0, done.stderr
    commands = done.stdout
    assert f'-m infra.image_check "{DIGEST}" --arch amd64' in commands
    assert "--bundle" not in commands  # the model version comes from the image's label
    assert "--template artifacts/release/prod/template.json --stage prod" in commands
    assert f'--image-uri "{DIGEST}" --model-version "$version"' in commands
    for rebuild in ("chalice", "package", "deploy_template", "cfn-lint", "docker", "pip install"):
        assert rebuild not in commands, rebuild


def test_deploy_without_a_template_builds_the_stages_template_and_checks_the_image_against_the_bundle() -> None:
    done = make("-n", "deploy", "STAGE=dev", f"IMAGE={DIGEST}", "STAMP=", "BUNDLE=artifacts/bundles/x", "ARCH=arm64")
    assert done.returncode == 0, done.stderr
    assert "infra.deploy_template" in done.stdout
    assert "--architecture arm64" in done.stdout
    assert "--arch arm64 --bundle artifacts/bundles/x" in done.stdout


def test_deploy_without_an_image_prints_its_usage() -> None:
    done = make("deploy", "STAMP=")
    assert done.returncode == 2
    assert "usage: make deploy STAGE=dev IMAGE=" in done.stdout
