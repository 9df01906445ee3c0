"""The IAM documents of the deploy (infra/iam/*.json): render their tokens, and generate Chalice's policy files.

The documents hold tokens in angle brackets, replaced by `render`: <ACCOUNT_ID>, <REGION>, <APP>, <STAGE>,
<GITHUB_REPO> (owner/name), <DVC_BUCKET>, <ECR_REPOSITORY>, <ES_SECRET_NAME>. infra/iam/roles.json lists the roles
of one stage (name, trust policy, permissions policy). An administrator creates them once:

    python -m infra.iam render --stage dev --account 123456789012 --region eu-west-1 \\
        --github-repo owner/name --dvc-bucket my-dvc --ecr-repository cola-acceptability --es-secret-name es-api-key \\
        --out artifacts/iam/dev

writes each role's trust and permissions policy with the tokens replaced (and the ECR repository policy), and
prints the `aws iam` commands that create them. `python -m infra.iam chalice` writes .chalice/policy-<stage>.json
from the API's execution policy (account and region `*`, as Chalice's own deploys use them), so the zip route
(`chalice deploy`) and the image route grant the API the same rights.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import chalice_names

IAM_DIR = Path(__file__).resolve().parent / "iam"
ROLES_FILE = IAM_DIR / "roles.json"
TOKEN = re.compile(r"<([A-Z_]+)>")
API_POLICY = "api-execution-policy.json"


class RenderError(ValueError):
    """A token has no value, or a value that would widen or break the policy."""


@dataclass(frozen=True)
class Role:
    """One role of roles.json (tokens not yet replaced)."""

    key: str
    name: str
    trust: str
    policy: str
    description: str


def load_document(name: str) -> dict[str, Any]:
    """A policy document of infra/iam by file name."""
    data = json.loads((IAM_DIR / name).read_text())
    if not isinstance(data, dict):
        raise RenderError(f"{name} is not a JSON object")
    return data


def roles() -> list[Role]:
    """The roles of roles.json."""
    data = json.loads(ROLES_FILE.read_text())
    return [Role(key=key, **spec) for key, spec in data["roles"].items()]


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


def stage_values(stage: str, **values: str | None) -> dict[str, str]:
    """Token values for a stage: APP and STAGE from .chalice/config.json, the rest as given (None = not given)."""
    names = chalice_names.stage_names(stage)
    given = {key.upper(): value for key, value in values.items() if value is not None}
    return {"APP": names.app_name, "STAGE": stage, **given}


def chalice_policy(stage: str) -> dict[str, Any]:
    """What .chalice/policy-<stage>.json must hold: the API's execution policy for any account and region."""
    rendered: dict[str, Any] = render(load_document(API_POLICY), stage_values(stage, account_id="*", region="*"))
    return rendered


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
        _write(policy, render(load_document(role.policy), values))
        commands += [
            f"aws iam create-role --role-name {name} --assume-role-policy-document file://{trust} "
            f"--description {json.dumps(role.description)}",
            f"aws iam put-role-policy --role-name {name} --policy-name {name} --policy-document file://{policy}",
        ]
    for target, document in resource_policies().items():
        path = out / f"{target}-policy.json"
        _write(path, render(load_document(document), values))
        if target == "ecr_repository":
            commands.append(
                f"aws ecr set-repository-policy --repository-name {values['ECR_REPOSITORY']} --policy-text file://{path}"
            )
    return commands


def main(argv: list[str] | None = None) -> int:
    """CLI: `render` a stage's documents, or write Chalice's policy files (`chalice`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rend = sub.add_parser("render", help="write one stage's role documents with the tokens replaced")
    rend.add_argument("--stage", required=True)
    rend.add_argument("--out", type=Path, required=True)
    for option in ("account-id", "region", "github-repo", "dvc-bucket", "ecr-repository", "es-secret-name"):
        rend.add_argument(f"--{option}", required=True)
    chal = sub.add_parser("chalice", help="write .chalice/policy-<stage>.json for every stage that names one")
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
            )
            print("\n".join(render_stage(args.out, values)))
            return 0
        stale = []
        for stage, path in chalice_policy_files().items():
            expected = chalice_policy(stage)
            current = json.loads(path.read_text()) if path.exists() else None
            if current != expected:
                stale.append(str(path))
                if not args.check:
                    _write(path, expected)
        verb = "out of date" if args.check else "written"
        print(f"{verb}: {', '.join(stale)}" if stale else "Chalice policy files match infra/iam")
        return 1 if stale and args.check else 0
    except (RenderError, chalice_names.ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def chalice_policy_files() -> dict[str, Path]:
    """Stage → the iam_policy_file its .chalice/config.json names (stages without one are skipped)."""
    config = chalice_names.read_config()
    files = {}
    for stage, settings in config.get("stages", {}).items():
        name = settings.get("iam_policy_file") or config.get("iam_policy_file")
        if name:
            files[stage] = chalice_names.CHALICE_CONFIG.parent / name
    return files


if __name__ == "__main__":
    sys.exit(main())
