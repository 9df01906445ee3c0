"""`make push`'s ECR side against a real moto server: the registry host and a temporary login from the
authorization token, the lookup that lets a rerun reuse a commit's image, and the refusals (repository missing,
no credentials, credentials refused).

moto stands in for ECR's API only: its token is not accepted by any registry, so the Docker login and push with a
password are exercised against a real local registry in tests/container/test_push_registry.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from devtools.moto_server import REGION, MotoServer
from infra.push import PushError, ecr_credentials, ecr_digest
from tests.conftest import ROOT
from tests.support.manifests import write_minimal_bundle
from tests.support.moto_env import module_moto

boto3 = pytest.importorskip("boto3")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPOSITORY = "cola-acceptability"
SHA = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from module_moto(tmp_path_factory)


@pytest.fixture
def aws_env(dummy_aws: dict[str, str]) -> dict[str, str]:
    """This process's environment reduced to dummy credentials (no profile, no instance metadata)."""
    return dummy_aws


@pytest.fixture
def ecr(server: MotoServer, aws_env: dict[str, str]) -> Any:
    server.reset()
    return boto3.session.Session().client("ecr", region_name=REGION, endpoint_url=server.endpoint)


def test_login_is_the_account_registry_and_the_token_pair(ecr: Any) -> None:
    uri = ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
    credentials = ecr_credentials(ecr, REPOSITORY)
    assert credentials.registry == uri.split("/", 1)[0]
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert base64.b64decode(token).decode() == f"{credentials.username}:{credentials.password}"
    assert credentials.username == "AWS"


def test_missing_repository_says_how_to_create_it(ecr: Any) -> None:
    with pytest.raises(PushError, match=r"does not exist in us-east-1.*docs/delivery.md"):
        ecr_credentials(ecr, "never-created")


def test_no_credentials_says_where_credentials_come_from(
    server: MotoServer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    client = boto3.session.Session().client("ecr", region_name=REGION, endpoint_url=server.endpoint)
    with pytest.raises(PushError, match="no usable AWS credentials"):
        ecr_credentials(client, REPOSITORY)


def test_refused_credentials_are_reported_as_such(server: MotoServer, ecr: Any) -> None:
    ecr.create_repository(repositoryName=REPOSITORY)
    with server.enforce_iam(), pytest.raises(PushError, match="AWS refused the credentials"):
        ecr_credentials(ecr, REPOSITORY)


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": SHA},
        "layers": [],
    }
)


def test_a_pushed_commit_is_found_by_its_tag_and_an_unknown_tag_is_not(ecr: Any) -> None:
    ecr.create_repository(repositoryName=REPOSITORY)
    put = ecr.put_image(repositoryName=REPOSITORY, imageManifest=MANIFEST, imageTag="0123abcd")
    assert ecr_digest(ecr, REPOSITORY, "0123abcd") == put["image"]["imageId"]["imageDigest"]
    assert ecr_digest(ecr, REPOSITORY, "never-pushed") is None


OTHER_MANIFEST = MANIFEST.replace("0" * 64, "1" * 64)
IMMUTABLE_TAG_ERRORS = {"ImageTagAlreadyExistsException", "ImageAlreadyExistsException"}  # ECR's; moto's


@pytest.mark.parametrize("already_pushed", [True, False])
def test_make_push_of_a_commit_already_in_ecr_reuses_its_digest(
    ecr: Any, server: MotoServer, aws_env: dict[str, str], tmp_path: Path, already_pushed: bool
) -> None:
    """The rerun of a release: `python -m infra.push` in a clean clone finds the commit's image in a repository
    with IMMUTABLE tags (where pushing the tag again would fail) and prints its digest without pushing.

    The Docker CLI is deliberately missing: reuse must not need it, and a commit not yet in ECR must get as far as
    asking for it (the push itself runs against a real registry in tests/container/test_push_registry.py).
    """
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    # As make bootstrap creates it: commit tags immutable, so a second push of the commit's tag is refused.
    repository = ecr.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")["repository"]
    uri = repository["repositoryUri"]
    if already_pushed:
        put = ecr.put_image(repositoryName=REPOSITORY, imageManifest=MANIFEST, imageTag=revision)
        with pytest.raises(ClientError) as refused:
            ecr.put_image(repositoryName=REPOSITORY, imageManifest=OTHER_MANIFEST, imageTag=revision)
        assert refused.value.response["Error"]["Code"] in IMMUTABLE_TAG_ERRORS
    write_minimal_bundle(tmp_path / "bundle")
    done = subprocess.run(
        [
            sys.executable, "-m", "infra.push", "--bundle", str(tmp_path / "bundle"), "--repository", REPOSITORY,
            "--region", REGION, "--endpoint-url", server.endpoint, "--docker", "no-such-docker-cli",
            "--digest-file", str(tmp_path / "digest.txt"),
        ],
        cwd=clone, env={**aws_env, "PYTHONPATH": str(clone)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if already_pushed:
        assert done.returncode == 0, done.stderr
        reference = f"{uri}@{put['image']['imageId']['imageDigest']}"
        assert done.stdout.strip().splitlines()[-1] == reference
        assert (tmp_path / "digest.txt").read_text().strip() == reference
        assert "not pushing it again" in done.stderr
    else:
        assert done.returncode == 1
        assert "install Docker" in done.stderr
        assert not (tmp_path / "digest.txt").exists()
