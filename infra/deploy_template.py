"""Turn `chalice package` output into the template that deploys the app as a Lambda container image.

Chalice 1.34 cannot deploy images (aws/chalice#1598), so `make deploy` takes the SAM template `chalice package`
writes (zip functions) and rewrites it, as a pure function of that template:

- every AWS::Serverless::Function becomes PackageType Image: ImageUri is a parameter, ImageConfig.Command is its
  Chalice Handler (`app.app` for the API, `app.<name>` for a `@app.lambda_function`), CodeUri/Handler/Runtime/Layers
  go; its name is the one `chalice deploy` would give it (`<app>-<stage>[-<name>]`, what infra.chalice_names and
  the IAM policies in infra/iam expect); its execution role is a parameter (roles are created once from
  infra/iam, so deploying needs iam:PassRole only, never iam:CreateRole);
- each function publishes a version per change behind the alias `live` (AutoPublishAlias). For the API, CodeDeploy
  shifts traffic to it gradually (DeploymentPreference, default Canary10Percent5Minutes): first a PreTraffic hook
  (infra/pre_traffic_hook.py, inlined as a python3.12 function) invokes the new version with the smoke cases and
  fails the deployment before any traffic shifts; then CodeDeploy rolls back by itself when a rollback alarm fires:
  the new version's Lambda Errors and Duration (alias + ExecutedVersion dimensions, so the previous version's
  errors cannot fail it) and API Gateway's 5XXError (the app answers 500/503 without a Lambda error). Periods,
  windows and thresholds come from conf/deploy.yaml (`canary:`), chosen for low traffic (docs/delivery.md);
- the log shipper has no DeploymentPreference: its alias moves at once, and no shipper alarm can roll back the API
  (one stack update would otherwise fail as a whole when Elasticsearch hiccups during a model release);
- every alarm notifies an SNS topic (AlarmTopic; an e-mail subscription when the AlarmEmail parameter is set);
- API Gateway invokes the alias, not the unqualified function (integration uri and invoke permission), so the
  canary's traffic split applies to API requests;
- the log shipper (ship_logs) gets its search settings as parameters (Elasticsearch with an API key by default;
  OpenSearch with SigV4 or basic auth: SearchBackend, EsAuth; each secret or SigV4 variable is set only under the
  auth mode that reads it) and an SQS dead-letter queue for events it could not process.

`python -m infra.deploy_template SAM_JSON OUT_JSON --stage dev` runs it on a file.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chalice_app.chalicelib.api.errors import GATEWAY_RESPONSES, gateway_response_template
from infra import chalice_names

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
FUNCTION = "AWS::Serverless::Function"
API = "AWS::Serverless::Api"
DEPLOYMENT_TYPES = (
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
    "AllAtOnce",
)
"""The traffic-shifting types SAM's DeploymentPreference knows (CodeDeployDefault.Lambda<Type>)."""
ZIP_ONLY_PROPERTIES = ("CodeUri", "InlineCode", "Handler", "Runtime", "Layers")
SHIPPER_ENVIRONMENT = {
    "ES_URL": "EsUrl",
    "SEARCH_BACKEND": "SearchBackend",
    "ES_AUTH": "EsAuth",
    "ES_API_KEY_SECRET_ID": "EsSecretName",
    "ES_BASIC_AUTH_SECRET_ID": "EsBasicAuthSecretName",
    "ES_SIGV4_SERVICE": "EsSigv4Service",
    "ES_SIGV4_REGION": "EsSigv4Region",
}
"""Environment variable of the shipper (chalicelib.shipper.settings) → the template parameter that sets it."""
SHIPPER_ENVIRONMENT_CONDITIONS = {
    "ES_API_KEY_SECRET_ID": "EsAuthIsApiKey",
    "ES_BASIC_AUTH_SECRET_ID": "EsAuthIsBasic",
    "ES_SIGV4_SERVICE": "EsAuthIsSigv4",
    "ES_SIGV4_REGION": "EsAuthIsSigv4",
}
"""Variables set only under a condition (the auth mode that reads them); the settings refuse an API key secret
with OpenSearch, so it must not be set whenever a name was passed."""
SEARCH_BACKENDS = ("elasticsearch", "opensearch")
ES_AUTH_MODES = ("api_key", "sigv4", "basic", "none")
SIGV4_SERVICES = ("es", "aoss")
SECRET_NAME_PATTERN = r"^$|^[A-Za-z0-9_+=,.@/-]+$"
REGION_PATTERN = r"^$|^[a-z]{2}(-[a-z]+)+-\d$"
ECR_IMAGE_URI_PATTERN = (
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[a-f0-9]{64})$"
)
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
_ARN_REF = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")


