"""Deploy the bootstrap stacks (infra.bootstrap_template) and print what GitHub's environments need.

`make bootstrap STAGE=dev GITHUB_REPO=owner/name DVC_BUCKET=... ES_SECRET_NAME=...` (or, for OpenSearch,
OPENSEARCH_DOMAIN= / OPENSEARCH_COLLECTION_ID= and ES_BASIC_AUTH_SECRET_NAME=) writes and lints the templates,
then runs this module, as an administrator of the account (it creates IAM roles: CAPABILITY_NAMED_IAM):

1. the shared stack `<app>-bootstrap` (create, or update: a second stage or a rerun changes nothing). GitHub's OIDC
   provider exists once per account: when the account has one this stack did not create, pass its ARN
   (OIDC_PROVIDER_ARN=); without it this refuses before creating anything, naming the ARN to pass. An update keeps
   the value the stack was created with;
2. the stage's stack `<app>-bootstrap-<stage>` with its roles;
3. the outputs (role ARNs, bucket, repository) printed with the `gh variable set` commands, and written to --record.

Safe to rerun: both stacks are created or updated, never replaced; bucket and repository are retained on delete.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra import aws_errors, chalice_names, deploy, iam
from infra.bootstrap_settings import SETTINGS, Grants
from infra.bootstrap_template import GITHUB_OIDC_URL, OIDC_PROVIDER_ARN_PATTERN, shared_stack_name, stage_stack_name

CAPABILITIES = ("CAPABILITY_NAMED_IAM",)
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
OIDC_PARAMETER = "GitHubOidcProviderArn"


class BootstrapError(Exception):
    """A bootstrap that cannot start or did not finish; str() says what to do."""


@dataclass(frozen=True)
class Settings:
    """What the bootstrap stacks are given."""

    app: str
    stage: str
    github_repo: str
    dvc_bucket: str
    grants: Grants
    """The ECR repository and the log shipper's search resources the stage's roles may reach."""
    oidc_provider_arn: str | None = None

    def __post_init__(self) -> None:
        values = {"GITHUB_REPO": ("--github-repo", self.github_repo), "DVC_BUCKET": ("--dvc-bucket", self.dvc_bucket)}
        values |= {s.token: (s.option, getattr(self.grants, s.name)) for s in SETTINGS}
        for token, (option, value) in values.items():
            try:
                if value or token not in iam.OPTIONAL_TOKENS:
                    iam.check_value(token, value)
            except iam.RenderError as err:
                raise BootstrapError(f"{option}: {err}") from None
        if self.oidc_provider_arn and not re.fullmatch(OIDC_PROVIDER_ARN_PATTERN, self.oidc_provider_arn):
            raise BootstrapError(
                f"--oidc-provider-arn {self.oidc_provider_arn!r} is not GitHub's provider ARN "
                "(arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com)"
            )


@dataclass
class Result:
    """The two stacks' outputs."""

    shared: dict[str, str] = field(default_factory=dict)
    stage: dict[str, str] = field(default_factory=dict)


def existing_github_provider(iam_client: Any) -> str | None:
    """The ARN of the account's token.actions.githubusercontent.com provider, if it has one."""
    host = GITHUB_OIDC_URL.removeprefix("https://")
    for provider in iam_client.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        if provider["Arn"].endswith(f":oidc-provider/{host}"):
            return str(provider["Arn"])
    return None


def oidc_parameter(settings: Settings, shared: deploy.Stack | None, iam_client: Any) -> str:
    """The shared stack's GitHubOidcProviderArn: given, else the stack's own value, else "" (create it) when the
    account has no provider yet; a BootstrapError naming the ARN to pass when it has one."""
    if settings.oidc_provider_arn is not None:
        return settings.oidc_provider_arn
    if shared is not None:
        return shared.parameters.get(OIDC_PARAMETER, "")
    found = existing_github_provider(iam_client)
    if found:
        raise BootstrapError(
            f"the account already has GitHub's OIDC provider ({found}); an account holds one per URL, so the "
            f"bootstrap stack reuses it: rerun with OIDC_PROVIDER_ARN={found} (make) / --oidc-provider-arn"
        )
    return ""


def _apply(deployer: deploy.Deployer, name: str, template: dict[str, Any], values: dict[str, str]) -> deploy.Stack:
    previous = deploy.describe(deployer.cf, name)
    try:
        action = deploy.action_for(previous)
    except deploy.DeployError as err:
        raise BootstrapError(str(err)) from None
    parameters = deploy.stack_parameters(template, values)
    tags = [{"Key": "project", "Value": name.split("-bootstrap")[0]}, {"Key": "purpose", "Value": "bootstrap"}]
    stack = deployer.apply(name, action, json.dumps(template, separators=(",", ":")), parameters, tags)
    if stack.status not in DONE:
        reasons = "; ".join(deployer.failures(name)) or stack.reason or "no reason given"
        hint = f" Delete it first: aws cloudformation delete-stack --stack-name {name}." if action == "create" else ""
        raise BootstrapError(f"stack {name} ended in {stack.status}: {reasons}.{hint}")
    return stack


