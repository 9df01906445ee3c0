"""Lint the IAM documents of infra/iam with parliament (duo-labs), its community auditors included.

Every document is rendered first (tokens replaced with example values: parliament checks ARN formats).
Parliament audits identity policies; trust and resource policies have no Resource element by design, and it knows
only a fixed list of federation sources (Cognito, Amazon, Facebook, Google, SAML), not GitHub's OIDC provider.
Those findings, and its misreading of the account field `aws` in the Serverless transform's ARN, are the only
ones accepted (EXPECTED below, each with its reason); anything else at any severity fails.

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

from infra import iam

EXAMPLE_VALUES = {
    "ACCOUNT_ID": "123456789012",
    "REGION": "eu-west-1",
    "GITHUB_REPO": "example-org/cola-acceptability",
    "DVC_BUCKET": "example-dvc-bucket",
    "ECR_REPOSITORY": "cola-acceptability",
    "ES_SECRET_NAME": "cola-acceptability-es-api-key",
}
NO_RESOURCE = "Statement contains neither Resource nor NotResource"
EXPECTED: dict[tuple[str, str, str], str] = {
    ("lambda-trust-policy.json", "MALFORMED", NO_RESOURCE): "a trust policy names a Principal, not a Resource",
    ("codedeploy-trust-policy.json", "MALFORMED", NO_RESOURCE): "a trust policy names a Principal, not a Resource",
    ("github-oidc-trust-policy.json", "MALFORMED", NO_RESOURCE): "a trust policy names a Principal, not a Resource",
    ("ecr-repository-policy.json", "MALFORMED", NO_RESOURCE): "a repository policy applies to its repository",
    (
        "github-oidc-trust-policy.json",
        "UNKNOWN_FEDERATION_SOURCE",
        "oidc-provider/token.actions.githubusercontent.com",
    ): "parliament knows no OIDC providers; this is GitHub's (aud and sub are checked by tests)",
    (
        "deploy-policy.json",
        "INVALID_ARN",
        "Account expected to be of form like 123456789012",
    ): "the Serverless transform's ARN has the account field `aws` (arn:aws:cloudformation:<region>:aws:transform/...)",
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
        findings.append(Finding(name, finding.issue, finding.severity, str(finding.detail)))
    return findings


def is_expected(finding: Finding) -> bool:
    """Whether EXPECTED accepts this finding."""
    return any(
        (finding.document, finding.issue) == (document, issue) and text in finding.detail
        for document, issue, text in EXPECTED
    )


def documents() -> dict[str, Any]:
    """Every document of infra/iam (roles.json aside), rendered with example values for the dev stage."""
    values = {"APP": "cola-acceptability", "STAGE": "dev", **EXAMPLE_VALUES}
    names = sorted(p.name for p in iam.IAM_DIR.glob("*.json") if p != iam.ROLES_FILE)
    return {name: iam.render(iam.load_document(name), values) for name in names}


def unexpected_findings() -> list[Finding]:
    """Findings on infra/iam that EXPECTED does not accept."""
    return [f for name, doc in documents().items() for f in lint_document(name, doc) if not is_expected(f)]


def main() -> int:
    """CLI: list unexpected findings; exit 1 when there are any."""
    findings = unexpected_findings()
    for finding in findings:
        print(finding)
    print(f"parliament: {len(findings)} unexpected finding(s) in {len(documents())} documents of {iam.IAM_DIR}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