class TemplateError(ValueError):
    """The input is not a template `chalice package` writes, or options AWS would refuse."""


AUTH_MODES = ("none", "api_key", "iam")
LAMBDA_ARCHITECTURES = {"amd64": "x86_64", "arm64": "arm64"}
"""The image's OCI architecture → the function's Lambda `Architectures` value (infra.image_check checks the image)."""
LIMITS_FILE = Path(__file__).resolve().parents[1] / "conf" / "deploy.yaml"


@dataclass(frozen=True)
class TemplateOptions:
    """How traffic shifts and when it rolls back."""

    alias: str = "live"
    deployment_type: str = "Canary10Percent5Minutes"
    alarm_period_s: int = 60
    errors_evaluation_periods: int = 10
    """The window (in periods) of the errors and 5XX alarms: one bad period keeps them in ALARM this long."""
    errors_datapoints_to_alarm: int = 1
    errors_threshold: int = 0
    """The new version's Errors alarm fires when a period's sum is above this."""
    api_5xx_threshold: int = 0
    """The API's 5XXError alarm fires when a period's sum is above this."""
    latency_statistic: str = "p90"
    latency_threshold_ms: float = 2000.0
    """The new version's Duration alarm fires when the statistic of a period is above this."""
    latency_evaluation_periods: int = 5
    latency_datapoints_to_alarm: int = 2
    hook_timeout_s: int = 120
    """The PreTraffic hook's Lambda timeout (two invocations of the new version, cold start included)."""
    throttle_rate: float | None = None
    """Steady requests per second of the API stage (conf/deploy.yaml); None leaves API Gateway's account default."""
    throttle_burst: int | None = None
    auth: str = "none"
    """none, api_key (x-api-key and a usage plan) or iam (SigV4-signed calls)."""
    architecture: str = "amd64"
    """The image's platform linux/<architecture> (make ARCH=): amd64 → Lambda x86_64, arm64 → arm64."""

    def __post_init__(self) -> None:
        if self.deployment_type not in DEPLOYMENT_TYPES:
            raise TemplateError(
                f"deployment type {self.deployment_type!r} is not one SAM knows: "
                f"use one of {', '.join(DEPLOYMENT_TYPES)}"
            )
        if not re.fullmatch(r"[a-zA-Z0-9]+", self.alias):
            raise TemplateError(f"alias {self.alias!r} must be letters and digits (SAM uses it in logical ids)")
        if self.alarm_period_s not in (10, 30) and (self.alarm_period_s < 60 or self.alarm_period_s % 60):
            raise TemplateError(f"alarm period must be 10, 30 or a multiple of 60 seconds, got {self.alarm_period_s}")
        for name, datapoints, periods in (
            ("errors", self.errors_datapoints_to_alarm, self.errors_evaluation_periods),
            ("latency", self.latency_datapoints_to_alarm, self.latency_evaluation_periods),
        ):
            if not 1 <= datapoints <= periods:
                raise TemplateError(
                    f"{name} alarm: need 1 <= datapoints_to_alarm <= evaluation_periods, got {datapoints} of {periods}"
                )
        if self.alarm_period_s * max(self.errors_evaluation_periods, self.latency_evaluation_periods) > 86_400:
            raise TemplateError("an alarm window (period x evaluation periods) cannot exceed one day (CloudWatch)")
        if self.errors_threshold < 0 or self.api_5xx_threshold < 0 or self.latency_threshold_ms <= 0:
            raise TemplateError("thresholds must be >= 0 (errors, 5XX) and > 0 (latency)")
        if not re.fullmatch(r"p(\d{1,2}(\.\d{1,2})?|100)", self.latency_statistic):
            raise TemplateError(f"latency statistic must be a percentile such as p90, got {self.latency_statistic!r}")
        if not 3 <= self.hook_timeout_s <= 900:
            raise TemplateError(f"hook timeout must be 3-900 s (Lambda), got {self.hook_timeout_s}")
        if self.architecture not in LAMBDA_ARCHITECTURES:
            raise TemplateError(
                f"architecture must be one of {', '.join(LAMBDA_ARCHITECTURES)} (ARCH=), got {self.architecture!r}"
            )
        if self.auth not in AUTH_MODES:
            raise TemplateError(f"auth must be one of {', '.join(AUTH_MODES)}, got {self.auth!r}")
        if (self.throttle_rate is None) != (self.throttle_burst is None):
            raise TemplateError("set both throttle_rate and throttle_burst, or neither")
        rate, burst = self.throttle_rate, self.throttle_burst
        if rate is not None and burst is not None and (rate <= 0 or burst < 1 or burst < rate):
            raise TemplateError(
                f"throttling needs rate > 0 and burst >= max(1, rate), got rate {self.throttle_rate}, "
                f"burst {self.throttle_burst}"
            )