def bootstrap(settings: Settings, templates: Path, deployer: deploy.Deployer, iam_client: Any) -> Result:
    """Create or update the shared stack, then the stage's; their outputs."""
    shared_name = shared_stack_name(settings.app)
    shared_template = json.loads((templates / "shared.json").read_text())
    stage_template = json.loads((templates / f"stage-{settings.stage}.json").read_text())
    provider = oidc_parameter(settings, deploy.describe(deployer.cf, shared_name), iam_client)
    shared = _apply(
        deployer,
        shared_name,
        shared_template,
        {OIDC_PARAMETER: provider, "DvcBucket": settings.dvc_bucket, "EcrRepository": settings.grants.ecr_repository},
    )
    values = {
        "GitHubRepo": settings.github_repo,
        "DvcBucket": shared.outputs["DvcBucket"],
        **settings.grants.parameters(),
        "EcrRepository": shared.outputs["EcrRepository"],
    }
    stage = _apply(deployer, stage_stack_name(settings.app, settings.stage), stage_template, values)
    return Result(shared.outputs, stage.outputs)


def github_settings(result: Result, stage: str, region: str) -> list[str]:
    """The `gh` commands that give the release what it reads (vars of release.yml)."""
    return [
        f"gh variable set AWS_DEPLOY_ROLE_ARN --env {stage} --body {result.stage['GitHubRoleArn']}",
        f"gh variable set AWS_REGION --body {region}",
        f"gh variable set DVC_BUCKET --body {result.shared['DvcBucket']}",
        f"gh variable set ECR_REPOSITORY --body {result.shared['EcrRepository']}",
    ]


def main(argv: list[str] | None = None) -> int:
    """CLI: 0 both stacks in place, 1 a stack failed, 2 could not start."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--templates", type=Path, required=True, help="where infra.bootstrap_template wrote them")
    parser.add_argument("--github-repo", required=True, help="owner/name")
    parser.add_argument("--dvc-bucket", required=True)
    for setting in SETTINGS:
        parser.add_argument(
            setting.option, required=not setting.optional, default="", help=f"<{setting.token}> of infra/iam"
        )
    parser.add_argument("--oidc-provider-arn", default=None, help="the account's existing GitHub OIDC provider")
    parser.add_argument("--region", default=None, help="default: the AWS configuration's region")
    parser.add_argument("--endpoint-url", default=None, help="AWS endpoint (a local stand-in such as moto)")
    parser.add_argument("--poll", type=float, default=deploy.POLL_S)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--record", type=Path, default=None, help="write the outputs as JSON here")
    args = parser.parse_args(argv)
    try:
        settings = Settings(
            app=chalice_names.stage_names(args.stage).app_name,
            stage=args.stage,
            github_repo=args.github_repo,
            dvc_bucket=args.dvc_bucket,
            grants=Grants(**{s.name: getattr(args, s.option[2:].replace("-", "_")) for s in SETTINGS}),
            oidc_provider_arn=args.oidc_provider_arn,
        )
        session = boto3.session.Session(region_name=args.region)
        region = session.region_name
        if not region:
            raise BootstrapError("no AWS region: pass REGION= (make) / --region, or set AWS_DEFAULT_REGION")
        client_args = {"region_name": region, "endpoint_url": args.endpoint_url}
        account = session.client("sts", **client_args).get_caller_identity()["Account"]
        print(f"bootstrapping {settings.app} stage {args.stage} in account {account}, {region}")
        deployer = deploy.Deployer(
            session.client("cloudformation", **client_args),
            poll_s=args.poll,
            timeout_s=args.timeout,
            capabilities=CAPABILITIES,
        )
        result = bootstrap(settings, args.templates, deployer, session.client("iam", **client_args))
    except FileNotFoundError as err:
        print(f"error: {err.filename} not found: run `python -m infra.bootstrap_template` first", file=sys.stderr)
        return 2
    except (BootstrapError, deploy.DeployError, chalice_names.ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1 if isinstance(err, BootstrapError) and "ended in" in str(err) else 2
    except (ClientError, BotoCoreError) as err:
        print(f"error: {aws_errors.explain(err)}", file=sys.stderr)
        return 2
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(result.__dict__, indent=2) + "\n")
    print("outputs:")
    for name, value in sorted({**result.shared, **result.stage}.items()):
        print(f"  {name} = {value}")
    print("GitHub settings the release reads (docs/delivery.md, runbook step 2):")
    print("\n".join(f"  {command}" for command in github_settings(result, args.stage, region)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
