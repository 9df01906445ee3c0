"""infra.deploy_template: `chalice package` output → the container-image deploy template.

The input is tests/support/chalice_sam_dev.json (read by tests/support/chalice_sam.py), the template `chalice
package --stage dev` writes for this app (the API and the ship_logs function), so these tests do not need `make
package`. The results are checked three
ways: their structure, the real SAM translator (aws-sam-translator, the code CloudFormation's
AWS::Serverless-2016-10-31 transform runs) expanding them into plain CloudFormation, and cfn-lint from .venv-package.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalice_app.chalicelib.api.errors import ERROR_CODES, GATEWAY_RESPONSES
from infra.deploy_template import (
    DEPLOYMENT_TYPES,
    SHIPPER_ENVIRONMENT,
    TemplateError,
    TemplateOptions,
    canary_settings,
    find_api,
    find_functions,
    stage_limits,
    transform,
)
from tests.conftest import ROOT
from tests.support import cfn_resolve
from tests.support.chalice_sam import APP, sample
from tests.support.package_venv import run_cfn_lint

ACCOUNT = "123456789012"
NO_VALUE = {"Ref": "AWS::NoValue"}
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/cola-acceptability@sha256:{'ab' * 32}"


def deploy_template(options: TemplateOptions | None = None) -> dict[str, Any]:
    return transform(sample(), app_name=APP, stage="dev", options=options or TemplateOptions())


def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def parameter_values(**overrides: str) -> dict[str, str]:
    values = {
        "ImageUri": IMAGE,
        "ModelVersion": "minilm-0123456789ab",
        "CodeDeployRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-codedeploy",
        "APIHandlerRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-api",
        "ShipLogsRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{APP}-dev-ship-logs",
        "EsUrl": "https://search.example.com:9243",
        "EsSecretName": "cola-es-api-key",
    }
    return {**values, **overrides}


def expand(template: dict[str, Any], **overrides: str) -> dict[str, Any]:
    """Plain CloudFormation, as the SAM transform produces it in CloudFormation."""
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicies:
        """The translator loads AWS managed policies only for a function's `Policies`, which these have none of."""

        def load(self) -> dict[str, str]:
            return {}

    values = {**parameter_values(**overrides), "AWS::Region": "us-east-1", "AWS::Partition": "aws"}
    return dict(sam_transform(copy.deepcopy(template), values, NoManagedPolicies()))


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the SAM translator asks boto3 for the region


def test_sample_is_chalice_output_with_the_api_and_the_shipper() -> None:
    template = sample()
    handlers = {k: p["Handler"] for k, p in functions_of(template).items()}
    assert handlers == {"APIHandler": "app.app", "ShipLogs": "app.ship_logs"}
    assert all(p["CodeUri"] == "./deployment.zip" for p in functions_of(template).values())


def test_every_function_becomes_an_image_running_its_chalice_handler() -> None:
    functions = functions_of(deploy_template())
    assert set(functions) == {"APIHandler", "ShipLogs", "PreTrafficHook"}  # the hook: its own tests below
    for logical_id, handler in (("APIHandler", "app.app"), ("ShipLogs", "app.ship_logs")):
        props = functions[logical_id]
        assert props["PackageType"] == "Image"
        assert props["ImageUri"] == {"Ref": "ImageUri"}
        assert props["ImageConfig"] == {"Command": [handler]}
        assert not {"CodeUri", "Handler", "Runtime", "Layers"} & set(props)
        assert props["Role"] == {"Ref": f"{logical_id}RoleArn"}


def test_functions_get_the_names_chalice_deploy_gives_them() -> None:
    functions = functions_of(deploy_template())
    assert functions["APIHandler"]["FunctionName"] == {"Fn::Sub": f"{APP}-${{Stage}}"}
    assert functions["ShipLogs"]["FunctionName"] == {"Fn::Sub": f"{APP}-${{Stage}}-ship_logs"}


def test_chalice_settings_survive() -> None:
    before, after = functions_of(sample()), functions_of(deploy_template())
    assert set(before) < set(after)
    for logical_id, props in before.items():
        for key in ("MemorySize", "Timeout", "Architectures", "Tracing"):
            assert after[logical_id][key] == props[key]
    api_env = after["APIHandler"]["Environment"]["Variables"]
    assert api_env == before["APIHandler"]["Environment"]["Variables"]


