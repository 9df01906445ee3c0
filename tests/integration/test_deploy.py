"""`python -m infra.deploy` (what `make deploy` runs) against a real moto server, smoke-testing a real API.

The API is `chalice local` serving the session's smoke bundle (a real model and its model_version). The AWS side
is a moto server on a free loopback port: STS, ECR (repository and image records), CloudFormation (create, update,
delete, get_template, events) and Lambda functions with PackageType Image.

What moto cannot exercise here, so these tests use a stand-in template:
- the SAM transform (AWS::Serverless-2016-10-31) is not run by moto's CloudFormation, nor are CodeDeploy's traffic
  shifting and alarm rollback; the stand-in is the plain-CloudFormation core of the deploy template (one image
  function, the same parameters and outputs) with ApiUrl pointing at the local API. What the transform produces is
  checked with the real SAM translator in tests/unit/infra/test_deploy_template.py;
- moto accepts any credentials and never refuses an action (the IAM documents are checked by parliament and
  tests/unit/infra/test_iam.py), and cannot cancel an update (cancel_update_stack) or fail a stack into
  ROLLBACK_COMPLETE (the decision on stack states is tested in tests/unit/infra/test_deploy.py);
- API Gateway and invoking the image are replaced by the local API (moto cannot run images without Docker).
The template transform on the current app's own `chalice package` output runs for real below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalice_app.chalicelib.contract.manifest import load_manifest
from devtools.chalice_local import chalice_local
from devtools.moto_server import REGION, MotoServer, dummy_aws_env
from devtools.processes import free_port
from infra import smoke
from infra.bootstrap_settings import Grants
from infra.deploy import SEARCH_OPTIONS
from infra.deploy_template import TemplateOptions, transform
from tests.conftest import ROOT
from tests.support import chalice_package
from tests.support.chalice_sam import sample
from tests.support.moto_env import DVC_BUCKET, GITHUB_REPO, MotoEnv, bootstrap_stage, module_moto
from tests.support.package_venv import run_cfn_lint

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server", reason="moto[server] is a dev requirement")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACCOUNT = "123456789012"  # moto's account
APP = "cola-acceptability"
STACK = f"{APP}-dev"
REPOSITORY = "cola-acceptability"
SECRET = "a-distinct-secret-key-value-for-this-test"


def image_uri(tag: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:{tag}"


@dataclass
class Api:
    url: str
    model_version: str
    labels: list[str]


@pytest.fixture(scope="module")
def api(smoke_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """`chalice local` on the smoke bundle, ready when /health answers 200."""
    with chalice_local(smoke_bundle, tmp_path_factory.mktemp("api") / "chalice.log") as server:
        manifest = load_manifest(smoke_bundle)
        yield Api(server.base_url + "/", manifest["model_version"], manifest["labels"])


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from module_moto(tmp_path_factory)


Env = MotoEnv


BOOTSTRAPPED = Grants(ecr_repository=REPOSITORY, es_secret_name="cola-es")
"""What the env fixture bootstraps dev with (Elasticsearch with an API key)."""


def put_images(env: Env, repository: str, *tags: str) -> None:
    for tag in tags:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "tag": tag}
        env.client("ecr").put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


@pytest.fixture
def env(aws: MotoServer, tmp_path: Path) -> Env:
    """A clean moto (reset), dev bootstrapped as `make bootstrap` does it (roles, ECR repository), and images v1
    and v2 in the repository."""
    aws.reset()
    variables = {**dummy_aws_env(tmp_path), "AWS_SECRET_ACCESS_KEY": SECRET, "PYTHONPATH": str(ROOT)}
    environment = Env(aws, variables, tmp_path)
    bootstrap_stage(environment, "dev", BOOTSTRAPPED)
    put_images(environment, REPOSITORY, "v1", "v2")
    return environment


def standin_template(api_url: str) -> dict[str, Any]:
    """The CloudFormation core of the deploy template that moto can run (see the module docstring)."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "ImageUri": {"Type": "String"},
            "ModelVersion": {"Type": "String"},
            "Stage": {"Type": "String", "AllowedValues": ["dev"], "Default": "dev"},
            "DeploymentType": {"Type": "String", "Default": "Canary10Percent5Minutes"},
            "CodeDeployRoleArn": {"Type": "String"},
            "APIHandlerRoleArn": {"Type": "String"},
        },
        "Resources": {
            "APIHandler": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": {"Fn::Sub": f"{APP}-${{Stage}}"},
                    "PackageType": "Image",
                    "Code": {"ImageUri": {"Ref": "ImageUri"}},
                    "ImageConfig": {"Command": ["app.app"]},
                    "Role": {"Ref": "APIHandlerRoleArn"},
                    "Tags": [{"Key": "model-version", "Value": {"Ref": "ModelVersion"}}],
                },
            }
        },
        "Outputs": {
            "ApiUrl": {"Value": api_url},
            "ImageUri": {"Value": {"Ref": "ImageUri"}},
            "ModelVersion": {"Value": {"Ref": "ModelVersion"}},
            "DeploymentType": {"Value": {"Ref": "DeploymentType"}},
            "CodeDeployRoleArn": {"Value": {"Ref": "CodeDeployRoleArn"}},
        },
    }


