"""The IAM documents of the deploy (infra/iam/*.json): render their tokens, and generate Chalice's policy files.

The documents hold tokens in angle brackets, replaced by `render`: <ACCOUNT_ID>, <REGION>, <APP>, <STAGE>,
<GITHUB_REPO> (owner/name), <DVC_BUCKET>, <ECR_REPOSITORY>, and the log shipper's optional search settings
(OPTIONAL_TOKENS: <ES_SECRET_NAME>, <ES_BASIC_AUTH_SECRET_NAME>, <OPENSEARCH_DOMAIN>, <OPENSEARCH_COLLECTION_ID>,
<SEARCH_REGION>; a statement whose token has no value is left out). infra/iam/roles.json lists the roles
of one stage (name, trust policy, permissions policy, and extra inline policies some stages need). The bootstrap
stacks create them (`make bootstrap`, infra/bootstrap_template.py); to read one stage's documents as they will be:

    python -m infra.iam render --stage dev --account 123456789012 --region eu-west-1 \\
        --github-repo owner/name --dvc-bucket my-dvc --ecr-repository cola-acceptability --es-secret-name es-api-key \\
        --out artifacts/iam/dev

writes each role's trust and permissions policy with the tokens replaced (and the ECR repository policy), and
prints the equivalent `aws iam` commands. `python -m infra.iam chalice` writes the policy files
.chalice/config.json names for the zip route (`chalice deploy`): each Chalice function's file from the same
document as its role on the image route (the API: .chalice/policy-<stage>.json; the log shipper:
.chalice/policy-shipper-<stage>.json), with account and region `*` as Chalice's own deploys use them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalice.config import Config

from infra import bootstrap_settings, chalice_names

IAM_DIR = Path(__file__).resolve().parent / "iam"
ROLES_FILE = IAM_DIR / "roles.json"
TOKEN = re.compile(r"<([A-Z_]+)>")
API_POLICY = "api-execution-policy.json"
API_ROLE = "api"
"""The role of the function behind the REST API; any other Chalice function's role has the function's name."""
ZIP_ROUTE_SETTINGS = {"ES_SECRET_NAME": "ES_API_KEY_SECRET_ID", "ES_BASIC_AUTH_SECRET_NAME": "ES_BASIC_AUTH_SECRET_ID"}
"""Tokens the zip route takes from the function's environment_variables in .chalice/config.json. A statement that
needs one the function does not set is left out: the function then reads no such resource."""
OPTIONAL_TOKENS = frozenset(setting.token for setting in bootstrap_settings.SEARCH_SETTINGS)
"""Tokens of the shipper's search settings: a statement needing one without a value is left out (render, the zip
route; the bootstrap template makes it conditional), since each names the resource of one backend or auth mode."""
AWS_SEARCH_ENDPOINT = re.compile(
    r"^(?:(?:search|vpc)-(?P<domain>[a-z][a-z0-9-]{2,27})-[a-z0-9]+|(?P<collection>[a-z0-9]+))"
    r"\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.(?P<service>es|aoss)\.amazonaws\.com$"
)
"""Managed domains: search-<domain>-<id>.<region>.es.amazonaws.com (vpc- inside a VPC); Serverless collections:
<collection id>.<region>.aoss.amazonaws.com."""


class RenderError(ValueError):
    """A token has no value, or a value that would widen or break the policy."""


@dataclass(frozen=True)
class ExtraPolicy:
    """An inline policy a role gets in some stages only, beside its permissions policy."""

    name: str
    document: str
    stages: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Role:
    """One role of roles.json (tokens not yet replaced)."""

    key: str
    name: str
    trust: str
    policy: str
    description: str
    extra_policies: tuple[ExtraPolicy, ...] = ()
    zip_route_omits: Mapping[str, str] = field(default_factory=dict)
    """Statement Sid → why the zip route's policy file leaves it out (a resource only the image route creates)."""


@dataclass(frozen=True)
class ChalicePolicyFile:
    """A policy file .chalice/config.json names for one function of one stage."""

    stage: str
    function: str
    path: Path


