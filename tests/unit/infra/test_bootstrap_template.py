"""infra.bootstrap_template: the account's and each stage's bootstrap stacks, generated from infra/iam.

Checked here: the GitHub roles' trust (exactly one environment of one repository, audience sts.amazonaws.com), the
roles carry infra/iam's documents unchanged, the ECR repository's tag rules and lifecycle (nothing a stage or a
rollback can name is expired), and cfn-lint (the pinned one in .venv) passes on both templates. What CloudFormation
makes of them is tests/integration/test_bootstrap.py (moto).
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import bootstrap_template, iam
from infra.bootstrap_template import shared_template, stage_template, to_cloudformation
from tests.support import cfn_resolve
from tests.support.chalice_sam import APP

ACCOUNT, REGION = "123456789012", "eu-west-1"
PARAMETERS = {
    "GitHubRepo": "acme/cola",
    "DvcBucket": "acme-dvc",
    "EcrRepository": "cola-acceptability",
    "EsSecretName": "cola-es",
}
"""Stage stack parameters as an Elasticsearch user passes them (the search ones not given take their defaults)."""
OPENSEARCH = {
    "GitHubRepo": "acme/cola",
    "DvcBucket": "acme-dvc",
    "EcrRepository": "cola-acceptability",
    "EsBasicAuthSecretName": "cola-search-user",
    "OpenSearchDomain": "cola-logs",
    "OpenSearchCollectionId": "k2xq7a9b3c",
    "SearchRegion": "us-west-2",
}
CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def resolve(node: Any, parameters: dict[str, str] | None = None) -> Any:
    """What CloudFormation makes of a node of the dev stage template (PARAMETERS unless others are given)."""
    pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws"}
    return cfn_resolve.resolve(
        node, stage_template(APP, "dev"), PARAMETERS if parameters is None else parameters, pseudo
    )


def roles_of(stage: str, parameters: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """RoleName → the resolved properties of each role of the stage's template."""
    resources = stage_template(APP, stage)["Resources"]
    return {r["Properties"]["RoleName"]: resolve(r["Properties"], parameters) for r in resources.values()}


def rendered(name: str, stage: str, **search: str) -> Any:
    values = {"APP": APP, "STAGE": stage, "ACCOUNT_ID": ACCOUNT, "REGION": REGION, "GITHUB_REPO": "acme/cola"}
    values |= {"DVC_BUCKET": "acme-dvc", "ECR_REPOSITORY": "cola-acceptability"}
    values |= search or {"ES_SECRET_NAME": "cola-es"}
    return iam.render(iam.without_unset(iam.load_document(name), values), values)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_github_role_trusts_exactly_one_environment_of_one_repository(stage: str) -> None:
    trust = roles_of(stage)[f"{APP}-{stage}-deploy"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    }
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:acme/cola:environment:{stage}",
        }
    }


OPENSEARCH_TOKENS = {
    "ES_BASIC_AUTH_SECRET_NAME": "cola-search-user",
    "OPENSEARCH_DOMAIN": "cola-logs",
    "OPENSEARCH_COLLECTION_ID": "k2xq7a9b3c",
    "SEARCH_REGION": "us-west-2",
}


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("backend", ["elasticsearch", "opensearch"])
def test_every_role_of_infra_iam_is_created_with_its_documents(stage: str, backend: str) -> None:
    parameters, search = (PARAMETERS, {}) if backend == "elasticsearch" else (OPENSEARCH, OPENSEARCH_TOKENS)
    roles = roles_of(stage, parameters)
    assert set(roles) == {iam.render(r.name, {"APP": APP, "STAGE": stage}) for r in iam.roles()}
    for role in iam.roles():
        props = roles[iam.render(role.name, {"APP": APP, "STAGE": stage})]
        assert props["AssumeRolePolicyDocument"] == rendered(role.trust, stage)
        policies = {p["PolicyName"]: p["PolicyDocument"] for p in props["Policies"]}
        expected = {iam.render(role.name, {"APP": APP, "STAGE": stage}): rendered(role.policy, stage, **search)}
        expected |= {e.name: rendered(e.document, stage) for e in role.extra_policies if stage in e.stages}
        assert policies == expected, role.key