@dataclass(frozen=True)
class Function:
    """One function of the template and the names the deploy gives it."""

    logical_id: str
    handler: str
    suffix: str
    """"" for the API handler, else the Chalice function name (`ship_logs`)."""
    role_parameter: str

    def name(self, app_name: str) -> dict[str, str]:
        """Its FunctionName: `<app>-<stage>` or `<app>-<stage>-<suffix>`, as `chalice deploy` names it."""
        return _sub(f"{app_name}-${{Stage}}" + (f"-{self.suffix}" if self.suffix else ""))


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def _snake(logical_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).lower()


def _integrations(node: Any) -> Iterator[dict[str, Any]]:
    """Every x-amazon-apigateway-integration object of a Swagger body."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "x-amazon-apigateway-integration" and isinstance(value, dict):
                yield value
            else:
                yield from _integrations(value)
    elif isinstance(node, list):
        for item in node:
            yield from _integrations(item)


def _handler_of(logical_id: str, properties: Mapping[str, Any]) -> str:
    handler = properties.get("Handler")
    if not isinstance(handler, str) or not re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", handler):
        raise TemplateError(
            f"function {logical_id} has no Handler of the form module.attribute (got {handler!r}): "
            "the image's ImageConfig.Command is taken from it; is this `chalice package` output?"
        )
    return handler


def find_functions(resources: Mapping[str, Any], api_handler: str | None) -> list[Function]:
    """The template's functions with their deploy names; the API handler (when there is one) gets suffix ""."""
    functions = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != FUNCTION:
            continue
        handler = _handler_of(logical_id, resource.get("Properties", {}))
        if logical_id == api_handler:
            suffix = ""
        else:
            attribute = handler.rsplit(".", 1)[1]
            # Chalice's logical id is the CamelCase of the function's name; the handler attribute is usually it.
            suffix = attribute if attribute.replace("_", "").lower() == logical_id.lower() else _snake(logical_id)
        functions.append(Function(logical_id, handler, suffix, f"{logical_id}RoleArn"))
    if not functions:
        raise TemplateError(f"the template has no {FUNCTION}: is this `chalice package` output?")
    return functions


def find_api(resources: Mapping[str, Any]) -> tuple[str, str] | None:
    """(logical id of the REST API, logical id of the function its integrations call), or None without an API."""
    apis = [logical_id for logical_id, r in resources.items() if r.get("Type") == API]
    if not apis:
        return None
    if len(apis) > 1:
        raise TemplateError(f"expected one {API}, found {len(apis)}: {', '.join(apis)}")
    body = resources[apis[0]].get("Properties", {}).get("DefinitionBody")
    targets = set()
    for integration in _integrations(body):
        uri = integration.get("uri")
        text = uri.get("Fn::Sub") if isinstance(uri, dict) else None
        targets.update(_ARN_REF.findall(text) if isinstance(text, str) else [])
    if len(targets) != 1:
        raise TemplateError(
            f"the API {apis[0]} should call exactly one function through ${{Function.Arn}} integration uris, "
            f"found {sorted(targets) or 'none'}"
        )
    return apis[0], targets.pop()


def role_parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """Of a deploy template (transform's output): role parameter of each function → its Chalice name ("" = API)."""
    roles = {}
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        role, name = props.get("Role"), props.get("FunctionName")
        if resource.get("Type") != FUNCTION or not isinstance(role, dict) or "Ref" not in role:
            continue
        text = name.get("Fn::Sub", "") if isinstance(name, dict) else ""
        if "${Stage}" not in text:
            raise TemplateError(
                f"function {logical_id} has no FunctionName <app>-${{Stage}}[-<name>]: not transformed?"
            )
        roles[str(role["Ref"])] = text.split("${Stage}", 1)[1].removeprefix("-")
    return roles


ALARM_TOPIC = "AlarmTopic"
HOOK = "PreTrafficHook"
HOOK_SUFFIX = "pre_traffic_hook"
HOOK_SOURCE = Path(__file__).with_name("pre_traffic_hook.py")


def _notify() -> dict[str, Any]:
    return {"AlarmActions": [_ref(ALARM_TOPIC)]}


