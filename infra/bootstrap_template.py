"""The bootstrap stacks: what a release needs in an AWS account before its first `make deploy`, as CloudFormation.

Two templates, generated from infra/iam (the same documents the policy tests and parliament check), so nothing is
created by hand:

- the account's shared stack `<app>-bootstrap`: GitHub's OIDC provider (or none, when the account already has one:
  parameter GitHubOidcProviderArn), the DVC bucket (private, versioned, encrypted, TLS only) and the ECR repository
  (commit tags immutable; the model-version tags `m-*` may move to a newer image of the same model; a lifecycle
  rule that expires only untagged images, so an image any stage or rollback can name by its commit is kept);
- one stack per stage `<app>-bootstrap-<stage>`: every role of infra/iam/roles.json for that stage: the functions'
  execution roles, CodeDeploy's, the CloudFormation execution role the deploy passes as RoleARN, and the GitHub
  role, trusted only by `repo:<owner>/<repo>:environment:<stage>` with audience sts.amazonaws.com.

Tokens of the documents become CloudFormation values: <ACCOUNT_ID> and <REGION> the pseudo parameters, <APP> and
<STAGE> literals, the rest template parameters. The log shipper's search settings (iam.OPTIONAL_TOKENS) default to
empty, and a statement naming one (the API key or basic auth secret, the OpenSearch domain or collection) exists
only when it is set; <SEARCH_REGION> is SearchRegion or, empty, the stack's region.
`python -m infra.bootstrap_template --stage dev --out DIR` writes
DIR/shared.json and DIR/stage-dev.json; `make bootstrap` lints and deploys them (infra.bootstrap).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra import bootstrap_settings, chalice_names, iam

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
MOVABLE_TAGS = "m-*"
"""Tags that may move (the bundle's model version, chalicelib.contract.manifest: m-<hash>); commit tags may not."""
UNTAGGED_EXPIRY_DAYS = 14
NONCURRENT_DVC_VERSION_DAYS = 90
PARAMETER_OF_TOKEN = {
    "GITHUB_REPO": "GitHubRepo",
    "DVC_BUCKET": "DvcBucket",
    **{setting.token: setting.parameter for setting in bootstrap_settings.SETTINGS},
}
SEARCH_REGION_VALUE = "SearchRegionOrStack"
"""The Fn::Sub variable <SEARCH_REGION> becomes: SearchRegion, or the stack's region when it is empty."""
OIDC_PROVIDER_ARN_PATTERN = r"^(arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com)?$"
PSEUDO_OF_TOKEN = {"ACCOUNT_ID": "AWS::AccountId", "REGION": "AWS::Region"}
PARAMETERS: dict[str, dict[str, Any]] = {
    "GitHubRepo": {
        "Type": "String",
        "Description": "owner/name of the GitHub repository whose release jobs assume the stage's GitHub role",
        "AllowedPattern": r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
    },
    "DvcBucket": {
        "Type": "String",
        "Description": "S3 bucket of the DVC remote (models and runs)",
        "AllowedPattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    },
    "EcrRepository": {
        "Type": "String",
        "Description": "ECR repository of the Lambda image",
        "AllowedPattern": r"^[a-z0-9]+([._/-][a-z0-9]+)*$",
    },
    "EsSecretName": {
        "Type": "String",
        "Description": "Name (not ARN) of the Secrets Manager secret holding the shipper's Elasticsearch API key "
        "(empty: the shipper reads none)",
        "AllowedPattern": r"^$|^[A-Za-z0-9_+=,.@/-]+$",
        "Default": "",
    },
    "EsBasicAuthSecretName": {
        "Type": "String",
        "Description": "Name (not ARN) of the secret holding the shipper's OpenSearch basic auth user (empty: none)",
        "AllowedPattern": r"^$|^[A-Za-z0-9_+=,.@/-]+$",
        "Default": "",
    },
    "OpenSearchDomain": {
        "Type": "String",
        "Description": "Amazon OpenSearch Service domain the shipper writes to with SigV4 (es:ESHttpPost; empty: none)",
        "AllowedPattern": r"^$|^[a-z][a-z0-9-]{2,27}$",
        "Default": "",
    },
    "OpenSearchCollectionId": {
        "Type": "String",
        "Description": "OpenSearch Serverless collection id the shipper writes to with SigV4 (aoss:APIAccessAll; "
        "empty: none)",
        "AllowedPattern": r"^$|^[a-z0-9]{3,40}$",
        "Default": "",
    },
    "SearchRegion": {
        "Type": "String",
        "Description": "Region of the OpenSearch domain or collection (empty: this stack's region)",
        "AllowedPattern": r"^$|^[a-z]{2}(-[a-z]+)+-\d$",
        "Default": "",
    },
}
OPTIONAL_PARAMETERS = {token: PARAMETER_OF_TOKEN[token] for token in sorted(iam.OPTIONAL_TOKENS)}
"""Parameters whose statements exist only when they are set (Has<Parameter> conditions); SearchRegion only
chooses a region, so its statements depend on the domain or collection instead."""


def shared_stack_name(app: str) -> str:
    """The account's bootstrap stack (bucket, repository, OIDC provider)."""
    return f"{app}-bootstrap"


def stage_stack_name(app: str, stage: str) -> str:
    """A stage's bootstrap stack (its roles)."""
    return f"{app}-bootstrap-{stage}"


def deploy_stack_name(app: str, stage: str) -> str:
    """The stage's deploy stack (`make deploy`): the one stack its GitHub role may change (deploy-policy.json)."""
    return f"{app}-{stage}"


DEPLOY_STACK_OUTPUT = "DeployStackName"

LOGICAL_IDS = {"cloudformation": "CloudFormationExecutionRole", "deploy": "GitHubRole"}
"""Logical ids (and output names + Arn) of roles.json keys whose CamelCase would not say what the role is."""


def _logical_id(key: str) -> str:
    return LOGICAL_IDS.get(key) or "".join(part.capitalize() for part in re.split(r"[_-]", key)) + "Role"


def to_cloudformation(node: Any, literals: Mapping[str, str]) -> Any:
    """A document of infra/iam with its tokens as CloudFormation values: a string holding a token becomes Fn::Sub
    (literals inline, pseudo parameters and PARAMETER_OF_TOKEN as ${...}); a token with no mapping is an error."""
    if isinstance(node, dict):
        return {key: to_cloudformation(value, literals) for key, value in node.items()}
    if isinstance(node, list):
        return [to_cloudformation(item, literals) for item in node]
    if not isinstance(node, str) or not iam.TOKEN.search(node):
        return node

    def replace(match: re.Match[str]) -> str:
        token = match.group(1)
        if token in literals:
            return literals[token]
        if token in PSEUDO_OF_TOKEN:
            return "${" + PSEUDO_OF_TOKEN[token] + "}"
        if token == "SEARCH_REGION":
            return "${" + SEARCH_REGION_VALUE + "}"
        if token in PARAMETER_OF_TOKEN:
            return "${" + PARAMETER_OF_TOKEN[token] + "}"
        raise iam.RenderError(f"<{token}> has no CloudFormation value: map it in infra/bootstrap_template.py")

    text = iam.TOKEN.sub(replace, node.replace("${", "${!"))
    if not re.search(r"\$\{(?!!)", text):  # only literals: a plain string (cfn-lint W1020)
        return text.replace("${!", "${")
    if "${" + SEARCH_REGION_VALUE + "}" in text:
        region = {"Fn::If": ["HasSearchRegion", {"Ref": "SearchRegion"}, {"Ref": "AWS::Region"}]}
        return {"Fn::Sub": [text, {SEARCH_REGION_VALUE: region}]}
    return {"Fn::Sub": text}


def _condition_of(statement: Any) -> str | None:
    """Has<Parameter> for a statement that names an optional resource (None: it is always there)."""
    parameters = [OPTIONAL_PARAMETERS[t] for t in sorted(iam.tokens_of(statement) & iam.OPTIONAL_TOKENS)]
    parameters = [name for name in parameters if name != "SearchRegion"]
    if len(parameters) > 1:
        raise iam.RenderError(f"statement {statement.get('Sid')} names {parameters}: give it one optional resource")
    return f"Has{parameters[0]}" if parameters else None


def policy_document(name: str, literals: Mapping[str, str]) -> dict[str, Any]:
    """A document of infra/iam as CloudFormation; a statement naming an optional resource is there only when its
    parameter is set (Fn::If with AWS::NoValue)."""
    document = iam.load_document(name)
    statements = []
    for statement in document["Statement"]:
        value = to_cloudformation(statement, literals)
        condition = _condition_of(statement)
        statements.append({"Fn::If": [condition, value, {"Ref": "AWS::NoValue"}]} if condition else value)
    return {**to_cloudformation(document, literals), "Statement": statements}


def _conditions(parameters: list[str]) -> dict[str, Any]:
    return {
        f"Has{name}": {"Fn::Not": [{"Fn::Equals": [{"Ref": name}, ""]}]}
        for name in parameters
        if name in OPTIONAL_PARAMETERS.values()
    }


def _parameters_used(node: Any) -> list[str]:
    text = json.dumps(node)
    return [name for name in PARAMETERS if "${" + name + "}" in text or f'"Ref": "{name}"' in text]


def shared_template(app: str) -> dict[str, Any]:
    """The account's bootstrap template: OIDC provider (unless one is given), DVC bucket, ECR repository."""
    literals = {"APP": app}
    repository_policy = to_cloudformation(iam.load_document(iam.resource_policies()["ecr_repository"]), literals)
    lifecycle = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"untagged images after {UNTAGGED_EXPIRY_DAYS} days (every pushed image keeps its "
                "immutable commit tag, so no image a stage or a rollback can name is ever expired)",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": UNTAGGED_EXPIRY_DAYS,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    bucket_arn = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DvcBucket}"}
    resources: dict[str, Any] = {
        "GitHubOidcProvider": {
            "Type": "AWS::IAM::OIDCProvider",
            "Condition": "CreateOidcProvider",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"Url": GITHUB_OIDC_URL, "ClientIdList": [GITHUB_AUDIENCE]},
        },
        "DvcBucketResource": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": {"Ref": "DvcBucket"},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
                    ]
                },
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "old-versions",
                            "Status": "Enabled",
                            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DVC_VERSION_DAYS},
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        }
                    ]
                },
            },
        },
        "DvcBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "DvcBucketResource"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket_arn, {"Fn::Sub": "arn:${AWS::Partition}:s3:::${DvcBucket}/*"}],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
        "EcrRepositoryResource": {
            "Type": "AWS::ECR::Repository",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "RepositoryName": {"Ref": "EcrRepository"},
                "ImageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                "ImageTagMutabilityExclusionFilters": [
                    {
                        "ImageTagMutabilityExclusionFilterType": "WILDCARD",
                        "ImageTagMutabilityExclusionFilterValue": MOVABLE_TAGS,
                    }
                ],
                "ImageScanningConfiguration": {"ScanOnPush": True},
                "EncryptionConfiguration": {"EncryptionType": "AES256"},
                "LifecyclePolicy": {"LifecyclePolicyText": json.dumps(lifecycle, separators=(",", ":"))},
                "RepositoryPolicyText": repository_policy,
            },
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{app}: the account's release prerequisites (GitHub OIDC provider, DVC bucket, ECR repository)",
        "Parameters": {
            "GitHubOidcProviderArn": {
                "Type": "String",
                "Default": "",
                "Description": "ARN of the account's existing token.actions.githubusercontent.com provider; empty: "
                "this stack creates it (an account has at most one per URL)",
                "AllowedPattern": OIDC_PROVIDER_ARN_PATTERN,
            },
            "DvcBucket": PARAMETERS["DvcBucket"],
            "EcrRepository": PARAMETERS["EcrRepository"],
        },
        "Conditions": {"CreateOidcProvider": {"Fn::Equals": [{"Ref": "GitHubOidcProviderArn"}, ""]}},
        "Resources": resources,
        "Outputs": {
            "GitHubOidcProviderArn": {
                "Description": "GitHub's OIDC provider (created here or given)",
                "Value": {
                    "Fn::If": ["CreateOidcProvider", {"Ref": "GitHubOidcProvider"}, {"Ref": "GitHubOidcProviderArn"}]
                },
            },
            "DvcBucket": {"Description": "make remote-s3 BUCKET=...", "Value": {"Ref": "DvcBucketResource"}},
            "EcrRepository": {"Description": "make push REPOSITORY=...", "Value": {"Ref": "EcrRepositoryResource"}},
            "EcrRepositoryUri": {"Value": {"Fn::GetAtt": ["EcrRepositoryResource", "RepositoryUri"]}},
        },
    }


def stage_template(app: str, stage: str) -> dict[str, Any]:
    """A stage's bootstrap template: every role of infra/iam/roles.json, named and documented as there."""
    literals = {"APP": app, "STAGE": stage}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for role in iam.roles():
        policies = [{"PolicyName": to_cloudformation(role.name, literals), "PolicyDocument": role.policy}]
        policies += [
            {"PolicyName": extra.name, "PolicyDocument": extra.document}
            for extra in role.extra_policies
            if stage in extra.stages
        ]
        logical_id = _logical_id(role.key)
        resources[logical_id] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": iam.render(role.name, literals),
                "Description": role.description,
                "AssumeRolePolicyDocument": to_cloudformation(iam.load_document(role.trust), literals),
                "Policies": [
                    {"PolicyName": p["PolicyName"], "PolicyDocument": policy_document(p["PolicyDocument"], literals)}
                    for p in policies
                ],
                "Tags": [{"Key": "project", "Value": app}, {"Key": "stage", "Value": stage}],
            },
        }
        outputs[f"{logical_id}Arn"] = {"Description": role.description, "Value": {"Fn::GetAtt": [logical_id, "Arn"]}}
    outputs["GitHubRoleArn"]["Description"] = f"GitHub environment {stage}: its variable AWS_DEPLOY_ROLE_ARN"
    outputs[DEPLOY_STACK_OUTPUT] = {
        "Description": "the stack `make deploy` may create and update with these roles (infra.bootstrap_match)",
        "Value": deploy_stack_name(app, stage),
    }
    used = _parameters_used(resources)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{app} ({stage}): the stage's roles (functions, CodeDeploy, CloudFormation, GitHub)",
        "Parameters": {name: PARAMETERS[name] for name in used},
        "Conditions": _conditions(used),
        "Resources": resources,
        "Outputs": outputs,
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: write the shared and the stage's bootstrap templates into --out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        app = chalice_names.stage_names(args.stage).app_name
        templates = {"shared.json": shared_template(app), f"stage-{args.stage}.json": stage_template(app, args.stage)}
    except (iam.RenderError, chalice_names.ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, template in templates.items():
        (args.out / name).write_text(json.dumps(template, indent=2) + "\n")
    print(f"wrote {', '.join(str(args.out / name) for name in templates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
