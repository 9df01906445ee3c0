"""The IAM documents of infra/iam: rendering, least privilege, agreement with the deploy template and Chalice's
policy files, and parliament (a real IAM linter) with zero unexpected findings."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from infra import iam, iam_lint
from infra.deploy_template import TemplateOptions, transform
from tests.unit.infra.test_deploy_template import APP, sample

ACCOUNT = "123456789012"
REGION = "eu-west-1"
VALUES = {"APP": APP, "STAGE": "dev", **iam_lint.EXAMPLE_VALUES}


def rendered(name: str) -> dict[str, Any]:
    document: dict[str, Any] = iam.render(iam.load_document(name), VALUES)
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


def test_render_cli_writes_every_role_and_the_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--stage", "dev", "--out", str(tmp_path), "--account-id", ACCOUNT, "--region", REGION]
    args += ["--github-repo", "acme/cola", "--dvc-bucket", "acme-dvc", "--ecr-repository", "cola-acceptability"]
    code = iam.main(["render", *args, "--es-secret-name", "cola-es"])
    assert code == 0
    commands = capsys.readouterr().out
    for role in iam.roles():
        assert (tmp_path / f"{role.key}-trust.json").is_file()
        assert (tmp_path / f"{role.key}-policy.json").is_file()
        assert f"--role-name {APP}-dev-" in commands
    assert "<" not in "".join(p.read_text() for p in tmp_path.iterdir())
    assert "aws ecr set-repository-policy --repository-name cola-acceptability" in commands


# Chalice's policy files ------------------------------------------------------------------------------------------


def test_chalice_policy_files_are_the_api_execution_policy() -> None:
    files = iam.chalice_policy_files()
    assert set(files) == {"dev", "prod"}
    for stage, path in files.items():
        assert json.loads(path.read_text()) == iam.chalice_policy(stage), f"{path}: run `python -m infra.iam chalice`"


def test_chalice_check_cli_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "policy-dev.json"
    stale.write_text('{"Version": "2012-10-17", "Statement": []}')
    monkeypatch.setattr(iam, "chalice_policy_files", lambda: {"dev": stale})
    assert iam.main(["chalice", "--check"]) == 1
    assert iam.main(["chalice"]) == 0
    assert json.loads(stale.read_text()) == iam.chalice_policy("dev")


# Least privilege and agreement with the template -------------------------------------------------------------------


def test_no_document_allows_a_wildcard_action_or_any_resource() -> None:
    for name, document in iam_lint.documents().items():
        for statement in statements(document):
            assert not [a for a in as_list(statement["Action"]) if a == "*" or a.endswith(":*")], name
            assert "*" not in as_list(statement.get("Resource", [])), name


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


def test_deploy_role_passes_only_the_stage_roles_and_only_to_their_service() -> None:
    document = rendered("deploy-policy.json")
    passing = [s for s in statements(document) if "iam:PassRole" in as_list(s["Action"])]
    resources = {r for s in passing for r in as_list(s["Resource"])}
    names = {iam.render(role.name, VALUES) for role in iam.roles() if role.key != "deploy"}
    assert resources == {f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in names}
    assert all(s["Condition"]["StringEquals"]["iam:PassedToService"] for s in passing)
    assert not any(
        a.startswith("iam:") and a != "iam:PassRole" for s in statements(document) for a in as_list(s["Action"])
    )


def test_deploy_role_covers_what_the_template_creates() -> None:
    document = rendered("deploy-policy.json")
    names = deployed_names()
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    for logical_id in ("APIHandler", "ShipLogs"):
        function = arn.format("lambda", f"function:{names[logical_id]}")
        for action in ("lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:PublishVersion"):
            assert allows(document, action, function), (action, function)
        assert allows(document, "lambda:AddPermission", f"{function}:live")
    for logical_id, name in names.items():
        if logical_id.endswith("Alarm"):
            assert allows(document, "cloudwatch:PutMetricAlarm", arn.format("cloudwatch", f"alarm:{name}")), name
    assert allows(document, "sqs:CreateQueue", arn.format("sqs", names["ShipLogsDeadLetterQueue"]))
    stack = arn.format("cloudformation", f"stack/{APP}-dev/0b1c2d3e")
    assert allows(document, "cloudformation:UpdateStack", stack)
    assert not allows(document, "cloudformation:UpdateStack", arn.format("cloudformation", f"stack/{APP}-prod/0b1c"))
    assert allows(document, "ecr:DescribeImages", arn.format("ecr", "repository/cola-acceptability"))
    assert allows(document, "s3:GetObject", "arn:aws:s3:::example-dvc-bucket/cola/files/md5/ab/cdef")
    assert not allows(document, "s3:PutObject", "arn:aws:s3:::example-dvc-bucket/cola/files/md5/ab/cdef")


def test_codedeploy_role_can_shift_the_aliases_and_read_the_rollback_alarms() -> None:
    document = rendered("codedeploy-policy.json")
    names = deployed_names()
    for logical_id in ("APIHandler", "ShipLogs"):
        alias = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{names[logical_id]}:live"
        assert allows(document, "lambda:UpdateAlias", alias)
    for logical_id in ("APIHandlerAliasErrorsAlarm", "RestAPI5XXErrorAlarm", "ShipLogsAliasErrorsAlarm"):
        assert allows(
            document, "cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{names[logical_id]}"
        )


def test_github_can_assume_the_deploy_role_only_from_this_repository() -> None:
    (statement,) = statements(rendered("github-oidc-trust-policy.json"))
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    assert statement["Condition"]["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    subjects = statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    repo = VALUES["GITHUB_REPO"]
    assert subjects == [f"repo:{repo}:environment:dev", f"repo:{repo}:ref:refs/tags/v*"]


def test_lambda_and_codedeploy_roles_trust_their_service_in_this_account_only() -> None:
    for name, service in (("lambda-trust-policy.json", "lambda"), ("codedeploy-trust-policy.json", "codedeploy")):
        (statement,) = statements(rendered(name))
        assert statement["Principal"] == {"Service": f"{service}.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == VALUES["ACCOUNT_ID"]


def test_roles_file_names_existing_documents() -> None:
    for role in iam.roles():
        assert (iam.IAM_DIR / role.trust).is_file(), role
        assert (iam.IAM_DIR / role.policy).is_file(), role
    assert {role.key for role in iam.roles()} == {"api", "ship_logs", "codedeploy", "deploy"}
