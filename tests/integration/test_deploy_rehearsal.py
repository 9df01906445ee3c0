"""A rehearsal of the deploy's AWS side on a real moto server: the roles of infra/iam, the image in ECR, Lambda image
functions behind the alias `live`, a canary traffic split and its rollback, the log group, and least privilege.

Everything is created through the AWS APIs (boto3 against `python -m moto.server` on a free loopback port), with
the documents of infra/iam rendered for moto's account, as an administrator and the deploy would create them.

What moto cannot exercise here (covered elsewhere, or only by a real AWS account):
- CloudFormation's SAM transform (AWS::Serverless-2016-10-31) and CodeDeploy's traffic shifting: here the alias'
  RoutingConfig is set by hand, as CodeDeploy sets it during a canary, and reset as its alarm rollback does. What the
  transform generates is checked with the real SAM translator and cfn-lint (tests/unit/infra/test_deploy_template.py),
  the stack handling of infra.deploy against moto's CloudFormation (tests/integration/test_deploy.py);
- API Gateway importing Chalice's Swagger (moto's import fails on it) and invoking image functions (moto needs Docker
  to run them): the image itself is run under a Lambda Runtime API harness in tests/container;
- IAM beyond S3, SQS, IAM and STS: moto authorizes other services' calls against the resource `*` only, so
  resource-scoped Lambda, ECR, CloudFormation, CloudWatch and CodeDeploy statements cannot be checked here (parliament
  and tests/unit/infra/test_iam.py check them); condition keys (iam:PassedToService, aws:SourceAccount) and trust
  policies (who may assume a role, the GitHub token's aud and sub) are not evaluated, and web identity tokens are not
  verified;
- records moto keeps short: it reports the newest ImageUri for every published version (their ResolvedImageUri
  differ), and does not echo a function's DeadLetterConfig.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.moto_server import REGION, MotoServer
from infra import iam, iam_lint
from infra.deploy_template import TemplateOptions, transform
from tests.support.chalice_sam import APP, sample
from tests.support.moto_env import module_moto

boto3 = pytest.importorskip("boto3")
botocore_exceptions = pytest.importorskip("botocore.exceptions")
pytest.importorskip("moto.server", reason="moto[server] is a dev requirement")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ACCOUNT = "123456789012"  # moto's account
STAGE = "dev"
VALUES = {
    **iam_lint.EXAMPLE_VALUES,
    "ACCOUNT_ID": ACCOUNT,
    "REGION": REGION,
    "APP": APP,
    "STAGE": STAGE,
}
REPOSITORY = VALUES["ECR_REPOSITORY"]
DVC_BUCKET = VALUES["DVC_BUCKET"]
API_FUNCTION = f"{APP}-{STAGE}"
SHIPPER_FUNCTION = f"{APP}-{STAGE}-ship_logs"


@dataclass
class Aws:
    server: MotoServer

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        keys = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.client(service, endpoint_url=self.server.endpoint, region_name=REGION, **keys)


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    for server in module_moto(tmp_path_factory):
        yield Aws(server)


def image(tag: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:{tag}"


def role_arn(key: str) -> str:
    (role,) = [r for r in iam.roles() if r.key == key]
    return f"arn:aws:iam::{ACCOUNT}:role/{iam.render(role.name, VALUES)}"


def deploy_names() -> dict[str, str]:
    """The physical names the deploy template gives (with ${Stage} = dev)."""
    template = transform(sample(), app_name=APP, stage=STAGE, options=TemplateOptions())
    return {
        logical_id: r["Properties"][key]["Fn::Sub"].replace("${Stage}", STAGE)
        for logical_id, r in template["Resources"].items()
        for key in ("FunctionName", "QueueName", "AlarmName")
        if isinstance(r["Properties"].get(key), dict) and "Fn::Sub" in r["Properties"][key]
    }


@pytest.fixture(scope="module")
def account(aws: Aws) -> dict[str, Any]:
    """What an administrator creates once (infra/iam) and the release pushes: roles, OIDC provider, ECR, DVC bucket."""
    client = aws.client("iam")
    client.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"],
    )
    for role in iam.roles():
        name = iam.render(role.name, VALUES)
        client.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(iam.render(iam.load_document(role.trust), VALUES)),
            Description=role.description,
        )
        policy = iam.render(iam.load_document(role.policy), VALUES)
        client.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName=REPOSITORY)
    repository_policy = iam.render(iam.load_document("ecr-repository-policy.json"), VALUES)
    ecr.set_repository_policy(repositoryName=REPOSITORY, policyText=json.dumps(repository_policy))
    for tag in ("v1", "v2"):
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "t": tag}
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag=tag)
    s3 = aws.client("s3")
    for bucket in (DVC_BUCKET, "someone-elses-bucket"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="cola/files/md5/ab/cdef", Body=b"bundle bytes")
    queue = aws.client("sqs").create_queue(QueueName=deploy_names()["ShipLogsDeadLetterQueue"])["QueueUrl"]
    other_queue = aws.client("sqs").create_queue(QueueName="someone-elses-queue")["QueueUrl"]
    return {"queue": queue, "other_queue": other_queue, "repository_policy": repository_policy}


def test_roles_hold_the_documents_of_infra_iam(aws: Aws, account: dict[str, Any]) -> None:
    client = aws.client("iam")
    for role in iam.roles():
        name = iam.render(role.name, VALUES)
        stored = client.get_role(RoleName=name)["Role"]
        assert stored["AssumeRolePolicyDocument"] == iam.render(iam.load_document(role.trust), VALUES)
        inline = client.get_role_policy(RoleName=name, PolicyName=name)["PolicyDocument"]
        assert inline == iam.render(iam.load_document(role.policy), VALUES)
    providers = client.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    (deploy_trust,) = client.get_role(RoleName=f"{APP}-{STAGE}-deploy")["Role"]["AssumeRolePolicyDocument"]["Statement"]
    assert deploy_trust["Principal"]["Federated"] in [p["Arn"] for p in providers]
    policy = json.loads(aws.client("ecr").get_repository_policy(repositoryName=REPOSITORY)["policyText"])
    assert policy == account["repository_policy"]


def test_image_functions_canary_and_rollback_through_the_alias(aws: Aws, account: dict[str, Any]) -> None:
    lam = aws.client("lambda")
    names = deploy_names()
    assert names["APIHandler"] == API_FUNCTION
    created = lam.create_function(
        FunctionName=API_FUNCTION,
        PackageType="Image",
        Code={"ImageUri": image("v1")},
        ImageConfig={"Command": ["app.app"]},
        Role=role_arn("api"),
        MemorySize=1024,
        Timeout=30,
        Environment={"Variables": {"MODEL_DIR": "chalicelib/bundle"}},
    )
    assert created["PackageType"] == "Image"
    assert created["ImageConfigResponse"]["ImageConfig"]["Command"] == ["app.app"]
    v1 = lam.publish_version(FunctionName=API_FUNCTION)["Version"]
    alias = lam.create_alias(FunctionName=API_FUNCTION, Name="live", FunctionVersion=v1)
    assert alias["AliasArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{API_FUNCTION}:live"

    # A new image: CloudFormation updates the function and SAM publishes version 2 ...
    lam.update_function_code(FunctionName=API_FUNCTION, ImageUri=image("v2"))
    v2 = lam.publish_version(FunctionName=API_FUNCTION)["Version"]
    assert (v1, v2) == ("1", "2")
    assert lam.get_function(FunctionName=API_FUNCTION)["Code"]["ImageUri"] == image("v2")
    # ... and CodeDeploy's Canary10Percent5Minutes sends 10% of the alias' invocations to it.
    lam.update_alias(
        FunctionName=API_FUNCTION,
        Name="live",
        FunctionVersion=v1,
        RoutingConfig={"AdditionalVersionWeights": {v2: 0.1}},
    )
    canary = lam.get_alias(FunctionName=API_FUNCTION, Name="live")
    assert (canary["FunctionVersion"], canary["RoutingConfig"]["AdditionalVersionWeights"]) == ("1", {"2": 0.1})

    # The rollback alarm fires: CodeDeploy puts all traffic back on version 1.
    lam.update_alias(
        FunctionName=API_FUNCTION, Name="live", FunctionVersion=v1, RoutingConfig={"AdditionalVersionWeights": {}}
    )
    rolled_back = lam.get_alias(FunctionName=API_FUNCTION, Name="live")
    assert rolled_back["FunctionVersion"] == "1"
    assert not rolled_back.get("RoutingConfig", {}).get("AdditionalVersionWeights")
    assert lam.get_function(FunctionName=API_FUNCTION, Qualifier="live")["Configuration"]["Version"] == "1"

    # A canary that passes ends with the alias on version 2.
    lam.update_alias(
        FunctionName=API_FUNCTION, Name="live", FunctionVersion=v2, RoutingConfig={"AdditionalVersionWeights": {}}
    )
    assert lam.get_function(FunctionName=API_FUNCTION, Qualifier="live")["Configuration"]["Version"] == "2"


def test_the_shipper_is_an_image_function_with_its_own_role_and_dead_letter_queue(
    aws: Aws, account: dict[str, Any]
) -> None:
    lam = aws.client("lambda")
    queue_arn = aws.client("sqs").get_queue_attributes(QueueUrl=account["queue"], AttributeNames=["QueueArn"])
    created = lam.create_function(
        FunctionName=SHIPPER_FUNCTION,
        PackageType="Image",
        Code={"ImageUri": image("v1")},
        ImageConfig={"Command": ["app.ship_logs"]},
        Role=role_arn("ship_logs"),
        DeadLetterConfig={"TargetArn": queue_arn["Attributes"]["QueueArn"]},
        Environment={"Variables": {"ES_URL": "https://search.example.com:9243", "ES_API_KEY_SECRET_ID": "es-key"}},
    )
    assert created["Role"] == role_arn("ship_logs")
    assert queue_arn["Attributes"]["QueueArn"].endswith(":" + deploy_names()["ShipLogsDeadLetterQueue"])
    version = lam.publish_version(FunctionName=SHIPPER_FUNCTION)["Version"]
    lam.create_alias(FunctionName=SHIPPER_FUNCTION, Name="live", FunctionVersion=version)
    assert lam.get_alias(FunctionName=SHIPPER_FUNCTION, Name="live")["FunctionVersion"] == version


def test_the_rollback_alarms_their_topic_and_the_log_group(aws: Aws, account: dict[str, Any]) -> None:
    """The new-version alarms as the template writes them (intrinsics resolved: version 1 of the API, the topic
    created under the template's name), through CloudWatch's PutMetricAlarm: every property is a parameter it takes
    (ExtendedStatistic and DatapointsToAlarm included)."""
    template = transform(sample(), app_name=APP, stage=STAGE, options=TemplateOptions())
    names = deploy_names()
    topic_name = template["Resources"]["AlarmTopic"]["Properties"]["TopicName"]["Fn::Sub"].replace("${Stage}", STAGE)
    topic_arn = aws.client("sns").create_topic(Name=topic_name)["TopicArn"]
    cloudwatch = aws.client("cloudwatch")
    for logical_id in ("APIHandlerNewVersionErrorsAlarm", "APIHandlerNewVersionLatencyAlarm"):
        alarm = dict(template["Resources"][logical_id]["Properties"])
        alarm["AlarmName"] = names[logical_id]
        alarm["Dimensions"] = [
            {"Name": "FunctionName", "Value": API_FUNCTION},
            {"Name": "Resource", "Value": f"{API_FUNCTION}:live"},
            {"Name": "ExecutedVersion", "Value": "1"},
        ]
        alarm["AlarmActions"] = [topic_arn]
        cloudwatch.put_metric_alarm(**alarm)
    cloudwatch.set_alarm_state(
        AlarmName=names["APIHandlerNewVersionErrorsAlarm"], StateValue="ALARM", StateReason="rehearsal: errors > 0"
    )
    (stored,) = cloudwatch.describe_alarms(AlarmNames=[names["APIHandlerNewVersionErrorsAlarm"]])["MetricAlarms"]
    assert (stored["MetricName"], stored["Namespace"], stored["StateValue"]) == ("Errors", "AWS/Lambda", "ALARM")
    assert stored["AlarmActions"] == [topic_arn]
    logs = aws.client("logs")
    group = f"/aws/lambda/{API_FUNCTION}"
    logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=30)
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 30


def credentials_of(answer: dict[str, Any]) -> dict[str, str]:
    c = answer["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except botocore_exceptions.ClientError as err:
        return err.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")
    return False


def test_roles_are_held_to_their_policies(aws: Aws, account: dict[str, Any]) -> None:
    sts = aws.client("sts")
    # GitHub Actions: the OIDC token is exchanged for the deploy role (moto does not verify the token).
    deployer = credentials_of(
        sts.assume_role_with_web_identity(
            RoleArn=role_arn("deploy"), RoleSessionName="github-actions", WebIdentityToken="header.payload.signature"
        )
    )
    shipper = credentials_of(sts.assume_role(RoleArn=role_arn("ship_logs"), RoleSessionName="ship_logs"))
    api = credentials_of(sts.assume_role(RoleArn=role_arn("api"), RoleSessionName="api"))
    key = "cola/files/md5/ab/cdef"
    with aws.server.enforce_iam():
        s3 = aws.client("s3", deployer)
        assert s3.get_object(Bucket=DVC_BUCKET, Key=key)["Body"].read() == b"bundle bytes"
        assert denied(s3.put_object, Bucket=DVC_BUCKET, Key=key, Body=b"overwritten")
        assert denied(s3.get_object, Bucket="someone-elses-bucket", Key=key)
        assert denied(aws.client("iam", deployer).create_role, RoleName="escalate", AssumeRolePolicyDocument="{}")
        identity = aws.client("sts", deployer).get_caller_identity()
        assert identity["Arn"].endswith(f":assumed-role/{APP}-{STAGE}-deploy/github-actions")

        sqs = aws.client("sqs", shipper)
        assert sqs.send_message(QueueUrl=account["queue"], MessageBody="{}")["MessageId"]
        assert denied(sqs.send_message, QueueUrl=account["other_queue"], MessageBody="{}")
        assert denied(aws.client("s3", shipper).get_object, Bucket=DVC_BUCKET, Key=key)

        assert denied(aws.client("sqs", api).send_message, QueueUrl=account["queue"], MessageBody="{}")
        assert denied(aws.client("s3", api).get_object, Bucket=DVC_BUCKET, Key=key)


def test_a_policy_moto_enforces_can_fail(aws: Aws, account: dict[str, Any]) -> None:
    """The enforcement above is real: the same call is allowed once the role's policy allows it."""
    client = aws.client("iam")
    name = f"{APP}-{STAGE}-api"
    widened = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{DVC_BUCKET}/*"}],
    }
    client.put_role_policy(RoleName=name, PolicyName="rehearsal-widened", PolicyDocument=json.dumps(widened))
    try:
        api = credentials_of(aws.client("sts").assume_role(RoleArn=role_arn("api"), RoleSessionName="api2"))
        with aws.server.enforce_iam():
            body = aws.client("s3", api).get_object(Bucket=DVC_BUCKET, Key="cola/files/md5/ab/cdef")["Body"].read()
        assert body == b"bundle bytes"
    finally:
        client.delete_role_policy(RoleName=name, PolicyName="rehearsal-widened")
