"""The IAM documents of infra/iam: rendering, least privilege, agreement with the deploy template and Chalice's
policy files, and parliament (a real IAM linter) with zero unexpected findings."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from infra import chalice_names, iam, iam_lint
from infra.deploy_template import TemplateOptions, transform
from tests.support.chalice_sam import APP, sample

ACCOUNT = "123456789012"
REGION = "eu-west-1"
VALUES = {"APP": APP, "STAGE": "dev", **iam_lint.EXAMPLE_VALUES}


def rendered(name: str, **values: str) -> dict[str, Any]:
    document: dict[str, Any] = iam.render(iam.load_document(name), {**VALUES, **values})
    return document


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows(document: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement matches action and resource (wildcards as IAM reads them; conditions ignored)."""
    return any(
        s["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in as_list(s["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in as_list(s.get("Resource", [])))
        for s in statements(document)
    )


def deployed_names(stage: str = "dev") -> dict[str, str]:
    """Physical names the deploy template gives its functions, alarms and queue (Fn::Sub of ${Stage})."""
    template = transform(sample(), app_name=APP, stage=stage, options=TemplateOptions())
    names = {}
    for logical_id, resource in template["Resources"].items():
        props = resource["Properties"]
        for key in ("FunctionName", "AlarmName", "QueueName"):
            if isinstance(props.get(key), dict) and "Fn::Sub" in props[key]:
                names[logical_id] = props[key]["Fn::Sub"].replace("${Stage}", stage)
    return names


# Parliament ----------------------------------------------------------------------------------------------------


def test_parliament_finds_nothing_unexpected_in_infra_iam() -> None:
    findings = iam_lint.unexpected_findings()
    assert findings == [], "\n".join(map(str, findings))


def test_every_accepted_finding_still_occurs() -> None:
    """An accepted finding that no longer occurs is a stale exception: remove it from EXPECTED."""
    found = [f for name, doc in iam_lint.documents().items() for f in iam_lint.lint_document(name, doc)]
    for document, issue, text in iam_lint.EXPECTED:
        assert any(f.document == document and f.issue == issue and text in f.detail for f in found), (document, issue)


def test_parliament_flags_a_policy_that_allows_everything() -> None:
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    findings = iam_lint.lint_document("bad.json", bad)
    assert any(f.severity in ("HIGH", "CRITICAL") for f in findings), findings
    assert not all(iam_lint.is_expected(f) for f in findings)


def test_parliament_flags_pass_role_on_any_role() -> None:
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}
    assert "RESOURCE_STAR" in {f.issue for f in iam_lint.lint_document("bad.json", bad)}


def test_parliament_flags_an_unknown_action() -> None:
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:UpdateFunctionKode", "Resource": "arn:aws:lambda:*:*:*"}],
    }
    assert "UNKNOWN_ACTION" in {f.issue for f in iam_lint.lint_document("bad.json", bad)}


# Rendering -----------------------------------------------------------------------------------------------------


def test_rendering_replaces_every_token() -> None:
    for name, document in iam_lint.documents().items():
        assert iam.tokens_of(document) == set(), name


def test_a_token_without_a_value_names_the_flag_to_pass() -> None:
    with pytest.raises(iam.RenderError, match="--es-secret-name"):
        iam.render(iam.load_document("ship-logs-execution-policy.json"), {"APP": APP, "STAGE": "dev", "REGION": REGION})


@pytest.mark.parametrize(
    ("token", "value"),
    [("ACCOUNT_ID", "12345"), ("GITHUB_REPO", "*"), ("STAGE", "dev*"), ("ES_SECRET_NAME", 'x"y'), ("REGION", "eu")],
)
def test_values_that_would_widen_or_break_a_policy_are_refused(token: str, value: str) -> None:
    with pytest.raises(iam.RenderError, match=token):
        iam.render({"Resource": f"<{token}>"}, {token: value})


