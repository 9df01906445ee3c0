"""The zip route's roles: a real `chalice package` of the app as it is now gives the API and the log shipper one
role each, holding the policy file .chalice/config.json names for that function (generated from infra/iam).

No AWS call is made: `chalice package` only writes the SAM template (dependencies left out, so it takes a second).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra import chalice_names, iam
from tests.support import chalice_package

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGION = "eu-west-1"


def role_policy(template: dict[str, Any], function: str) -> dict[str, Any]:
    """The inline policy of the role a function of the SAM template runs as (Chalice's own role resource)."""
    role = template["Resources"][function]["Properties"]["Role"]
    (role_id, attribute) = role["Fn::GetAtt"]
    assert attribute == "Arn"
    (policy,) = template["Resources"][role_id]["Properties"]["Policies"]
    document: dict[str, Any] = policy["PolicyDocument"]
    return document


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_shipper_runs_as_its_own_role_with_its_own_policy(tmp_path: Path, stage: str) -> None:
    app = chalice_package.copy_app(tmp_path / "app")
    template = chalice_package.read_template(chalice_package.package(app, stage, tmp_path / "out", REGION))
    api, shipper = template["Resources"]["APIHandler"], template["Resources"]["ShipLogs"]
    assert api["Properties"]["Role"] != shipper["Properties"]["Role"]
    assert role_policy(template, "APIHandler") == iam.chalice_policy(stage, chalice_names.API_HANDLER)
    assert role_policy(template, "ShipLogs") == iam.chalice_policy(stage, chalice_names.SHIPPER)
    actions = {a for s in role_policy(template, "ShipLogs")["Statement"] for a in s["Action"]}
    assert actions == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_a_shipper_configured_with_a_secret_may_read_that_secret(tmp_path: Path) -> None:
    """What an operator does for the zip route: name the secret in the shipper's environment, regenerate its policy
    file (the same code as `python -m infra.iam chalice`), package: the function reads the secret its role allows."""
    app = chalice_package.copy_app(tmp_path / "app")
    config_path = app / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    shipper = config["stages"]["dev"]["lambda_functions"]["ship_logs"]
    shipper["environment_variables"] = {"ES_URL": "https://es.example.com:9243", "ES_API_KEY_SECRET_ID": "cola-es"}
    config_path.write_text(json.dumps(config))
    policy_file = app / ".chalice" / shipper["iam_policy_file"]
    policy_file.write_text(json.dumps(iam.chalice_policy("dev", chalice_names.SHIPPER, config)))

    template = chalice_package.read_template(chalice_package.package(app, "dev", tmp_path / "out", REGION))
    variables = template["Resources"]["ShipLogs"]["Properties"]["Environment"]["Variables"]
    assert variables["ES_API_KEY_SECRET_ID"] == "cola-es"
    assert "ES_API_KEY_SECRET_ID" not in template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    statements = {s["Sid"]: s for s in role_policy(template, "ShipLogs")["Statement"]}
    assert set(statements) == {"WriteOwnLogs", "ReadElasticsearchApiKey"}
    secret = statements["ReadElasticsearchApiKey"]
    assert (secret["Action"], secret["Resource"]) == (
        "secretsmanager:GetSecretValue",
        "arn:aws:secretsmanager:*:*:secret:cola-es-??????",
    )
    assert role_policy(template, "APIHandler") == iam.chalice_policy("dev", chalice_names.API_HANDLER)
