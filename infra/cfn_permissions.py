"""The permissions CloudFormation needs to deploy a template, from the resource-provider schemas cfn-lint ships.

Every CloudFormation resource type has a provider schema whose `handlers` list, per operation, the IAM actions its
handler calls (and `tagging.permissions` the actions that apply stack tags). When a stack is deployed with a
RoleARN, CloudFormation acts as that role, so the role needs the create, update and delete permissions of every
resource type the (SAM-expanded) template declares. This module:

- expands the deploy template with the SAM translator (what the AWS::Serverless-2016-10-31 transform runs), since
  the types CloudFormation handles are those of the expansion (Lambda versions and aliases, CodeDeploy groups...);
- collects the handlers' permissions from cfn-lint's schemas (cfnlint/data/schemas);
- drops the actions a handler needs only for a property the template never sets (NARROWED, each with the property
  and its reason; the narrowing lapses as soon as any resource of that type sets the property);
- adds what AWS documents beyond the schemas (EXTRA: Lambda pulls an image with the creator's ECR rights);
- reports which needed actions a policy document does not allow.

    python -m infra.cfn_permissions artifacts/deploy/dev/template.json --stage dev   # exit 1 when the role lacks some

moto enforces none of this, so the schemas, not a stand-in, are the reference.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

from infra import iam, iam_lint

SCHEMAS = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
HANDLERS = ("create", "update", "delete")
"""The handlers a stack create, update, rollback and delete run (read/list serve drift detection and import)."""
EXECUTION_ROLE = "cloudformation"
"""The role of infra/iam/roles.json that CloudFormation acts as."""


class PermissionsError(ValueError):
    """A resource type without a schema, or a policy this module cannot read."""


@dataclass(frozen=True)
class Narrowed:
    """Actions of a type's handlers that only a property the template never sets needs."""

    resource_type: str
    actions: tuple[str, ...]
    properties: tuple[str, ...]
    """Dotted property paths (Code.S3Bucket); any of them set on any resource of the type voids the narrowing."""
    reason: str


@dataclass(frozen=True)
class Extra:
    """An action AWS documents as needed for a type (with a property value) that its schema does not list."""

    resource_type: str
    actions: tuple[str, ...]
    when: tuple[str, Any]
    """(dotted property, value): needed when a resource of the type sets it so."""
    reason: str


