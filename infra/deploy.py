"""Deploy the image template (infra.deploy_template) as one CloudFormation stack, smoke-test it, roll back on failure.

`make deploy STAGE=dev IMAGE_URI=<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` packages the app
(`make package`), transforms the template, lints it, and runs this module:

1. credentials and account (sts:GetCallerIdentity); the stage's bootstrap stack must grant what this deploy asks
   for (infra.bootstrap_match: its roles, the image's repository, the shipper's secret, domain or collection and
   region; else it refuses, naming each difference and what to run); the image must exist in ECR, in the stack's
   region;
2. the stack's state: none → create; a settled state → update; ROLLBACK_COMPLETE (a first creation that failed)
   cannot be updated: delete it first (the error says how); an operation in progress: wait for it;
3. create_stack / update_stack with the SAM transform (CAPABILITY_IAM, CAPABILITY_AUTO_EXPAND), then wait. During
   an update CodeDeploy shifts the alias' traffic (canary by default) and rolls back by itself when a rollback
   alarm fires; CloudFormation then ends in UPDATE_ROLLBACK_COMPLETE and this reports the failed resources. If the
   wait times out mid-update, the update is cancelled (cancel_update_stack), which rolls it back;
4. smoke test of the stack's ApiUrl (infra.smoke: /health and /predict answer with the bundle's model_version);
5. a failed smoke test rolls back: after an update, the previous template and parameters (read before updating,
   so the previous ImageUri and ModelVersion) are redeployed with DeploymentType AllAtOnce and smoke-tested; after
   a first creation the stack is deleted (there was nothing before it).

Execution roles are not created here: the bootstrap stack creates them from infra/iam (`make bootstrap`, roles.json
names them); the template gets their ARNs, and CloudFormation acts as the stage's `cloudformation` role (RoleARN), so
the caller needs only CloudFormation calls on its stack and iam:PassRole on that role. Credentials come from the
environment, a profile or a role; nothing here prints them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalice_app.chalicelib.contract.manifest import BundleError, load_manifest
from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper.settings import ShipperSettings
from infra import aws_errors, bootstrap_match, bootstrap_template, chalice_names, deploy_template, iam, smoke

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repository>[a-z0-9._/-]+)"
    r"(:(?P<tag>[\w.-]+)|@(?P<digest>sha256:[a-f0-9]{64}))$"
)
SETTLED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"})
POLL_S = 10.0


class DeployError(Exception):
    """A deploy that cannot start or did not succeed; str() says what happened and what to do."""


@dataclass(frozen=True)
class Image:
    """An ECR image reference."""

    uri: str
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None


@dataclass
class Stack:
    """What describe_stacks says about a stack."""

    name: str
    status: str
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What the deploy did, written to --record for the release workflow."""

    stack: str
    action: str = ""
    status: str = ""
    api_url: str | None = None
    image_uri: str = ""
    model_version: str = ""
    smoke_ok: bool = False
    rolled_back: bool = False
    problems: list[str] = field(default_factory=list)


def parse_image_uri(uri: str) -> Image:
    """The parts of an ECR image URI; a DeployError says what a Lambda image URI looks like."""
    match = IMAGE_URI.match(uri)
    if not match:
        raise DeployError(
            f"IMAGE_URI {uri!r} is not an ECR image: Lambda runs images from ECR only, named "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> (or @sha256:<digest>); "
            "push one with `make push`"
        )
    return Image(uri, match["account"], match["region"], match["repository"], match["tag"], match["digest"])


def check_region(image: Image, region: str) -> None:
    """The image is in the stack's region (Lambda pulls from its own region's ECR only)."""
    if image.region != region:
        raise DeployError(
            f"the image is in {image.region}, the stack deploys to {region}: Lambda runs images from its own "
            f"region's ECR; push the image to {region} or pass REGION={image.region}"
        )


def check_image(ecr: Any, image: Image, region: str) -> None:
    """The image exists in ECR and in the stack's region."""
    check_region(image, region)
    image_id = {"imageTag": image.tag} if image.tag else {"imageDigest": image.digest}
    try:
        ecr.describe_images(registryId=image.account, repositoryName=image.repository, imageIds=[image_id])
    except ClientError as err:
        code = aws_errors.error_code(err)
        if code == "RepositoryNotFoundException":
            raise DeployError(
                f"ECR repository {image.repository!r} does not exist in account {image.account} ({region}): "
                "create it and push the image (`make push`)"
            ) from None
        if code == "ImageNotFoundException":
            ref = image.tag or image.digest
            raise DeployError(
                f"image {ref!r} is not in ECR repository {image.repository!r}: push it first (`make push`), "
                "or check IMAGE_URI"
            ) from None
        raise