def _alias_errors_alarm(function: Function, app_name: str, options: TemplateOptions) -> dict[str, Any]:
    """Errors through the alias, any version (the shipper's: it notifies, it rolls nothing back)."""
    label = function.suffix or "api"
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": _sub(f"{app_name}-${{Stage}}-{label}-alias-errors"),
            "AlarmDescription": f"Lambda errors of {function.logical_id} through its alias {options.alias}",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [
                {"Name": "FunctionName", "Value": _ref(function.logical_id)},
                {"Name": "Resource", "Value": _sub(f"${{{function.logical_id}}}:{options.alias}")},
            ],
            "Statistic": "Sum",
            "Period": options.alarm_period_s,
            "EvaluationPeriods": options.errors_evaluation_periods,
            "DatapointsToAlarm": options.errors_datapoints_to_alarm,
            "Threshold": options.errors_threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **_notify(),
        },
    }


def _new_version_dimensions(function: Function, alias: str) -> list[dict[str, Any]]:
    """The alias' invocations that ran the version this stack update publishes (Lambda's ExecutedVersion)."""
    version_number = {"Fn::Select": [7, {"Fn::Split": [":", _ref(f"{function.logical_id}.Version")]}]}
    return [
        {"Name": "FunctionName", "Value": _ref(function.logical_id)},
        {"Name": "Resource", "Value": _sub(f"${{{function.logical_id}}}:{alias}")},
        {"Name": "ExecutedVersion", "Value": version_number},
    ]


def _new_version_alarms(function: Function, app_name: str, options: TemplateOptions) -> dict[str, Any]:
    """Errors and latency of the new version only (the API's): what the canary's traffic to it shows."""
    dimensions = _new_version_dimensions(function, options.alias)
    label = function.suffix or "api"
    common = {
        "Namespace": "AWS/Lambda",
        "Dimensions": dimensions,
        "Period": options.alarm_period_s,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        **_notify(),
    }
    return {
        f"{function.logical_id}NewVersionErrorsAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": _sub(f"{app_name}-${{Stage}}-{label}-new-version-errors"),
                "AlarmDescription": "Lambda errors of the API version being deployed (alias + ExecutedVersion): "
                "CodeDeploy stops the traffic shift and rolls back when it fires",
                "MetricName": "Errors",
                "Statistic": "Sum",
                "EvaluationPeriods": options.errors_evaluation_periods,
                "DatapointsToAlarm": options.errors_datapoints_to_alarm,
                "Threshold": options.errors_threshold,
                **common,
            },
        },
        f"{function.logical_id}NewVersionLatencyAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": _sub(f"{app_name}-${{Stage}}-{label}-new-version-latency"),
                "AlarmDescription": f"{options.latency_statistic} duration of the API version being deployed above "
                f"{options.latency_threshold_ms:g} ms: CodeDeploy stops the traffic shift and rolls back",
                "MetricName": "Duration",
                "ExtendedStatistic": options.latency_statistic,
                "Unit": "Milliseconds",
                "EvaluationPeriods": options.latency_evaluation_periods,
                "DatapointsToAlarm": options.latency_datapoints_to_alarm,
                "Threshold": options.latency_threshold_ms,
                **common,
            },
        },
    }


def _api_5xx_alarm(
    api_name: dict[str, str], stage_name: Any, app_name: str, options: TemplateOptions
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": _sub(f"{app_name}-${{Stage}}-api-5xx"),
            "AlarmDescription": "API Gateway 5XX answers (a bug or a model that cannot load; the app answers 500/503 "
            "without a Lambda error): CodeDeploy stops the traffic shift and rolls back when it fires",
            "Namespace": "AWS/ApiGateway",
            "MetricName": "5XXError",
            "Dimensions": [{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": stage_name}],
            "Statistic": "Sum",
            "Period": options.alarm_period_s,
            "EvaluationPeriods": options.errors_evaluation_periods,
            "DatapointsToAlarm": options.errors_datapoints_to_alarm,
            "Threshold": options.api_5xx_threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            **_notify(),
        },
    }


def _notification_resources(app_name: str) -> dict[str, Any]:
    """The topic every alarm notifies, and its e-mail subscription when AlarmEmail is set."""
    return {
        ALARM_TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": _sub(f"{app_name}-${{Stage}}-alarms"),
                "DisplayName": _sub(f"{app_name} ${{Stage}} alarms"),
            },
        },
        f"{ALARM_TOPIC}EmailSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {"TopicArn": _ref(ALARM_TOPIC), "Protocol": "email", "Endpoint": _ref("AlarmEmail")},
        },
    }


