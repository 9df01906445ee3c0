"""`make subscribe` against a real moto server: log group, invoke permission and subscription filter, idempotently.

One moto server (devtools/moto_server.py) serves the module on a free loopback port; each test resets it and
creates what a `chalice deploy` would have left: the API function `cola-acceptability-dev` and the shipper
`cola-acceptability-dev-ship_logs` (no alias), and for the container deploy also a published version of the shipper
behind the alias `live`. moto's create_function needs a role and a zip but never runs the code (it would
need Docker), so the zips hold a stand-in handler; nothing here invokes the shipper. Credentials are dummies from
the environment.

What moto cannot show: whether CloudWatch Logs accepts the permission when it test-invokes the shipper on
PutSubscriptionFilter (moto only checks that the function exists), how filter patterns select events (see
tests/unit/infra/test_filter_patterns.py), and IAM checks on Lambda calls (with IAM checks on, moto 5.2 refuses
every Lambda request's signature, so the access-denied test calls the log group step directly). moto 5.2 keeps one
resource-based policy for all qualifiers of a function (real Lambda keeps one per alias), though a statement added
with a Qualifier names the alias ARN as its Resource: the tests tell the policies apart by Resource. Its
RemovePermission ignores the Qualifier, so the request moto received (its server log) shows that one was sent.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from devtools.moto_server import REGION, MotoServer
from infra import subscribe
from infra.aws_errors import explain
from tests.conftest import ROOT
from tests.support.moto_env import module_moto

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server", reason="moto[server] is a dev requirement")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API = "cola-acceptability-dev"
SHIPPER = "cola-acceptability-dev-ship_logs"
LOG_GROUP = f"/aws/lambda/{API}"
ACCOUNT = "123456789012"  # moto's default account
SHIPPER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{SHIPPER}"
ALIAS_ARN = f"{SHIPPER_ARN}:live"
FILTER = f"logs-to-{SHIPPER}"
SID = "cloudwatch-logs-aws-lambda-cola-acceptability-dev"
PRINCIPAL = f"logs.{REGION}.amazonaws.com"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    yield from module_moto(tmp_path_factory)


@dataclass
class Aws:
    """Clients on the moto server, and the environment a subprocess needs to reach it."""

    server: MotoServer
    env: dict[str, str]
    logs: Any
    lambda_: Any
    iam: Any

    def create_function(self, name: str, region: str = REGION) -> str:
        """A Lambda function record (a role and a stand-in zip; moto does not run it); returns its ARN."""
        iam_role = self.iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("app.py", "def handler(event, context):\n    return None\n")
        client = self.lambda_ if region == REGION else boto3.client("lambda", region, endpoint_url=self.server.endpoint)
        answer = client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=iam_role["Role"]["Arn"],
            Handler="app.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        return str(answer["FunctionArn"])

    def create_alias(self, function: str = SHIPPER, alias: str = "live") -> str:
        """What the container deploy adds: a published version behind the alias; returns the alias ARN."""
        version = self.lambda_.publish_version(FunctionName=function)["Version"]
        return str(self.lambda_.create_alias(FunctionName=function, Name=alias, FunctionVersion=version)["AliasArn"])

    def statements(self, function: str = SHIPPER) -> list[dict[str, Any]]:
        return list(json.loads(self.lambda_.get_policy(FunctionName=function)["Policy"])["Statement"])

    def statements_on(self, resource: str) -> list[dict[str, Any]]:
        """The shipper's statements whose Resource is `resource` (moto keeps one policy for all qualifiers)."""
        try:
            policy = self.lambda_.get_policy(FunctionName=SHIPPER)["Policy"]
        except self.lambda_.exceptions.ResourceNotFoundException:
            return []
        return [s for s in json.loads(policy)["Statement"] if s["Resource"] == resource]

    def filters(self, log_group: str = LOG_GROUP) -> list[dict[str, Any]]:
        return list(self.logs.describe_subscription_filters(logGroupName=log_group)["subscriptionFilters"])

    def log_group(self, name: str = LOG_GROUP) -> dict[str, Any] | None:
        groups = self.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return next((g for g in groups if g["logGroupName"] == name), None)


TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture
def aws(moto: MotoServer, dummy_aws: dict[str, str]) -> Aws:
    moto.reset()
    session = boto3.session.Session(region_name=REGION)
    return Aws(
        server=moto,
        env=dummy_aws,
        logs=session.client("logs", endpoint_url=moto.endpoint),
        lambda_=session.client("lambda", endpoint_url=moto.endpoint),
        iam=session.client("iam", endpoint_url=moto.endpoint),
    )


@pytest.fixture
def deployed(aws: Aws) -> Aws:
    """What `chalice deploy --stage dev` leaves: the API function and the shipper."""
    aws.create_function(API)
    aws.create_function(SHIPPER)
    return aws