def with_shipper(template: dict[str, Any]) -> dict[str, Any]:
    """The stand-in with the shipper's search parameters of the real deploy template (EsUrl, SearchBackend, ...):
    infra.deploy checks them against the bootstrap stack; moto's CloudFormation just records them."""
    real = transform(sample(), app_name=APP, stage="dev", options=TemplateOptions())["Parameters"]
    search = {name: spec for name, spec in real.items() if name in SEARCH_OPTIONS}
    return {**template, "Parameters": {**template["Parameters"], **search}}


def run_deploy(
    env: Env, template: dict[str, Any], *args: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = env.tmp / "template.json"
    path.write_text(json.dumps(template))
    role = f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-api"  # the stand-in's function is not SAM's: role_arns skips it
    command = [sys.executable, "-m", "infra.deploy", "--template", str(path), "--stage", "dev"]
    command += ["--endpoint-url", env.server.endpoint, "--poll", "0.2", "--parameter", f"APIHandlerRoleArn={role}"]
    result = subprocess.run(
        [*command, *args], cwd=ROOT, env=environ or env.vars, capture_output=True, text=True, timeout=300
    )
    assert SECRET not in result.stdout + result.stderr, "the secret key was printed"
    return result


def stack(env: Env) -> dict[str, Any] | None:
    stacks = env.client("cloudformation").list_stacks()["StackSummaries"]
    if not [s for s in stacks if s["StackName"] == STACK and s["StackStatus"] != "DELETE_COMPLETE"]:
        return None
    data: dict[str, Any] = env.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    data["params"] = {p["ParameterKey"]: p["ParameterValue"] for p in data["Parameters"]}
    data["outputs"] = {o["OutputKey"]: o["OutputValue"] for o in data.get("Outputs", [])}
    return data


def function_image(env: Env) -> str:
    return str(env.client("lambda").get_function(FunctionName=f"{APP}-dev")["Code"]["ImageUri"])


def test_first_deploy_creates_the_stack_and_passes_the_smoke_test(env: Env, api: Api) -> None:
    record = env.tmp / "record.json"
    result = run_deploy(
        env, standin_template(api.url), "--image-uri", image_uri("v1"), "--model-version", api.model_version,
        "--record", str(record),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test of" in result.stdout
    assert "passed" in result.stdout
    created = stack(env)
    assert created is not None
    assert created["StackStatus"] == "CREATE_COMPLETE"
    assert created["outputs"]["ImageUri"] == image_uri("v1")
    assert created["params"]["CodeDeployRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-codedeploy"
    assert created["RoleARN"] == f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-cloudformation"  # CloudFormation acts as it
    assert {"Key": "model-version", "Value": api.model_version} in created["Tags"]
    assert function_image(env) == image_uri("v1")
    outcome = json.loads(record.read_text())
    assert outcome["smoke_ok"] is True
    assert outcome["rolled_back"] is False
    assert outcome["api_url"] == api.url


def test_an_update_that_fails_its_smoke_test_rolls_back_to_the_previous_image(env: Env, api: Api) -> None:
    template = standin_template(api.url)
    first = run_deploy(env, template, "--image-uri", image_uri("v1"), "--model-version", api.model_version)
    assert first.returncode == 0, first.stdout + first.stderr
    # v2 claims another model version than the API serves: the smoke test must catch it.
    second = run_deploy(env, template, "--image-uri", image_uri("v2"), "--model-version", "minilm-not-served")
    output = second.stdout + second.stderr
    assert second.returncode == 1, output
    assert "expected 'minilm-not-served'" in output
    assert f"rolling back to {api.model_version} ({image_uri('v1')})" in output
    assert "rolled back" in output
    restored = stack(env)
    assert restored is not None
    assert restored["StackStatus"] == "UPDATE_COMPLETE"
    assert restored["params"]["ImageUri"] == image_uri("v1")
    assert restored["params"]["ModelVersion"] == api.model_version
    assert restored["params"]["DeploymentType"] == "AllAtOnce"  # a rollback does not wait for a canary
    assert {"Key": "model-version", "Value": api.model_version} in restored["Tags"]
    assert function_image(env) == image_uri("v1")


def test_a_first_deploy_that_fails_its_smoke_test_deletes_the_stack(env: Env, api: Api) -> None:
    result = run_deploy(
        env, standin_template(api.url), "--image-uri", image_uri("v1"), "--model-version", "minilm-not-served"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "nothing to roll back to" in output
    assert stack(env) is None


def test_deploying_the_same_image_again_changes_nothing_and_still_smoke_tests(env: Env, api: Api) -> None:
    args = ("--image-uri", image_uri("v1"), "--model-version", api.model_version)
    assert run_deploy(env, standin_template(api.url), *args).returncode == 0
    again = run_deploy(env, standin_template(api.url), *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "no changes" in again.stdout
    assert "passed" in again.stdout


def test_an_image_missing_from_ecr_is_reported_before_anything_changes(env: Env, api: Api) -> None:
    result = run_deploy(env, standin_template(api.url), "--image-uri", image_uri("v9"), "--model-version", "m")
    assert result.returncode == 2
    assert "image 'v9' is not in ECR repository 'cola-acceptability': push it first (`make push`)" in result.stderr
    assert stack(env) is None


def test_a_missing_repository_is_reported(env: Env, api: Api) -> None:
    env.client("ecr").delete_repository(repositoryName=REPOSITORY, force=True)  # bootstrapped, deleted since
    result = run_deploy(env, standin_template(api.url), "--image-uri", image_uri("v1"), "--model-version", "m")
    assert result.returncode == 2
    assert f"ECR repository {REPOSITORY!r} does not exist" in result.stderr


def test_an_image_of_another_region_is_refused(env: Env, api: Api) -> None:
    result = run_deploy(
        env, standin_template(api.url), "--image-uri", image_uri("v1"), "--region", "eu-west-1", "--model-version", "m"
    )
    assert result.returncode == 2
    assert "the image is in us-east-1, the stack deploys to eu-west-1" in result.stderr


DOMAIN_URL = f"https://search-cola-logs-abc123.{REGION}.es.amazonaws.com"
BASIC = Grants(ecr_repository=REPOSITORY, es_basic_auth_secret_name="cola-user")
SIGV4 = ("--es-url", DOMAIN_URL, "--search-backend", "opensearch", "--es-auth", "sigv4")


def test_a_deploy_that_matches_its_bootstrap_deploys(env: Env, api: Api) -> None:
    """The pair as the runbook writes it for OpenSearch: bootstrap grants the domain, deploy signs for it."""
    bootstrap_stage(env, "dev", Grants(ecr_repository=REPOSITORY, opensearch_domain="cola-logs"))
    template = with_shipper(standin_template(api.url))
    result = run_deploy(env, template, "--image-uri", image_uri("v1"), "--model-version", api.model_version, *SIGV4)
    assert result.returncode == 0, result.stdout + result.stderr
    created = stack(env)
    assert created is not None
    assert (created["params"]["EsAuth"], created["params"]["EsUrl"]) == ("sigv4", DOMAIN_URL)


@pytest.mark.parametrize(
    ("grants", "deploy_args", "difference", "rerun"),
    [
        pytest.param(
            BOOTSTRAPPED, ("--es-url", "https://es.example.com:9243", "--es-secret-name", "other-es"),
            "ES_SECRET_NAME: this deploy needs 'other-es' (ES_AUTH=api_key); "
            f"{APP}-bootstrap-dev granted 'cola-es'",
            f"REPOSITORY={REPOSITORY} ES_SECRET_NAME=other-es REGION={REGION}",
            id="another-api-key-secret",
        ),
        pytest.param(
            BASIC, SIGV4,
            "OPENSEARCH_DOMAIN: this deploy needs 'cola-logs' (ES_AUTH=sigv4 ES_SIGV4_SERVICE=es, ES_URL); "
            f"{APP}-bootstrap-dev granted none",
            "ES_BASIC_AUTH_SECRET_NAME=cola-user OPENSEARCH_DOMAIN=cola-logs",
            id="sigv4-on-a-stage-bootstrapped-for-basic",
        ),
        pytest.param(
            Grants(ecr_repository=REPOSITORY, opensearch_domain="other-logs"), SIGV4,
            "OPENSEARCH_DOMAIN: this deploy needs 'cola-logs'",
            "OPENSEARCH_DOMAIN=cola-logs",
            id="another-domain",
        ),
        pytest.param(
            Grants(ecr_repository=REPOSITORY, opensearch_domain="cola-logs"),
            ("--es-url", f"https://abc123def.{REGION}.aoss.amazonaws.com", "--search-backend", "opensearch",
             "--es-auth", "sigv4", "--es-sigv4-service", "aoss"),
            "OPENSEARCH_COLLECTION_ID: this deploy needs 'abc123def'",
            "OPENSEARCH_DOMAIN=cola-logs OPENSEARCH_COLLECTION_ID=abc123def",
            id="serverless-on-a-stage-bootstrapped-for-a-domain",
        ),
        pytest.param(
            Grants(ecr_repository=REPOSITORY, opensearch_domain="cola-logs", search_region="eu-west-1"), SIGV4,
            f"SEARCH_REGION: this deploy needs {REGION!r}",
            f"SEARCH_REGION={REGION}",
            id="another-search-region",
        ),
        pytest.param(
            BOOTSTRAPPED,
            ("--es-url", DOMAIN_URL, "--search-backend", "opensearch", "--es-auth", "basic",
             "--es-basic-auth-secret-name", "cola-user"),
            "ES_BASIC_AUTH_SECRET_NAME: this deploy needs 'cola-user' (ES_AUTH=basic)",
            "ES_SECRET_NAME=cola-es ES_BASIC_AUTH_SECRET_NAME=cola-user",
            id="basic-on-a-stage-bootstrapped-for-an-api-key",
        ),
    ],
)  # fmt: skip
def test_shipper_settings_the_bootstrap_did_not_grant_are_refused_before_anything_changes(
    env: Env, grants: Grants, deploy_args: tuple[str, ...], difference: str, rerun: str
) -> None:
    bootstrap_stage(env, "dev", grants)
    template = with_shipper(standin_template("http://127.0.0.1:9/"))
    result = run_deploy(env, template, "--image-uri", image_uri("v1"), "--model-version", "m", *deploy_args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert difference in result.stderr
    assert f"re-run `make bootstrap STAGE=dev GITHUB_REPO={GITHUB_REPO} DVC_BUCKET={DVC_BUCKET} " in result.stderr
    assert rerun in result.stderr
    assert "deploy the shipper as the stage was bootstrapped: " in result.stderr
    assert stack(env) is None


def test_an_image_of_another_repository_is_refused(env: Env) -> None:
    env.client("ecr").create_repository(repositoryName="another-repo")
    put_images(env, "another-repo", "v1")
    uri = image_uri("v1").replace(REPOSITORY, "another-repo")
    result = run_deploy(env, standin_template("http://127.0.0.1:9/"), "--image-uri", uri, "--model-version", "m")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"REPOSITORY: this deploy needs 'another-repo' (IMAGE); {APP}-bootstrap-dev granted {REPOSITORY!r}" in (
        result.stderr
    )
    assert f"make push REPOSITORY={REPOSITORY}" in result.stderr
    assert "REPOSITORY=another-repo ES_SECRET_NAME=cola-es REGION=" in result.stderr  # or re-bootstrap for it
    assert stack(env) is None


def test_an_image_of_another_account_is_refused(env: Env) -> None:
    uri = image_uri("v1").replace(ACCOUNT, "210987654321")
    result = run_deploy(env, standin_template("http://127.0.0.1:9/"), "--image-uri", uri, "--model-version", "m")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"IMAGE: it is in account 210987654321; the stage's roles read images of account {ACCOUNT} only" in (
        result.stderr
    )
    assert stack(env) is None


def test_another_stack_than_the_stages_is_refused(env: Env) -> None:
    result = run_deploy(
        env, standin_template("http://127.0.0.1:9/"), "--image-uri", image_uri("v1"), "--model-version", "m",
        "--stack", "my-experiment",
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"STACK: this deploy changes stack 'my-experiment'; the stage's roles may change {STACK!r}" in result.stderr
    assert "drop STACK=" in result.stderr


def test_a_stage_that_was_never_bootstrapped_is_its_own_error(env: Env) -> None:
    env.server.reset()
    result = run_deploy(
        env, standin_template("http://127.0.0.1:9/"), "--image-uri", image_uri("v1"), "--model-version", "m"
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no bootstrap stack {APP}-bootstrap-dev in account {ACCOUNT}, {REGION}" in result.stderr
    assert f"Run `make bootstrap STAGE=dev REGION={REGION} ...` first" in result.stderr
    assert stack(env) is None


def test_without_credentials_the_deploy_says_how_to_give_them(env: Env, api: Api) -> None:
    bare = {k: v for k, v in env.vars.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    result = run_deploy(
        env, standin_template(api.url), "--image-uri", image_uri("v1"), "--model-version", "m", environ=bare
    )
    assert result.returncode == 2
    assert "no usable AWS credentials were found" in result.stderr
    assert "AWS_PROFILE" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_smoke_test_reports_an_api_that_is_not_there() -> None:
    result = smoke.smoke_test(f"http://127.0.0.1:{free_port()}/", "m", attempts=1)
    assert not result.ok
    assert result.problems[0].startswith("cannot reach http://127.0.0.1:")


def test_the_smoke_test_checks_health_prediction_and_version(api: Api) -> None:
    good = smoke.smoke_test(api.url, api.model_version, attempts=1)
    assert good.ok, good.problems
    assert good.prediction["predictions"][0]["label"] in api.labels
    stale = smoke.smoke_test(api.url, "minilm-other", attempts=1)
    assert stale.problems == [
        f"/health serves model {api.model_version!r}, expected 'minilm-other'",
        f"/predict used model {api.model_version!r}, expected 'minilm-other'",
    ]


def test_the_transform_handles_every_function_of_this_app(tmp_path: Path) -> None:
    """`chalice package` on a copy of the app as it is now (dependencies left out: only the template matters),
    then the transform and cfn-lint: every function the app defines must come out as an image."""
    sam_json = chalice_package.package(chalice_package.copy_app(tmp_path / "app"), "dev", tmp_path / "out", REGION)
    sam = chalice_package.read_template(sam_json)
    handlers = {
        k: r["Properties"]["Handler"] for k, r in sam["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
    }
    assert handlers["APIHandler"] == "app.app"
    deploy_json = tmp_path / "deploy.json"
    transform = subprocess.run(
        [sys.executable, "-m", "infra.deploy_template", str(sam_json), str(deploy_json), "--stage", "dev"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert transform.returncode == 0, transform.stdout + transform.stderr
    template = json.loads(deploy_json.read_text())
    for logical_id, handler in handlers.items():
        props = template["Resources"][logical_id]["Properties"]
        assert props["PackageType"] == "Image"
        assert props["ImageConfig"]["Command"] == [handler]
    lint = run_cfn_lint(deploy_json)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    body = json.dumps(template, separators=(",", ":"))  # as infra.deploy sends it
    assert len(body) < 51_200, "over CloudFormation's TemplateBody limit: infra.deploy would need an S3 upload"