def hook_source() -> str:
    """The PreTraffic hook's code, inlined as the function's index.py."""
    return HOOK_SOURCE.read_text()


def _hook_function(api: Function, app_name: str, options: TemplateOptions) -> dict[str, Any]:
    """A zip function on the python3.12 runtime (boto3 included) whose code is infra/pre_traffic_hook.py."""
    return {
        "Type": FUNCTION,
        "Properties": {
            "FunctionName": _sub(f"{app_name}-${{Stage}}-{HOOK_SUFFIX}"),
            "Description": "CodeDeploy PreTraffic hook: smoke cases against the new API version before any traffic",
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "InlineCode": hook_source(),
            "Role": _ref(f"{HOOK}RoleArn"),
            "MemorySize": 256,
            "Timeout": options.hook_timeout_s,
            "Architectures": [LAMBDA_ARCHITECTURES[options.architecture]],
            "Environment": {
                "Variables": {
                    "TARGET_VERSION_ARN": _ref(f"{api.logical_id}.Version"),
                    "EXPECTED_MODEL_VERSION": _ref("ModelVersion"),
                }
            },
            "Tags": {"model-version": _ref("ModelVersion")},
        },
    }


def _shipper_resources(function: Function, app_name: str) -> dict[str, Any]:
    queue = f"{function.logical_id}DeadLetterQueue"
    return {
        queue: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": _sub(f"{app_name}-${{Stage}}-ship-logs-dlq"),
                "MessageRetentionPeriod": 1_209_600,  # 14 days, the most SQS keeps a message
                "SqsManagedSseEnabled": True,
            },
        },
        f"{function.logical_id}DeadLetterAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": _sub(f"{app_name}-${{Stage}}-ship-logs-dlq-not-empty"),
                "AlarmDescription": "log events the shipper gave up on wait in its dead-letter queue",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                **_notify(),
            },
        },
    }


def _parameters(
    functions: list[Function], stage: str, options: TemplateOptions, shipper: bool, *, hook: bool
) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "ImageUri": {
            "Type": "String",
            "Description": "The Lambda image: <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag> (or @sha256:...)",
            "AllowedPattern": ECR_IMAGE_URI_PATTERN,
            "ConstraintDescription": "an ECR image URI with a tag or a digest (Lambda runs images from ECR only)",
        },
        "Stage": {
            "Type": "String",
            "Description": "The Chalice stage this template was packaged for",
            "AllowedValues": [stage],
            "Default": stage,
        },
        "ModelVersion": {
            "Type": "String",
            "Description": "model_version of the bundle inside the image (recorded in outputs and tags)",
            "MinLength": 1,
        },
        "DeploymentType": {
            "Type": "String",
            "Description": "How CodeDeploy shifts traffic to a new version (AllAtOnce for rollbacks)",
            "AllowedValues": list(DEPLOYMENT_TYPES),
            "Default": options.deployment_type,
        },
        "CodeDeployRoleArn": {
            "Type": "String",
            "Description": "CodeDeploy's service role (infra/iam: codedeploy)",
            "AllowedPattern": ROLE_ARN_PATTERN,
        },
        "AlarmEmail": {
            "Type": "String",
            "Description": "E-mail address subscribed to the alarm topic (empty: none; the address must confirm)",
            "AllowedPattern": r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            "ConstraintDescription": "an e-mail address, or empty",
            "Default": "",
        },
    }
    for function in functions:
        parameters[function.role_parameter] = {
            "Type": "String",
            "Description": f"Execution role of {function.logical_id} (infra/iam)",
            "AllowedPattern": ROLE_ARN_PATTERN,
        }
    if hook:
        parameters[f"{HOOK}RoleArn"] = {
            "Type": "String",
            "Description": "Execution role of the PreTraffic hook (infra/iam: pre_traffic_hook)",
            "AllowedPattern": ROLE_ARN_PATTERN,
        }
    if shipper:
        parameters["EsUrl"] = {
            "Type": "String",
            "Description": "Elasticsearch or OpenSearch endpoint the log shipper writes to (https://host[:port])",
            "AllowedPattern": r"^https?://\S+$",
        }
        parameters.update(_search_parameters())
    return parameters