@pytest.fixture
def aliased(deployed: Aws) -> Aws:
    """What the container deploy leaves: the shipper also has a published version behind the alias `live`."""
    assert deployed.create_alias() == ALIAS_ARN
    return deployed


def run_cli(aws: Aws, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = subscribe.main(["--endpoint-url", aws.server.endpoint, *args])
    out, err = capsys.readouterr()
    return code, out, err


def run_make(aws: Aws, *variables: str) -> subprocess.CompletedProcess[str]:
    make = ["make", "--no-print-directory", f"VENV={Path(sys.executable).parent.parent}", "STAMP="]
    return subprocess.run(
        [*make, "subscribe", "STAGE=dev", f"REGION={REGION}", f"ENDPOINT={aws.server.endpoint}", *variables],
        cwd=ROOT,
        env=aws.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_subscribe_sets_up_log_group_permission_and_filter(deployed: Aws) -> None:
    result = run_make(deployed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"log group {LOG_GROUP}: created, retention 30 days" in result.stdout
    # `chalice deploy` makes no alias: the default SHIPPER_ALIAS=live falls back to the function, and says so
    assert (
        f"shipper target {SHIPPER_ARN}: alias live of {SHIPPER} does not exist (a `chalice deploy` zip deploy has "
        "none, the container deploy creates it), so the filter targets the unqualified function\n"
    ) in result.stdout

    group = deployed.log_group()
    assert group is not None
    assert group["retentionInDays"] == 30  # no log_retention_in_days in .chalice/config.json: the default
    [statement] = deployed.statements()
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Principal"] == {"Service": PRINCIPAL}
    assert statement["Resource"] == SHIPPER_ARN
    source = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}:*"
    assert statement["Condition"]["ArnLike"] == {"AWS:SourceArn": source}
    assert statement["Condition"]["StringEquals"] == {"AWS:SourceAccount": ACCOUNT}
    [subscription] = deployed.filters()
    assert subscription["filterName"] == FILTER
    assert subscription["filterPattern"] == subscribe.LINES["all"]
    assert subscription["destinationArn"] == SHIPPER_ARN


def test_a_second_run_changes_nothing(deployed: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(deployed, "--stage", "dev", capsys=capsys)[0] == 0
    first_filter = deployed.filters()
    code, out, _ = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 0
    target, *lines = out.splitlines()
    assert target.startswith(f"shipper target {SHIPPER_ARN}: alias live of {SHIPPER} does not exist")
    assert len(lines) == 3
    assert all(": present" in line for line in lines), out
    assert len(deployed.statements()) == 1
    assert deployed.filters() == first_filter


def test_another_pattern_updates_the_filter_in_place(deployed: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(deployed, "--stage", "dev", "--lines", "predictions", capsys=capsys)[0] == 0
    [before] = deployed.filters()
    assert before["filterPattern"] == '{ $.type = "prediction" }'

    code, out, _ = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 0
    assert f"subscription filter {FILTER} on {LOG_GROUP}: updated" in out
    [after] = deployed.filters()
    assert after["filterName"] == before["filterName"]
    assert after["filterPattern"] == ""
    assert after["destinationArn"] == SHIPPER_ARN
    assert len(deployed.statements()) == 1


def test_retention_is_set_on_an_existing_log_group(deployed: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    deployed.logs.create_log_group(logGroupName=LOG_GROUP)  # Lambda creates it, without retention, on first call
    code, out, _ = run_cli(deployed, "--stage", "dev", "--retention-days", "14", capsys=capsys)
    assert code == 0
    assert "present, set retention never expire -> 14 days" in out
    assert deployed.log_group()["retentionInDays"] == 14  # type: ignore[index]


def test_dry_run_reports_and_changes_nothing(deployed: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(deployed, "--stage", "dev", "--dry-run", capsys=capsys)
    assert code == 0
    assert "would create" in out
    assert "would add statement" in out
    assert deployed.log_group() is None
    with pytest.raises(deployed.lambda_.exceptions.ResourceNotFoundException):
        deployed.lambda_.get_policy(FunctionName=SHIPPER)


def test_log_group_and_shipper_arn_without_a_stage(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    shipper_arn = aws.create_function("some-shipper")
    log_group = "/aws/lambda/another-api"
    code, _, err = run_cli(aws, "--log-group", log_group, "--shipper-arn", shipper_arn, capsys=capsys)
    assert code == 0, err
    [subscription] = aws.filters(log_group)
    assert subscription["destinationArn"] == shipper_arn
    assert subscription["filterName"] == "logs-to-some-shipper"
    assert aws.statements("some-shipper")[0]["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f"{log_group}:*")


def test_a_stale_statement_of_ours_is_replaced(deployed: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    sid = "cloudwatch-logs-aws-lambda-cola-acceptability-dev"
    deployed.lambda_.add_permission(
        FunctionName=SHIPPER,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal="logs.eu-west-1.amazonaws.com",
        SourceArn=f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{LOG_GROUP}:*",
    )
    code, out, _ = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 0
    assert f"replaced statement {sid}" in out
    [statement] = deployed.statements()
    assert statement["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}


def test_a_second_filter_to_the_shipper_is_refused(deployed: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    deployed.logs.create_log_group(logGroupName=LOG_GROUP)
    deployed.logs.put_subscription_filter(
        logGroupName=LOG_GROUP, filterName="old-name", filterPattern="", destinationArn=SHIPPER_ARN
    )
    code, _, err = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 1
    assert "already sends events to cola-acceptability-dev-ship_logs through filter 'old-name'" in err
    assert "--filter-name old-name" in err
    assert [f["filterName"] for f in deployed.filters()] == ["old-name"]
    code, out, _ = run_cli(deployed, "--stage", "dev", "--filter-name", "old-name", capsys=capsys)
    assert code == 0
    assert "subscription filter old-name" in out


@pytest.mark.parametrize(("present", "missing"), [(SHIPPER, API), (API, SHIPPER)])
def test_a_missing_function_says_deploy_first(
    aws: Aws, capsys: pytest.CaptureFixture[str], present: str, missing: str
) -> None:
    aws.create_function(present)
    code, out, err = run_cli(aws, "--stage", "dev", capsys=capsys)
    assert code == 1
    assert out == ""
    assert f"function {missing} does not exist in {REGION}" in err
    assert "deploy first: make deploy STAGE=dev / chalice deploy --stage dev" in err
    assert "Traceback" not in err
    assert aws.log_group() is None


def test_an_unknown_stage_names_the_known_ones(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(aws, "--stage", "qa", capsys=capsys)
    assert code == 1
    assert "stage 'qa' is not in .chalice/config.json (stages: dev, local, prod)" in err


def test_no_credentials_says_how_to_provide_them(
    deployed: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 1
    assert "no usable AWS credentials were found" in err
    assert "AWS_PROFILE" in err
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in err


def test_no_region_says_how_to_set_one(
    deployed: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, _, err = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 1
    assert "no AWS region: pass --region" in err


def test_refused_credentials_are_reported_without_the_secret(
    deployed: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSecretValue"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    with deployed.server.enforce_iam():
        code, out, err = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 1
    assert "AWS refused the credentials (InvalidClientTokenId) on GetFunction" in err
    assert secret not in out + err
    assert "AKIAUNKNOWNKEY000000" not in out + err


def test_access_denied_names_the_permission_to_grant(deployed: Aws) -> None:
    deployed.iam.create_user(UserName="reader")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:Describe*", "Resource": "*"}]}
    deployed.iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(policy))
    key = deployed.iam.create_access_key(UserName="reader")["AccessKey"]
    logs = boto3.client(
        "logs",
        REGION,
        endpoint_url=deployed.server.endpoint,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    target = subscribe.Target(LOG_GROUP, 30, subscribe.FunctionArn.parse(SHIPPER_ARN), FILTER)
    with deployed.server.enforce_iam(), pytest.raises(ClientError) as raised:
        subscribe.ensure_log_group(logs, target, dry_run=False)
    message = str(explain(raised.value))
    assert message.startswith("access denied for logs:CreateLogGroup: the caller's IAM policy must allow")
    assert "user/reader is not authorized to perform: logs:CreateLogGroup" in message
    assert key["SecretAccessKey"] not in message


# The shipper's alias ------------------------------------------------------------------------------------------


def moto_requests(aws: Aws, method: str, path: str, since: int) -> list[str]:
    """The request lines of the moto server's log, from byte `since` on, for `method` on paths starting with `path`
    (the server logs a request line before it sends the response body)."""
    log = aws.server.log.read_bytes()[since:].decode()
    return [line for line in log.splitlines() if f'"{method} {path}' in line]


def test_filter_and_permission_target_the_live_alias_when_it_exists(
    aliased: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(aliased, "--stage", "dev", capsys=capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"shipper target {ALIAS_ARN}: alias live (version 1)"
    assert lines[2] == f"permission {PRINCIPAL} -> {SHIPPER}:live for {LOG_GROUP}: added statement {SID}"
    [subscription] = aliased.filters()
    assert subscription["destinationArn"] == ALIAS_ARN
    [statement] = aliased.statements_on(ALIAS_ARN)
    assert statement["Sid"] == SID
    assert statement["Principal"] == {"Service": PRINCIPAL}
    assert statement["Condition"]["ArnLike"] == {
        "AWS:SourceArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}:*"
    }
    assert statement["Condition"]["StringEquals"] == {"AWS:SourceAccount": ACCOUNT}
    assert aliased.statements_on(SHIPPER_ARN) == []  # nothing granted on the unqualified function
    assert len(aliased.statements(f"{SHIPPER}:live")) == 1


def test_a_second_run_on_the_alias_changes_nothing(aliased: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(aliased, "--stage", "dev", capsys=capsys)[0] == 0
    first_filter = aliased.filters()
    code, out, _ = run_cli(aliased, "--stage", "dev", capsys=capsys)
    assert code == 0
    target, *lines = out.splitlines()
    assert target == f"shipper target {ALIAS_ARN}: alias live (version 1)"
    assert len(lines) == 3
    assert all(": present" in line for line in lines), out
    assert aliased.filters() == first_filter
    assert [s["Resource"] for s in aliased.statements()] == [ALIAS_ARN]


def test_an_empty_shipper_alias_targets_the_unqualified_function(aliased: Aws) -> None:
    result = run_make(aliased, "SHIPPER_ALIAS=")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"shipper target {SHIPPER_ARN}: the unqualified function (no alias asked for)" in result.stdout
    [subscription] = aliased.filters()
    assert subscription["destinationArn"] == SHIPPER_ARN
    assert [s["Resource"] for s in aliased.statements()] == [SHIPPER_ARN]


def test_once_the_alias_exists_a_rerun_moves_filter_and_permission_to_it(
    deployed: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(deployed, "--stage", "dev", capsys=capsys)[0] == 0  # no alias yet: the function
    assert [f["destinationArn"] for f in deployed.filters()] == [SHIPPER_ARN]
    deployed.create_alias()  # the first container deploy

    code, out, _ = run_cli(deployed, "--stage", "dev", "--dry-run", capsys=capsys)
    assert code == 0
    assert f"would update (pattern '' -> {SHIPPER_ARN} => pattern '' -> {ALIAS_ARN})" in out
    assert f"-> {SHIPPER} for {LOG_GROUP}: would remove statement {SID} (the filter targets {SHIPPER}:live now)" in out
    assert [f["destinationArn"] for f in deployed.filters()] == [SHIPPER_ARN]
    assert [s["Resource"] for s in deployed.statements()] == [SHIPPER_ARN]

    code, out, _ = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    # the alias may be invoked before the filter points at it, the function's grant goes after
    assert lines[2] == f"permission {PRINCIPAL} -> {SHIPPER}:live for {LOG_GROUP}: added statement {SID}"
    assert lines[3].startswith(f"subscription filter {FILTER} on {LOG_GROUP}: updated")
    assert lines[4] == (
        f"permission {PRINCIPAL} -> {SHIPPER} for {LOG_GROUP}: removed statement {SID} (the filter targets "
        f"{SHIPPER}:live now)"
    )
    assert [f["destinationArn"] for f in deployed.filters()] == [ALIAS_ARN]
    assert [s["Resource"] for s in deployed.statements()] == [ALIAS_ARN]

    code, out, _ = run_cli(deployed, "--stage", "dev", capsys=capsys)
    assert code == 0
    target, *lines = out.splitlines()
    assert target == f"shipper target {ALIAS_ARN}: alias live (version 1)"
    assert len(lines) == 3
    assert all(": present" in line for line in lines), out


def test_an_empty_alias_moves_filter_and_permission_back_to_the_function(
    aliased: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(aliased, "--stage", "dev", capsys=capsys)[0] == 0
    log_size = aliased.server.log.stat().st_size
    code, out, _ = run_cli(aliased, "--stage", "dev", "--alias", "", capsys=capsys)
    assert code == 0
    assert f"-> {SHIPPER}:live for {LOG_GROUP}: removed statement {SID} (the filter targets {SHIPPER} now)" in out
    assert [f["destinationArn"] for f in aliased.filters()] == [SHIPPER_ARN]
    assert [s["Resource"] for s in aliased.statements()] == [SHIPPER_ARN]
    [removal] = moto_requests(aliased, "DELETE", f"/2015-03-31/functions/{SHIPPER_ARN}/policy/{SID}", log_size)
    assert "Qualifier=live" in removal  # moto itself ignores the qualifier; real Lambda needs it


def test_a_filter_to_the_function_counts_as_a_duplicate_of_one_to_its_alias(
    aliased: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    aliased.logs.create_log_group(logGroupName=LOG_GROUP)
    aliased.logs.put_subscription_filter(
        logGroupName=LOG_GROUP, filterName="old-name", filterPattern="", destinationArn=SHIPPER_ARN
    )
    code, _, err = run_cli(aliased, "--stage", "dev", capsys=capsys)
    assert code == 1
    assert f"already sends events to {SHIPPER} through filter 'old-name'" in err
    assert [f["destinationArn"] for f in aliased.filters()] == [SHIPPER_ARN]