NARROWED: tuple[Narrowed, ...] = (
    Narrowed(
        "AWS::Lambda::Function",
        ("ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces"),
        ("VpcConfig",),
        "the functions run outside any VPC: no security groups, subnets or network interfaces to look up",
    ),
    Narrowed(
        "AWS::Lambda::Function",
        ("elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets"),
        ("FileSystemConfigs",),
        "no file system is mounted (the model is inside the image)",
    ),
    Narrowed(
        "AWS::Lambda::Function",
        ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
        ("KmsKeyArn",),
        "environment variables use Lambda's own key, not a customer-managed KMS key",
    ),
    Narrowed(
        "AWS::Lambda::Function",
        ("s3:GetObject", "s3:GetObjectVersion"),
        ("Code.S3Bucket", "Code.S3Key"),
        "the code is an ECR image (Code.ImageUri), not a zip in S3",
    ),
    Narrowed(
        "AWS::Lambda::Function",
        ("lambda:GetLayerVersion",),
        ("Layers",),
        "no function has layers (the image carries its dependencies; the hook needs only the runtime's boto3)",
    ),
    Narrowed(
        "AWS::Lambda::Function",
        (
            "lambda:GetCodeSigningConfig",
            "lambda:PutFunctionCodeSigningConfig",
            "lambda:DeleteFunctionCodeSigningConfig",
        ),
        ("CodeSigningConfigArn",),
        "no code signing configuration (only the hook is a zip, and its code is the template's own inline source)",
    ),
    Narrowed(
        "AWS::Lambda::Function",
        ("lambda:PutRuntimeManagementConfig",),
        ("RuntimeManagementConfig",),
        "no function pins its managed runtime version (images bring theirs; the hook follows python3.12's updates)",
    ),
    Narrowed(
        "AWS::Lambda::Function",
        ("lambda:PutFunctionScalingConfig", "lambda:PassCapacityProvider", "lambda:AssociateRuntimeAlias"),
        ("CapacityProviderConfig", "FunctionScalingConfig"),
        "the functions run on Lambda's default (on-demand) capacity, not on a capacity provider",
    ),
    Narrowed(
        "AWS::Lambda::Version",
        ("lambda:PutRuntimeManagementConfig",),
        ("RuntimePolicy",),
        "versions keep their function's (image) runtime",
    ),
    Narrowed(
        "AWS::Lambda::Version",
        ("lambda:PutFunctionScalingConfig",),
        ("FunctionScalingConfig",),
        "no capacity-provider scaling on versions",
    ),
    Narrowed(
        "AWS::Lambda::Version",
        ("lambda:PutProvisionedConcurrencyConfig",),
        ("ProvisionedConcurrencyConfig",),
        "no provisioned concurrency (cost: the canary and the traffic do not need warm instances)",
    ),
    Narrowed(
        "AWS::Lambda::Alias",
        ("lambda:PutProvisionedConcurrencyConfig",),
        ("ProvisionedConcurrencyConfig",),
        "no provisioned concurrency on the alias either",
    ),
    Narrowed(
        "AWS::ApiGateway::RestApi",
        ("apigateway:UpdateRestApiPolicy",),
        ("Policy",),
        "the REST API has no resource policy (access is the auth setting of conf/deploy.yaml)",
    ),
    Narrowed(
        "AWS::ApiGateway::RestApi",
        ("s3:GetObject",),
        ("BodyS3Location",),
        "the OpenAPI body is inline in the template, not read from S3",
    ),
    Narrowed(
        "AWS::SNS::Topic",
        ("iam:GetRole",),
        ("DeliveryStatusLogging",),
        "the alarm topic logs no delivery status, so there is no feedback role to look up",
    ),
    Narrowed(
        "AWS::SNS::Subscription",
        ("iam:GetRole",),
        ("SubscriptionRoleArn",),
        "the only subscription is e-mail; a subscription role exists for Firehose endpoints only",
    ),
    Narrowed(
        "AWS::CodeDeploy::DeploymentGroup",
        ("codedeploy:RegisterOnPremisesInstance",),
        ("OnPremisesInstanceTagFilters", "OnPremisesTagSet"),
        "Lambda deployment groups have no on-premises instances",
    ),
)
EXTRA: tuple[Extra, ...] = (
    Extra(
        "AWS::Lambda::Function",
        ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
        ("PackageType", "Image"),
        "Lambda's container-image docs: the principal that creates or updates an image function needs these on the "
        "repository (the schema omits them)",
    ),
)


@cache
def _providers(region: str) -> dict[str, str]:
    path = SCHEMAS / "providers" / f"{region}.json"
    if not path.is_file():
        raise PermissionsError(f"cfn-lint has no resource schemas for region {region!r} ({path})")
    return dict(json.loads(path.read_text()))


@cache
def schema(resource_type: str, region: str = "us-east-1") -> dict[str, Any]:
    """The provider schema of a resource type, as cfn-lint ships it for the region."""
    key = _providers(region).get(resource_type)
    if key is None:
        raise PermissionsError(
            f"{resource_type} has no provider schema in cfn-lint's {region} data: is it a SAM type (expand the "
            "template first) or a custom resource?"
        )
    return dict(json.loads((SCHEMAS / "resources" / f"{key}.json").read_text()))


def handler_permissions(resource_type: str, region: str = "us-east-1") -> set[str]:
    """The create, update and delete handlers' permissions, plus the tagging ones when the type is taggable."""
    data = schema(resource_type, region)
    actions = {a for h in HANDLERS for a in data.get("handlers", {}).get(h, {}).get("permissions", [])}
    tagging = data.get("tagging", {})
    if tagging.get("taggable", False):
        actions |= set(tagging.get("permissions", []))
    return actions


def expand(template: Mapping[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """Plain CloudFormation of a SAM template (unchanged when it has no transform), as the transform produces it.

    Parameters without a default get a placeholder: they change values, never which resources exist."""
    if "Transform" not in template:
        return dict(template)
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    values = {name: spec.get("Default", f"placeholder-{name}") for name, spec in template.get("Parameters", {}).items()}
    values |= {"AWS::Region": region, "AWS::Partition": "aws"}
    # No AWS call: the session only names the region; managed policies are looked up only for a function's
    # `Policies`, which the deploy template's functions have none of.
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name=region))
    return dict(translator.translate(copy.deepcopy(dict(template)), parameter_values=values))