def _search_parameters() -> dict[str, Any]:
    """The shipper's search settings beyond EsUrl; the defaults are Elasticsearch with an API key."""
    return {
        "SearchBackend": {
            "Type": "String",
            "Description": "elasticsearch (Elasticsearch 8.x/9.x) or opensearch (Amazon OpenSearch Service, "
            "Serverless or OpenSearch 2.x/3.x)",
            "AllowedValues": list(SEARCH_BACKENDS),
            "Default": "elasticsearch",
        },
        "EsAuth": {
            "Type": "String",
            "Description": "api_key (Elasticsearch: EsSecretName), sigv4 (OpenSearch: the function's role), basic "
            "(EsBasicAuthSecretName) or none",
            "AllowedValues": list(ES_AUTH_MODES),
            "Default": "api_key",
        },
        "EsSecretName": {
            "Type": "String",
            "Description": "EsAuth=api_key: name (not ARN) of the Secrets Manager secret holding the Elasticsearch "
            "API key",
            "AllowedPattern": SECRET_NAME_PATTERN,
            "Default": "",
        },
        "EsBasicAuthSecretName": {
            "Type": "String",
            "Description": 'EsAuth=basic: name (not ARN) of the secret holding JSON {"username": ..., "password": ...}',
            "AllowedPattern": SECRET_NAME_PATTERN,
            "Default": "",
        },
        "EsSigv4Service": {
            "Type": "String",
            "Description": "EsAuth=sigv4: es (managed domains) or aoss (OpenSearch Serverless collections)",
            "AllowedValues": list(SIGV4_SERVICES),
            "Default": "es",
        },
        "EsSigv4Region": {
            "Type": "String",
            "Description": "EsAuth=sigv4: the domain's or collection's region (empty: the stack's)",
            "AllowedPattern": REGION_PATTERN,
            "Default": "",
        },
    }


def _search_conditions() -> dict[str, Any]:
    return {
        "EsAuthIsApiKey": {"Fn::Equals": [_ref("EsAuth"), "api_key"]},
        "EsAuthIsBasic": {"Fn::Equals": [_ref("EsAuth"), "basic"]},
        "EsAuthIsSigv4": {"Fn::Equals": [_ref("EsAuth"), "sigv4"]},
        "HasEsSigv4Region": {"Fn::Not": [{"Fn::Equals": [_ref("EsSigv4Region"), ""]}]},
    }


def _shipper_environment() -> dict[str, Any]:
    """SHIPPER_ENVIRONMENT as values: the conditional ones unset (AWS::NoValue) when their auth mode is not used."""
    variables: dict[str, Any] = {}
    for name, parameter in SHIPPER_ENVIRONMENT.items():
        value: Any = _ref(parameter)
        if name == "ES_SIGV4_REGION":
            value = {"Fn::If": ["HasEsSigv4Region", value, _ref("AWS::Region")]}
        condition = SHIPPER_ENVIRONMENT_CONDITIONS.get(name)
        variables[name] = {"Fn::If": [condition, value, _ref("AWS::NoValue")]} if condition else value
    return variables