@pytest.mark.parametrize(("arch", "lambda_arch"), [("amd64", "x86_64"), ("arm64", "arm64")])
def test_the_functions_run_on_the_architecture_the_image_is_built_for(arch: str, lambda_arch: str) -> None:
    template = deploy_template(TemplateOptions(architecture=arch))
    assert {k: p["Architectures"] for k, p in functions_of(template).items()} == {
        "APIHandler": [lambda_arch],
        "ShipLogs": [lambda_arch],
        "PreTrafficHook": [lambda_arch],  # pure Python: any architecture runs it; the stage's one keeps it uniform
    }
    assert expand(template)["Resources"]["APIHandler"]["Properties"]["Architectures"] == [lambda_arch]


def test_an_architecture_lambda_lacks_is_refused() -> None:
    with pytest.raises(TemplateError, match="architecture must be one of amd64, arm64"):
        TemplateOptions(architecture="x86_64")


def test_the_api_shifts_traffic_through_its_alias_after_the_hook_with_rollback_alarms() -> None:
    template = deploy_template()
    api = functions_of(template)["APIHandler"]
    assert api["AutoPublishAlias"] == "live"
    assert api["AutoPublishAliasAllProperties"] is True
    preference = api["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "DeploymentType"}
    assert preference["Role"] == {"Ref": "CodeDeployRoleArn"}
    assert preference["Hooks"] == {"PreTraffic": {"Ref": "PreTrafficHook"}}
    assert preference["Alarms"] == [
        {"Ref": "APIHandlerNewVersionErrorsAlarm"},
        {"Ref": "APIHandlerNewVersionLatencyAlarm"},
        {"Ref": "RestAPI5XXErrorAlarm"},
    ]
    assert template["Parameters"]["DeploymentType"]["Default"] == "Canary10Percent5Minutes"


def test_the_api_rolls_back_on_its_5xx_alarm() -> None:
    """API Gateway's 5XX has no version dimension, but the app answers 500/503 without a Lambda error."""
    template = deploy_template()
    alarm = template["Resources"]["RestAPI5XXErrorAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions == {"ApiName": {"Fn::Sub": f"{APP}-${{Stage}}"}, "Stage": "dev"}
    assert template["Resources"]["RestAPI"]["Properties"]["Name"] == dimensions["ApiName"]


def test_the_shipper_moves_its_alias_at_once_and_cannot_roll_back_the_api() -> None:
    """No DeploymentPreference: a model release does not canary the shipper, and its alarms (Elasticsearch down, a
    dead-letter queue filling) notify instead of failing the stack update that carries the API."""
    template = deploy_template()
    shipper = functions_of(template)["ShipLogs"]
    assert shipper["AutoPublishAlias"] == "live"  # the log subscription invokes the alias
    assert "DeploymentPreference" not in shipper
    expanded = expand(template)["Resources"]
    assert "ShipLogsDeploymentGroup" not in expanded
    assert "UpdatePolicy" not in expanded["ShipLogsAliaslive"]
    (group,) = [r for r in expanded.values() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    watched = {a["Name"]["Ref"] for a in group["Properties"]["AlarmConfiguration"]["Alarms"]}
    assert not [name for name in watched if name.startswith("ShipLogs")]
    for alarm in ("ShipLogsAliasErrorsAlarm", "ShipLogsDeadLetterAlarm"):
        assert template["Resources"][alarm]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def api_version_id(expanded: dict[str, Any]) -> str:
    (version_id,) = [k for k, r in expanded.items() if r["Type"] == "AWS::Lambda::Version" and "APIHandler" in k]
    return version_id


def test_the_new_version_alarms_watch_only_the_version_being_deployed() -> None:
    """Alias + ExecutedVersion: the previous version's errors cannot fail the new one (nor hide its own)."""
    expanded = expand(deploy_template())["Resources"]
    version_id = api_version_id(expanded)
    for name, metric in (
        ("APIHandlerNewVersionErrorsAlarm", "Errors"),
        ("APIHandlerNewVersionLatencyAlarm", "Duration"),
    ):
        alarm = expanded[name]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric)
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {
            "FunctionName": {"Ref": "APIHandler"},
            "Resource": {"Fn::Sub": "${APIHandler}:live"},
            # a version's Ref is its ARN, arn:aws:lambda:<region>:<account>:function:<name>:<version>: field 7
            "ExecutedVersion": {"Fn::Select": [7, {"Fn::Split": [":", {"Ref": version_id}]}]},
        }
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_alarm_windows_and_missing_data_come_from_conf_for_low_traffic() -> None:
    options = TemplateOptions(**canary_settings())
    resources = deploy_template(options)["Resources"]
    errors = resources["APIHandlerNewVersionErrorsAlarm"]["Properties"]
    latency = resources["APIHandlerNewVersionLatencyAlarm"]["Properties"]
    five_xx = resources["RestAPI5XXErrorAlarm"]["Properties"]
    for alarm in (errors, five_xx):
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            options.alarm_period_s,
            options.errors_evaluation_periods,
            options.errors_datapoints_to_alarm,
        )
        assert alarm["TreatMissingData"] == "notBreaching"
    # One bad minute holds the alarm in ALARM for the whole window: longer than the canary's 5-minute bake.
    assert errors["DatapointsToAlarm"] == 1
    assert errors["Period"] * errors["EvaluationPeriods"] > 5 * 60
    assert latency["ExtendedStatistic"] == options.latency_statistic
    assert "Statistic" not in latency  # CloudWatch takes one or the other
    assert (latency["Threshold"], latency["EvaluationPeriods"], latency["DatapointsToAlarm"]) == (
        options.latency_threshold_ms,
        options.latency_evaluation_periods,
        options.latency_datapoints_to_alarm,
    )
    assert latency["DatapointsToAlarm"] > 1  # one cold start's slow minute does not roll back


def test_every_alarm_notifies_the_topic_and_email_is_optional() -> None:
    template = deploy_template()
    resources = template["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert len(alarms) == 5  # new version errors and latency, 5XX, the shipper's alias errors and its DLQ
    assert all(a["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = resources["AlarmTopicEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    pattern = re.compile(template["Parameters"]["AlarmEmail"]["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("oncall@example.com")
    assert not pattern.fullmatch("not an address")
    assert template["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}


def test_the_pre_traffic_hook_is_the_inlined_module_on_the_python_runtime() -> None:
    """Its code is infra/pre_traffic_hook.py verbatim (not the image it checks), it tests the version this update
    publishes, and SAM makes CodeDeploy run it before the alias shifts any traffic."""
    template = deploy_template()
    hook = template["Resources"]["PreTrafficHook"]["Properties"]
    assert hook["InlineCode"] == (ROOT / "infra" / "pre_traffic_hook.py").read_text()
    assert (hook["Runtime"], hook["Handler"]) == ("python3.12", "index.handler")
    assert hook["FunctionName"] == {"Fn::Sub": f"{APP}-${{Stage}}-pre_traffic_hook"}
    assert hook["Role"] == {"Ref": "PreTrafficHookRoleArn"}
    assert "DeploymentPreference" not in hook
    assert "AutoPublishAlias" not in hook
    expanded = expand(template)["Resources"]
    variables = expanded["PreTrafficHook"]["Properties"]["Environment"]["Variables"]
    assert variables == {
        "TARGET_VERSION_ARN": {"Ref": api_version_id(expanded)},
        "EXPECTED_MODEL_VERSION": {"Ref": "ModelVersion"},
    }
    assert expanded["PreTrafficHook"]["Properties"]["Code"] == {"ZipFile": hook["InlineCode"]}
    update = expanded["APIHandlerAliaslive"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficHook"}


def test_the_template_fits_cloudformations_template_body_limit() -> None:
    """`make deploy` sends TemplateBody (no S3 bucket): CloudFormation refuses one over 51,200 bytes."""
    options = TemplateOptions(**{**stage_limits("prod"), "auth": "api_key"})
    body = json.dumps(deploy_template(options), separators=(",", ":"))
    assert len(body.encode()) < 51_200


def test_canary_settings_refuse_unknown_keys_and_a_missing_section(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text("stages: {}\ncanary:\n  alarm_period: 60\n")
    with pytest.raises(TemplateError, match=r"unknown keys \['alarm_period'\]"):
        canary_settings(tmp_path / "deploy.yaml")
    (tmp_path / "deploy.yaml").write_text("stages: {}\n")
    with pytest.raises(TemplateError, match="no `canary:` mapping"):
        canary_settings(tmp_path / "deploy.yaml")


def test_api_gateway_invokes_the_alias_not_the_function() -> None:
    resources = deploy_template()["Resources"]
    body = json.dumps(resources["RestAPI"]["Properties"]["DefinitionBody"])
    assert "${APIHandler.Arn}" not in body
    assert body.count("${APIHandlerAliaslive}") == 4  # /predict, /health, /model, /openapi.json
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandler.Alias"}


def shipper_environment(**parameters: str) -> dict[str, Any]:
    """The shipper's environment as CloudFormation sets it, after the SAM transform, for these parameter values."""
    template = deploy_template()
    expanded = expand(template, **parameters)
    variables = expanded["Resources"]["ShipLogs"]["Properties"]["Environment"]["Variables"]
    given = parameter_values(**parameters)
    pseudo = {"AWS::Region": "eu-west-1", "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
    return {
        k: v for k, v in cfn_resolve.resolve(variables, template, given, pseudo).items() if k in SHIPPER_ENVIRONMENT
    }


def test_the_shipper_gets_its_search_parameters_and_a_dead_letter_queue() -> None:
    template = deploy_template()
    shipper = functions_of(template)["ShipLogs"]
    variables = shipper["Environment"]["Variables"]
    assert {name: variables[name] for name in ("ES_URL", "SEARCH_BACKEND", "ES_AUTH")} == {
        "ES_URL": {"Ref": "EsUrl"},
        "SEARCH_BACKEND": {"Ref": "SearchBackend"},
        "ES_AUTH": {"Ref": "EsAuth"},
    }
    assert variables["ES_API_KEY_SECRET_ID"] == {"Fn::If": ["EsAuthIsApiKey", {"Ref": "EsSecretName"}, NO_VALUE]}
    assert variables["ES_BASIC_AUTH_SECRET_ID"] == {
        "Fn::If": ["EsAuthIsBasic", {"Ref": "EsBasicAuthSecretName"}, NO_VALUE]
    }
    assert template["Conditions"]["EsAuthIsSigv4"] == {"Fn::Equals": [{"Ref": "EsAuth"}, "sigv4"]}
    assert shipper["DeadLetterQueue"] == {
        "Type": "SQS",
        "TargetArn": {"Fn::GetAtt": ["ShipLogsDeadLetterQueue", "Arn"]},
    }
    queue = template["Resources"]["ShipLogsDeadLetterQueue"]["Properties"]
    assert queue["QueueName"] == {"Fn::Sub": f"{APP}-${{Stage}}-ship-logs-dlq"}
    assert set(SHIPPER_ENVIRONMENT.values()) <= set(template["Parameters"])


def test_the_default_is_elasticsearch_with_the_api_key_secret_as_before() -> None:
    parameters = deploy_template()["Parameters"]
    assert (parameters["SearchBackend"]["Default"], parameters["EsAuth"]["Default"]) == ("elasticsearch", "api_key")
    assert shipper_environment() == {
        "ES_URL": "https://search.example.com:9243",
        "SEARCH_BACKEND": "elasticsearch",
        "ES_AUTH": "api_key",
        "ES_API_KEY_SECRET_ID": "cola-es-api-key",
    }


def test_opensearch_with_sigv4_signs_for_the_stacks_region_unless_told() -> None:
    url = "https://search-cola-logs-abcdefghijklmnopqrstuvwxyz.eu-west-1.es.amazonaws.com"
    settings = {"EsUrl": url, "SearchBackend": "opensearch", "EsAuth": "sigv4", "EsSecretName": "left-over"}
    assert shipper_environment(**settings) == {
        "ES_URL": url,
        "SEARCH_BACKEND": "opensearch",
        "ES_AUTH": "sigv4",
        "ES_SIGV4_SERVICE": "es",
        "ES_SIGV4_REGION": "eu-west-1",
    }
    serverless = shipper_environment(**settings, EsSigv4Service="aoss", EsSigv4Region="us-west-2")
    assert (serverless["ES_SIGV4_SERVICE"], serverless["ES_SIGV4_REGION"]) == ("aoss", "us-west-2")


def test_opensearch_with_basic_auth_reads_its_user_secret_only() -> None:
    environment = shipper_environment(
        SearchBackend="opensearch", EsAuth="basic", EsBasicAuthSecretName="cola-search-user", EsSecretName=""
    )
    assert environment["ES_BASIC_AUTH_SECRET_ID"] == "cola-search-user"
    assert not {"ES_API_KEY_SECRET_ID", "ES_SIGV4_SERVICE", "ES_SIGV4_REGION"} & set(environment)


def test_cloudformation_checks_the_search_choices() -> None:
    parameters = deploy_template()["Parameters"]
    assert parameters["SearchBackend"]["AllowedValues"] == ["elasticsearch", "opensearch"]
    assert parameters["EsAuth"]["AllowedValues"] == ["api_key", "sigv4", "basic", "none"]
    assert parameters["EsSigv4Service"]["AllowedValues"] == ["es", "aoss"]
    region = parameters["EsSigv4Region"]["AllowedPattern"]
    assert [bool(re.fullmatch(region, r)) for r in ("", "ap-southeast-2", "*", "eu-west-1a")] == [
        True,
        True,
        False,
        False,
    ]
    secret = parameters["EsBasicAuthSecretName"]["AllowedPattern"]
    assert [bool(re.fullmatch(secret, name)) for name in ("", "team/cola-user", 'a"b', "a b")] == [
        True,
        True,
        False,
        False,
    ]


def test_without_a_shipper_there_are_no_elasticsearch_parameters() -> None:
    sam = sample()
    del sam["Resources"]["ShipLogs"], sam["Resources"]["ShipLogsRole"]
    template = transform(sam, app_name=APP, stage="dev", options=TemplateOptions())
    assert not set(SHIPPER_ENVIRONMENT.values()) & set(template["Parameters"])
    assert not {"EsAuthIsApiKey", "EsAuthIsSigv4"} & set(template["Conditions"])
    assert "ShipLogsDeadLetterQueue" not in template["Resources"]


def test_chalice_roles_give_way_to_role_parameters() -> None:
    template = deploy_template()
    assert not [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    for name in ("APIHandlerRoleArn", "ShipLogsRoleArn", "CodeDeployRoleArn"):
        assert template["Parameters"][name]["AllowedPattern"].startswith("^arn:aws")


def test_parameters_and_outputs() -> None:
    template = deploy_template()
    parameters = template["Parameters"]
    assert parameters["Stage"]["AllowedValues"] == ["dev"]
    assert parameters["DeploymentType"]["AllowedValues"] == list(DEPLOYMENT_TYPES)
    assert {"ImageUri", "ModelVersion"} <= set(parameters)
    outputs = template["Outputs"]
    assert outputs["ApiUrl"]["Value"] == sample()["Outputs"]["EndpointURL"]["Value"]
    assert outputs["ImageUri"]["Value"] == {"Ref": "ImageUri"}
    assert outputs["ModelVersion"]["Value"] == {"Ref": "ModelVersion"}
    assert outputs["ShipLogsAliasArn"]["Value"] == {"Ref": "ShipLogs.Alias"}


def test_the_input_template_is_not_changed() -> None:
    original = sample()
    kept = copy.deepcopy(original)
    transform(original, app_name=APP, stage="dev", options=TemplateOptions())
    assert original == kept


def test_a_template_without_the_sam_transform_is_refused() -> None:
    sam = sample()
    del sam["Transform"]
    with pytest.raises(TemplateError, match="chalice package"):
        transform(sam, app_name=APP, stage="dev", options=TemplateOptions())


def test_a_function_without_a_handler_is_refused() -> None:
    sam = sample()
    del sam["Resources"]["ShipLogs"]["Properties"]["Handler"]
    with pytest.raises(TemplateError, match="ShipLogs has no Handler"):
        transform(sam, app_name=APP, stage="dev", options=TemplateOptions())


def test_a_template_without_functions_is_refused() -> None:
    with pytest.raises(TemplateError, match="no AWS::Serverless::Function"):
        find_functions({}, None)


def test_an_api_calling_two_functions_is_refused() -> None:
    sam = sample()
    get = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/health"]["get"]
    uri = get["x-amazon-apigateway-integration"]["uri"]
    uri["Fn::Sub"] = uri["Fn::Sub"].replace("APIHandler.Arn", "ShipLogs.Arn")
    with pytest.raises(TemplateError, match="exactly one function"):
        find_api(sam["Resources"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"deployment_type": "Canary50Percent1Minute"}, "not one SAM knows"),
        ({"alias": "live-1"}, "letters and digits"),
        ({"alarm_period_s": 45}, "multiple of 60"),
        ({"errors_threshold": -1}, "thresholds must be >= 0"),
        ({"latency_threshold_ms": 0}, "and > 0"),
        ({"errors_datapoints_to_alarm": 11}, "datapoints_to_alarm <= evaluation_periods"),
        ({"latency_datapoints_to_alarm": 0}, "1 <= datapoints_to_alarm"),
        ({"alarm_period_s": 3600, "errors_evaluation_periods": 25}, "cannot exceed one day"),
        ({"latency_statistic": "Average"}, "percentile such as p90"),
        ({"hook_timeout_s": 901}, "3-900 s"),
    ],
)
def test_options_aws_would_refuse_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        TemplateOptions(**options)


def test_sam_expands_it_into_a_canary_deployment_with_automatic_rollback() -> None:
    resources = expand(deploy_template())["Resources"]
    group = resources["APIHandlerDeploymentGroup"]["Properties"]
    assert group["DeploymentConfigName"] == {
        "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": "Canary10Percent5Minutes"}]
    }
    assert group["AlarmConfiguration"]["Enabled"] is True
    assert {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]} == {
        "APIHandlerNewVersionErrorsAlarm",
        "APIHandlerNewVersionLatencyAlarm",
        "RestAPI5XXErrorAlarm",
    }
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(group["AutoRollbackConfiguration"]["Events"])
    assert group["ServiceRoleArn"] == {"Ref": "CodeDeployRoleArn"}
    alias = resources["APIHandlerAliaslive"]
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"] == {
        "Ref": "APIHandlerDeploymentGroup"
    }
    function = resources["APIHandler"]["Properties"]
    assert function["Code"] == {"ImageUri": IMAGE}
    assert function["ImageConfig"] == {"Command": ["app.app"]}
    assert not [k for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"], "SAM must not create roles"


def test_sam_wires_api_gateway_to_the_alias() -> None:
    resources = expand(deploy_template())["Resources"]
    body = json.dumps(resources["RestAPI"]["Properties"]["Body"])
    assert "functions/${APIHandlerAliaslive}/invocations" in body
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandlerAliaslive"}
    assert resources["APIHandlerAliaslive"]["Type"] == "AWS::Lambda::Alias"


def test_api_gateways_own_answers_use_the_apis_error_shape() -> None:
    """403, 413, 429, 502, 504 from API Gateway itself: the same {"error": {...}} body as the app's, with the
    gateway's message and request id (here rendered as API Gateway renders $context variables)."""
    body = expand(deploy_template())["Resources"]["RestAPI"]["Properties"]["Body"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == set(GATEWAY_RESPONSES)
    for kind, code in GATEWAY_RESPONSES.items():
        template = responses[kind]["responseTemplates"]["application/json"]
        rendered = template.replace("$context.error.messageString", json.dumps('Too "many" requests')).replace(
            "$context.requestId", "req-1"
        )
        error = json.loads(rendered)["error"]
        assert error == {"code": code, "message": 'Too "many" requests', "request_id": "req-1"}
        assert code in ERROR_CODES  # so the OpenAPI document lists it


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_each_stage_is_throttled_by_api_gateway_from_conf(stage: str) -> None:
    limits = stage_limits(stage)
    template = deploy_template(TemplateOptions(**limits))
    expanded = expand(template)["Resources"]
    (stage_resource,) = [r for r in expanded.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    (setting,) = stage_resource["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == limits["throttle_rate"]
    assert setting["ThrottlingBurstLimit"] == limits["throttle_burst"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")


def test_an_api_key_switch_requires_x_api_key_with_a_usage_plan() -> None:
    expanded = expand(deploy_template(TemplateOptions(auth="api_key")))["Resources"]
    assert [r for r in expanded.values() if r["Type"] == "AWS::ApiGateway::UsagePlan"]
    body = expanded["RestAPI"]["Properties"]["Body"]
    assert "api_key" in json.dumps(body["securityDefinitions"])
    assert all(
        {"api_key": []} in operation.get("security", [])
        for methods in body["paths"].values()
        for operation in methods.values()
    )


def test_an_iam_switch_signs_every_call() -> None:
    body = expand(deploy_template(TemplateOptions(auth="iam")))["Resources"]["RestAPI"]["Properties"]["Body"]
    assert "AWS_IAM" in json.dumps(body["securityDefinitions"])


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"auth": "cookie"}, "auth must be one of"),
        ({"throttle_rate": 10}, "set both"),
        ({"throttle_rate": 10, "throttle_burst": 5}, "burst >= max"),
        ({"throttle_rate": 0, "throttle_burst": 5}, "rate > 0"),
    ],
)
def test_limits_aws_would_refuse_are_refused(limits: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        TemplateOptions(**limits)


def test_stage_limits_name_a_missing_stage_and_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no limits for stage 'qa'"):
        stage_limits("qa")
    (tmp_path / "limits.yaml").write_text("stages:\n  dev:\n    throttle: 1\n")
    with pytest.raises(TemplateError, match=r"unknown keys \['throttle'\]"):
        stage_limits("dev", tmp_path / "limits.yaml")


def test_a_new_image_publishes_a_new_version() -> None:
    first = expand(deploy_template())["Resources"]
    second = expand(deploy_template(), ImageUri=IMAGE.replace("ab" * 32, "cd" * 32))["Resources"]
    version_ids = [{k for k, r in res.items() if r["Type"] == "AWS::Lambda::Version"} for res in (first, second)]
    assert len(version_ids[0]) == 2
    assert version_ids[0].isdisjoint(version_ids[1])


def test_the_deployment_type_parameter_chooses_the_codedeploy_config() -> None:
    resources = expand(deploy_template(), DeploymentType="AllAtOnce")["Resources"]
    config = resources["APIHandlerDeploymentGroup"]["Properties"]["DeploymentConfigName"]
    assert config == {"Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": "AllAtOnce"}]}


LIMITED = [{}, {**stage_limits("prod")}, {**stage_limits("dev"), "auth": "api_key"}, {"auth": "iam"}]


@pytest.mark.parametrize("limits", LIMITED, ids=["defaults", "prod", "dev-api-key", "iam"])
def test_cfn_lint_passes_on_the_deploy_template(tmp_path: Path, limits: dict[str, Any]) -> None:
    path = tmp_path / "deploy.json"
    path.write_text(json.dumps(deploy_template(TemplateOptions(**limits)), indent=2))
    result = run_cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("limits", LIMITED, ids=["defaults", "prod", "dev-api-key", "iam"])
def test_cfn_lint_passes_on_what_sam_expands_it_into(tmp_path: Path, limits: dict[str, Any]) -> None:
    path = tmp_path / "expanded.json"
    path.write_text(json.dumps(expand(deploy_template(TemplateOptions(**limits))), indent=2))
    # W2001 (unused parameter): the translator has already substituted DeploymentType. W3005 (a DependsOn a Ref
    # already implies): SAM's own usage plan resources write both.
    result = run_cfn_lint(path, "W2001", "W3005")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_transform(tmp_path: Path) -> None:
    template = deploy_template()
    template["Resources"]["APIHandler"]["Properties"]["Handler"] = "app.app"  # images cannot have a Handler
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(template))
    result = run_cfn_lint(path)
    assert result.returncode != 0
    assert "E3685" in result.stdout


def test_cfn_lint_passes_on_what_sam_expands_it_into_for_opensearch(tmp_path: Path) -> None:
    """The template is the same for both backends (the parameters choose at deploy time); what SAM expands it into
    with OpenSearch's values must lint as clean as with the defaults."""
    path = tmp_path / "expanded.json"
    opensearch = {"SearchBackend": "opensearch", "EsAuth": "sigv4", "EsSecretName": "", "EsSigv4Service": "aoss"}
    path.write_text(json.dumps(expand(deploy_template(), **opensearch), indent=2))
    result = run_cfn_lint(path, "W2001", "W3005")
    assert result.returncode == 0, result.stdout + result.stderr