def load_document(name: str) -> dict[str, Any]:
    """A policy document of infra/iam by file name."""
    data = json.loads((IAM_DIR / name).read_text())
    if not isinstance(data, dict):
        raise RenderError(f"{name} is not a JSON object")
    return data


def roles() -> list[Role]:
    """The roles of roles.json."""
    data = json.loads(ROLES_FILE.read_text())
    found = []
    for key, spec in data["roles"].items():
        extra = spec.pop("extra_policies", {})
        policies = tuple(
            ExtraPolicy(name=name, document=e["document"], stages=tuple(e["stages"]), why=e["why"])
            for name, e in extra.items()
        )
        found.append(Role(key=key, extra_policies=policies, **spec))
    return found


def role_of_function(function: str) -> Role:
    """The role of a Chalice function (`api_handler` → api, any other → the role named like the function)."""
    key = API_ROLE if function == chalice_names.API_HANDLER else function
    for role in roles():
        if role.key == key:
            return role
    raise RenderError(f"Chalice function {function!r} has no role in {ROLES_FILE}: add one (trust and policy document)")


def resource_policies() -> dict[str, str]:
    """Resource policies of roles.json: what they apply to → document name."""
    return dict(json.loads(ROLES_FILE.read_text())["resource_policies"])


def tokens_of(node: Any) -> set[str]:
    """Token names used anywhere in a document."""
    return set(TOKEN.findall(json.dumps(node)))


def check_value(token: str, value: str) -> None:
    """Refuse values that would change a policy's meaning beyond naming (wildcards, JSON or ARN separators)."""
    patterns = {
        "ACCOUNT_ID": r"\d{12}|\*",
        "REGION": r"[a-z]{2}(-[a-z]+)+-\d|\*",
        "SEARCH_REGION": r"[a-z]{2}(-[a-z]+)+-\d|\*",
        "OPENSEARCH_DOMAIN": r"[a-z][a-z0-9-]{2,27}",
        "OPENSEARCH_COLLECTION_ID": r"[a-z0-9]{3,40}",
        "GITHUB_REPO": r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+",
        "DVC_BUCKET": r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "ECR_REPOSITORY": r"[a-z0-9]+([._/-][a-z0-9]+)*",
    }
    pattern = patterns.get(token, r"[A-Za-z0-9_+=,.@-]+")
    if not re.fullmatch(pattern, value):
        raise RenderError(f"<{token}> = {value!r} is not a valid value (expected {pattern})")


def render(document: Any, values: Mapping[str, str]) -> Any:
    """The document with every <TOKEN> replaced; a RenderError names any token without a value."""
    missing = sorted(tokens_of(document) - set(values))
    if missing:
        flags = ", ".join(f"--{m.lower().replace('_', '-')}" for m in missing)
        raise RenderError(f"no value for {', '.join(f'<{m}>' for m in missing)}: pass {flags}")
    for token in tokens_of(document):
        check_value(token, values[token])
    text = TOKEN.sub(lambda m: values[m.group(1)].replace("\\", "\\\\").replace('"', '\\"'), json.dumps(document))
    return json.loads(text)