def transform(sam: Mapping[str, Any], *, app_name: str, stage: str, options: TemplateOptions) -> dict[str, Any]:
    """The image deploy template of a `chalice package` SAM template (the input is not changed)."""
    if sam.get("Transform") != SAM_TRANSFORM:
        raise TemplateError(
            f"expected Transform {SAM_TRANSFORM} (`chalice package` output), got {sam.get('Transform')!r}"
        )
    template = copy.deepcopy(dict(sam))
    resources: dict[str, Any] = template.get("Resources") or {}
    if not isinstance(resources, dict):
        raise TemplateError("the template's Resources is not a mapping")
    api = find_api(resources)
    functions = find_functions(resources, api[1] if api else None)
    shipper = next((f for f in functions if f.suffix == chalice_names.SHIPPER), None)
    alarms: dict[str, Any] = {}
    api_alarm = None
    if api:
        api_id, handler_id = api
        api_props = resources[api_id]["Properties"]
        api_name = _sub(f"{app_name}-${{Stage}}")
        api_props["Name"] = api_name
        api_props["DefinitionBody"].setdefault("info", {})["title"] = api_name
        if options.throttle_rate is not None:
            api_props["MethodSettings"] = [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": options.throttle_rate,
                    "ThrottlingBurstLimit": options.throttle_burst,
                }
            ]
        if options.auth == "api_key":
            api_props["Auth"] = {"ApiKeyRequired": True, "UsagePlan": {"CreateUsagePlan": "PER_API"}}
        elif options.auth == "iam":
            api_props["Auth"] = {"DefaultAuthorizer": "AWS_IAM"}
        # API Gateway's own answers (403, 413, 429, 502, 504) in the API's error shape.
        api_props["GatewayResponses"] = {
            kind: {"ResponseTemplates": {"application/json": gateway_response_template(code)}}
            for kind, code in GATEWAY_RESPONSES.items()
        }
        for integration in _integrations(api_props["DefinitionBody"]):
            uri = integration["uri"]
            # The alias SAM generates for AutoPublishAlias is `<Function>Alias<alias>` (documented); its Ref is the
            # alias ARN. SAM also resolves ${Function.Alias}, but cfn-lint does not know that form.
            alias_id = f"{handler_id}Alias{options.alias}"
            uri["Fn::Sub"] = uri["Fn::Sub"].replace(f"${{{handler_id}.Arn}}", f"${{{alias_id}}}")
        for resource in resources.values():
            props = resource.get("Properties", {})
            if (
                resource.get("Type") == "AWS::Lambda::Permission"
                and props.get("FunctionName") == _ref(handler_id)
                and props.get("Principal") == "apigateway.amazonaws.com"
            ):
                props["FunctionName"] = _ref(f"{handler_id}.Alias")
        api_alarm = f"{api_id}5XXErrorAlarm"
        alarms[api_alarm] = _api_5xx_alarm(api_name, api_props.get("StageName"), app_name, options)
    for function in functions:
        props = resources[function.logical_id].setdefault("Properties", {})
        for key in ZIP_ONLY_PROPERTIES:
            props.pop(key, None)
        if function is not shipper:
            version_alarms = _new_version_alarms(function, app_name, options)
            alarms.update(version_alarms)
            rollback_alarms = [_ref(a) for a in version_alarms] + ([_ref(api_alarm)] if api_alarm else [])
            props["DeploymentPreference"] = {
                "Type": _ref("DeploymentType"),
                "Alarms": rollback_alarms,
                "Role": _ref("CodeDeployRoleArn"),
            }
            if not function.suffix:
                props["DeploymentPreference"]["Hooks"] = {"PreTraffic": _ref(HOOK)}
                resources[HOOK] = _hook_function(function, app_name, options)
        else:
            alarms[f"{function.logical_id}AliasErrorsAlarm"] = _alias_errors_alarm(function, app_name, options)
        props.update(
            {
                "FunctionName": function.name(app_name),
                "PackageType": "Image",
                "Architectures": [LAMBDA_ARCHITECTURES[options.architecture]],
                "ImageUri": _ref("ImageUri"),
                "ImageConfig": {"Command": [function.handler]},
                "Role": _ref(function.role_parameter),
                "AutoPublishAlias": options.alias,
                # A new version for any change (environment, memory...), not only a new image.
                "AutoPublishAliasAllProperties": True,
            }
        )
        props.setdefault("Tags", {})["model-version"] = _ref("ModelVersion")
        if function is shipper:
            variables = props.setdefault("Environment", {}).setdefault("Variables", {})
            variables.update(_shipper_environment())
            props["DeadLetterQueue"] = {
                "Type": "SQS",
                "TargetArn": {"Fn::GetAtt": [f"{function.logical_id}DeadLetterQueue", "Arn"]},
            }
            resources.update(_shipper_resources(function, app_name))
    resources.update(alarms)
    resources.update(_notification_resources(app_name))
    _drop_unused_roles(template)
    template["Parameters"] = {
        **template.get("Parameters", {}),
        **_parameters(functions, stage, options, shipper is not None, hook=HOOK in resources),
    }
    template["Conditions"] = {
        **template.get("Conditions", {}),
        "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [_ref("AlarmEmail"), ""]}]},
        **(_search_conditions() if shipper else {}),
    }
    template["Outputs"] = {**template.get("Outputs", {}), **_outputs(functions, api is not None, template)}
    template["Description"] = (
        f"{app_name} ({stage}): Chalice app as Lambda container images behind alias {options.alias}"
    )
    return template


def _outputs(functions: list[Function], has_api: bool, template: Mapping[str, Any]) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "ImageUri": {"Description": "The image this stack runs", "Value": _ref("ImageUri")},
        "ModelVersion": {"Description": "model_version of the bundle in the image", "Value": _ref("ModelVersion")},
        "AlarmTopicArn": {
            "Description": "SNS topic every alarm notifies (subscribe to it)",
            "Value": _ref(ALARM_TOPIC),
        },
    }
    if has_api and "EndpointURL" in template.get("Outputs", {}):
        outputs["ApiUrl"] = {
            "Description": "Base URL of the REST API (append health, predict, model)",
            "Value": template["Outputs"]["EndpointURL"]["Value"],
        }
    for function in functions:
        outputs[f"{function.logical_id}AliasArn"] = {
            "Description": f"Alias ARN of {function.logical_id} (what API Gateway or a subscription should invoke)",
            "Value": _ref(f"{function.logical_id}.Alias"),
        }
        outputs[f"{function.logical_id}FunctionName"] = {"Value": _ref(function.logical_id)}
    return outputs


