"""Before `make deploy` changes anything: does the stage's bootstrap stack grant what this deploy asks for?

`make bootstrap` gives the stage's roles access to named resources only (infra.bootstrap_settings: the image
repository, the shipper's secret, domain or collection and their region) and lets its GitHub role change one stack.
`make deploy` takes its own settings. A deploy that asks for something else (ES_AUTH=sigv4 on a stage bootstrapped
for basic auth, another secret, domain, region or repository) deploys, then fails at run time with 403s. So
infra.deploy reads the stage's bootstrap stack (DescribeStacks: its parameters and outputs) and refuses, naming each
setting that differs and both ways out: the `make bootstrap` command that grants it, or the deploy setting to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from infra import iam
from infra.bootstrap_settings import SETTINGS, Grants, setting
from infra.bootstrap_template import DEPLOY_STACK_OUTPUT, stage_stack_name


class MismatchError(Exception):
    """The deploy asks for what the stage's bootstrap did not grant; str() lists the differences and what to run."""


@dataclass(frozen=True)
class DeployAsks:
    """What one deploy would use, in the terms the bootstrap grants."""

    app: str
    stage: str
    stack: str
    account: str
    region: str
    image_account: str
    image_repository: str
    search: Mapping[str, str]
    """The shipper's template parameters (EsUrl, SearchBackend, EsAuth, ...), defaults filled in; {}: no shipper."""
    roles: Mapping[str, str]
    """Role ARNs the deploy passes (template parameter or RoleARN → ARN)."""


@dataclass(frozen=True)
class Need:
    """One grant a deploy needs: a Grants field and its value (None: any, as long as there is one)."""

    name: str
    value: str | None
    why: str
    """The deploy settings that need it, as make variables."""


def _endpoint(url: str) -> dict[str, str]:
    """domain or collection, region and service of an Amazon OpenSearch endpoint ({}: a custom endpoint)."""
    match = iam.AWS_SEARCH_ENDPOINT.match((urlsplit(url).hostname or "").lower())
    return {k: v for k, v in match.groupdict().items() if v} if match else {}


def search_needs(search: Mapping[str, str], region: str) -> list[Need]:
    """The grants the shipper needs under these search settings (the auth mode decides which resource it reads)."""
    auth = search.get("EsAuth", "")
    secret = {"api_key": "es_secret_name", "basic": "es_basic_auth_secret_name"}.get(auth)
    if secret:  # the deploy template's parameter has the bootstrap stack's name
        return [Need(secret, search.get(setting(secret).parameter, ""), f"ES_AUTH={auth}")]
    if auth != "sigv4":
        return []
    service = search.get("EsSigv4Service") or "es"
    endpoint = _endpoint(search.get("EsUrl", ""))
    why = f"ES_AUTH=sigv4 ES_SIGV4_SERVICE={service}"
    if service == "aoss":
        target = Need("opensearch_collection_id", endpoint.get("collection"), f"{why}, ES_URL")
    else:
        target = Need("opensearch_domain", endpoint.get("domain"), f"{why}, ES_URL")
    signing_region = search.get("EsSigv4Region") or region
    return [target, Need("search_region", signing_region, f"{why}: the signing region, ES_SIGV4_REGION or the stack's")]


def _granted(grants: Grants, name: str, region: str) -> str:
    value = str(getattr(grants, name))
    return value or region if name == "search_region" else value


def _bootstrap_command(asks: DeployAsks, parameters: Mapping[str, str], changes: Mapping[str, str]) -> str:
    """`make bootstrap` with the stage's current values, changed where this deploy needs other grants."""
    words = [f"make bootstrap STAGE={asks.stage}"]
    for variable, parameter in (("GITHUB_REPO", "GitHubRepo"), ("DVC_BUCKET", "DvcBucket")):
        words.append(f"{variable}={parameters.get(parameter, '<' + variable + '>')}")
    granted = Grants.from_parameters(parameters)
    for each in SETTINGS:
        value = changes.get(each.name, getattr(granted, each.name))
        if value:
            words.append(f"{each.variable}={value}")
    return " ".join([*words, f"REGION={asks.region}"])


