"""infra.cfn_permissions: what CloudFormation needs, read from the resource-provider schemas cfn-lint ships, and the
stage's execution role (infra/iam/cloudformation-execution-policy.json) holding all of it.

moto enforces no permissions, so the reference is the schemas: each resource type's create/update/delete handler
permissions (and its tagging permissions), for the types the SAM translator expands the generated deploy template
into, for every stage and every API auth mode conf/deploy.yaml may choose.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra import cfn_permissions
from infra.cfn_permissions import NARROWED, check, execution_policy, expand, needed_actions
from infra.deploy_template import AUTH_MODES, TemplateOptions, stage_limits, transform
from tests.support.chalice_sam import APP, sample

STAGES = ("dev", "prod")


def deploy_template(stage: str = "dev", auth: str | None = None) -> dict[str, Any]:
    limits = stage_limits(stage)
    if auth:
        limits["auth"] = auth
    return transform(sample(), app_name=APP, stage=stage, options=TemplateOptions(**limits))


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """The policy with one action removed from every statement (statements left empty are dropped)."""
    edited = copy.deepcopy(policy)
    kept = []
    for statement in edited["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != action]
        if statement["Action"]:
            kept.append(statement)
    edited["Statement"] = kept
    return edited


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("auth", AUTH_MODES)
def test_the_execution_role_holds_every_permission_the_generated_template_needs(stage: str, auth: str) -> None:
    assert check(deploy_template(stage, auth), execution_policy(stage)) == {}


def test_the_needed_set_comes_from_the_expanded_template() -> None:
    """SAM's expansion, not the SAM types: versions, aliases and CodeDeploy groups are what CloudFormation handles."""
    expanded = expand(deploy_template())
    types = {r["Type"] for r in expanded["Resources"].values()}
    assert {"AWS::Lambda::Version", "AWS::Lambda::Alias", "AWS::CodeDeploy::DeploymentGroup"} <= types
    assert not [t for t in types if t.startswith("AWS::Serverless::")]
    needed = needed_actions(expanded)
    assert needed["codedeploy:StopDeployment"] == {"AWS::Lambda::Alias", "AWS::CodeDeploy::DeploymentGroup"}
    assert needed["sqs:GetQueueUrl"] == {"AWS::SQS::Queue"}
    assert "lambda:PutFunctionRecursionConfig" in needed
    assert "lambda:ListTags" in needed  # stack tags reach every taggable resource: its tagging permissions


@pytest.mark.parametrize(
    "action", ["sqs:GetQueueUrl", "codedeploy:StopDeployment", "lambda:GetFunctionRecursionConfig", "ecr:BatchGetImage"]
)
def test_a_role_missing_one_needed_action_fails_the_check(action: str) -> None:
    policy = without(execution_policy("dev"), action)
    gaps = check(deploy_template(), policy)
    assert list(gaps) == [action]


def test_a_wildcard_in_the_policy_covers_what_it_matches() -> None:
    policy = without(execution_policy("dev"), "sqs:GetQueueUrl")
    policy["Statement"].append({"Effect": "Allow", "Action": "sqs:Get*", "Resource": "arn:aws:sqs:*:*:x"})
    assert check(deploy_template(), policy) == {}


def test_image_functions_need_the_ecr_pull_rights_the_schema_omits() -> None:
    needed = needed_actions(expand(deploy_template()))
    assert needed["ecr:BatchGetImage"] == {"AWS::Lambda::Function"}
    assert "ecr:BatchGetImage" not in cfn_permissions.handler_permissions("AWS::Lambda::Function")


def test_a_narrowing_lapses_when_the_template_sets_its_property() -> None:
    """VPC lookups are left out only because no function sets VpcConfig: set it and they are needed again."""
    template = deploy_template()
    template["Resources"]["ShipLogs"]["Properties"]["VpcConfig"] = {
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
        "SubnetIds": ["subnet-0123456789abcdef0"],
    }
    gaps = check(template, execution_policy("dev"))
    assert "ec2:DescribeSubnets" in gaps
    assert gaps["ec2:DescribeSubnets"] == {"AWS::Lambda::Function"}


def test_every_narrowing_is_used_and_names_real_actions_and_properties() -> None:
    """A narrowing whose type is gone, whose actions its schema no longer lists, or whose property the type does not
    have is stale: it would hide nothing or hide the wrong thing."""
    expanded = expand(deploy_template())
    applied = cfn_permissions.narrowings_that_apply(expanded)
    for narrowed in NARROWED:
        assert narrowed in applied, narrowed
        permissions = cfn_permissions.handler_permissions(narrowed.resource_type)
        assert set(narrowed.actions) <= permissions, narrowed
        declared = cfn_permissions.schema(narrowed.resource_type)["properties"]
        assert all(p.split(".")[0] in declared for p in narrowed.properties), narrowed
        assert narrowed.reason


def test_no_narrowing_hides_an_action_the_role_holds_anyway() -> None:
    """The narrowed actions are really absent from the role (otherwise the reason written down is not the truth)."""
    policy = execution_policy("dev")
    narrowed = {a for n in NARROWED for a in n.actions}
    assert sorted(narrowed) == cfn_permissions.missing(policy, narrowed)


def test_a_custom_resource_is_refused_with_the_reason() -> None:
    template = deploy_template()
    template["Resources"]["Seed"] = {"Type": "Custom::Seed", "Properties": {"ServiceToken": "arn:aws:lambda:x"}}
    with pytest.raises(cfn_permissions.PermissionsError, match="custom resource"):
        check(template, execution_policy("dev"))


def test_cli_passes_on_the_generated_template_and_lists_gaps_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(deploy_template()))
    assert cfn_permissions.main([str(path), "--stage", "dev"]) == 0
    lacking = without(execution_policy("dev"), "codedeploy:StopDeployment")
    monkeypatch.setattr(cfn_permissions, "execution_policy", lambda stage: lacking)
    assert cfn_permissions.main([str(path), "--stage", "dev"]) == 1
    out = capsys.readouterr().out
    assert "codedeploy:StopDeployment  (AWS::CodeDeploy::DeploymentGroup, AWS::Lambda::Alias)" in out
    assert cfn_permissions.main([str(tmp_path / "missing.json"), "--stage", "dev"]) == 2