def render_cli(stage: str, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """`python -m infra.iam render` for stage into out; the commands it prints."""
    args = ["--stage", stage, "--out", str(out), "--account-id", ACCOUNT, "--region", REGION]
    args += ["--github-repo", "acme/cola", "--dvc-bucket", "acme-dvc", "--ecr-repository", "cola-acceptability"]
    assert iam.main(["render", *args, "--es-secret-name", "cola-es"]) == 0
    return capsys.readouterr().out


def test_render_cli_writes_every_role_and_the_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = render_cli("dev", tmp_path, capsys)
    for role in iam.roles():
        assert (tmp_path / f"{role.key}-trust.json").is_file()
        assert (tmp_path / f"{role.key}-policy.json").is_file()
        assert f"--role-name {APP}-dev-" in commands
    assert "<" not in "".join(p.read_text() for p in tmp_path.iterdir())
    assert "aws ecr set-repository-policy --repository-name cola-acceptability" in commands


def test_render_cli_gives_the_dev_deploy_role_push_rights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = render_cli("dev", tmp_path, capsys).splitlines()
    push = tmp_path / "deploy-ecr-push-policy.json"
    expected = (
        f"aws iam put-role-policy --role-name {APP}-dev-deploy --policy-name ecr-push --policy-document file://{push}"
    )
    assert expected in commands
    values = {**VALUES, "ACCOUNT_ID": ACCOUNT, "REGION": REGION, "ECR_REPOSITORY": "cola-acceptability"}
    assert json.loads(push.read_text()) == iam.render(iam.load_document("ecr-push-policy.json"), values)


def test_render_cli_gives_prod_no_push_rights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = render_cli("prod", tmp_path, capsys)
    assert "ecr-push" not in commands
    assert not (tmp_path / "deploy-ecr-push-policy.json").exists()


# Chalice's policy files (the zip route) ---------------------------------------------------------------------------

LOG_ACTIONS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def chalice_config_with_shipper(**environment: str) -> dict[str, Any]:
    """.chalice/config.json with environment_variables added to dev's ship_logs function."""
    config = chalice_names.read_config()
    config["stages"]["dev"]["lambda_functions"]["ship_logs"]["environment_variables"] = environment
    return config


def test_chalice_config_gives_the_api_and_the_shipper_a_policy_file_each() -> None:
    found = {(f.stage, f.function): f.path for f in iam.chalice_policy_files()}
    chalice_dir = chalice_names.CHALICE_CONFIG.parent
    assert found == {
        (stage, function): chalice_dir / name
        for stage in ("dev", "prod")
        for function, name in (("api_handler", f"policy-{stage}.json"), ("ship_logs", f"policy-shipper-{stage}.json"))
    }
    assert all(path.is_file() for path in found.values())


def test_chalice_policy_files_are_what_infra_iam_renders() -> None:
    """They are generated, never edited: a change to infra/iam without `python -m infra.iam chalice` fails here."""
    for entry in iam.chalice_policy_files():
        expected = iam.chalice_policy(entry.stage, entry.function)
        assert json.loads(entry.path.read_text()) == expected, f"{entry.path}: run `python -m infra.iam chalice`"


def test_the_shippers_file_comes_from_its_image_route_role_document() -> None:
    source = iam.load_document("ship-logs-execution-policy.json")
    (logs,) = [s for s in source["Statement"] if s["Sid"] == "WriteOwnLogs"]
    rendered = iam.chalice_policy("dev", chalice_names.SHIPPER)
    assert rendered["Statement"] == [iam.render(logs, {"REGION": "*", "ACCOUNT_ID": "*", "APP": APP, "STAGE": "dev"})]


def test_the_shipper_may_only_write_its_own_logs_when_no_secret_is_configured() -> None:
    document = iam.chalice_policy("dev", chalice_names.SHIPPER)
    assert {a for s in statements(document) for a in as_list(s["Action"])} == LOG_ACTIONS
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{APP}-dev-ship_logs"
    assert allows(document, "logs:PutLogEvents", f"{group}:log-stream:2026/11/26/[$LATEST]abc")
    api_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{APP}-dev"
    assert not allows(document, "logs:PutLogEvents", f"{api_group}:log-stream:x")
    assert not allows(document, "logs:PutLogEvents", group.replace("-dev-", "-prod-") + ":log-stream:x")


@pytest.mark.parametrize("level", ["function", "stage"])
def test_a_shipper_with_a_secret_may_read_that_secret_and_nothing_else(level: str) -> None:
    """ES_API_KEY_SECRET_ID counts wherever Chalice merges it from for the function (its own or the stage's)."""
    config = chalice_config_with_shipper()
    target = config["stages"]["dev"] if level == "stage" else config["stages"]["dev"]["lambda_functions"]["ship_logs"]
    target.setdefault("environment_variables", {})["ES_API_KEY_SECRET_ID"] = "cola-es"
    document = iam.chalice_policy("dev", chalice_names.SHIPPER, config)
    assert {a for s in statements(document) for a in as_list(s["Action"])} == LOG_ACTIONS | {
        "secretsmanager:GetSecretValue"
    }
    (secret,) = [s for s in statements(document) if s["Action"] == "secretsmanager:GetSecretValue"]
    assert secret["Resource"] == "arn:aws:secretsmanager:*:*:secret:cola-es-??????"
    assert allows(
        document, "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cola-es-AbCdEf"
    )
    assert not allows(
        document, "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cola-db-AbCdEf"
    )
    assert not [a for s in statements(document) for a in as_list(s["Action"]) if a.startswith("sqs:")]
    assert [f for f in iam_lint.lint_document("shipper.json", document) if not iam_lint.is_expected(f)] == []


def test_a_secret_given_as_an_arn_is_refused_with_the_way_out() -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cola-es-AbCdEf"
    with pytest.raises(iam.RenderError, match="give the secret's name"):
        iam.chalice_policy("dev", chalice_names.SHIPPER, chalice_config_with_shipper(ES_API_KEY_SECRET_ID=arn))


def test_a_secret_name_that_would_widen_the_policy_is_refused() -> None:
    with pytest.raises(iam.RenderError, match="ES_SECRET_NAME"):
        iam.chalice_policy("dev", chalice_names.SHIPPER, chalice_config_with_shipper(ES_API_KEY_SECRET_ID="cola-*"))


DOMAIN_URL = "https://search-cola-logs-abcdefghijklmnopqrstuvwxyz.us-west-2.es.amazonaws.com"
COLLECTION_URL = "https://k2xq7a9b3c.us-west-2.aoss.amazonaws.com"


def test_a_sigv4_shipper_on_the_zip_route_may_post_to_the_domain_of_its_endpoint_only() -> None:
    config = chalice_config_with_shipper(ES_URL=DOMAIN_URL, SEARCH_BACKEND="opensearch", ES_AUTH="sigv4")
    document = iam.chalice_policy("dev", chalice_names.SHIPPER, config)
    (statement,) = [s for s in statements(document) if s["Sid"] == "WriteOpenSearchDomain"]
    assert statement["Resource"] == "arn:aws:es:us-west-2:*:domain/cola-logs/*"
    assert allows(document, "es:ESHttpPost", f"arn:aws:es:us-west-2:{ACCOUNT}:domain/cola-logs/_bulk")
    assert not allows(document, "es:ESHttpPost", f"arn:aws:es:us-west-2:{ACCOUNT}:domain/other/_bulk")
    assert not allows(document, "es:ESHttpDelete", f"arn:aws:es:us-west-2:{ACCOUNT}:domain/cola-logs/predictions-x")
    assert not [a for s in statements(document) for a in as_list(s["Action"]) if a.startswith(("aoss:", "secrets"))]
    assert [f for f in iam_lint.lint_document("shipper.json", document) if not iam_lint.is_expected(f)] == []


def test_a_sigv4_shipper_on_the_zip_route_may_reach_the_collection_of_its_endpoint_only() -> None:
    # ES_AUTH left out: sigv4 is OpenSearch's default (chalicelib.shipper.settings)
    config = chalice_config_with_shipper(ES_URL=COLLECTION_URL, SEARCH_BACKEND="opensearch", ES_SIGV4_SERVICE="aoss")
    document = iam.chalice_policy("dev", chalice_names.SHIPPER, config)
    (statement,) = [s for s in statements(document) if s["Sid"] == "WriteOpenSearchServerless"]
    assert statement == {
        "Sid": "WriteOpenSearchServerless",
        "Effect": "Allow",
        "Action": "aoss:APIAccessAll",
        "Resource": "arn:aws:aoss:us-west-2:*:collection/k2xq7a9b3c",
    }
    assert not [a for s in statements(document) for a in as_list(s["Action"]) if a.startswith("es:")]
    assert [f for f in iam_lint.lint_document("shipper.json", document) if not iam_lint.is_expected(f)] == []


def test_a_basic_auth_shipper_on_the_zip_route_reads_its_user_secret_and_signs_nothing() -> None:
    config = chalice_config_with_shipper(
        ES_URL=DOMAIN_URL, SEARCH_BACKEND="opensearch", ES_AUTH="basic", ES_BASIC_AUTH_SECRET_ID="cola-user"
    )
    document = iam.chalice_policy("dev", chalice_names.SHIPPER, config)
    assert {a for s in statements(document) for a in as_list(s["Action"])} == LOG_ACTIONS | {
        "secretsmanager:GetSecretValue"
    }
    assert allows(
        document, "secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:cola-user-AbCdEf"
    )


def test_a_custom_endpoint_with_sigv4_on_the_zip_route_is_refused_with_the_way_out() -> None:
    config = chalice_config_with_shipper(ES_URL="https://logs.example.com", SEARCH_BACKEND="opensearch")
    with pytest.raises(iam.RenderError, match=r"not an Amazon OpenSearch Service endpoint.*OPENSEARCH_DOMAIN"):
        iam.chalice_policy("dev", chalice_names.SHIPPER, config)


def test_render_leaves_out_the_search_statements_it_has_no_resource_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--stage", "dev", "--out", str(tmp_path), "--account-id", ACCOUNT, "--region", REGION]
    args += ["--github-repo", "acme/cola", "--dvc-bucket", "acme-dvc", "--ecr-repository", "cola-acceptability"]
    assert iam.main(["render", *args, "--opensearch-domain", "cola-logs"]) == 0
    capsys.readouterr()
    document = json.loads((tmp_path / "ship_logs-policy.json").read_text())
    assert [s["Sid"] for s in statements(document)] == ["WriteOwnLogs", "WriteOpenSearchDomain", "DeadLetterQueue"]
    assert allows(document, "es:ESHttpPost", f"arn:aws:es:{REGION}:{ACCOUNT}:domain/cola-logs/_bulk")


@pytest.mark.parametrize(
    ("token", "value"), [("OPENSEARCH_DOMAIN", "*"), ("OPENSEARCH_COLLECTION_ID", "a/b"), ("SEARCH_REGION", "eu")]
)
def test_search_resources_that_would_widen_the_policy_are_refused(token: str, value: str) -> None:
    with pytest.raises(iam.RenderError, match=token):
        iam.render({"Resource": f"<{token}>"}, {token: value})


def test_the_api_and_the_shipper_cannot_share_a_policy_file() -> None:
    """What the zip route did before: the shipper fell back to the stage's file, the API's logs-only policy."""
    config = chalice_names.read_config()
    del config["stages"]["prod"]["lambda_functions"]["ship_logs"]["iam_policy_file"]
    with pytest.raises(chalice_names.ConfigError, match=r"stages\.prod\.lambda_functions\.ship_logs\.iam_policy_file"):
        iam.chalice_policy_files(config)


def test_statements_the_zip_route_omits_exist_in_their_document() -> None:
    """An omission naming a Sid that is gone would silently stop omitting anything."""
    for role in iam.roles():
        sids = {s.get("Sid") for s in statements(iam.load_document(role.policy))}
        assert set(role.zip_route_omits) <= sids, role.key
    (shipper,) = [r for r in iam.roles() if r.key == "ship_logs"]
    assert set(shipper.zip_route_omits) == {"DeadLetterQueue"}


def test_chalice_check_cli_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "policy-shipper-dev.json"
    stale.write_text('{"Version": "2012-10-17", "Statement": []}')
    entry = iam.ChalicePolicyFile("dev", chalice_names.SHIPPER, stale)
    monkeypatch.setattr(iam, "chalice_policy_files", lambda: [entry])
    assert iam.main(["chalice", "--check"]) == 1
    assert iam.main(["chalice"]) == 0
    assert json.loads(stale.read_text()) == iam.chalice_policy("dev", chalice_names.SHIPPER)
    assert iam.main(["chalice", "--check"]) == 0


def test_parliament_lints_the_chalice_policy_files() -> None:
    linted = set(iam_lint.documents())
    assert {
        ".chalice/policy-dev.json",
        ".chalice/policy-shipper-dev.json",
        ".chalice/policy-shipper-prod.json",
    } <= linted


# Least privilege and agreement with the template -------------------------------------------------------------------


NO_RESOURCE_LEVEL = {
    "ecr:GetAuthorizationToken",
    "codedeploy:StopDeployment",
    "codedeploy:PutLifecycleEventHookExecutionStatus",
    "sns:Unsubscribe",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
}
"""Actions IAM only grants on Resource "*" (they name no resource type; parliament's action table agrees)."""


def test_no_document_allows_a_wildcard_action_or_any_resource() -> None:
    """Resource "*" only in a statement of nothing but actions that cannot be narrowed to a resource."""
    for name, document in iam_lint.documents().items():
        for statement in statements(document):
            actions = as_list(statement["Action"])
            assert not [a for a in actions if a == "*" or a.endswith(":*")], name
            if "*" in as_list(statement.get("Resource", [])):
                assert set(actions) <= NO_RESOURCE_LEVEL, (name, statement)


def test_the_dev_deploy_role_may_push_to_the_project_repository_only() -> None:
    document = rendered("ecr-push-policy.json")
    repository = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{VALUES['ECR_REPOSITORY']}"
    push = ("ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage")
    for action in (*push, "ecr:BatchCheckLayerAvailability", "ecr:DescribeImages", "ecr:DescribeRepositories"):
        assert allows(document, action, repository), action
        assert not allows(document, action, f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/someone-elses"), action
        assert not allows(document, action, repository.replace(REGION, "us-east-1")), action
    assert allows(document, "ecr:GetAuthorizationToken", "*")
    for action in ("ecr:DeleteRepository", "ecr:BatchDeleteImage", "ecr:SetRepositoryPolicy", "ecr:PutLifecyclePolicy"):
        assert not allows(document, action, repository), action


def test_only_the_dev_deploy_role_gets_push_rights() -> None:
    extras = {(role.key, extra.name): extra for role in iam.roles() for extra in role.extra_policies}
    assert set(extras) == {("deploy", "ecr-push")}
    assert extras["deploy", "ecr-push"].document == "ecr-push-policy.json"
    assert extras["deploy", "ecr-push"].stages == ("dev",)


def test_api_role_may_only_write_logs() -> None:
    document = rendered("api-execution-policy.json")
    actions = {a for s in statements(document) for a in as_list(s["Action"])}
    assert actions == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{APP}-dev"
    assert allows(document, "logs:PutLogEvents", f"{group}:log-stream:2026/11/26/[$LATEST]abc")
    assert not allows(document, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/other:*")


def test_shipper_role_reaches_its_secret_and_its_dead_letter_queue_only() -> None:
    document = rendered("ship-logs-execution-policy.json")
    queue = deployed_names()["ShipLogsDeadLetterQueue"]
    assert allows(document, "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")
    assert not allows(document, "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{APP}-prod-ship-logs-dlq")
    secret = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{VALUES['ES_SECRET_NAME']}-AbCdEf"
    assert allows(document, "secretsmanager:GetSecretValue", secret)
    assert not allows(document, "secretsmanager:GetSecretValue", secret.replace("es-api-key", "db-password"))
    function = deployed_names()["ShipLogs"]
    assert allows(document, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{function}:x")


def passing(document: dict[str, Any]) -> dict[str, str]:
    """Role ARN → the service an iam:PassRole statement may pass it to."""
    found = {}
    for statement in statements(document):
        if "iam:PassRole" in as_list(statement["Action"]):
            service = statement["Condition"]["StringEquals"]["iam:PassedToService"]
            found |= {arn: service for arn in as_list(statement["Resource"])}
    return found


def role_arn(key: str, stage: str = "dev") -> str:
    (role,) = [r for r in iam.roles() if r.key == key]
    return f"arn:aws:iam::{ACCOUNT}:role/{iam.render(role.name, {**VALUES, 'STAGE': stage})}"


def test_the_github_role_passes_only_the_cloudformation_role_and_only_to_cloudformation() -> None:
    document = rendered("deploy-policy.json")
    assert passing(document) == {role_arn("cloudformation"): "cloudformation.amazonaws.com"}
    assert not any(
        a.startswith("iam:") and a != "iam:PassRole" for s in statements(document) for a in as_list(s["Action"])
    )


def test_the_github_role_cannot_touch_what_the_stack_holds_itself() -> None:
    """CloudFormation acts as the execution role: the GitHub role has no Lambda, API Gateway, CodeDeploy, alarm
    or queue rights of its own, and CloudFormation only on its stage's stack."""
    document = rendered("deploy-policy.json")
    services = {a.split(":")[0] for s in statements(document) for a in as_list(s["Action"])}
    assert services == {"cloudformation", "iam", "ecr", "s3"}
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    stack = arn.format("cloudformation", f"stack/{APP}-dev/0b1c2d3e")
    assert allows(document, "cloudformation:UpdateStack", stack)
    assert not allows(document, "cloudformation:UpdateStack", arn.format("cloudformation", f"stack/{APP}-prod/0b1c"))
    # make deploy reads the stage's bootstrap stack first (infra/bootstrap_match.py), and may change none of it:
    bootstrap = arn.format("cloudformation", f"stack/{APP}-bootstrap-dev/0b1c")
    assert allows(document, "cloudformation:DescribeStacks", bootstrap)
    assert not allows(document, "cloudformation:UpdateStack", bootstrap)
    assert not allows(document, "cloudformation:DescribeStacks", bootstrap.replace("-dev/", "-prod/"))
    assert allows(document, "ecr:DescribeImages", arn.format("ecr", "repository/cola-acceptability"))
    assert not allows(document, "ecr:PutImage", arn.format("ecr", "repository/cola-acceptability"))
    # make deploy's image check reads the manifest and config over the registry API (infra/image_check.py):
    assert allows(document, "ecr:GetAuthorizationToken", "*")
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        assert allows(document, action, arn.format("ecr", "repository/cola-acceptability"))
        assert not allows(document, action, arn.format("ecr", "repository/another-repository"))
    assert allows(document, "s3:GetObject", "arn:aws:s3:::example-dvc-bucket/cola/files/md5/ab/cdef")
    assert not allows(document, "s3:PutObject", "arn:aws:s3:::example-dvc-bucket/cola/files/md5/ab/cdef")


def test_the_execution_role_passes_only_the_stage_roles_and_only_to_their_service() -> None:
    document = rendered("cloudformation-execution-policy.json")
    assert passing(document) == {
        role_arn("api"): "lambda.amazonaws.com",
        role_arn("ship_logs"): "lambda.amazonaws.com",
        role_arn("pre_traffic_hook"): "lambda.amazonaws.com",
        role_arn("codedeploy"): "codedeploy.amazonaws.com",
    }


def test_the_execution_role_reaches_the_stages_resources_by_name() -> None:
    """Which actions it needs is tests/unit/infra/test_cfn_permissions.py; here: on which names."""
    document = rendered("cloudformation-execution-policy.json")
    names = deployed_names()
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    for logical_id in ("APIHandler", "ShipLogs"):
        function = arn.format("lambda", f"function:{names[logical_id]}")
        for action in ("lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:PublishVersion"):
            assert allows(document, action, function), (action, function)
            assert not allows(document, action, function.replace("-dev", "-prod")), (action, function)
        assert allows(document, "lambda:AddPermission", f"{function}:live")
    for logical_id, name in names.items():
        if logical_id.endswith("Alarm"):
            assert allows(document, "cloudwatch:PutMetricAlarm", arn.format("cloudwatch", f"alarm:{name}")), name
    assert allows(document, "sqs:CreateQueue", arn.format("sqs", names["ShipLogsDeadLetterQueue"]))
    assert not allows(document, "sqs:CreateQueue", arn.format("sqs", f"{APP}-prod-ship-logs-dlq"))
    assert allows(document, "ecr:BatchGetImage", arn.format("ecr", "repository/cola-acceptability"))
    assert not allows(document, "ecr:PutImage", arn.format("ecr", "repository/cola-acceptability"))


def test_codedeploy_role_can_shift_the_aliases_and_read_the_rollback_alarms() -> None:
    document = rendered("codedeploy-policy.json")
    names = deployed_names()
    for logical_id in ("APIHandler", "ShipLogs"):
        alias = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{names[logical_id]}:live"
        assert allows(document, "lambda:UpdateAlias", alias)
    for logical_id in ("APIHandlerNewVersionErrorsAlarm", "APIHandlerNewVersionLatencyAlarm", "RestAPI5XXErrorAlarm"):
        assert allows(
            document, "cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{names[logical_id]}"
        )
    hook = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{names['PreTrafficHook']}"
    assert allows(document, "lambda:InvokeFunction", hook)  # CodeDeploy runs the PreTraffic hook
    assert not allows(
        document, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{names['APIHandler']}"
    )


def test_the_pre_traffic_hook_may_invoke_only_the_api_versions_and_report_to_codedeploy() -> None:
    document = rendered("pre-traffic-hook-policy.json")
    names = deployed_names()
    api = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{names['APIHandler']}"
    assert allows(document, "lambda:InvokeFunction", f"{api}:7")  # the version under test (TARGET_VERSION_ARN)
    for other in (names["ShipLogs"], names["PreTrafficHook"], f"{APP}-prod"):
        assert not allows(document, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{other}:7")
    assert allows(document, "codedeploy:PutLifecycleEventHookExecutionStatus", "*")
    services = {a.split(":")[0] for s in statements(document) for a in as_list(s["Action"])}
    assert services == {"logs", "lambda", "codedeploy"}


def test_github_can_assume_a_stages_role_only_from_that_environment_of_this_repository() -> None:
    """The subject is exactly one environment of one repository: a job without `environment: prod` (a tag push, a
    branch, another workflow) gets no prod credentials, so prod's required reviewers cannot be bypassed."""
    for stage in ("dev", "prod"):
        (statement,) = statements(rendered("github-oidc-trust-policy.json", STAGE=stage))
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
        assert statement["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": f"repo:{VALUES['GITHUB_REPO']}:environment:{stage}",
            }
        }


def test_lambda_and_codedeploy_roles_trust_their_service_in_this_account_only() -> None:
    for name, service in (("lambda-trust-policy.json", "lambda"), ("codedeploy-trust-policy.json", "codedeploy")):
        (statement,) = statements(rendered(name))
        assert statement["Principal"] == {"Service": f"{service}.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == VALUES["ACCOUNT_ID"]


def test_roles_file_names_existing_documents() -> None:
    for role in iam.roles():
        assert (iam.IAM_DIR / role.trust).is_file(), role
        assert (iam.IAM_DIR / role.policy).is_file(), role
        assert all((iam.IAM_DIR / extra.document).is_file() for extra in role.extra_policies), role
    assert {role.key for role in iam.roles()} == {
        "api",
        "ship_logs",
        "pre_traffic_hook",
        "codedeploy",
        "cloudformation",
        "deploy",
    }