def _deploy_alternatives(grants: Grants) -> list[str]:
    """The shipper settings this stage was bootstrapped for."""
    found = []
    if grants.es_secret_name:
        found.append(f"ES_AUTH=api_key ES_SECRET_NAME={grants.es_secret_name}")
    if grants.es_basic_auth_secret_name:
        found.append(
            f"SEARCH_BACKEND=opensearch ES_AUTH=basic ES_BASIC_AUTH_SECRET_NAME={grants.es_basic_auth_secret_name}"
        )
    region = f" ES_SIGV4_REGION={grants.search_region}" if grants.search_region else ""
    if grants.opensearch_domain:
        found.append(f"ES_AUTH=sigv4 ES_SIGV4_SERVICE=es{region} with ES_URL on domain {grants.opensearch_domain}")
    if grants.opensearch_collection_id:
        found.append(
            f"ES_AUTH=sigv4 ES_SIGV4_SERVICE=aoss{region} with ES_URL on collection {grants.opensearch_collection_id}"
        )
    return [*found, "ES_AUTH=none"]


@dataclass(frozen=True)
class Report:
    """How a deploy differs from its stage's bootstrap stack, and the ways out (empty: it matches)."""

    differences: list[str]
    ways_out: list[str]


def compare(asks: DeployAsks, parameters: Mapping[str, str], outputs: Mapping[str, str]) -> Report:
    """Each way this deploy differs from the stage's bootstrap stack (its parameters and outputs), with ways out."""
    grants = Grants.from_parameters(parameters)
    name = stage_stack_name(asks.app, asks.stage)
    found: list[str] = []
    changes: dict[str, str] = {}
    instead: list[str] = []
    needs = [Need("ecr_repository", asks.image_repository, "IMAGE"), *search_needs(asks.search, asks.region)]
    shipper_differs = False
    for need in needs:
        granted = _granted(grants, need.name, asks.region)
        if granted and need.value in (None, granted):
            continue
        variable = setting(need.name).variable
        wanted = "one" if need.value is None else repr(need.value)
        has = repr(granted) if granted else "none"
        found.append(f"{variable}: this deploy needs {wanted} ({need.why}); {name} granted {has}")
        changes[need.name] = need.value or f"<{variable}>"
        if need.name == "ecr_repository":
            instead.append(f"push the image to {granted!r} (make push REPOSITORY={granted}) and deploy that digest")
        else:
            shipper_differs = True
    if shipper_differs:
        instead.append("deploy the shipper as the stage was bootstrapped: " + " | ".join(_deploy_alternatives(grants)))
    if asks.image_account != asks.account:
        found.append(
            f"IMAGE: it is in account {asks.image_account}; the stage's roles read images of account "
            f"{asks.account} only"
        )
        instead.append(f"push the image to account {asks.account}'s repository {grants.ecr_repository!r}")
    bootstrap = _bootstrap_command(asks, parameters, changes)
    granted_stack = outputs.get(DEPLOY_STACK_OUTPUT)
    if granted_stack is None:
        found.append(f"STACK: {name} has no output {DEPLOY_STACK_OUTPUT} (made by an older `make bootstrap`)")
    elif asks.stack != granted_stack:
        found.append(f"STACK: this deploy changes stack {asks.stack!r}; the stage's roles may change {granted_stack!r}")
        instead.append(f"deploy stack {granted_stack} (drop STACK=)")
    bootstrap_roles = {arn for key, arn in outputs.items() if key.endswith("RoleArn")}
    for parameter, arn in sorted(asks.roles.items()):
        if arn not in bootstrap_roles:
            found.append(f"role {arn} ({parameter}): not one of the roles {name} created")
    if not found:
        return Report([], [])
    return Report(found, [f"re-run `{bootstrap}` (grants what this deploy needs)", *dict.fromkeys(instead)])


def check(asks: DeployAsks, stack: tuple[Mapping[str, str], Mapping[str, str]] | None) -> None:
    """Refuse a deploy that asks for more than the stage's bootstrap stack (parameters, outputs; None: no such
    stack) granted."""
    name = stage_stack_name(asks.app, asks.stage)
    if stack is None:
        raise MismatchError(
            f"no bootstrap stack {name} in account {asks.account}, {asks.region}: the stage's roles do not exist "
            f"there. Run `make bootstrap STAGE={asks.stage} REGION={asks.region} ...` first (docs/delivery.md, "
            "runbook step 1), or deploy to the region and account the stage was bootstrapped in (REGION=)"
        )
    report = compare(asks, *stack)
    if report.differences:
        differences = "\n".join(f"  - {line}" for line in report.differences)
        ways_out = "\n".join(f"  - {line}" for line in report.ways_out)
        raise MismatchError(
            f"this deploy does not match what the stage's bootstrap stack {name} granted, all that the stage's "
            f"roles may reach (it would fail, mostly at run time with 403s):\n{differences}\nEither:\n{ways_out}"
        )