def without_unset(document: dict[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The document without the statements that need an OPTIONAL_TOKENS token with no value."""
    kept = [s for s in document["Statement"] if not (tokens_of(s) & OPTIONAL_TOKENS) - set(values)]
    return {**document, "Statement": kept}


def stage_values(stage: str, **values: str | None) -> dict[str, str]:
    """Token values for a stage: APP and STAGE from .chalice/config.json, the rest as given (None or "" = not given);
    SEARCH_REGION defaults to REGION."""
    names = chalice_names.stage_names(stage)
    given = {key.upper(): value for key, value in values.items() if value}
    if "REGION" in given:
        given.setdefault("SEARCH_REGION", given["REGION"])
    return {"APP": names.app_name, "STAGE": stage, **given}


def search_endpoint_values(url: str) -> dict[str, str]:
    """SEARCH_REGION and OPENSEARCH_DOMAIN or OPENSEARCH_COLLECTION_ID of an Amazon OpenSearch endpoint URL."""
    host = (urlsplit(url).hostname or "").lower()
    match = AWS_SEARCH_ENDPOINT.match(host)
    if not match:
        raise RenderError(
            f"ES_URL {url!r} is not an Amazon OpenSearch Service endpoint (search-<domain>-<id>.<region>.es."
            "amazonaws.com or <collection id>.<region>.aoss.amazonaws.com), so the policy cannot name the domain or "
            "collection SigV4 writes to: use that endpoint in ES_URL (not a custom one), or deploy with `make "
            "deploy` and bootstrap's OPENSEARCH_DOMAIN / OPENSEARCH_COLLECTION_ID"
        )
    if match["service"] == "es":
        return {"SEARCH_REGION": match["region"], "OPENSEARCH_DOMAIN": match["domain"]}
    return {"SEARCH_REGION": match["region"], "OPENSEARCH_COLLECTION_ID": match["collection"]}


def _zip_route_values(stage: str, function: str, config: Mapping[str, Any]) -> dict[str, str]:
    """ZIP_ROUTE_SETTINGS' tokens the function's environment sets (as Chalice merges it for that stage)."""
    environment = Config(chalice_stage=stage, function_name=function, config_from_disk=dict(config))
    variables = environment.environment_variables
    values = {}
    for token, variable in ZIP_ROUTE_SETTINGS.items():
        value = str(variables.get(variable) or "").strip()
        if value.startswith("arn:"):
            raise RenderError(
                f"{variable} of {function} in stage {stage} is an ARN ({value}): give the secret's name in "
                ".chalice/config.json, as the image route's EsSecretName does (the policy names <name>-??????)"
            )
        if value:
            values[token] = value
    backend = str(variables.get("SEARCH_BACKEND") or "elasticsearch").strip().lower()
    auth = str(variables.get("ES_AUTH") or ("sigv4" if backend == "opensearch" else "")).strip().lower()
    if backend == "opensearch" and auth == "sigv4":
        values |= search_endpoint_values(str(variables.get("ES_URL") or "").strip())
    return values


def chalice_policy(
    stage: str, function: str = chalice_names.API_HANDLER, config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a function's Chalice policy file must hold: its role's document for any account and region, without
    the statements the zip route has no use for (zip_route_omits, and those needing a setting the function lacks)."""
    config = chalice_names.read_config() if config is None else config
    role = role_of_function(function)
    document = load_document(role.policy)
    app = chalice_names.stage_names(stage, dict(config)).app_name
    values = {"APP": app, "STAGE": stage, "ACCOUNT_ID": "*", "REGION": "*"}
    values |= _zip_route_values(stage, function, config)
    kept = [s for s in without_unset(document, values)["Statement"] if s.get("Sid") not in role.zip_route_omits]
    rendered: dict[str, Any] = render({**document, "Statement": kept}, values)
    return rendered


def chalice_policy_files(config: Mapping[str, Any] | None = None) -> list[ChalicePolicyFile]:
    """The policy file Chalice uses for each function of each stage that names one (resolved as Chalice does:
    function, then stage, then top level); a ConfigError when functions with different roles share a file."""
    config = chalice_names.read_config() if config is None else config
    files: list[ChalicePolicyFile] = []
    for stage in config.get("stages", {}):
        for function in (chalice_names.API_HANDLER, chalice_names.SHIPPER):
            name = Config(chalice_stage=stage, function_name=function, config_from_disk=dict(config)).iam_policy_file
            if not name:
                continue
            entry = ChalicePolicyFile(stage, function, chalice_names.CHALICE_CONFIG.parent / name)
            for other in files:
                if other.path == entry.path and role_of_function(other.function).key != role_of_function(function).key:
                    raise chalice_names.ConfigError(
                        f"stage {stage}: {function} and {other.function} share {name}, but their roles differ: "
                        f"set stages.{stage}.lambda_functions.{function}.iam_policy_file in .chalice/config.json"
                    )
            files.append(entry)
    return files


def _write(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def render_stage(out: Path, values: Mapping[str, str]) -> list[str]:
    """Write every role's rendered documents under out; return the `aws` commands that create them."""
    commands = []
    for role in roles():
        name = render(role.name, values)
        trust, policy = out / f"{role.key}-trust.json", out / f"{role.key}-policy.json"
        _write(trust, render(load_document(role.trust), values))
        _write(policy, render(without_unset(load_document(role.policy), values), values))
        commands += [
            f"aws iam create-role --role-name {name} --assume-role-policy-document file://{trust} "
            f"--description {json.dumps(role.description)}",
            f"aws iam put-role-policy --role-name {name} --policy-name {name} --policy-document file://{policy}",
        ]
        for extra in role.extra_policies:
            if values["STAGE"] in extra.stages:
                path = out / f"{role.key}-{extra.name}-policy.json"
                _write(path, render(load_document(extra.document), values))
                commands.append(
                    f"aws iam put-role-policy --role-name {name} --policy-name {extra.name} --policy-document file://{path}"
                )
    for target, document in resource_policies().items():
        path = out / f"{target}-policy.json"
        _write(path, render(load_document(document), values))
        if target == "ecr_repository":
            commands.append(
                f"aws ecr set-repository-policy --repository-name {values['ECR_REPOSITORY']} --policy-text file://{path}"
            )
    return commands


def write_chalice_policies(check: bool) -> list[Path]:
    """The Chalice policy files that differ from what infra/iam renders (rewritten unless `check`)."""
    stale = []
    for entry in chalice_policy_files():
        expected = chalice_policy(entry.stage, entry.function)
        current = json.loads(entry.path.read_text()) if entry.path.exists() else None
        if current != expected:
            stale.append(entry.path)
            if not check:
                _write(entry.path, expected)
    return stale


def main(argv: list[str] | None = None) -> int:
    """CLI: `render` a stage's documents, or write Chalice's policy files (`chalice`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rend = sub.add_parser("render", help="write one stage's role documents with the tokens replaced")
    rend.add_argument("--stage", required=True)
    rend.add_argument("--out", type=Path, required=True)
    for option in ("account-id", "region", "github-repo", "dvc-bucket", "ecr-repository"):
        rend.add_argument(f"--{option}", required=True)
    search = rend.add_argument_group("the log shipper's search backend (each optional: its statement is left out)")
    search.add_argument("--es-secret-name", help="Elasticsearch API key secret (name)")
    search.add_argument("--es-basic-auth-secret-name", help="basic auth secret (name)")
    search.add_argument("--opensearch-domain", help="SigV4: managed domain name")
    search.add_argument("--opensearch-collection-id", help="SigV4: Serverless collection id")
    search.add_argument("--search-region", help="the domain's or collection's region (default: --region)")
    chal = sub.add_parser("chalice", help="write the policy files .chalice/config.json names (per stage and function)")
    chal.add_argument("--check", action="store_true", help="only check they are up to date (exit 1 if not)")
    args = parser.parse_args(argv)
    try:
        if args.command == "render":
            values = stage_values(
                args.stage,
                account_id=args.account_id,
                region=args.region,
                github_repo=args.github_repo,
                dvc_bucket=args.dvc_bucket,
                ecr_repository=args.ecr_repository,
                es_secret_name=args.es_secret_name,
                es_basic_auth_secret_name=args.es_basic_auth_secret_name,
                opensearch_domain=args.opensearch_domain,
                opensearch_collection_id=args.opensearch_collection_id,
                search_region=args.search_region,
            )
            print("\n".join(render_stage(args.out, values)))
            return 0
        stale = write_chalice_policies(check=args.check)
        verb = "out of date (run `python -m infra.iam chalice`)" if args.check else "written"
        print(f"{verb}: {', '.join(map(str, stale))}" if stale else "Chalice policy files match infra/iam")
        return 1 if stale and args.check else 0
    except (RenderError, chalice_names.ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