def describe(cloudformation: Any, name: str) -> Stack | None:
    """The stack, or None when there is none by that name (deleted stacks are not listed by name)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as err:
        if aws_errors.error_code(err) == "ValidationError" and "does not exist" in str(err):
            return None
        raise
    data = stacks[0]
    return Stack(
        name=name,
        status=data["StackStatus"],
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in data.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in data.get("Outputs", [])},
        reason=data.get("StackStatusReason", ""),
        tags={t["Key"]: t["Value"] for t in data.get("Tags", [])},
    )


def action_for(stack: Stack | None) -> str:
    """ "create" or "update" for a stack in this state; a DeployError for states that need a person first."""
    if stack is None:
        return "create"
    if stack.status in SETTLED:
        return "update"
    if stack.status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {stack.name} is in ROLLBACK_COMPLETE: its first creation failed and CloudFormation cannot update "
            f"it. Delete it first (`aws cloudformation delete-stack --stack-name {stack.name}`, or the console), "
            "look at its events for the cause, then deploy again"
        )
    if stack.status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {stack.name} is busy ({stack.status}): wait for that operation to end, then retry")
    raise DeployError(
        f"stack {stack.name} is in {stack.status} ({stack.reason or 'no reason given'}): fix it in the "
        "CloudFormation console (e.g. continue the rollback, or delete the stack), then deploy again"
    )


def stack_parameters(template: Mapping[str, Any], values: Mapping[str, str]) -> list[dict[str, str]]:
    """Every parameter the template declares, its default when not given; a DeployError names missing ones."""
    declared = template.get("Parameters", {})
    missing = [name for name, spec in declared.items() if name not in values and "Default" not in spec]
    if missing:
        raise DeployError(f"no value for template parameter(s) {', '.join(missing)}: {_how_to_set(missing)}")
    # Defaults are passed explicitly: an update then never keeps a value a rollback left (DeploymentType AllAtOnce).
    return [
        {"ParameterKey": name, "ParameterValue": str(values.get(name, spec.get("Default")))}
        for name, spec in declared.items()
    ]


SEARCH_OPTIONS = {
    "EsUrl": ("ES_URL", "--es-url"),
    "SearchBackend": ("SEARCH_BACKEND", "--search-backend"),
    "EsAuth": ("ES_AUTH", "--es-auth"),
    "EsSecretName": ("ES_SECRET_NAME", "--es-secret-name"),
    "EsBasicAuthSecretName": ("ES_BASIC_AUTH_SECRET_NAME", "--es-basic-auth-secret-name"),
    "EsSigv4Service": ("ES_SIGV4_SERVICE", "--es-sigv4-service"),
    "EsSigv4Region": ("ES_SIGV4_REGION", "--es-sigv4-region"),
}
"""The shipper's template parameters → the make variable and the option of this module that set them."""


def _how_to_set(names: list[str]) -> str:
    return "; ".join(
        f"{SEARCH_OPTIONS[n][0]}=... (make) / {SEARCH_OPTIONS[n][1]}"
        if n in SEARCH_OPTIONS
        else f"--parameter {n}=VALUE"
        for n in names
    )


