"""infra.deploy, the parts that decide before any AWS call: image URIs, stack states, parameters, role ARNs.

The AWS side (CloudFormation, ECR, STS against a real moto server) and the smoke test against a real API are in
tests/integration/test_deploy.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra import deploy
from infra.deploy import DeployError, Stack, action_for, parse_image_uri, role_arns, stack_parameters
from infra.deploy_template import TemplateOptions, transform
from tests.support.chalice_sam import APP, sample
from tests.support.manifests import write_minimal_bundle

DIGEST = "sha256:" + "0f" * 32


def test_an_ecr_uri_with_a_tag_or_a_digest_parses() -> None:
    tagged = parse_image_uri("123456789012.dkr.ecr.eu-west-1.amazonaws.com/cola-acceptability:3f2a9c1")
    assert (tagged.account, tagged.region, tagged.repository) == ("123456789012", "eu-west-1", "cola-acceptability")
    assert (tagged.tag, tagged.digest) == ("3f2a9c1", None)
    pinned = parse_image_uri(f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/cola@{DIGEST}")
    assert (pinned.repository, pinned.tag, pinned.digest) == ("team/cola", None, DIGEST)


@pytest.mark.parametrize(
    "uri",
    [
        "cola-acceptability:latest",  # a local image: Lambda cannot pull it
        "docker.io/library/python:3.12",
        "127.0.0.1:5000/cola-acceptability:v1",  # a plain registry (make push REGISTRY=...)
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cola-acceptability",  # neither tag nor digest
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cola@sha256:abc",
    ],
)
def test_anything_but_an_ecr_image_is_refused_with_the_expected_form(uri: str) -> None:
    with pytest.raises(DeployError, match=r"<account>\.dkr\.ecr\.<region>\.amazonaws\.com/<repository>:<tag>"):
        parse_image_uri(uri)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (None, "create"),
        ("CREATE_COMPLETE", "update"),
        ("UPDATE_COMPLETE", "update"),
        ("UPDATE_ROLLBACK_COMPLETE", "update"),
    ],
)
def test_settled_stacks_are_updated_and_missing_ones_created(status: str | None, action: str) -> None:
    stack = None if status is None else Stack("cola-acceptability-dev", status)
    assert action_for(stack) == action


def test_a_stack_in_rollback_complete_must_be_deleted_first() -> None:
    with pytest.raises(DeployError) as err:
        action_for(Stack("cola-acceptability-dev", "ROLLBACK_COMPLETE"))
    message = str(err.value)
    assert "ROLLBACK_COMPLETE" in message
    assert "aws cloudformation delete-stack --stack-name cola-acceptability-dev" in message


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS"])
def test_a_busy_stack_is_left_alone(status: str) -> None:
    with pytest.raises(DeployError, match=f"busy \\({status}\\): wait"):
        action_for(Stack("s", status))


@pytest.mark.parametrize("status", ["UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED"])
def test_a_failed_stack_needs_a_person(status: str) -> None:
    with pytest.raises(DeployError, match=f"in {status} \\(stuck\\): fix it"):
        action_for(Stack("s", status, reason="stuck"))


def deploy_template() -> dict[str, object]:
    return transform(sample(), app_name=APP, stage="dev", options=TemplateOptions())


def test_role_parameters_name_the_roles_of_infra_iam() -> None:
    arns = role_arns(deploy_template(), "123456789012", "dev")
    assert arns == {
        "CodeDeployRoleArn": f"arn:aws:iam::123456789012:role/{APP}-dev-codedeploy",
        "APIHandlerRoleArn": f"arn:aws:iam::123456789012:role/{APP}-dev-api",
        "ShipLogsRoleArn": f"arn:aws:iam::123456789012:role/{APP}-dev-ship-logs",
        "PreTrafficHookRoleArn": f"arn:aws:iam::123456789012:role/{APP}-dev-pre-traffic-hook",
    }


def test_cloudformation_acts_as_the_stages_execution_role() -> None:
    """The stack's RoleARN: CloudFormation, not the caller, needs the resources' rights (infra/cfn_permissions)."""
    assert (
        deploy.execution_role_arn("123456789012", "prod") == f"arn:aws:iam::123456789012:role/{APP}-prod-cloudformation"
    )


def test_a_function_without_a_role_in_infra_iam_is_refused() -> None:
    sam = sample()
    extra = json.loads(json.dumps(sam["Resources"]["ShipLogs"]))
    extra["Properties"]["Handler"] = "app.rotate_keys"
    sam["Resources"]["RotateKeys"] = extra
    template = transform(sam, app_name=APP, stage="dev", options=TemplateOptions())
    with pytest.raises(DeployError, match="rotate_keys \\(RotateKeysRoleArn\\) has no execution role"):
        role_arns(template, "123456789012", "dev")


def test_a_missing_search_endpoint_says_how_to_give_it() -> None:
    values = {"ImageUri": "x", "ModelVersion": "m", **role_arns(deploy_template(), "123456789012", "dev")}
    with pytest.raises(DeployError, match=r"parameter\(s\) EsUrl: ES_URL=\.\.\. \(make\) / --es-url"):
        stack_parameters(deploy_template(), values)


DOMAIN = "https://search-cola-logs-abcdefghijklmnopqrstuvwxyz.eu-west-1.es.amazonaws.com"
COLLECTION = "https://k2xq7a9b3c.eu-west-1.aoss.amazonaws.com"


@pytest.mark.parametrize(
    "values",
    [
        {"EsUrl": "https://search.example.com:9243", "EsSecretName": "cola-es"},  # the default: ES + API key
        {"EsUrl": "http://es:9200", "EsAuth": "none"},
        {"EsUrl": DOMAIN, "SearchBackend": "opensearch", "EsAuth": "sigv4"},
        {"EsUrl": COLLECTION, "SearchBackend": "opensearch", "EsAuth": "sigv4", "EsSigv4Service": "aoss"},
        {"EsUrl": DOMAIN, "SearchBackend": "opensearch", "EsAuth": "basic", "EsBasicAuthSecretName": "cola-user"},
    ],
)
def test_search_settings_the_shipper_accepts_pass(values: dict[str, str]) -> None:
    deploy.check_search_settings(deploy_template(), values, "eu-west-1")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"EsUrl": "https://es.example.com"},
            r"EsAuth=api_key needs ES_SECRET_NAME=\.\.\. \(make\) / --es-secret-name",
        ),
        (
            {"EsUrl": DOMAIN, "SearchBackend": "opensearch", "EsAuth": "basic"},
            "EsAuth=basic needs ES_BASIC_AUTH_SECRET_NAME=",
        ),
        ({"EsUrl": DOMAIN, "EsSecretName": "cola-es"}, "Amazon OpenSearch Service endpoint.*SEARCH_BACKEND=opensearch"),
        ({"EsUrl": DOMAIN, "EsAuth": "sigv4"}, "set SEARCH_BACKEND=opensearch"),
        (
            {"EsUrl": DOMAIN, "SearchBackend": "opensearch", "EsSecretName": "cola-es"},
            "OpenSearch has no Elasticsearch API keys",
        ),
        (
            {"EsUrl": DOMAIN, "SearchBackend": "opensearch", "EsAuth": "sigv4", "EsSigv4Region": "us-east-1"},
            "signed for es in us-east-1.*ES_SIGV4_REGION=eu-west-1",
        ),
        (
            {"EsUrl": COLLECTION, "SearchBackend": "opensearch", "EsAuth": "sigv4"},
            "aoss endpoint in eu-west-1.*ES_SIGV4_SERVICE=aoss",
        ),
    ],
)
def test_search_settings_the_shipper_would_refuse_stop_the_deploy(values: dict[str, str], message: str) -> None:
    with pytest.raises(DeployError, match=message):
        deploy.check_search_settings(deploy_template(), values, "eu-west-1")


def test_the_stacks_region_is_the_signing_region_by_default() -> None:
    with pytest.raises(DeployError, match="signed for es in us-east-1"):
        deploy.check_search_settings(
            deploy_template(), {"EsUrl": DOMAIN, "SearchBackend": "opensearch", "EsAuth": "sigv4"}, "us-east-1"
        )


def test_search_options_become_template_parameters() -> None:
    args = deploy.parse_args(
        [
            "--template",
            "t.json",
            "--stage",
            "dev",
            "--image-uri",
            "x",
            "--es-url",
            DOMAIN,
            "--search-backend",
            "opensearch",
            "--es-auth",
            "basic",
            "--es-basic-auth-secret-name",
            "cola-user",
            "--es-sigv4-service",
            "es",
            "--es-sigv4-region",
            "eu-west-1",
        ]
    )
    assert deploy.search_values(args) == {
        "EsUrl": DOMAIN,
        "SearchBackend": "opensearch",
        "EsAuth": "basic",
        "EsSecretName": None,
        "EsBasicAuthSecretName": "cola-user",
        "EsSigv4Service": "es",
        "EsSigv4Region": "eu-west-1",
    }
    parameters = deploy_template()["Parameters"]
    assert isinstance(parameters, dict)
    assert set(deploy.search_values(args)) <= set(parameters)
    with pytest.raises(SystemExit):
        deploy.parse_args(["--template", "t", "--stage", "dev", "--image-uri", "x", "--es-auth", "iam"])


def test_bad_search_settings_stop_the_cli_before_any_aws_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template.json"
    template.write_text(json.dumps(deploy_template()))
    monkeypatch.setattr(boto3.session, "Session", None)  # any AWS call would fail loudly
    image = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/cola@{DIGEST}"
    code = deploy.main(
        [
            "--template",
            str(template),
            "--stage",
            "dev",
            "--image-uri",
            image,
            "--model-version",
            "m",
            "--es-url",
            DOMAIN,
            "--search-backend",
            "opensearch",
            "--es-auth",
            "sigv4",
            "--es-sigv4-service",
            "aoss",
        ]
    )
    assert code == 2
    assert "ES_SIGV4_SERVICE=es" in capsys.readouterr().err


def test_parameters_cover_what_the_template_declares_and_keep_defaults() -> None:
    template = deploy_template()
    values = {
        "ImageUri": "x",
        "ModelVersion": "m",
        "EsUrl": "https://es:9243",
        "EsSecretName": "s",
        "Unrelated": "ignored",
        **role_arns(template, "123456789012", "dev"),
    }
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack_parameters(template, values)}
    search = {"SearchBackend", "EsAuth", "EsBasicAuthSecretName", "EsSigv4Service", "EsSigv4Region"}
    assert set(parameters) == set(values) - {"Unrelated"} | {"Stage", "DeploymentType", "AlarmEmail"} | search
    assert (parameters["Stage"], parameters["DeploymentType"]) == ("dev", "Canary10Percent5Minutes")
    assert (parameters["SearchBackend"], parameters["EsAuth"]) == ("elasticsearch", "api_key")
    assert parameters["AlarmEmail"] == ""  # no e-mail subscription unless ALARM_EMAIL= is given


def test_the_expected_model_version_comes_from_the_bundle(tmp_path: Path) -> None:
    version = write_minimal_bundle(tmp_path / "bundle")
    assert deploy.expected_model_version(tmp_path / "bundle", None) == version
    assert deploy.expected_model_version(tmp_path / "bundle", "given") == "given"
    with pytest.raises(DeployError, match=r"does not exist.*pass BUNDLE="):
        deploy.expected_model_version(tmp_path / "missing", None)
    with pytest.raises(DeployError, match="pass --model-version or --bundle"):
        deploy.expected_model_version(None, None)


class RecordingDeployer:
    """Records what a rollback asks CloudFormation for (the real Deployer waits on a real stack)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def log(self, line: str) -> None:
        pass

    def apply(
        self,
        name: str,
        action: str,
        body: str,
        parameters: list[dict[str, str]],
        tags: list[dict[str, str]],
        role_arn: str | None = None,
    ) -> Stack:
        self.calls.append({"action": action, "parameters": parameters, "tags": tags, "role_arn": role_arn})
        return Stack(name, "UPDATE_COMPLETE")

    def failures(self, name: str) -> list[str]:
        return []