def _is_set(properties: Mapping[str, Any], dotted: str) -> bool:
    node: Any = properties
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _value(properties: Mapping[str, Any], dotted: str) -> Any:
    node: Any = properties
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def properties_by_type(template: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """Resource type → the Properties of each resource of that type."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if not isinstance(resource, Mapping) or not isinstance(resource.get("Type"), str):
            raise PermissionsError(f"resource {logical_id} has no Type")
        found.setdefault(resource["Type"], []).append(resource.get("Properties") or {})
    return found


def narrowings_that_apply(template: Mapping[str, Any]) -> list[Narrowed]:
    """The NARROWED entries whose types occur in the (expanded) template with none of their properties set."""
    types = properties_by_type(template)
    return [
        n
        for n in NARROWED
        if n.resource_type in types
        and not any(_is_set(props, p) for props in types[n.resource_type] for p in n.properties)
    ]


def needed_actions(template: Mapping[str, Any], region: str = "us-east-1") -> dict[str, set[str]]:
    """Action → the resource types that need it, for an expanded template (after NARROWED, with EXTRA)."""
    types = properties_by_type(template)
    needed: dict[str, set[str]] = {}
    for resource_type in types:
        if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
            raise PermissionsError(f"{resource_type}: a custom resource runs its own code; its rights are not here")
        for action in handler_permissions(resource_type, region):
            needed.setdefault(action, set()).add(resource_type)
    for narrowed in narrowings_that_apply(template):
        for action in narrowed.actions:
            needed.get(action, set()).discard(narrowed.resource_type)
    for extra in EXTRA:
        key, value = extra.when
        if any(_value(props, key) == value for props in types.get(extra.resource_type, [])):
            for action in extra.actions:
                needed.setdefault(action, set()).add(extra.resource_type)
    return {action: users for action, users in needed.items() if users}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed_actions(policy: Mapping[str, Any]) -> list[str]:
    """The Action patterns of the policy's Allow statements (Deny and NotAction are refused: not modelled here)."""
    patterns = []
    for statement in _as_list(policy.get("Statement", [])):
        if "NotAction" in statement or statement.get("Effect") == "Deny":
            raise PermissionsError("the execution policy uses Deny or NotAction, which this check does not model")
        patterns += [str(a) for a in _as_list(statement.get("Action", []))]
    return patterns


def missing(policy: Mapping[str, Any], needed: Iterable[str]) -> list[str]:
    """The needed actions no Allow statement of the policy names (IAM's wildcards, case-insensitive)."""
    patterns = [p.lower() for p in allowed_actions(policy)]
    return sorted(a for a in needed if not any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns))


def execution_policy(stage: str) -> dict[str, Any]:
    """The execution role's policy of infra/iam, rendered with example values (actions do not depend on them)."""
    (role,) = [r for r in iam.roles() if r.key == EXECUTION_ROLE]
    values = {**iam.stage_values(stage), **iam_lint.EXAMPLE_VALUES}
    document: dict[str, Any] = iam.render(iam.load_document(role.policy), values)
    return document


def check(template: Mapping[str, Any], policy: Mapping[str, Any], region: str = "us-east-1") -> dict[str, set[str]]:
    """Needed actions the policy lacks → the resource types that need them (empty: the policy covers it)."""
    needed = needed_actions(expand(template, region), region)
    return {action: needed[action] for action in missing(policy, needed)}


def main(argv: list[str] | None = None) -> int:
    """CLI: check the stage's execution role against a deploy template; exit 1 when it lacks an action."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", type=Path, help="the deploy template (infra.deploy_template's output)")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", default="us-east-1", help="whose schemas to read (types differ by region)")
    args = parser.parse_args(argv)
    try:
        template = json.loads(args.template.read_text())
        gaps = check(template, execution_policy(args.stage), args.region)
    except FileNotFoundError:
        print(f"error: {args.template} not found: run `make deploy` (or infra.deploy_template) first", file=sys.stderr)
        return 2
    except (json.JSONDecodeError, PermissionsError, iam.RenderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if gaps:
        print(
            f"the {EXECUTION_ROLE} role of stage {args.stage} lacks what CloudFormation needs for this template; add "
            f"to infra/iam/cloudformation-execution-policy.json (or narrow in infra/cfn_permissions.py, with a reason):"
        )
        for action, types in sorted(gaps.items()):
            print(f"  {action}  ({', '.join(sorted(types))})")
        return 1
    print(f"the {EXECUTION_ROLE} role of stage {args.stage} covers every resource type of {args.template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