def shipper_statements(parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    (policy,) = roles_of("dev", parameters)[f"{APP}-dev-ship-logs"]["Policies"]
    return {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}


def test_an_elasticsearch_shipper_may_read_its_api_key_and_reach_no_opensearch() -> None:
    statements = shipper_statements(PARAMETERS)
    assert set(statements) == {"WriteOwnLogs", "ReadElasticsearchApiKey", "DeadLetterQueue"}
    assert statements["ReadElasticsearchApiKey"]["Resource"] == (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cola-es-??????"
    )


def test_an_opensearch_shipper_may_write_to_the_named_domain_and_collection_and_read_its_user() -> None:
    statements = shipper_statements(OPENSEARCH)
    assert "ReadElasticsearchApiKey" not in statements
    assert statements["WriteOpenSearchDomain"]["Action"] == "es:ESHttpPost"  # the shipper only calls POST /_bulk
    assert statements["WriteOpenSearchDomain"]["Resource"] == f"arn:aws:es:us-west-2:{ACCOUNT}:domain/cola-logs/*"
    assert statements["WriteOpenSearchServerless"]["Action"] == "aoss:APIAccessAll"
    assert statements["WriteOpenSearchServerless"]["Resource"] == (
        f"arn:aws:aoss:us-west-2:{ACCOUNT}:collection/k2xq7a9b3c"
    )
    assert statements["ReadSearchBasicAuth"]["Resource"] == (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cola-search-user-??????"
    )


def test_the_search_region_defaults_to_the_stacks_and_only_the_named_kind_is_granted() -> None:
    statements = shipper_statements({**PARAMETERS, "EsSecretName": "", "OpenSearchDomain": "cola-logs"})
    assert set(statements) == {"WriteOwnLogs", "WriteOpenSearchDomain", "DeadLetterQueue"}
    assert statements["WriteOpenSearchDomain"]["Resource"] == f"arn:aws:es:{REGION}:{ACCOUNT}:domain/cola-logs/*"


def test_each_search_resource_is_an_optional_parameter_with_its_condition() -> None:
    template = stage_template(APP, "dev")
    for name in ("EsSecretName", "EsBasicAuthSecretName", "OpenSearchDomain", "OpenSearchCollectionId", "SearchRegion"):
        assert template["Parameters"][name]["Default"] == ""
        assert re.fullmatch(template["Parameters"][name]["AllowedPattern"], "")
        assert template["Conditions"][f"Has{name}"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]}
    assert not re.fullmatch(template["Parameters"]["OpenSearchDomain"]["AllowedPattern"], "*")


def test_only_the_dev_github_role_may_push_images() -> None:
    dev = {p["PolicyName"] for p in roles_of("dev")[f"{APP}-dev-deploy"]["Policies"]}
    prod = {p["PolicyName"] for p in roles_of("prod")[f"{APP}-prod-deploy"]["Policies"]}
    assert dev == {f"{APP}-dev-deploy", "ecr-push"}
    assert prod == {f"{APP}-prod-deploy"}