def test_a_rollback_keeps_the_previous_stack_tags() -> None:
    """CloudFormation's UpdateStack removes every stack tag when Tags is an empty list (its documented rule): the
    rollback passes the previous version's tags, so the stack still says which model it serves."""
    previous = Stack(
        "cola-acceptability-dev",
        "UPDATE_COMPLETE",
        parameters={"ImageUri": "repo@sha256:" + "a" * 64, "ModelVersion": "m-old", "DeploymentType": "Canary"},
        tags={"project": "cola-acceptability", "stage": "dev", "model-version": "m-old"},
    )
    deployer = RecordingDeployer()
    outcome = deploy.Outcome(stack=previous.name)
    role = deploy.execution_role_arn("123456789012", "dev")
    deploy._restore(previous.name, previous, "{}", deployer, lambda url, version: None, outcome, role)
    (call,) = deployer.calls
    assert call["role_arn"] == role
    assert {"Key": "model-version", "Value": "m-old"} in call["tags"]
    assert len(call["tags"]) == 3
    assert {"ParameterKey": "DeploymentType", "ParameterValue": "AllAtOnce"} in call["parameters"]


def test_a_template_built_for_another_stage_is_refused() -> None:
    deploy.check_template_stage(deploy_template(), "dev")
    with pytest.raises(DeployError, match=r"built for stage dev, not prod.*make deploy-template STAGE=prod"):
        deploy.check_template_stage(deploy_template(), "prod")


def test_a_template_built_for_another_architecture_is_refused() -> None:
    deploy.check_template_architecture(deploy_template(), "amd64")
    arm = transform(sample(), app_name=APP, stage="dev", options=TemplateOptions(architecture="arm64"))
    deploy.check_template_architecture(arm, "arm64")
    with pytest.raises(DeployError, match=r"runs on arm64 \(built with ARCH=arm64\).*checked for linux/amd64"):
        deploy.check_template_architecture(arm, "amd64")