def _references(node: Any) -> Iterator[str]:
    """Logical ids named by Ref / Fn::GetAtt / ${...} anywhere under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value.split(".", 1)[0]
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value)
                yield str(target).split(".", 1)[0]
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    yield from (m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                yield from _references(value[1] if isinstance(value, list) and len(value) > 1 else None)
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _drop_unused_roles(template: dict[str, Any]) -> None:
    """Remove the IAM roles Chalice created that nothing references any more (execution roles are parameters)."""
    resources = template["Resources"]
    used = set(_references(resources)) | set(_references(template.get("Outputs", {})))
    for logical_id in [k for k, r in resources.items() if r.get("Type") == "AWS::IAM::Role" and k not in used]:
        del resources[logical_id]


def stage_limits(stage: str, path: Path = LIMITS_FILE) -> dict[str, Any]:
    """The stage's throttling and auth from conf/deploy.yaml (TemplateOptions' keyword arguments)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise TemplateError(f"cannot read the API limits in {path}: {err}") from None
    stages = document.get("stages") if isinstance(document, dict) else None
    limits = stages.get(stage) if isinstance(stages, dict) else None
    if not isinstance(limits, dict):
        raise TemplateError(f"{path} has no limits for stage {stage!r} (stages: {sorted(stages or {})})")
    unknown = set(limits) - {"throttle_rate", "throttle_burst", "auth"}
    if unknown:
        raise TemplateError(f"{path}: stage {stage!r} has unknown keys {sorted(unknown)}")
    return dict(limits)


CANARY_KEYS = frozenset(
    {
        "alarm_period_s",
        "errors_evaluation_periods",
        "errors_datapoints_to_alarm",
        "errors_threshold",
        "api_5xx_threshold",
        "latency_statistic",
        "latency_threshold_ms",
        "latency_evaluation_periods",
        "latency_datapoints_to_alarm",
        "hook_timeout_s",
    }
)


def canary_settings(path: Path = LIMITS_FILE) -> dict[str, Any]:
    """The canary's alarm and hook settings from conf/deploy.yaml (`canary:`; TemplateOptions' keyword arguments)."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise TemplateError(f"cannot read the canary settings in {path}: {err}") from None
    canary = document.get("canary") if isinstance(document, dict) else None
    if not isinstance(canary, dict):
        raise TemplateError(f"{path} has no `canary:` mapping (alarm periods, thresholds, hook timeout)")
    unknown = set(canary) - CANARY_KEYS
    if unknown:
        raise TemplateError(f"{path}: canary has unknown keys {sorted(unknown)} (known: {sorted(CANARY_KEYS)})")
    return dict(canary)


def main(argv: list[str] | None = None) -> int:
    """CLI: transform SAM_JSON into OUT_JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sam", type=Path, help="sam.json written by `chalice package`")
    parser.add_argument("out", type=Path, help="where to write the deploy template")
    parser.add_argument("--stage", required=True, help="the Chalice stage the template was packaged for")
    parser.add_argument("--deployment-type", default=TemplateOptions.deployment_type, choices=DEPLOYMENT_TYPES)
    parser.add_argument("--alias", default=TemplateOptions.alias)
    parser.add_argument("--architecture", default=TemplateOptions.architecture, choices=sorted(LAMBDA_ARCHITECTURES))
    parser.add_argument("--limits", type=Path, default=LIMITS_FILE, help="API limits per stage and canary (YAML)")
    args = parser.parse_args(argv)
    try:
        sam = json.loads(args.sam.read_text())
        names = chalice_names.stage_names(args.stage)
        template = transform(
            sam,
            app_name=names.app_name,
            stage=args.stage,
            options=TemplateOptions(
                alias=args.alias,
                deployment_type=args.deployment_type,
                architecture=args.architecture,
                **stage_limits(args.stage, args.limits),
                **canary_settings(args.limits),
            ),
        )
    except FileNotFoundError:
        print(f"error: {args.sam} not found: run `make package STAGE={args.stage}` first", file=sys.stderr)
        return 2
    except (json.JSONDecodeError, TemplateError, chalice_names.ConfigError) as err:
        print(f"error: {args.sam}: {err}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(template, indent=2) + "\n")
    functions = [r for r in template["Resources"].values() if r["Type"] == FUNCTION]
    print(f"wrote {args.out}: {len(functions)} image function(s), alias {args.alias}, {args.deployment_type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
