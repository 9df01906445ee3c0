"""`make bootstrap` against a real moto server: the account's stack, then each stage's, created through
CloudFormation, read back from IAM, ECR and S3.

moto's CloudFormation creates the roles, their inline policies, the bucket and the repository with its tag rules;
it does not implement AWS::IAM::OIDCProvider (skipped), nor apply an ECR lifecycle policy or bucket versioning
given in a template, and it enforces no permissions: those are checked on the templates
(tests/unit/infra/test_bootstrap_template.py) and against the resource-provider schemas
(tests/unit/infra/test_cfn_permissions.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.moto_server import REGION, MotoServer, dummy_aws_env
from tests.conftest import ROOT
from tests.support.moto_env import MotoEnv, module_moto

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server", reason="moto[server] is a dev requirement")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACCOUNT = "123456789012"  # moto's account
APP = "cola-acceptability"
REPO = "acme/cola"
BUCKET = "acme-cola-dvc"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from module_moto(tmp_path_factory)


Env = MotoEnv


@pytest.fixture
def env(aws: MotoServer, tmp_path: Path) -> Env:
    aws.reset()
    return Env(aws, {**dummy_aws_env(tmp_path), "PYTHONPATH": str(ROOT)}, tmp_path)


def make_bootstrap(env: Env, stage: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`make bootstrap` as the runbook runs it, against moto (-o: the test's .venv is taken as installed)."""
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "bootstrap", f"STAGE={stage}"]
    command += [f"GITHUB_REPO={REPO}", f"DVC_BUCKET={BUCKET}", "ES_SECRET_NAME=cola-es", f"REGION={REGION}"]
    command += [f"ENDPOINT={env.server.endpoint}", f"BOOTSTRAP_DIR={env.tmp / stage}", *extra]
    return subprocess.run(command, cwd=ROOT, env=env.vars, capture_output=True, text=True, timeout=600)


def run_bootstrap(env: Env, stage: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m infra.bootstrap` on templates written by infra.bootstrap_template."""
    templates = env.tmp / stage
    subprocess.run(
        [sys.executable, "-m", "infra.bootstrap_template", "--stage", stage, "--out", str(templates)],
        cwd=ROOT, env=env.vars, check=True, capture_output=True,
    )  # fmt: skip
    command = [sys.executable, "-m", "infra.bootstrap", "--stage", stage, "--templates", str(templates)]
    command += ["--github-repo", REPO, "--dvc-bucket", BUCKET, "--ecr-repository", APP, "--es-secret-name", "es"]
    command += ["--region", REGION, "--endpoint-url", env.server.endpoint, "--poll", "0.2", *extra]
    return subprocess.run(command, cwd=ROOT, env=env.vars, capture_output=True, text=True, timeout=300)


def trust(env: Env, role: str) -> dict[str, Any]:
    document: dict[str, Any] = env.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return document


def test_make_bootstrap_creates_both_stages_roles_bucket_and_repository(env: Env) -> None:
    for stage in ("dev", "prod"):
        result = make_bootstrap(env, stage)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (
            f"gh variable set AWS_DEPLOY_ROLE_ARN --env {stage} --body arn:aws:iam::{ACCOUNT}:role/{APP}-{stage}-deploy"
            in result.stdout
        )
        for key in ("api", "ship-logs", "codedeploy", "cloudformation", "deploy"):
            env.client("iam").get_role(RoleName=f"{APP}-{stage}-{key}")
        (statement,) = trust(env, f"{APP}-{stage}-deploy")["Statement"]
        assert statement["Principal"] == {"Federated": PROVIDER}
        assert statement["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": f"repo:{REPO}:environment:{stage}",
            }
        }
        outputs = json.loads((env.tmp / stage / "outputs.json").read_text())
        assert outputs["stage"]["GitHubRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{APP}-{stage}-deploy"
        assert (
            outputs["stage"]["CloudFormationExecutionRoleArn"]
            == f"arn:aws:iam::{ACCOUNT}:role/{APP}-{stage}-cloudformation"
        )
        assert outputs["shared"]["DvcBucket"] == BUCKET
        assert outputs["shared"]["EcrRepository"] == APP
    iam_client = env.client("iam")
    assert set(iam_client.list_role_policies(RoleName=f"{APP}-dev-deploy")["PolicyNames"]) == {
        f"{APP}-dev-deploy",
        "ecr-push",
    }
    assert iam_client.list_role_policies(RoleName=f"{APP}-prod-deploy")["PolicyNames"] == [f"{APP}-prod-deploy"]
    (repository,) = env.client("ecr").describe_repositories(repositoryNames=[APP])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repository["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "m-*"}]
    env.client("s3").head_bucket(Bucket=BUCKET)


def test_a_rerun_changes_nothing(env: Env) -> None:
    assert run_bootstrap(env, "dev").returncode == 0
    again = run_bootstrap(env, "dev")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{APP}-bootstrap: no changes" in again.stdout
    assert f"{APP}-bootstrap-dev: no changes" in again.stdout


def test_an_existing_oidc_provider_is_reused_only_when_named(env: Env) -> None:
    arn = env.client("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"]
    )["OpenIDConnectProviderArn"]
    refused = run_bootstrap(env, "dev")
    assert refused.returncode == 2
    assert f"rerun with OIDC_PROVIDER_ARN={arn}" in refused.stderr
    assert env.client("cloudformation").list_stacks()["StackSummaries"] == []  # refused before creating anything
    reused = run_bootstrap(env, "dev", "--oidc-provider-arn", arn)
    assert reused.returncode == 0, reused.stdout + reused.stderr
    assert f"GitHubOidcProviderArn = {arn}" in reused.stdout
    assert run_bootstrap(env, "prod").returncode == 0  # the stack remembers the provider it was given


@pytest.mark.parametrize(
    ("option", "value"), [("--github-repo", "acme/*"), ("--github-repo", "acme"), ("--dvc-bucket", "Acme_DVC")]
)
def test_a_value_that_would_widen_a_policy_is_refused_before_any_stack(env: Env, option: str, value: str) -> None:
    """CloudFormation's AllowedPattern would refuse these too; moto does not check it, so bootstrap does first."""
    result = run_bootstrap(env, "dev", option, value)
    assert result.returncode == 2
    assert f"{value!r} is not a valid value" in result.stderr
    assert env.client("cloudformation").list_stacks()["StackSummaries"] == []