def test_cloudformation_may_assume_the_execution_role_and_nobody_else() -> None:
    (statement,) = roles_of("dev")[f"{APP}-dev-cloudformation"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"


def test_outputs_name_what_github_and_make_need() -> None:
    stage = stage_template(APP, "dev")["Outputs"]
    assert stage["GitHubRoleArn"]["Value"] == {"Fn::GetAtt": ["GitHubRole", "Arn"]}
    assert "CloudFormationExecutionRoleArn" in stage
    shared = shared_template(APP)["Outputs"]
    assert {"GitHubOidcProviderArn", "DvcBucket", "EcrRepository", "EcrRepositoryUri"} <= set(shared)


def test_the_oidc_provider_is_created_only_when_no_arn_is_given() -> None:
    template = shared_template(APP)
    provider = template["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"] == {
        "Url": "https://token.actions.githubusercontent.com",
        "ClientIdList": ["sts.amazonaws.com"],
    }
    assert template["Conditions"]["CreateOidcProvider"] == {"Fn::Equals": [{"Ref": "GitHubOidcProviderArn"}, ""]}
    pattern = template["Parameters"]["GitHubOidcProviderArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com")
    assert not re.fullmatch(pattern, f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com")


def repository() -> dict[str, Any]:
    props: dict[str, Any] = shared_template(APP)["Resources"]["EcrRepositoryResource"]["Properties"]
    return props


def test_commit_tags_are_immutable_and_only_model_version_tags_move() -> None:
    props = repository()
    assert props["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    (exclusion,) = props["ImageTagMutabilityExclusionFilters"]
    movable = exclusion["ImageTagMutabilityExclusionFilterValue"]
    assert fnmatch.fnmatchcase("m-0123456789ab", movable)  # chalicelib.contract.manifest's model_version
    assert not fnmatch.fnmatchcase("0f3c2a9e1d7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a", movable)  # a commit (infra.push)
    assert not fnmatch.fnmatchcase("0f3c2a9e1d7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a-dirty", movable)


def test_the_lifecycle_expires_only_untagged_images() -> None:
    """Every pushed image keeps its immutable commit tag, so an image a stack version (or a rollback to it) names by
    digest is never untagged and never expired; what expires is what no tag names (failed or replaced pushes)."""
    rules = json.loads(repository()["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rules
    assert all(rule["selection"]["tagStatus"] == "untagged" for rule in rules), rules
    assert all(rule["action"] == {"type": "expire"} for rule in rules)


def test_bucket_and_repository_survive_a_stack_deletion() -> None:
    resources = shared_template(APP)["Resources"]
    for logical_id in ("DvcBucketResource", "EcrRepositoryResource", "GitHubOidcProvider"):
        assert resources[logical_id]["DeletionPolicy"] == "Retain", logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] == "Retain", logical_id


def test_the_dvc_bucket_is_private_versioned_encrypted_and_tls_only() -> None:
    resources = shared_template(APP)["Resources"]
    props = resources["DvcBucketResource"]["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (deny,) = resources["DvcBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


NAME_NO_RESOURCE = {
    "ecr:GetAuthorizationToken",
    "codedeploy:StopDeployment",
    "codedeploy:PutLifecycleEventHookExecutionStatus",
    "sns:Unsubscribe",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
}
"""IAM actions with no resource type: Resource "*" is the only way to grant them."""


def test_no_role_gets_any_resource_but_for_actions_that_name_none() -> None:
    for stage in ("dev", "prod"):
        for name, props in roles_of(stage).items():
            for policy in props["Policies"]:
                for statement in policy["PolicyDocument"]["Statement"]:
                    resources = (
                        statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    )
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    if "*" in resources:
                        assert set(actions) <= NAME_NO_RESOURCE, name


def test_tokens_become_parameters_pseudo_parameters_or_literals() -> None:
    literals = {"APP": APP, "STAGE": "dev"}
    assert to_cloudformation("arn:aws:s3:::<DVC_BUCKET>/*", literals) == {"Fn::Sub": "arn:aws:s3:::${DvcBucket}/*"}
    assert to_cloudformation("<APP>-<STAGE>-api", literals) == f"{APP}-dev-api"
    assert to_cloudformation("${aws:username}-<ACCOUNT_ID>", literals) == {
        "Fn::Sub": "${!aws:username}-${AWS::AccountId}"
    }
    with pytest.raises(iam.RenderError, match="<NEW_TOKEN> has no CloudFormation value"):
        to_cloudformation("<NEW_TOKEN>", literals)


def test_cli_writes_both_templates_and_refuses_an_unknown_stage(tmp_path: Path) -> None:
    assert bootstrap_template.main(["--stage", "prod", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.json", "stage-prod.json"]
    assert bootstrap_template.main(["--stage", "staging", "--out", str(tmp_path / "x")]) == 2


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_passes_on_both_templates(tmp_path: Path, stage: str) -> None:
    assert bootstrap_template.main(["--stage", stage, "--out", str(tmp_path)]) == 0
    for name in ("shared.json", f"stage-{stage}.json"):
        result = lint(tmp_path / name)
        assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_bootstrap_template(tmp_path: Path) -> None:
    template = shared_template(APP)
    template["Resources"]["EcrRepositoryResource"]["Properties"]["ImageTagMutability"] = "SOMETIMES"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(template))
    result = lint(path)
    assert result.returncode != 0
    assert "SOMETIMES" in result.stdout
