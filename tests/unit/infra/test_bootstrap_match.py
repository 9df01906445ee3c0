"""infra.bootstrap_match on stack parameters and outputs as DescribeStacks returns them: the cases moto cannot
make (an older bootstrap stack, roles it lacks) and the rules of each auth mode. Each kind of difference is also
refused by `python -m infra.deploy` against a moto stage bootstrapped for real (tests/integration/test_deploy.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.bootstrap_match import DeployAsks, MismatchError, check, compare, search_needs
from infra.bootstrap_settings import Grants

APP = "cola-acceptability"
ROLE = f"arn:aws:iam::123456789012:role/{APP}-dev-cloudformation"
ASKS = DeployAsks(
    app=APP, stage="dev", stack=f"{APP}-dev", account="123456789012", region="eu-west-1",
    image_account="123456789012", image_repository="cola", search={}, roles={"RoleARN": ROLE},
)  # fmt: skip
PARAMETERS = {"GitHubRepo": "acme/cola", "DvcBucket": "acme-dvc", **Grants(ecr_repository="cola").parameters()}
OUTPUTS = {"DeployStackName": f"{APP}-dev", "CloudFormationExecutionRoleArn": ROLE}


def sigv4(url: str, service: str = "es", region: str = "") -> dict[str, str]:
    return {"EsUrl": url, "SearchBackend": "opensearch", "EsAuth": "sigv4", "EsSigv4Service": service,
            "EsSigv4Region": region}  # fmt: skip


def test_a_matching_deploy_has_no_differences() -> None:
    assert compare(ASKS, PARAMETERS, OUTPUTS).differences == []
    check(ASKS, (PARAMETERS, OUTPUTS))


def test_a_stage_may_grant_more_than_a_deploy_uses() -> None:
    parameters = {**PARAMETERS, "EsSecretName": "es-key", "OpenSearchDomain": "logs"}
    asks = replace(ASKS, search={"EsUrl": "https://es.example.com", "EsAuth": "none"})
    assert compare(asks, parameters, OUTPUTS).differences == []


def test_a_custom_endpoint_with_sigv4_needs_some_domain() -> None:
    asks = replace(ASKS, search=sigv4("https://logs.example.com"))
    (difference,) = compare(asks, PARAMETERS, OUTPUTS).differences
    assert difference.startswith("OPENSEARCH_DOMAIN: this deploy needs one (")
    ways = compare(asks, PARAMETERS, OUTPUTS).ways_out
    assert "OPENSEARCH_DOMAIN=<OPENSEARCH_DOMAIN> REGION=eu-west-1`" in ways[0]
    assert compare(asks, {**PARAMETERS, "OpenSearchDomain": "logs"}, OUTPUTS).differences == []


def test_the_signing_region_defaults_to_the_stacks_on_both_sides() -> None:
    asks = replace(ASKS, search=sigv4("https://search-logs-abc.eu-west-1.es.amazonaws.com"))
    assert compare(asks, {**PARAMETERS, "OpenSearchDomain": "logs"}, OUTPUTS).differences == []
    elsewhere = {**PARAMETERS, "OpenSearchDomain": "logs", "SearchRegion": "us-east-1"}
    (difference,) = compare(asks, elsewhere, OUTPUTS).differences
    assert difference.startswith("SEARCH_REGION: this deploy needs 'eu-west-1'")


@pytest.mark.parametrize(
    ("search", "needed"),
    [
        ({"EsAuth": "api_key", "EsSecretName": "k"}, [("es_secret_name", "k")]),
        ({"EsAuth": "basic", "EsBasicAuthSecretName": "u"}, [("es_basic_auth_secret_name", "u")]),
        ({"EsAuth": "none"}, []),
        ({}, []),  # no shipper in the template
        (
            sigv4("https://abc123.us-east-1.aoss.amazonaws.com", "aoss", "us-east-1"),
            [("opensearch_collection_id", "abc123"), ("search_region", "us-east-1")],
        ),
    ],
)
def test_the_auth_mode_decides_what_the_shipper_needs(
    search: dict[str, str], needed: list[tuple[str, str | None]]
) -> None:
    assert [(need.name, need.value) for need in search_needs(search, "eu-west-1")] == needed


def test_a_bootstrap_stack_from_before_the_check_is_refused_with_the_rerun() -> None:
    outputs = {key: value for key, value in OUTPUTS.items() if key != "DeployStackName"}
    with pytest.raises(MismatchError) as refused:
        check(ASKS, (PARAMETERS, outputs))
    message = str(refused.value)
    assert f"STACK: {APP}-bootstrap-dev has no output DeployStackName (made by an older `make bootstrap`)" in message
    assert "re-run `make bootstrap STAGE=dev GITHUB_REPO=acme/cola DVC_BUCKET=acme-dvc REPOSITORY=cola " in message


def test_a_role_the_bootstrap_stack_did_not_create_is_refused() -> None:
    hook = f"arn:aws:iam::123456789012:role/{APP}-dev-pre-traffic-hook"
    asks = replace(ASKS, roles={**ASKS.roles, "PreTrafficHookRoleArn": hook})
    (difference,) = compare(asks, PARAMETERS, OUTPUTS).differences
    assert difference == f"role {hook} (PreTrafficHookRoleArn): not one of the roles {APP}-bootstrap-dev created"


def test_no_bootstrap_stack_is_its_own_error() -> None:
    with pytest.raises(MismatchError, match=rf"^no bootstrap stack {APP}-bootstrap-dev in account 123456789012"):
        check(ASKS, None)