def search_parameters(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
    """The shipper's search parameters as the stack will get them (given, else the template's defaults); {} when
    the template has no shipper or no EsUrl was given (stack_parameters then names it)."""
    declared = template.get("Parameters", {})
    if "EsUrl" not in declared or "EsUrl" not in values:
        return {}
    return {name: str(values.get(name, declared.get(name, {}).get("Default", ""))) for name in SEARCH_OPTIONS}


def check_search_settings(template: Mapping[str, Any], values: Mapping[str, str], region: str) -> None:
    """The shipper's search parameters (given, else the template's defaults) as the shipper's own settings would
    read them on Lambda; a DeployError with the make variables to fix, before anything is deployed."""
    given = search_parameters(template, values)
    if not given:
        return
    auth = given["EsAuth"]
    missing = {"api_key": "EsSecretName", "basic": "EsBasicAuthSecretName"}.get(auth)
    if missing and not given[missing]:
        raise DeployError(f"EsAuth={auth} needs {_how_to_set([missing])}")
    try:
        ShipperSettings(
            es_url=given["EsUrl"],
            backend=given["SearchBackend"],
            auth=auth,
            # Placeholders: only whether a credential is configured matters here; the shipper reads the secrets.
            api_key="<secret>" if auth == "api_key" else None,
            basic_auth=("<secret>", "<secret>") if auth == "basic" else None,
            sigv4_service=given["EsSigv4Service"],
            sigv4_region=given["EsSigv4Region"] or region,
        )
    except SettingsError as err:
        names = {name: option[0] for name, option in SEARCH_OPTIONS.items()}
        raise DeployError(
            f"the log shipper could not run with these settings: {err} (make variables: {', '.join(names.values())})"
        ) from None


def role_arns(template: Mapping[str, Any], account: str, stage: str) -> dict[str, str]:
    """Role ARN parameters of the template → the roles infra/iam/roles.json names for this stage."""
    values = iam.stage_values(stage)
    known = {role.key: iam.render(role.name, values) for role in iam.roles()}
    arns = {"CodeDeployRoleArn": f"arn:aws:iam::{account}:role/{known['codedeploy']}"}
    for parameter, function in deploy_template.role_parameters(template).items():
        key = function or "api"
        if key not in known:
            raise DeployError(
                f"function {function} ({parameter}) has no execution role in {iam.ROLES_FILE}: "
                "add one (name, trust and policy documents) and create it"
            )
        arns[parameter] = f"arn:aws:iam::{account}:role/{known[key]}"
    return arns


def check_template_stage(template: Mapping[str, Any], stage: str) -> None:
    """The template was built for this stage (its Stage parameter allows only the stage it was packaged for)."""
    allowed = template.get("Parameters", {}).get("Stage", {}).get("AllowedValues", [stage])
    if stage not in allowed:
        raise DeployError(
            f"the template was built for stage {', '.join(allowed)}, not {stage}: build {stage}'s "
            f"(make deploy-template STAGE={stage}, or drop TEMPLATE=) or deploy it with STAGE={allowed[0]}"
        )


def check_template_architecture(template: Mapping[str, Any], architecture: str) -> None:
    """The template's image functions run on the architecture the image was checked for (ARCH= of make deploy)."""
    wanted = deploy_template.LAMBDA_ARCHITECTURES[architecture]
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") != deploy_template.FUNCTION or props.get("PackageType") != "Image":
            continue
        found = props.get("Architectures", ["x86_64"])  # Lambda's default
        if found != [wanted]:
            built = {v: k for k, v in deploy_template.LAMBDA_ARCHITECTURES.items()}.get(found[0], found[0])
            raise DeployError(
                f"the template's {logical_id} runs on {found[0]} (built with ARCH={built}), the image was checked "
                f"for linux/{architecture} (ARCH={architecture}): pass the ARCH the template and image were built "
                f"for, or rebuild the template (make deploy-template ARCH={architecture})"
            )


def check_bootstrap(cloudformation: Any, request: Request, account: str, region: str) -> None:
    """Refuse, before anything changes, a deploy that asks for what the stage's bootstrap stack did not grant
    (infra.bootstrap_match); a DeployError lists each difference and what to run."""
    app = chalice_names.stage_names(request.stage).app_name
    asks = bootstrap_match.DeployAsks(
        app=app,
        stage=request.stage,
        stack=request.stack,
        account=account,
        region=region,
        image_account=request.image.account,
        image_repository=request.image.repository,
        search=search_parameters(request.template, request.values),
        roles={
            **role_arns(request.template, account, request.stage),
            "RoleARN": execution_role_arn(account, request.stage),
        },
    )
    found = describe(cloudformation, bootstrap_template.stage_stack_name(app, request.stage))
    try:
        bootstrap_match.check(asks, None if found is None else (found.parameters, found.outputs))
    except bootstrap_match.MismatchError as err:
        raise DeployError(str(err)) from None


def execution_role_arn(account: str, stage: str) -> str:
    """The role CloudFormation acts as for the stage's stack (RoleARN): infra/iam/roles.json's `cloudformation`."""
    (role,) = [r for r in iam.roles() if r.key == "cloudformation"]
    return f"arn:aws:iam::{account}:role/{iam.render(role.name, iam.stage_values(stage))}"


def _template_body(template: Any) -> str:
    return template if isinstance(template, str) else json.dumps(template, separators=(",", ":"))


class Deployer:
    """One deploy of one stack; `log` receives progress lines."""

    def __init__(
        self,
        cloudformation: Any,
        *,
        log: Callable[[str], None] = print,
        poll_s: float = POLL_S,
        timeout_s: float = 3600.0,
        capabilities: tuple[str, ...] = tuple(CAPABILITIES),
    ) -> None:
        self.cf = cloudformation
        self.capabilities = list(capabilities)
        self.log = log
        self.poll_s = poll_s
        self.timeout_s = timeout_s

    def apply(
        self,
        name: str,
        action: str,
        body: str,
        parameters: list[dict[str, str]],
        tags: list[dict[str, str]],
        role_arn: str | None = None,
    ) -> Stack:
        """Create or update the stack (as role_arn when given) and wait for it to settle; an update with no changes is
        not an error."""
        since = time.time()
        args: dict[str, Any] = {
            "StackName": name,
            "TemplateBody": body,
            "Parameters": parameters,
            "Capabilities": self.capabilities,
            "Tags": tags,
        }
        if role_arn:
            args["RoleARN"] = role_arn
        try:
            if action == "create":
                self.cf.create_stack(**args, OnFailure="ROLLBACK")
            else:
                self.cf.update_stack(**args)
        except ClientError as err:
            if action == "update" and "No updates are to be performed" in str(err):
                self.log(f"{name}: no changes (same template and parameters)")
                stack = describe(self.cf, name)
                assert stack is not None
                return stack
            raise
        self.log(f"{name}: {action} started")
        return self.wait(name, since)

    def wait(self, name: str, since: float) -> Stack:
        """Poll until the stack leaves *_IN_PROGRESS (printing its new events); cancel an update that overruns."""
        deadline = time.monotonic() + self.timeout_s
        seen: set[str] = set()
        cancelled = False
        while True:
            stack = describe(self.cf, name)
            if stack is None:
                return Stack(name, "DELETE_COMPLETE")
            self._print_events(name, since, seen)
            if not stack.status.endswith("_IN_PROGRESS"):
                return stack
            if time.monotonic() > deadline and not cancelled:
                if stack.status == "UPDATE_IN_PROGRESS":
                    self.log(
                        f"{name}: still updating after {self.timeout_s:.0f} s: cancelling (CloudFormation rolls back)"
                    )
                    self.cf.cancel_update_stack(StackName=name)
                    cancelled = True
                    deadline = time.monotonic() + self.timeout_s
                else:
                    raise DeployError(f"stack {name} still {stack.status} after {self.timeout_s:.0f} s")
            time.sleep(self.poll_s)

    def _print_events(self, name: str, since: float, seen: set[str]) -> None:
        events = self.cf.describe_stack_events(StackName=name).get("StackEvents", [])
        for event in reversed(events):
            if event["EventId"] in seen or event["Timestamp"].timestamp() < since - 1:
                continue
            seen.add(event["EventId"])
            reason = f": {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            self.log(f"  {event['LogicalResourceId']} {event['ResourceStatus']}{reason}")

    def failures(self, name: str) -> list[str]:
        """The reasons of the stack's failed resource events (newest first), for the error message."""
        events = self.cf.describe_stack_events(StackName=name).get("StackEvents", [])
        return [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
            for e in events
            if e["ResourceStatus"].endswith("_FAILED")
        ][:5]

    def delete(self, name: str) -> Stack:
        """Delete the stack and wait until it is gone."""
        since = time.time()
        self.cf.delete_stack(StackName=name)
        return self.wait(name, since)


@dataclass(frozen=True)
class Request:
    """What to deploy where."""

    stack: str
    stage: str
    template: Mapping[str, Any]
    image: Image
    model_version: str
    values: Mapping[str, str]
    """Template parameter values beyond ImageUri/ModelVersion/Stage/roles (EsUrl, DeploymentType, ...)."""


def deploy(
    request: Request,
    deployer: Deployer,
    account: str,
    smoke_test: Callable[[str, str], smoke.SmokeResult] = smoke.smoke_test,
) -> Outcome:
    """Create or update the stack, smoke-test it, roll back when the smoke test fails (see the module doc)."""
    log = deployer.log
    outcome = Outcome(stack=request.stack, image_uri=request.image.uri, model_version=request.model_version)
    previous = describe(deployer.cf, request.stack)
    outcome.action = action_for(previous)
    previous_body = None
    if previous is not None:
        previous_body = _template_body(
            deployer.cf.get_template(StackName=request.stack, TemplateStage="Original")["TemplateBody"]
        )
        log(
            f"{request.stack}: {previous.status}, serving {previous.parameters.get('ModelVersion', '?')} "
            f"({previous.parameters.get('ImageUri', '?')})"
        )
    role_arn = execution_role_arn(account, request.stage)
    values = {
        **request.values,
        **role_arns(request.template, account, request.stage),
        "ImageUri": request.image.uri,
        "ModelVersion": request.model_version,
        "Stage": request.stage,
    }
    parameters = stack_parameters(request.template, values)
    tags = [
        {"Key": "project", "Value": chalice_names.stage_names(request.stage).app_name},
        {"Key": "stage", "Value": request.stage},
        {"Key": "model-version", "Value": request.model_version},
    ]
    stack = deployer.apply(
        request.stack, outcome.action, _template_body(request.template), parameters, tags, role_arn=role_arn
    )
    outcome.status = stack.status
    if stack.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        outcome.rolled_back = stack.status in ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
        outcome.problems = [f"stack ended in {stack.status}", *deployer.failures(request.stack)]
        if stack.status == "ROLLBACK_COMPLETE":
            outcome.problems.append(
                f"delete it before deploying again: aws cloudformation delete-stack --stack-name {request.stack}"
            )
        return outcome
    outcome.api_url = stack.outputs.get("ApiUrl")
    if not outcome.api_url:
        outcome.problems.append("the stack has no ApiUrl output: nothing to smoke-test")
        return outcome
    result = smoke_test(outcome.api_url, request.model_version)
    outcome.smoke_ok = result.ok
    log(f"smoke test of {outcome.api_url}: {'passed' if result.ok else 'FAILED'}")
    if result.ok:
        return outcome
    outcome.problems = [f"smoke test: {p}" for p in result.problems]
    if previous is None or previous_body is None:
        log(f"{request.stack}: first deployment failed its smoke test: deleting the stack (nothing to roll back to)")
        outcome.status = deployer.delete(request.stack).status
    else:
        outcome.status = _restore(request.stack, previous, previous_body, deployer, smoke_test, outcome, role_arn)
    outcome.rolled_back = True
    return outcome


def _restore(
    name: str,
    previous: Stack,
    body: str,
    deployer: Deployer,
    smoke_test: Callable[[str, str], smoke.SmokeResult],
    outcome: Outcome,
    role_arn: str | None = None,
) -> str:
    """Redeploy the previous template and parameters (all at once when it can say so) and smoke-test it."""
    values = dict(previous.parameters)
    if "DeploymentType" in values:
        values["DeploymentType"] = "AllAtOnce"
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    deployer.log(f"{name}: rolling back to {values.get('ModelVersion', '?')} ({values.get('ImageUri', '?')})")
    # UpdateStack with an empty Tags list removes every stack tag (CloudFormation's documented rule): keep the
    # previous version's tags, model-version included, so the restored stack says what it serves.
    tags = [{"Key": key, "Value": value} for key, value in previous.tags.items()]
    stack = deployer.apply(name, "update", body, parameters, tags, role_arn=role_arn)
    if stack.status != "UPDATE_COMPLETE":
        outcome.problems.append(f"rollback ended in {stack.status}: {'; '.join(deployer.failures(name))}")
        return stack.status
    api_url = stack.outputs.get("ApiUrl")
    expected = values.get("ModelVersion")
    if api_url and expected:
        result = smoke_test(api_url, expected)
        deployer.log(f"smoke test of the restored {expected}: {'passed' if result.ok else 'FAILED'}")
        outcome.problems += [f"after rollback: {p}" for p in result.problems]
    return stack.status


def expected_model_version(bundle: Path | None, given: str | None) -> str:
    """--model-version, else the manifest of --bundle; a DeployError when neither says."""
    if given:
        return given
    if bundle is None:
        raise DeployError("pass --model-version or --bundle (the bundle inside the image): the smoke test checks it")
    try:
        return load_manifest(bundle)["model_version"]
    except BundleError as err:
        raise DeployError(f"{err}; pass BUNDLE= (the bundle built into the image)") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, required=True, help="the deploy template (infra.deploy_template)")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--image-uri", required=True)
    parser.add_argument("--region", default=None, help="default: the image's region")
    parser.add_argument(
        "--stack", default=None, help="default: <app>-<stage>, the one stack the stage's roles may change"
    )
    parser.add_argument("--bundle", type=Path, default=None, help="bundle inside the image (its model_version)")
    parser.add_argument("--model-version", default=None)
    parser.add_argument("--deployment-type", default=None, choices=deploy_template.DEPLOYMENT_TYPES)
    parser.add_argument(
        "--architecture",
        default=None,
        choices=list(deploy_template.LAMBDA_ARCHITECTURES),
        help="the image's (make ARCH=): the template's functions must run on it",
    )
    parser.add_argument("--es-url", default=None, help="the log shipper's Elasticsearch or OpenSearch endpoint")
    parser.add_argument("--search-backend", default=None, choices=deploy_template.SEARCH_BACKENDS)
    parser.add_argument("--es-auth", default=None, choices=deploy_template.ES_AUTH_MODES)
    parser.add_argument("--es-secret-name", default=None, help="api_key: Secrets Manager secret holding the API key")
    parser.add_argument("--es-basic-auth-secret-name", default=None, help="basic: secret holding username/password")
    parser.add_argument("--es-sigv4-service", default=None, choices=deploy_template.SIGV4_SERVICES)
    parser.add_argument("--es-sigv4-region", default=None, help="sigv4: the endpoint's region (default: the stack's)")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--endpoint-url", default=None, help="AWS endpoint (a local stand-in such as moto)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the stack")
    parser.add_argument("--poll", type=float, default=POLL_S, help="seconds between status polls")
    parser.add_argument("--record", type=Path, default=None, help="write the outcome as JSON here")
    return parser.parse_args(argv)


