"""Lint the IAM documents of infra/iam and Chalice's policy files with parliament (duo-labs), community auditors on.

Every document of infra/iam is rendered first (tokens replaced with example values: parliament checks ARN formats);
the policy files .chalice/config.json names are linted as `chalice deploy` would send them.
Parliament audits identity policies; trust and resource policies have no Resource element by design, and it knows
only a fixed list of federation sources (Cognito, Amazon, Facebook, Google, SAML), not GitHub's OIDC provider.
Those findings, its misreading of the account field `aws` in the Serverless transform's ARN, and the registry
login token that pushing to ECR needs are the only ones accepted (EXPECTED below, each with its reason); anything
else at any severity fails.

    python -m infra.iam_lint            # exit 1 and list the findings when there are any
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import chalice_names, iam

EXAMPLE_VALUES = {
    "ACCOUNT_ID": "123456789012",
    "REGION": "eu-west-1",
    "GITHUB_REPO": "example-org/cola-acceptability",
    "DVC_BUCKET": "example-dvc-bucket",
    "ECR_REPOSITORY": "cola-acceptability",
    "ES_SECRET_NAME": "cola-acceptability-es-api-key",
    "ES_BASIC_AUTH_SECRET_NAME": "cola-acceptability-search-user",
    "OPENSEARCH_DOMAIN": "cola-logs",
    "OPENSEARCH_COLLECTION_ID": "a1b2c3d4e5f6g7h8i9j0",
    "SEARCH_REGION": "eu-west-1",
}
NO_RESOURCE = "Statement contains neither Resource nor NotResource"
EXPECTED: dict[tuple[str, str, str], str] = {
    ("lambda-trust-policy.json", "MALFORMED", NO_RESOURCE): "a trust policy names a Principal, not a Resource",
    ("codedeploy-trust-policy.json", "MALFORMED", NO_RESOURCE): "a trust policy names a Principal, not a Resource",
    ("github-oidc-trust-policy.json", "MALFORMED", NO_RESOURCE): "a trust policy names a Principal, not a Resource",
    ("cloudformation-trust-policy.json", "MALFORMED", NO_RESOURCE): "a trust policy names a Principal, not a Resource",
    ("ecr-repository-policy.json", "MALFORMED", NO_RESOURCE): "a repository policy applies to its repository",
    (
        "github-oidc-trust-policy.json",
        "UNKNOWN_FEDERATION_SOURCE",
        "oidc-provider/token.actions.githubusercontent.com",
    ): "parliament knows no OIDC providers; this is GitHub's (aud and sub are checked by tests)",
    (
        "ecr-push-policy.json",
        "CREDENTIALS_EXPOSURE",
        '{"actions": ["ecr:getauthorizationtoken"]}',
    ): "docker login needs ECR's registry token to push; the token grants only what the role's policy allows",
    (
        "deploy-policy.json",
        "INVALID_ARN",
        "Account expected to be of form like 123456789012",
    ): "the Serverless transform's ARN has the account field `aws` (arn:aws:cloudformation:<region>:aws:transform/...)",
    (
        "cloudformation-execution-policy.json",
        "PERMISSIONS_MANAGEMENT_ACTIONS",
        "lambda:addpermission",
    ): "what the template declares: API Gateway's invoke permission on the alias, the dead-letter queue's attributes, "
    "passing the stage's own execution and CodeDeploy roles (each scoped to the stage's names)",
    (
        "cloudformation-execution-policy.json",
        "PRIVILEGE_ESCALATION",
        "EditExistingLambdaFunctionWithRole",
    ): "updating the stage's functions is the deploy; only <app>-<stage> functions, whose roles are the stage's own",
}
"""(document, issue, text in the finding's detail) → why that finding is accepted."""


@dataclass(frozen=True)
class Finding:
    """One parliament finding on one document."""

    document: str
    issue: str
    severity: str
    detail: str

    def __str__(self) -> str:
        return f"{self.document}: {self.severity} {self.issue}: {self.detail}"


def _parliament() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament 1.6 imports the deprecated pkg_resources
        import parliament

    community = Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"
    parliament.override_config(str(community))  # severities of the community auditors' issues
    return parliament


def lint_document(name: str, document: Mapping[str, Any]) -> list[Finding]:
    """All of parliament's findings (community auditors included) on one rendered document."""
    parliament = _parliament()
    policy = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=True)
    findings = []
    for raw in policy.findings:
        finding = parliament.enhance_finding(raw)
        # Some auditors say what they found only in the location (CREDENTIALS_EXPOSURE: the actions).
        location = {k: v for k, v in (finding.location or {}).items() if v is not None and k != "filepath"}
        detail = " ".join(filter(None, [str(finding.detail), json.dumps(location, sort_keys=True) if location else ""]))
        findings.append(Finding(name, finding.issue, finding.severity, detail))
    return findings


def is_expected(finding: Finding) -> bool:
    """Whether EXPECTED accepts this finding."""
    return any(
        (finding.document, finding.issue) == (document, issue) and text in finding.detail
        for document, issue, text in EXPECTED
    )


def documents() -> dict[str, Any]:
    """Every document of infra/iam (roles.json aside), rendered with example values for the dev stage, and the
    Chalice policy files as they are on disk (named by their path from the repository root)."""
    values = {"APP": "cola-acceptability", "STAGE": "dev", **EXAMPLE_VALUES}
    names = sorted(p.name for p in iam.IAM_DIR.glob("*.json") if p != iam.ROLES_FILE)
    found = {name: iam.render(iam.load_document(name), values) for name in names}
    for entry in iam.chalice_policy_files():
        found[str(entry.path.relative_to(chalice_names.ROOT))] = json.loads(entry.path.read_text())
    return found


def unexpected_findings() -> list[Finding]:
    """Findings on infra/iam that EXPECTED does not accept."""
    return [f for name, doc in documents().items() for f in lint_document(name, doc) if not is_expected(f)]


def main() -> int:
    """CLI: list unexpected findings; exit 1 when there are any."""
    findings = unexpected_findings()
    for finding in findings:
        print(finding)
    print(f"parliament: {len(findings)} unexpected finding(s) in {len(documents())} documents (infra/iam, .chalice)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