def search_values(args: argparse.Namespace) -> dict[str, str | None]:
    """The shipper's template parameters from the options (None: not given)."""
    return {
        name: getattr(args, option.removeprefix("--").replace("-", "_")) for name, (_, option) in SEARCH_OPTIONS.items()
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: 0 deployed and smoke-tested, 1 deploy or smoke test failed (rolled back), 2 could not start."""
    args = parse_args(argv)
    try:
        image = parse_image_uri(args.image_uri)
        region = args.region or image.region
        names = chalice_names.stage_names(args.stage)
        stack_name = args.stack or bootstrap_template.deploy_stack_name(names.app_name, args.stage)
        template = json.loads(args.template.read_text())
        check_template_stage(template, args.stage)
        if args.architecture:
            check_template_architecture(template, args.architecture)
        model_version = expected_model_version(args.bundle, args.model_version)
        values = dict(item.split("=", 1) for item in args.parameter if "=" in item)
        for key, value in (("DeploymentType", args.deployment_type), *search_values(args).items()):
            if value:
                values[key] = value
        check_search_settings(template, values, region)
        check_region(image, region)
        session = boto3.session.Session(region_name=region)
        client_args = {"region_name": region, "endpoint_url": args.endpoint_url}
        account = session.client("sts", **client_args).get_caller_identity()["Account"]
        print(f"deploying {image.uri} (model {model_version}) as stack {stack_name} in {region}, account {account}")
        cloudformation = session.client("cloudformation", **client_args)
        request = Request(stack_name, args.stage, template, image, model_version, values)
        check_bootstrap(cloudformation, request, account, region)
        check_image(session.client("ecr", **client_args), image, region)
        deployer = Deployer(cloudformation, poll_s=args.poll, timeout_s=args.timeout)
        outcome = deploy(request, deployer, account)
    except FileNotFoundError as err:
        print(f"error: {err.filename} not found", file=sys.stderr)
        return 2
    except (DeployError, chalice_names.ConfigError, deploy_template.TemplateError, iam.RenderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as err:
        print(f"error: {aws_errors.explain(err)}", file=sys.stderr)
        return 2
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(outcome.__dict__, indent=2) + "\n")
    ok = outcome.smoke_ok and not outcome.rolled_back
    print(f"{outcome.stack}: {outcome.status}; API {outcome.api_url or '-'}; " + ("deployed" if ok else "FAILED"))
    for problem in outcome.problems:
        print(f"  - {problem}", file=sys.stderr)
    if outcome.rolled_back:
        print("  rolled back: the stack serves what it served before this deploy (or was deleted)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
